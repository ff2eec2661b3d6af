import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { JsonError } from '../helpers/cli.js'
import { startNodePair, type NodePair } from '../helpers/daemon.js'
import { CHUNK_SIZE } from '../../src/transfer/constants.js'
import { PARTIAL_SUFFIX } from '../../src/fs-util.js'

/**
 * `trove get` and `trove cat` of a blob a running node does not hold (issue 12): `-o FILE` is
 * written by the node (a hard link to what it stored, or a kernel copy) and appears only once
 * verified; to stdout the bytes come in order as the node verifies them, and a blob a peer lies
 * about never comes out whole; a blob nobody has names the peers asked.
 */

/** Three whole chunks and a short fourth: a large blob, fetched in verified chunks. */
const SIZE = 3 * CHUNK_SIZE + 54_321

function sha1 (bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex')
}

async function addOn (pair: NodePair, name: string, data: Buffer): Promise<string> {
  const added = await pair.a.run(['add', await pair.a.file(name, data)])
  assert.equal(added.code, 0, added.stderr)
  return added.stdout.trim()
}

/** Two running nodes for a describe block (B bootstraps from A), handed to `use` once started. */
function nodePairFor (bFlags: string[], use: (pair: NodePair) => void): void {
  let pair: NodePair | undefined
  before(async () => {
    pair = await startNodePair({ bFlags })
    use(pair)
  })
  after(async () => { await pair?.close() })
}

describe('trove get/cat of a remote blob through a running node', () => {
  let p: NodePair
  nodePairFor(['--find-timeout', '3s'], (pair) => { p = pair })

  it('get -o FILE: the node puts the verified blob there (a read-only hard link to its stored copy); --copy makes a file of its own', async () => {
    const data = randomBytes(SIZE)
    const uri = await addOn(p, 'big.bin', data)
    const out = path.join(p.b.dir, 'big.out')
    const got = await p.b.runJson<{ size: number, how: string, path: string }>(['get', uri, '-o', out])
    assert.equal(got.code, 0, got.stdout + got.stderr)
    assert.equal(got.json.size, SIZE)
    assert.equal(got.json.how, 'link')
    assert.ok((await fs.readFile(out)).equals(data))
    const stat = await fs.stat(out)
    assert.equal(stat.mode & 0o222, 0, 'a linked file is read-only: a write through it would change the stored blob')
    assert.equal(stat.nlink, 2, 'the output is the stored file')
    assert.ok(!existsSync(out + PARTIAL_SUFFIX))
    // the blob ended up in the node's store
    const why = await p.b.runJson<{ local: boolean, size: number }>(['why', uri])
    assert.equal(why.json.local, true)

    const copy = path.join(p.b.dir, 'copy.out')
    const copied = await p.b.runJson<{ how: string }>(['get', uri, '-o', copy, '--copy'])
    assert.equal(copied.code, 0, copied.stdout + copied.stderr)
    assert.equal(copied.json.how, 'copy')
    assert.ok((await fs.readFile(copy)).equals(data))
    const copyStat = await fs.stat(copy)
    assert.notEqual(copyStat.mode & 0o200, 0, 'a copy is the user\'s own, writable file')
    assert.equal(copyStat.nlink, 1)

    // again over the same file (it already is a link to the stored blob): replaced, nothing left beside it
    const again = await p.b.runJson<{ how: string }>(['get', uri, '-o', out, '--force'])
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.ok((await fs.readFile(out)).equals(data))
    assert.ok(!existsSync(out + PARTIAL_SUFFIX))

    // the human line says what the file is
    const human = await p.b.run(['get', uri, '-o', path.join(p.b.dir, 'again.out')])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /hard link to the stored blob: read-only/)
  })

  it('get URI to stdout and cat URI give the blob\'s bytes in order', async () => {
    const data = randomBytes(SIZE)
    const uri = await addOn(p, 'stdout.bin', data)
    const got = await p.b.run(['get', uri])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stdoutBytes.length, SIZE)
    assert.ok(got.stdoutBytes.equals(data), 'every byte, in order')
    // cat of another remote blob streams the same way
    const other = randomBytes(SIZE)
    const uri2 = await addOn(p, 'cat.bin', other)
    const cat = await p.b.run(['cat', uri2])
    assert.equal(cat.code, 0, cat.stderr)
    assert.ok(cat.stdoutBytes.equals(other))
    assert.equal(cat.stderr, '', 'no spinner or bar off a terminal')
  })

  it('a get or cat of content nobody has names the peers it asked (message and --json peers)', async () => {
    const absent = `sha1://${sha1('nobody has this blob either')}`
    const peerA = p.nodeA.started.peerId
    assert.ok(peerA !== undefined)
    for (const args of [['get', absent], ['get', absent, '-o', path.join(p.b.dir, 'absent.out')], ['cat', absent]]) {
      const json = await p.b.runJson<JsonError & { error: { peers: string[] } }>([...args, '--timeout', '300ms'])
      assert.equal(json.code, 1)
      assert.equal(json.json.error.code, 'NO_PROVIDERS')
      assert.deepEqual(json.json.error.peers, [peerA], args.join(' '))
      const human = await p.b.run([...args, '--timeout', '300ms'])
      assert.equal(human.code, 1)
      assert.ok(human.stderr.includes(peerA), `${args.join(' ')}: ${human.stderr}`)
    }
    assert.ok(!existsSync(path.join(p.b.dir, 'absent.out')))
  })
})

