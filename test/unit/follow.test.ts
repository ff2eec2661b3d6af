import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Readable } from 'node:stream'
import { chunkRange, type Manifest } from '../../src/store/manifests.js'
import { DownloadTap } from '../../src/transfer/follow.js'
import { tempDir } from '../helpers/tmp.js'

const CHUNK = 1024
const SIZE = 3 * CHUNK + 100

function manifestOf (data: Buffer): Manifest {
  const chunks: string[] = []
  for (let at = 0; at < data.length; at += CHUNK) chunks.push(createHash('sha1').update(data.subarray(at, at + CHUNK)).digest('hex'))
  return { type: 'trove-manifest', version: 1, sha1: createHash('sha1').update(data).digest('hex'), size: data.length, chunkSize: CHUNK, chunks } as unknown as Manifest
}

/** Reads `stream` in the background; `got()` is what it has given so far, `done` how it ended. */
function drain (stream: Readable): { got: () => Buffer, done: Promise<Error | undefined> } {
  const parts: Buffer[] = []
  stream.on('data', (b: Buffer) => parts.push(b))
  const done = new Promise<Error | undefined>((resolve) => {
    stream.once('end', () => resolve(undefined))
    stream.once('error', resolve)
  })
  return { got: () => Buffer.concat(parts), done }
}

async function turns (n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Waits (turn by turn, no clock) until the reader has given `bytes`; the test's own timeout bounds it. */
async function until (got: () => Buffer, bytes: number): Promise<void> {
  while (got().length < bytes) await turns(1)
}

describe('DownloadTap: reading a blob while it downloads', { timeout: 60_000 }, () => {
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let data: Buffer
  let manifest: Manifest
  let file: string
  before(async () => {
    tmp = await tempDir('trove-follow-')
    data = randomBytes(SIZE)
    manifest = manifestOf(data)
    file = path.join(tmp.dir, 'partial')
  })
  after(async () => { await tmp.cleanup() })

  /** A download that writes chunk `i` into the file and tells the tap, as fetchChunked does. */
  async function land (tap: DownloadTap, done: Set<number>, i: number): Promise<void> {
    const { offset, length } = chunkRange(manifest, i)
    const fh = await fs.open(file, 'r+')
    await fh.write(data, offset, length, offset)
    await fh.close()
    done.add(i)
    tap.chunk(i, data.subarray(offset, offset + length))
  }

  it('gives chunks in order as they land (out of order too), and the last only once the download ended well', async () => {
    await fs.writeFile(file, Buffer.alloc(SIZE))
    const tap = new DownloadTap()
    const done = new Set<number>()
    tap.begin(manifest, file, done)
    const stream = await tap.reader()
    assert.ok(stream !== undefined)
    const r = drain(stream)
    await land(tap, done, 1)
    await turns()
    assert.equal(r.got().length, 0, 'chunk 1 waits for chunk 0')
    await land(tap, done, 0)
    await until(r.got, 2 * CHUNK)
    assert.ok(r.got().equals(data.subarray(0, 2 * CHUNK)))
    await land(tap, done, 3)
    await land(tap, done, 2)
    await until(r.got, 3 * CHUNK)
    await turns()
    assert.equal(r.got().length, 3 * CHUNK, 'the last chunk is held until the whole blob is known good')
    tap.end()
    assert.equal(await r.done, undefined)
    assert.ok(r.got().equals(data))
  })

  it('a download that fails fails its readers, after only what was verified', async () => {
    await fs.writeFile(file, Buffer.alloc(SIZE))
    const tap = new DownloadTap()
    const done = new Set<number>()
    tap.begin(manifest, file, done)
    const r = drain((await tap.reader()) as Readable)
    await land(tap, done, 0)
    await until(r.got, CHUNK)
    tap.end(Object.assign(new Error('the blob hashed to something else'), { name: 'HashMismatchError' }))
    const err = await r.done
    assert.equal(err?.name, 'HashMismatchError')
    assert.ok(r.got().equals(data.subarray(0, CHUNK)))
  })

  it('a download that starts over with another manifest fails the readers that began; a chunk resumed from disk is read from the file', async () => {
    await fs.writeFile(file, data)
    const tap = new DownloadTap()
    // chunks 0 and 1 were verified by an earlier attempt: they are not offered again
    const done = new Set<number>([0, 1])
    tap.begin(manifest, file, done)
    const r = drain((await tap.reader()) as Readable)
    await until(r.got, 2 * CHUNK)
    assert.ok(r.got().equals(data.subarray(0, 2 * CHUNK)), 'resumed chunks come from the file')
    tap.begin(manifest, file, new Set())
    assert.equal((await r.done)?.name, 'TransferFailedError')
    assert.equal(await tap.reader(), undefined, 'nothing more to follow')
  })

  it('there is nothing to follow before the download begins, or once its file is gone', async () => {
    const tap = new DownloadTap()
    assert.equal(await tap.reader(), undefined)
    tap.begin(manifest, path.join(tmp.dir, 'adopted-already'), new Set())
    assert.equal(await tap.reader(), undefined)
  })
})
