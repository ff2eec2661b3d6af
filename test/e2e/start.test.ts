import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, outcome, type CliSandbox } from '../helpers/cli.js'
import { startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.js'

function sha1 (text: string): string {
  return createHash('sha1').update(text).digest('hex')
}


describe('trove start', () => {
  let embedded: CliSandbox
  let served: CliSandbox
  let node: Daemon | undefined

  before(async () => {
    embedded = await cliSandbox()
    served = await cliSandbox()
  })
  after(async () => {
    await stopDaemon(node)
    await embedded.cleanup()
    await served.cleanup()
  })

  it('serves the CLI through its API with the same output as embedded mode, then stops cleanly on SIGTERM', async () => {
    node = await startDaemon(served)
    const info = JSON.parse(await fs.readFile(path.join(served.data, 'api.json'), 'utf8'))
    assert.equal(info.url, node.started.apiUrl)
    assert.equal(info.pid, node.child.pid)
    assert.match(node.started.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(node.started.dataDir, served.data)

    const status = await served.runJson(['status'])
    assert.equal(status.code, 0, status.stderr)
    assert.equal(status.json.mode, 'node', 'the CLI went through the running node')
    assert.equal((await embedded.runJson(['status'])).json.mode, 'embedded')

    const text = 'results of run 7\n'
    const files = { embedded: await embedded.file('run7.txt', text), served: await served.file('run7.txt', text) }
    const other = { embedded: await embedded.file('dir/notes.txt', 'notes'), served: await served.file('dir/notes.txt', 'notes') }
    const uri = `sha1://${sha1(text)}/run7.txt`
    const steps: Array<(which: 'embedded' | 'served') => string[]> = [
      (w) => ['add', files[w]],
      (w) => ['--json', 'add', '--pin', other[w]],
      () => ['cat', uri],
      () => ['ref', 'set', 'lab/mouse7/run7', JSON.stringify({ out: uri })],
      () => ['ref', 'set', 'lab/mouse7/history', '"a key ending in history"', '--priority', '3'],
      () => ['ref', 'ls'],
      () => ['ref', 'ls', 'lab/', '--refs-to', uri],
      () => ['ref', 'get', 'lab/mouse7/run7'],
      () => ['why', uri],
      () => ['pin', uri],
      () => ['ref', 'rm', 'lab/mouse7/run7'],
      // errors print the same too (a missing blob is not among them: a node looks for it on its peers)
      () => ['--json', 'ref', 'get', 'lab/none'],
      () => ['pin', 'sha1://123']
    ]
    for (const step of steps) {
      // independent data directories: the two runs of a step can go side by side
      const [a, b] = await Promise.all([embedded.run(step('embedded')), served.run(step('served'))])
      assert.deepEqual(outcome(b), outcome(a), `trove ${step('served').join(' ')}`)
    }
    const hist = await served.runJson(['ref', 'history', 'lab/mouse7/run7'])
    assert.deepEqual(hist.json.map((e: { version: number }) => e.version), [1, 2])

    node.child.kill('SIGTERM')
    const exit = await node.exited
    assert.deepEqual(exit, { code: 0, signal: null }, node.stderr())
    assert.equal(existsSync(path.join(served.data, 'api.json')), false)
    // the lock is released: the next command opens the directory itself and sees what was written
    const after = await served.runJson(['status'])
    assert.equal(after.json.mode, 'embedded')
    assert.equal(after.json.refs, 1)
    assert.equal(after.json.pins, 2)
  })

  it('two SIGINTs make one clean shutdown', async () => {
    await stopDaemon(node)
    node = await startDaemon(served)
    node.child.kill('SIGINT')
    node.child.kill('SIGINT')
    const exit = await node.exited
    assert.deepEqual(exit, { code: 0, signal: null }, node.stderr())
    assert.equal(existsSync(path.join(served.data, 'api.json')), false)
    const st = await served.runJson(['status'])
    assert.equal(st.code, 0, st.stderr)
    assert.equal(st.json.mode, 'embedded')
  })

  it('a busy API port fails with ADDRESS_IN_USE and leaves nothing behind', async () => {
    await stopDaemon(node)
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const res = await served.runJson(['start', '--api', `127.0.0.1:${port}`, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
      assert.equal(res.code, 1)
      assert.equal(res.json.error.code, 'ADDRESS_IN_USE')
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
    assert.equal(existsSync(path.join(served.data, 'api.json')), false)
    assert.equal((await served.runJson(['status'])).json.mode, 'embedded')
  })

  it('a leftover api.json of a dead node is ignored', async () => {
    await stopDaemon(node)
    const deadPid = 2 ** 22 + 4242 // above Linux's pid_max
    await fs.writeFile(path.join(served.data, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:1', pid: deadPid, startedAt: new Date().toISOString() }))
    const st = await served.runJson(['status'])
    assert.equal(st.code, 0, st.stderr)
    assert.equal(st.json.mode, 'embedded')
    await fs.rm(path.join(served.data, 'api.json'))
  })

  it('refuses a malformed --api before starting anything', async () => {
    for (const api of ['nonsense:port', '127.0.0.1:70000', 'a:b:c']) {
      const res = await served.runJson(['start', '--api', api])
      assert.equal(res.code, 2, api)
      assert.equal(res.json.error.code, 'INVALID_ARGUMENT', api)
    }
  })

  it('refuses a stream window outside 256KiB-1GiB, or an unknown encryption, before starting anything', async () => {
    for (const bad of [['--stream-window', '1KiB'], ['--stream-window', '2GiB'], ['--stream-window', 'wide'], ['--encryption', 'rot13'], ['--encryption', 'tls,ssl'], ['--encryption', ',']]) {
      const res = await served.runJson(['start', '--api', '127.0.0.1:0', ...bad])
      assert.equal(res.code, 2, bad.join(' '))
      assert.equal(res.json.error.code, 'INVALID_ARGUMENT', bad.join(' '))
    }
  })
})
