import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { TROVE_NODE_FLAGS } from '../../src/node-flags.js'

const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url))

describe('node flags', () => {
  it('the trove command runs Node with TROVE_NODE_FLAGS', async () => {
    const first = (await fs.readFile(BIN, 'utf8')).split('\n')[0]
    assert.equal(first, `#!/usr/bin/env -S node ${TROVE_NODE_FLAGS.join(' ')}`)
  })

  it('so do `npm start` and the rig entrypoint, which run node on the script directly', async () => {
    const pkg = JSON.parse(await fs.readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
    assert.ok(pkg.scripts.start.includes(`node ${TROVE_NODE_FLAGS.join(' ')} dist/src/cli/bin.js start`), pkg.scripts.start)
    const entry = await fs.readFile(new URL('../../../rig/entrypoint.mjs', import.meta.url), 'utf8')
    assert.match(entry, /spawn\(process\.execPath, \[\.\.\.TROVE_NODE_FLAGS, bin/)
  })
})
