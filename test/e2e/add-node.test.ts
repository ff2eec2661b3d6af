import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, outcome, type CliSandbox, type RunOptions } from '../helpers/cli.js'
import { startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.js'

/** Over the 8 MiB manifest threshold, so the import also records a chunk manifest. */
const FILE_SIZE = 9 * 1024 * 1024 + 5
/** Standard input large enough that holding it whole would show; streamed, it never is. */
const STDIN_SIZE = 64 * 1024 * 1024

function sha1 (bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex')
}

/** Deterministic bytes from a counter-mode hash stream: no 64 MiB of randomBytes to wait for. */
function generated (size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  const seed = randomBytes(20)
  for (let at = 0, i = 0; at < size; i++) {
    const block = createHash('sha512').update(seed).update(String(i)).digest()
    at += block.copy(out, at)
  }
  return out
}

describe('trove add through a running node (the node imports the path) and trove add -', () => {
  let embedded: CliSandbox
  let served: CliSandbox
  let node: Daemon | undefined
  const content = randomBytes(FILE_SIZE)

  before(async () => {
    embedded = await cliSandbox()
    served = await cliSandbox()
    for (const t of [embedded, served]) {
      await t.file('run.bin', content)
      await t.file('a/x.txt', 'x in a')
      await t.file('b/x.txt', 'x in b')
    }
    node = await startDaemon(served)
  })
  after(async () => {
    await stopDaemon(node)
    await embedded.cleanup()
    await served.cleanup()
  })

  it('prints the same as embedded mode, for files, standard input and bad input alike', async () => {
    const uri = `sha1://${sha1(content)}/run.bin`
    const steps: Array<[string[], string?]> = [
      [['add', 'run.bin']],
      [['--json', 'add', '--pin', 'a/x.txt', 'b/x.txt', '--ref', 'lab/k', '--priority', '2']],
      [['add', 'a/x.txt', 'missing.bin']],
      [['--json', 'add', '.']],
      [['add', '-'], 'data'],
      [['--json', 'add', '-', '--name', 'in.txt', '--ref', 'lab/k', '--pin'], 'more data'],
      [['--json', 'add', '-', '--ref', 'lab/k'], 'refused'],
      [['--json', 'add', '-', '--name', 'a/b'], 'refused'],
      [['--json', 'add', '-', 'run.bin'], 'refused'],
      [['--json', 'add', 'run.bin', '--name', 'x']],
      [['pin', uri]],
      [['ref', 'ls']]
    ]
    for (const [args, stdin] of steps) {
      const opts = (t: CliSandbox): RunOptions => ({ cwd: t.dir, ...(stdin !== undefined ? { stdin } : {}) })
      const [a, b] = await Promise.all([embedded.run(args, opts(embedded)), served.run(args, opts(served))])
      assert.deepEqual(outcome(b), outcome(a), `trove ${args.join(' ')}`)
    }
    const ref = await served.runJson(['ref', 'get', 'lab/k'])
    assert.deepEqual(ref.json.obj, {
      'a/x.txt': `sha1://${sha1('x in a')}/x.txt`,
      'b/x.txt': `sha1://${sha1('x in b')}/x.txt`,
      'in.txt': `sha1://${sha1('more data')}/in.txt`
    })
    assert.equal(ref.json.meta.priority, 2)
    const errors = await Promise.all([
      served.runJson(['add', '-', '--ref', 'lab/k'], { stdin: 'x' }),
      served.runJson(['add', 'missing.bin'], { cwd: served.dir }),
      served.runJson(['add', served.dir])
    ])
    // the sandbox directory holds the node's data directory: a directory is added as a tree now
    // (issue 14), but never one that holds the store itself
    assert.deepEqual(errors.map((e) => e.json.error.code), ['INVALID_ARGUMENT', 'FILE_NOT_FOUND', 'INVALID_ARGUMENT'])
    const status = await served.runJson(['status'])
    assert.equal(status.json.mode, 'node', 'the commands went through the running node')
  })

  it('the node stores the imported file: readable through it, pinned when asked', async () => {
    const added = await served.runJson(['add', '--pin', 'run.bin', '--ref', 'lab/run'], { cwd: served.dir })
    assert.equal(added.code, 0, added.stderr)
    assert.equal(added.json[0].sha1, sha1(content))
    const cat = await served.run(['cat', added.json[0].uri])
    assert.equal(sha1(cat.stdoutBytes), sha1(content))
    const why = await served.runJson(['why', added.json[0].uri])
    assert.equal(why.json.local, true)
    assert.equal(why.json.pinned, true)
    assert.deepEqual(why.json.reasons.filter((r: { kind: string }) => r.kind === 'ref').map((r: { key: string }) => r.key), ['lab/run'])
  })

  it('stores 64 MiB of standard input under its sha1, streamed, in both modes', async () => {
    const big = generated(STDIN_SIZE)
    const want = `sha1://${sha1(big)}`
    const [a, b] = await Promise.all([embedded.runJson(['add', '-'], { stdin: big }), served.runJson(['add', '-'], { stdin: big })])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    assert.deepEqual([a.json[0].uri, b.json[0].uri], [want, want])
    assert.equal(b.json[0].size, STDIN_SIZE)
    assert.equal((await served.runJson(['why', want])).json.local, true)
  })
})
