import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, outcome, type CliSandbox, type RunOptions } from '../helpers/cli.js'
import { startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.js'
import { makeTree } from '../helpers/dirs.js'

/** `trove add DIR` through the built binary, embedded and through a running node (POST /dirs/import). */

const sha1 = (s: string | Uint8Array): string => createHash('sha1').update(s).digest('hex')
/** The `nested` vector of docs/formats.md. */
const NESTED = { 'top.txt': 'top\n', 'a/b/c.txt': 'hello\n', 'a/empty/': null }
const NESTED_ROOT = '0be717621ff7b3d57f7afc237c7957e514e9f26d'

describe('trove add DIR', () => {
  let embedded: CliSandbox
  let served: CliSandbox
  let node: Daemon | undefined

  before(async () => {
    embedded = await cliSandbox()
    served = await cliSandbox()
    for (const t of [embedded, served]) {
      await makeTree(path.join(t.dir, 'work/results'), NESTED)
      await makeTree(path.join(t.dir, 'work/run'), { 'log.txt': 'log\n', 'bin/go': { content: '#!/bin/sh\n', exec: true }, 'big.bin': Buffer.alloc(200_000, 3) })
      await makeTree(path.join(t.dir, 'work/linked'), { 'real.txt': 'real\n' })
      await fs.symlink('real.txt', path.join(t.dir, 'work/linked/link.txt'))
      await t.file('work/notes.txt', 'notes\n')
    }
    node = await startDaemon(served)
  })
  after(async () => {
    await stopDaemon(node)
    await embedded.cleanup()
    await served.cleanup()
  })

  it('prints the same embedded and through a node, for trees and bad input alike', async () => {
    const steps: string[][] = [
      ['add', 'work/results'],
      ['--json', 'add', 'work/run', 'work/notes.txt', '--ref', 'lab/mixed', '--pin', '--priority', '2'],
      ['--json', 'add', 'work/results', '--ref', 'lab/mixed'],
      ['add', 'work/linked'],
      ['--json', 'add', '--follow-symlinks', 'work/linked'],
      ['--json', 'add', '.'],
      ['--json', 'add', 'work/missing'],
      ['ref', 'get', 'lab/mixed'],
      ['ref', 'ls']
    ]
    for (const args of steps) {
      const opts = (t: CliSandbox): RunOptions => ({ cwd: t.dir })
      const [a, b] = await Promise.all([embedded.run(args, opts(embedded)), served.run(args, opts(served))])
      assert.deepEqual(outcome(b), outcome(a), `trove ${args.join(' ')}`)
    }
    const status = await served.runJson(['status'])
    assert.equal(status.json.mode, 'node', 'the commands went through the running node')
  })

  it('prints the sha1dir:// URI of the tree, and with --json the counts', async () => {
    for (const t of [embedded, served]) {
      const text = await t.run(['add', 'work/results'], { cwd: t.dir })
      assert.equal(text.code, 0, text.stderr)
      assert.equal(text.stdout, `sha1dir://${NESTED_ROOT}\n`)
      const json = await t.runJson(['add', path.join(t.dir, 'work/results')])
      assert.deepEqual(json.json, [{ uri: `sha1dir://${NESTED_ROOT}`, sha1: NESTED_ROOT, name: 'results', files: 2, dirs: 4, bytes: 10 }])
    }
  })

  it('records the tree in the ref beside the files already there, pins it, and keeps it through gc', async () => {
    const ref = await served.runJson(['ref', 'get', 'lab/mixed'])
    assert.deepEqual(Object.keys(ref.json.obj).sort(), ['notes.txt', 'results', 'run'])
    assert.equal(ref.json.obj['notes.txt'], `sha1://${sha1('notes\n')}/notes.txt`)
    assert.equal(ref.json.obj.results, `sha1dir://${NESTED_ROOT}`)
    assert.match(ref.json.obj.run, /^sha1dir:\/\/[0-9a-f]{40}$/)
    const runRoot = (ref.json.obj.run as string).slice('sha1dir://'.length)
    const pinned = await served.runJson(['why', `sha1dir://${runRoot}`])
    assert.equal(pinned.json.pinned, true, '--pin pins the root manifest')
    await served.run(['gc'])
    const why = await served.runJson(['why', `sha1://${sha1('hello\n')}`])
    assert.equal(why.json.local, true)
    assert.equal(why.json.kept, true)
    assert.equal(why.json.dir, `sha1dir://${NESTED_ROOT}/a/b/c.txt`)
    const human = await served.run(['why', `sha1://${sha1('hello\n')}`])
    assert.match(human.stdout, new RegExp(`in directory sha1dir://${NESTED_ROOT}/a/b/c\\.txt`))
    assert.match(human.stdout, new RegExp(`directory sha1dir://${NESTED_ROOT} is held by ref lab/mixed`))
  })

  it('refuses a symlink with one line naming it, and follows it when asked', async () => {
    const refused = await embedded.run(['add', 'work/linked'], { cwd: embedded.dir })
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /symlink refused: link\.txt/)
    assert.equal(refused.stderr.trim().split('\n').length, 1)
    const followed = await served.runJson(['add', '--follow-symlinks', 'work/linked'], { cwd: served.dir })
    assert.equal(followed.code, 0, followed.stderr)
    assert.equal(followed.json[0].files, 2)
  })

  it('says which files were skipped', async () => {
    const { execFileSync } = await import('node:child_process')
    for (const t of [embedded, served]) {
      await makeTree(path.join(t.dir, 'work/fifo'), { 'ok.txt': 'ok\n' })
      execFileSync('mkfifo', [path.join(t.dir, 'work/fifo/pipe')])
      const r = await t.run(['add', 'work/fifo'], { cwd: t.dir })
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /fifo: left out 1 socket\(s\), FIFO\(s\) or device\(s\): pipe/)
    }
  })

  it('the dry run lists a directory\'s blobs under it', async () => {
    const t = await cliSandbox()
    try {
      await makeTree(path.join(t.dir, 'tree'), NESTED)
      const add = await t.run(['add', 'tree', '--ref', 'lab/dry', '--priority', '1'], { cwd: t.dir })
      assert.equal(add.code, 0, add.stderr)
      await fs.writeFile(path.join(t.data, 'config.json'), JSON.stringify({ ...JSON.parse(await fs.readFile(path.join(t.data, 'config.json'), 'utf8')), maxSize: '1KiB', gracePeriodMs: 0 }))
      const dry = await t.run(['gc', '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.match(dry.stdout, new RegExp(`in directory sha1dir://${NESTED_ROOT} \\(`))
      assert.match(dry.stdout, /a\/b\/c\.txt sha1:\/\//)
      assert.doesNotMatch(dry.stdout, /unreferenced: no ref or pin holds it/)
    } finally {
      await t.cleanup()
    }
  })
})
