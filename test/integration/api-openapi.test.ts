import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import YAML from 'yaml'
import { startApiFixture, type ApiFixture } from '../helpers/api-fixture.js'

const SPEC = YAML.parse(readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8')) as {
  openapi: string
  paths: Record<string, Record<string, unknown> & { servers?: Array<{ url: string }> }>
  servers: Array<{ url: string }>
}
const METHODS = ['get', 'head', 'put', 'post', 'delete', 'patch']

/**
 * OpenAPI's `/refs/{key}` as fastify writes it (`/api/v1/refs/*`), for comparison. A path with
 * servers of its own at the root of the address (`/metrics`, `/health`) has no /api/v1 prefix.
 */
function toRoutePattern (path: string, servers?: Array<{ url: string }>): string {
  const prefix = servers !== undefined && !servers[0].url.endsWith('/api/v1') ? '' : '/api/v1'
  return prefix + path.replace('/dirs/{sha1}/{path}', '/dirs/{sha1}/*').replace('/refs/{key}/history', '/refs/*').replace('/refs/{key}', '/refs/*').replace(/\{(\w+)\}/g, ':$1')
}

describe('docs/openapi.yaml matches the server', () => {
  let f: ApiFixture
  before(async () => { f = await startApiFixture() })
  after(async () => { await f.cleanup() })

  it('is OpenAPI 3.1 with the /api/v1 server', () => {
    assert.equal(SPEC.openapi, '3.1.0')
    assert.ok(SPEC.servers[0].url.endsWith('/api/v1'))
  })

  it('documents exactly the routes the server has', () => {
    const documented = new Set<string>()
    for (const [path, item] of Object.entries(SPEC.paths)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) documented.add(`${method.toUpperCase()} ${toRoutePattern(path, item.servers)}`)
    }
    const served = new Set(f.server.routes.map((r) => `${r.method} ${r.url}`))
    assert.deepEqual([...served].filter((r) => !documented.has(r)).sort(), [], 'served but not documented')
    assert.deepEqual([...documented].filter((r) => !served.has(r)).sort(), [], 'documented but not served')
  })
})
