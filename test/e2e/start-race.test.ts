import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, type CliSandbox } from '../helpers/cli.js'
import { startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.js'

describe('a CLI command racing a starting node', () => {
  let t: CliSandbox
  let node: Daemon | undefined

  before(async () => { t = await cliSandbox() })
  after(async () => {
    await stopDaemon(node)
    await t.cleanup()
  })

  it('neither fails: the command waits for the node (or the node for the command)', async () => {
    // the commands start while the node is still opening its data directory and API
    const starting = startDaemon(t)
    const early = await Promise.all([t.runJson(['status']), t.runJson(['ref', 'ls'])])
    node = await starting
    for (const r of early) {
      assert.equal(r.code, 0, `command failed while the node started: ${r.stdout} ${r.stderr}`)
    }
    const status = await t.runJson<{ mode: string }>(['status'])
    assert.equal(status.json.mode, 'node')
  })

  it('parallel one-shot commands on one data directory wait for each other', async () => {
    const other = await cliSandbox()
    try {
      const files = await Promise.all([0, 1, 2, 3].map(async (i) => other.file(`f${i}.txt`, `parallel ${i}`)))
      const runs = await Promise.all(files.map(async (f, i) => other.run(['add', f, '--ref', `lab/p${i}`])))
      for (const r of runs) assert.equal(r.code, 0, r.stderr)
      const refs = await other.runJson<Array<{ key: string }>>(['ref', 'ls'])
      assert.deepEqual(refs.json.map((r) => r.key), ['lab/p0', 'lab/p1', 'lab/p2', 'lab/p3'])
    } finally {
      await other.cleanup()
    }
  })
})
