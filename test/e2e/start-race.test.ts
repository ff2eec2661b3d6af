import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
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

  it('a taken listen port is one clear ADDRESS_IN_USE error, and the directory is free again', async () => {
    const other = await cliSandbox()
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as net.AddressInfo).port
      const r = await other.runJson<{ error: { code: string } }>(['start', '--api', '127.0.0.1:0', '--no-mdns', '--listen', `/ip4/127.0.0.1/tcp/${port}`])
      assert.equal(r.code, 1)
      assert.equal(r.json.error.code, 'ADDRESS_IN_USE')
      assert.equal(existsSync(path.join(other.data, 'api.json')), false)
      assert.equal((await other.run(['status'])).code, 0)
    } finally {
      server.close()
      await other.cleanup()
    }
  })
})