describe('the fast path of cat/get to a pipe (no parser loaded) prints what the full command prints', () => {
  let p: NodePair
  nodePairFor(['--find-timeout', '3s'], (pair) => { p = pair })

  it('stored and remote blobs, ranges, a range past the end, a blob nobody has, a bad URI', async () => {
    const small = await addOn(p, 'small.txt', Buffer.from('hello, fast path\n'))
    const big = await addOn(p, 'big.bin', randomBytes(SIZE))
    const absent = `sha1://${sha1('absent from every node')}`
    const cases = [
      ['cat', small], ['get', small], ['cat', big], ['get', big],
      ['cat', big, '--offset', String(CHUNK_SIZE - 5), '--length', '10'],
      ['cat', small, '--offset', '3'], ['cat', small, '--offset', '3', '--length', '100'],
      ['cat', absent, '--timeout', '300ms'], ['get', absent, '--timeout', '300ms'], ['cat', 'sha1://nothex']
    ]
    for (const args of cases) {
      const fast = await p.b.run(args)
      const full = await p.b.run(args, { env: { TROVE_NO_FAST_PATH: '1' } })
      assert.equal(fast.code, full.code, args.join(' '))
      assert.ok(fast.stdoutBytes.equals(full.stdoutBytes), `${args.join(' ')}: the same bytes`)
      assert.equal(fast.stderr, full.stderr, args.join(' '))
    }
  })
})

describe('a peer that sends false bytes: nothing unverified reaches the user', () => {
  let pair: NodePair | undefined
  let p: NodePair
  let data: Buffer
  let uri: string

  before(async () => {
    pair = await startNodePair({ bFlags: ['--find-timeout', '2s'] })
    p = pair
    data = randomBytes(SIZE)
    uri = await addOn(p, 'lie.bin', data)
    // A's stored copy goes bad in its second chunk: A serves it, and its chunk 1 fails to verify
    const stored = path.join(p.a.data, 'blobs', sha1(data).slice(0, 2), sha1(data))
    // blob files may be read-only; the test plays the disk that changed under it
    await fs.chmod(stored, 0o644)
    const fh = await fs.open(stored, 'r+')
    try {
      await fh.write(Buffer.from('not what was stored'), 0, undefined, CHUNK_SIZE + 100)
    } finally {
      await fh.close()
    }
  })
  after(async () => { await pair?.close() })

  it('get URI to stdout fails, and what it wrote is only the verified chunks before the false one', async () => {
    const got = await p.b.run(['get', uri])
    assert.notEqual(got.code, 0, 'the command fails')
    // chunk 0 is true and may have come out; nothing from the false chunk 1 on ever does
    assert.ok(got.stdoutBytes.length <= CHUNK_SIZE, `wrote ${got.stdoutBytes.length} of ${SIZE} bytes`)
    assert.ok(got.stdoutBytes.equals(data.subarray(0, got.stdoutBytes.length)), 'a prefix of the real blob: no false byte')
    assert.match(got.stderr, /^trove: /)
  })

  it('get -o FILE fails and FILE never appears (nor its temp file)', async () => {
    const out = path.join(p.b.dir, 'lie.out')
    const got = await p.b.runJson<JsonError>(['get', uri, '-o', out])
    assert.equal(got.code, 1, got.stdout)
    assert.ok(['HASH_MISMATCH', 'TRANSFER_FAILED', 'NO_PROVIDERS'].includes(got.json.error.code), got.json.error.code)
    assert.ok(!existsSync(out), 'the final name never holds unverified bytes')
    assert.ok(!existsSync(out + PARTIAL_SUFFIX))
  })
})
