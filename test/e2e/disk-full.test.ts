import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { it } from 'node:test'
import { cliSandbox, runJson } from '../helpers/cli.js'
import { startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.js'
import { mountSmallFs } from '../helpers/small-fs.js'
import type { VerifyReport } from '../../src/store/verify.js'

/** How long the node may take to notice the freed space and reopen its database. */
const RECOVERY_WAIT_MS = 30_000

interface Api {
  call: (method: string, p: string, body?: string, type?: string) => Promise<{ status: number, json: any }> // eslint-disable-line @typescript-eslint/no-explicit-any
}

function api (node: Daemon, token: string): Api {
  return {
    call: async (method, p, body, type = 'application/json') => {
      const res = await fetch(`${node.started.apiUrl}/api/v1${p}`, { method, body, headers: { authorization: `Bearer ${token}`, 'content-type': type } })
      const text = await res.text()
      return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
    }
  }
}

// issue 13 item 1: LevelDB hit ENOSPC; refs acknowledged after the space was freed were gone after a clean restart
it('a node whose database hit a full disk refuses writes until it can write again, and loses nothing it acknowledged', async (t) => {
  const box = await cliSandbox({ init: false })
  const disk = await mountSmallFs(t, path.join(box.dir, 'disk'), 24)
  if (disk === undefined) return await box.cleanup()
  const data = path.join(disk.dir, 'data')
  const sandbox = { ...box, data }
  let node: Daemon | undefined
  try {
    assert.equal((await runJson(['init'], { data, home: box.home })).code, 0)
    const token = (await fs.readFile(path.join(data, 'api-token'), 'utf8')).trim()
    node = await startDaemon(sandbox)
    let a = api(node, token)
    const acked = new Map<string, unknown>()
    const setRef = async (key: string, obj: unknown): Promise<number> => {
      const res = await a.call('PUT', `/refs/${key}`, JSON.stringify({ obj }))
      if (res.status === 200) acked.set(key, obj)
      return res.status
    }
    for (let i = 0; i < 5; i++) assert.equal(await setRef(`before/${i}`, { i }), 200)

    await disk.fill()
    const refused = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const res = await a.call('PUT', `/refs/full/${i}`, JSON.stringify({ obj: { i, pad: 'x'.repeat(20_000) } }))
      if (res.status === 200) acked.set(`full/${i}`, { i, pad: 'x'.repeat(20_000) })
      else refused.add(res.json.error.code)
    }
    assert.deepEqual([...refused], ['STORAGE_FULL'])
    const gc = await a.call('POST', '/gc', '{}')
    assert.notEqual(gc.status, 500, JSON.stringify(gc.json))
    if (gc.status !== 200) assert.equal(gc.json.error.code, 'STORAGE_FULL')

    await disk.free()
    // refused until the database is reopened; then writes are accepted again
    const deadline = Date.now() + RECOVERY_WAIT_MS
    let status = 0
    while (status !== 200 && Date.now() < deadline) {
      status = await setRef('probe', 1)
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    assert.equal(status, 200, 'the node accepts writes again once space is freed')
    for (let i = 0; i < 5; i++) assert.equal(await setRef(`after/${i}`, { i }), 200)
    const blob = await a.call('POST', '/blobs?ref=after/blob', 'stored after the disk was freed', 'application/octet-stream')
    assert.equal(blob.status, 200)
    const blobRef = await a.call('GET', '/refs/after/blob')
    acked.set('after/blob', blobRef.json.obj)

    await stopDaemon(node, 'SIGTERM')
    node = await startDaemon(sandbox)
    a = api(node, token)
    for (const [key, obj] of acked) {
      const res = await a.call('GET', `/refs/${key}`)
      assert.equal(res.status, 200, `acknowledged ref ${key} is there after the restart`)
      assert.deepEqual(res.json.obj, obj)
    }
    const verify = await a.call('POST', '/verify')
    const report = verify.json as VerifyReport
    assert.deepEqual([report.corrupt, report.missing, report.adopted], [[], [], []], 'the blob acknowledged after recovery is indexed')
    const got = await fetch(`${node.started.apiUrl}/api/v1/blobs/${blob.json.sha1 as string}`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(await got.text(), 'stored after the disk was freed')
  } finally {
    await stopDaemon(node, 'SIGTERM')
    await disk.unmount()
    await box.cleanup()
  }
})
