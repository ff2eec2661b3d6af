import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BlobInfo } from '../../src/store/blob-store.js'
import { SmallFileIo, smallFileIo } from '../../src/store/small-io.js'
import { liveByPack, readRecord } from '../helpers/packs.js'
import { settle } from '../helpers/space.js'
import { partsOf } from '../helpers/store.js'
import { tempDir } from '../helpers/tmp.js'
import { collect, fakeSha1, openTempTrove, sha1Of, type TempTrove } from '../helpers/trove.js'

async function tmpFiles (t: TempTrove): Promise<string[]> {
  return fs.readdir(t.trove.layout.tmp)
}

async function blobFiles (t: TempTrove): Promise<string[]> {
  const out: string[] = []
  for (const shard of await fs.readdir(t.trove.layout.blobs)) {
    for (const f of await fs.readdir(path.join(t.trove.layout.blobs, shard))) out.push(f)
  }
  return out.sort()
}

async function * chunks (data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    await Promise.resolve()
    yield data.subarray(i, i + size)
  }
}

/** Small deterministic PRNG so a failing sequence can be replayed from its seed. */
function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

describe('BlobStore', () => {
  let t: TempTrove
  before(async () => { t = await openTempTrove() })
  /** A delete of one blob (a batch of one): whether it went. */
  const deleted = async (sha1: string): Promise<boolean> => (await t.trove.store.deleteBatch([sha1])).deleted.length === 1
  after(async () => { await t.cleanup() })

  describe('put and read', () => {
    it('round trips bytes and names them by sha1', async () => {
      const data = Buffer.from('hello trove')
      const r = await t.trove.store.putBytes(data)
      assert.deepEqual(r, { sha1: sha1Of(data), size: data.length, added: true })
      assert.deepEqual(await t.trove.store.readBytes(r.sha1), data)
      assert.deepEqual(await collect(await t.trove.store.read(r.sha1)), data)
      const info = await t.trove.store.stat(r.sha1)
      assert.equal(info?.size, data.length)
      assert.equal(typeof info?.addedAt, 'number')
      assert.equal(await t.trove.store.has(r.sha1), true)
      // a small blob put whole lies in a pack: its record there is named by the sha1 and holds the bytes
      const loc = await t.trove.store.locate(r.sha1)
      assert.ok(loc?.packed === true)
      assert.equal(path.dirname(loc.path), t.trove.layout.packs)
      assert.deepEqual(await readRecord(loc.path, loc.offset), { sha1: r.sha1, bytes: data })
      // a streamed one has its own file, named by its sha1
      const streamed = Buffer.from('hello trove, streamed')
      const s = await t.trove.store.put([streamed])
      assert.deepEqual(s, { sha1: sha1Of(streamed), size: streamed.length, added: true })
      assert.equal(t.trove.store.pathOf(s.sha1), path.join(t.trove.layout.blobs, s.sha1.slice(0, 2), s.sha1))
      assert.deepEqual(await t.trove.store.locate(s.sha1), { path: t.trove.store.pathOf(s.sha1), offset: 0, size: streamed.length, packed: false })
      assert.deepEqual(await fs.readFile(t.trove.store.pathOf(s.sha1)), streamed)
      assert.deepEqual(await t.trove.store.readBytes(s.sha1), streamed)
    })

    it('streams a multi-chunk async iterable and reports progress', async () => {
      const data = randomBytes(300_000)
      const progress: number[] = []
      const r = await t.trove.store.put(chunks(data, 7777), { onProgress: (n) => progress.push(n) })
      assert.equal(r.sha1, sha1Of(data))
      assert.equal(r.size, data.length)
      assert.equal(progress.at(-1), data.length)
      assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]))
      assert.deepEqual(await t.trove.store.readBytes(r.sha1), data)
    })

    it('stores the empty blob and reads it back', async () => {
      const r = await t.trove.store.putBytes(new Uint8Array(0))
      assert.equal(r.sha1, 'da39a3ee5e6b4b0d3255bfef95601890afd80709')
      assert.equal((await t.trove.store.readBytes(r.sha1)).length, 0)
      assert.equal(t.trove.store.isLeased(r.sha1), false)
    })

    it('putFile stores a file; a missing file or a folder is FileNotFoundError', async () => {
      const file = path.join(t.dir, 'input.bin')
      const data = randomBytes(5000)
      await fs.writeFile(file, data)
      const r = await t.trove.store.putFile(file)
      assert.equal(r.sha1, sha1Of(data))
      await assert.rejects(t.trove.store.putFile(path.join(t.dir, 'nope')), { name: 'FileNotFoundError', code: 'FILE_NOT_FOUND' })
      await assert.rejects(t.trove.store.putFile(t.dir), { name: 'FileNotFoundError' })
    })

    it('a repeated put is success with added: false, and the listener fires once', async () => {
      const seen: BlobInfo[] = []
      const off = t.trove.store.onAdded((info) => seen.push(info))
      const data = randomBytes(1000)
      assert.equal((await t.trove.store.putBytes(data)).added, true)
      assert.equal((await t.trove.store.putBytes(data)).added, false)
      off()
      await t.trove.store.putBytes(randomBytes(10))
      assert.deepEqual(seen.map((s) => s.sha1), [sha1Of(data)])
    })

    it('reading an unknown or malformed hash fails clearly', async () => {
      await assert.rejects(t.trove.store.read(fakeSha1(1)), { name: 'BlobNotFoundError', code: 'BLOB_NOT_FOUND' })
      await assert.rejects(t.trove.store.read('nothex'), { name: 'InvalidUriError' })
      assert.equal(await t.trove.store.has(fakeSha1(1)), false)
    })

    it('list yields every stored blob', async () => {
      const listed = new Set<string>()
      for await (const b of t.trove.store.list()) listed.add(b.sha1)
      assert.equal(listed.size, t.trove.store.getUsage().blobs)
    })
  })

  describe('byte ranges', () => {
    const data = Buffer.from('0123456789abcdefghij')
    let sha1: string
    before(async () => { sha1 = (await t.trove.store.putBytes(data)).sha1 })

    it('reads offset/length, offset only, length only', async () => {
      const read = async (offset?: number, length?: number): Promise<string> =>
        (await t.trove.store.readBytes(sha1, { offset, length })).toString()
      assert.equal(await read(5, 3), '567')
      assert.equal(await read(10), 'abcdefghij')
      assert.equal(await read(undefined, 4), '0123')
      assert.equal(await read(0, 20), data.toString())
      assert.equal(await read(19, 1), 'j')
    })

    it('an empty range is an empty read, anywhere in the blob including the end', async () => {
      for (const [offset, length] of [[0, 0], [7, 0], [20, 0], [20, undefined]] as const) {
        assert.equal((await t.trove.store.readBytes(sha1, { offset, length })).length, 0, `${offset}+${length}`)
      }
      assert.equal(t.trove.store.isLeased(sha1), false)
    })

    it('a range past the end is RangeNotSatisfiableError', async () => {
      for (const [offset, length] of [[21, undefined], [21, 0], [0, 21], [15, 6], [20, 1]] as const) {
        await assert.rejects(t.trove.store.read(sha1, { offset, length }),
          { name: 'RangeNotSatisfiableError', code: 'RANGE_NOT_SATISFIABLE' }, `${offset}+${length}`)
      }
    })

    it('negative or fractional offsets are InvalidArgumentError', async () => {
      for (const [offset, length] of [[-1, undefined], [0, -1], [1.5, 1], [0, 0.5]] as const) {
        await assert.rejects(t.trove.store.read(sha1, { offset, length }), { name: 'InvalidArgumentError' })
      }
    })

    it('releases the read lease when the stream is consumed or destroyed', async () => {
      await t.trove.store.readBytes(sha1, { offset: 2, length: 5 })
      assert.equal(t.trove.store.isLeased(sha1), false)
      const stream = await t.trove.store.read(sha1)
      assert.equal(t.trove.store.isLeased(sha1), true)
      stream.destroy()
      await new Promise((resolve) => stream.once('close', resolve))
      assert.equal(t.trove.store.isLeased(sha1), false)
    })
  })

  describe('concurrency, failures and aborts', () => {
    it('20 concurrent puts of the same content: one added, counted once', async () => {
      const data = randomBytes(200_000)
      const usageBefore = t.trove.store.getUsage()
      const results = await Promise.all(Array.from({ length: 20 }, async () => t.trove.store.put(chunks(data, 10_000))))
      assert.equal(results.filter((r) => r.added).length, 1)
      assert.ok(results.every((r) => r.sha1 === sha1Of(data) && r.size === data.length))
      const usage = t.trove.store.getUsage()
      assert.equal(usage.blobs, usageBefore.blobs + 1)
      assert.equal(usage.bytes, usageBefore.bytes + data.length)
      assert.deepEqual(await tmpFiles(t), [])
      assert.deepEqual(await t.trove.store.readBytes(sha1Of(data)), data)
    })

    it('expectedSha1 mismatch is HashMismatchError, stores nothing and leaves no temp file', async () => {
      const data = randomBytes(50_000)
      const usageBefore = t.trove.store.getUsage()
      await assert.rejects(t.trove.store.put(chunks(data, 4096), { expectedSha1: fakeSha1(2) }),
        { name: 'HashMismatchError', code: 'HASH_MISMATCH' })
      assert.deepEqual(await tmpFiles(t), [])
      assert.equal(await t.trove.store.has(sha1Of(data)), false)
      assert.equal(await t.trove.store.has(fakeSha1(2)), false)
      assert.deepEqual(t.trove.store.getUsage(), usageBefore)
      const ok = await t.trove.store.putBytes(data, { expectedSha1: sha1Of(data) })
      assert.equal(ok.added, true)
    })

    it('an aborted put leaves no temp file and no blob', async () => {
      const controller = new AbortController()
      const data = randomBytes(64 * 1024)
      const usageBefore = t.trove.store.getUsage()
      const filesBefore = await blobFiles(t)
      async function * source (): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 1000; i++) {
          if (i === 3) controller.abort()
          yield data
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      await assert.rejects(t.trove.store.put(source(), { signal: controller.signal }), { name: 'AbortError' })
      assert.deepEqual(await tmpFiles(t), [])
      assert.deepEqual(t.trove.store.getUsage(), usageBefore)
      assert.deepEqual(await blobFiles(t), filesBefore)
    })

    it('an already aborted signal refuses before touching the disk', async () => {
      await assert.rejects(t.trove.store.putBytes(Buffer.from('x'), { signal: AbortSignal.abort() }), { name: 'AbortError' })
      assert.deepEqual(await tmpFiles(t), [])
      assert.equal(await t.trove.store.has(sha1Of('x')), false)
    })

    it('a source that throws leaves no temp file', async () => {
      async function * source (): AsyncGenerator<Uint8Array> {
        yield Buffer.alloc(1000)
        throw new Error('source broke')
      }
      await assert.rejects(t.trove.store.put(source()), { message: 'source broke' })
      assert.deepEqual(await tmpFiles(t), [])
    })

    it('delete is refused while the blob is leased, allowed after', async () => {
      // streamed: a file of its own, whose removal the end of the test checks
      const { sha1 } = await t.trove.store.put([randomBytes(100)])
      assert.equal((await t.trove.store.locate(sha1))?.packed, false)
      // the space index looks inside new blobs under a read lease of its own: let it finish
      await settle(t.trove)
      const stream = await t.trove.store.read(sha1)
      assert.equal(await deleted(sha1), false)
      assert.equal(await t.trove.store.has(sha1), true)
      await collect(stream)
      const release = t.trove.store.lease(sha1)
      assert.equal(await deleted(sha1), false)
      release()
      release() // a second release must not free someone else's lease
      assert.equal(await deleted(sha1), true)
      assert.equal(await t.trove.store.has(sha1), false)
      await assert.rejects(fs.stat(t.trove.store.pathOf(sha1)), { code: 'ENOENT' })
      assert.equal(await deleted(sha1), false)
    })

    it('leases are counted per holder', async () => {
      const { sha1 } = await t.trove.store.putBytes(randomBytes(100))
      const a = t.trove.store.lease(sha1)
      const b = t.trove.store.lease(sha1)
      a()
      a()
      assert.equal(await deleted(sha1), false)
      b()
      assert.equal(await deleted(sha1), true)
    })
  })

  describe('counters', () => {
    it('equal the sum of sizes after random puts and deletes, and survive reopen', async () => {
      const own = await openTempTrove()
      try {
        const rand = prng(0xc0ffee)
        // small ones go to packs, larger ones (and streamed ones) to files of their own
        const pool = Array.from({ length: 12 }, (_, i) => randomBytes(1 + Math.floor(rand() * 5000) + i + (i % 4 === 3 ? 70_000 : 0)))
        const ops: Array<Promise<unknown>> = []
        for (let step = 0; step < 150; step++) {
          const data = pool[Math.floor(rand() * pool.length)]
          // interleave: some operations run concurrently with the ones before them
          const r = rand()
          const op = r < 0.45 ? own.trove.store.putBytes(data) : r < 0.6 ? own.trove.store.put([data]) : own.trove.store.deleteBatch([sha1Of(data)])
          ops.push(op)
          if (rand() < 0.3) await Promise.all(ops.splice(0))
        }
        await Promise.all(ops)
        const check = async (): Promise<void> => {
          let bytes = 0
          let blobs = 0
          let loose = 0
          for await (const b of own.trove.store.list()) {
            bytes += b.size
            blobs++
            const loc = await own.trove.store.locate(b.sha1)
            assert.ok(loc !== undefined)
            if (loc.packed) {
              assert.deepEqual(await readRecord(loc.path, loc.offset), { sha1: b.sha1, bytes: await own.trove.store.readBytes(b.sha1) })
              assert.equal(sha1Of(await own.trove.store.readBytes(b.sha1)), b.sha1)
            } else {
              loose++
              assert.equal((await fs.stat(own.trove.store.pathOf(b.sha1))).size, b.size)
            }
          }
          assert.deepEqual(own.trove.store.getUsage(), { bytes, blobs })
          assert.equal((await blobFiles(own)).length, loose)
          assert.ok(loose > 0 && loose < blobs, `both kinds expected, ${loose} of ${blobs} loose`)
          // each pack's live bytes are its indexed records, headers included
          const live = await liveByPack(own.trove.store)
          assert.deepEqual(partsOf(own.trove.store).packs.list().map(([id, st]) => [id, st.live]).filter(([, l]) => l > 0), [...live].sort((a, b) => a[0] - b[0]))
        }
        await check()
        const usage = own.trove.store.getUsage()
        await own.reopen()
        assert.deepEqual(own.trove.store.getUsage(), usage)
        await check()
        assert.equal((await own.trove.verify()).ok, true)
      } finally {
        await own.cleanup()
      }
    })

    it('open removes temp files left by a killed process', async () => {
      const own = await openTempTrove()
      try {
        await fs.writeFile(path.join(own.trove.layout.tmp, 'leftover.part'), 'junk')
        await own.reopen()
        assert.deepEqual(await tmpFiles(own), [])
      } finally {
        await own.cleanup()
      }
    })
  })

  it('a durable store (fsync on) stores, dedups and counts the same way', async () => {
    const own = await openTempTrove({ durable: true })
    try {
      const data = randomBytes(100_000)
      const results = await Promise.all([0, 1, 2].map(async () => own.trove.store.put(chunks(data, 8192))))
      assert.equal(results.filter((r) => r.added).length, 1)
      await own.trove.store.putBytes(Buffer.from('second'))
      assert.deepEqual(own.trove.store.getUsage(), { bytes: data.length + 6, blobs: 2 })
      await own.reopen({ durable: true })
      assert.deepEqual(await own.trove.store.readBytes(sha1Of(data)), data)
      assert.equal((await own.trove.verify()).ok, true)
    } finally {
      await own.cleanup()
    }
  })

  it('streams a 64 MiB put from an async generator', async (ctx) => {
    const own = await openTempTrove()
    try {
      const chunkSize = 1024 * 1024
      const hash = createHash('sha1')
      const baseline = process.memoryUsage()
      let peakRss = baseline.rss
      async function * generate (): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 64; i++) {
          const chunk = Buffer.alloc(chunkSize, i)
          chunk.writeUInt32LE(i, 0)
          hash.update(chunk)
          yield chunk
        }
      }
      const r = await own.trove.store.put(generate(), {
        onProgress: () => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }
      })
      assert.equal(r.size, 64 * chunkSize)
      assert.equal(r.sha1, hash.digest('hex'))
      assert.equal((await fs.stat(own.trove.store.pathOf(r.sha1))).size, 64 * chunkSize)
      // memory is reported, not asserted: GC timing makes a bound flaky on a shared CI machine
      ctx.diagnostic(`rss grew by ${((peakRss - baseline.rss) / 2 ** 20).toFixed(1)} MiB while streaming 64 MiB`)
    } finally {
      await own.cleanup()
    }
  })

  it('a put larger than the disk fails with StorageFullError and the store keeps working', async (ctx) => {
    if (process.getuid?.() !== 0) {
      ctx.skip('needs root to mount a small tmpfs')
      return
    }
    const mnt = await tempDir('trove-tmpfs-')
    let mounted = false
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt.dir], { stdio: 'ignore' })
        mounted = true
      } catch {
        ctx.skip('cannot mount a tmpfs here (no privilege or no mount command)')
        return
      }
      const own = await openTempTrove({}, path.join(mnt.dir, 'home'))
      try {
        await own.trove.store.putBytes(Buffer.from('before'))
        const usage = own.trove.store.getUsage()
        // the pause between chunks is what a slow source (a file, a peer) looks like: a write that
        // fails during it must surface as StorageFullError, not as an unhandled rejection
        async function * big (): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < 48; i++) {
            await sleep(2)
            yield Buffer.alloc(64 * 1024, i)
          }
        }
        await assert.rejects(own.trove.store.put(big()), { name: 'StorageFullError', code: 'STORAGE_FULL' })
        assert.deepEqual(await tmpFiles(own), [])
        assert.deepEqual(own.trove.store.getUsage(), usage)
        const after = await own.trove.store.putBytes(Buffer.from('after'))
        assert.equal(after.added, true)
        assert.equal((await own.trove.store.readBytes(after.sha1)).toString(), 'after')
        assert.equal((await own.trove.store.readBytes(sha1Of('before'))).toString(), 'before')
      } finally {
        await own.trove.close()
      }
    } finally {
      if (mounted) execFileSync('umount', [mnt.dir], { stdio: 'ignore' })
      await mnt.cleanup()
    }
  })
})

describe('BlobStore group commit', () => {
  it('many writes finishing together are all indexed, counted once each, and survive reopen', async () => {
    const t = await openTempTrove()
    try {
      const before = t.trove.store.getUsage()
      const contents = Array.from({ length: 300 }, (_, i) => Buffer.from(`blob ${i} ${randomBytes(8).toString('hex')}`))
      // a few duplicates inside the same burst must still count once
      const burst = [...contents, contents[0], contents[1], contents[2]]
      const results = await Promise.all(burst.map(async (c) => t.trove.store.putBytes(c)))
      assert.equal(results.filter((r) => r.added).length, contents.length)
      const bytes = contents.reduce((n, c) => n + c.length, 0)
      assert.deepEqual(t.trove.store.getUsage(), { bytes: before.bytes + bytes, blobs: before.blobs + contents.length })
      await t.reopen()
      for (const c of contents) assert.deepEqual(await collect(await t.trove.store.read(sha1Of(c))), c)
      assert.deepEqual(t.trove.store.getUsage(), { bytes: before.bytes + bytes, blobs: before.blobs + contents.length })
      assert.deepEqual(await fs.readdir(t.trove.layout.tmp), [])
    } finally {
      await t.cleanup()
    }
  })
})

describe('BlobStore.removeOrphanFiles', () => {
  it('removes the files of deleted blobs and of blobs now packed; a blob stored as a file keeps its file', async () => {
    const t = await openTempTrove()
    try {
      const store = t.trove.store
      // streamed: files of their own
      const { sha1: deleted } = await store.put([randomBytes(100)])
      const { sha1: kept } = await store.put([randomBytes(110)])
      // whole in memory: packed, with a stray file beside it (left by a removal that never ran)
      const packedBytes = randomBytes(120)
      const { sha1: packed } = await store.putBytes(packedBytes)
      assert.equal((await store.locate(packed))?.packed, true)
      await fs.mkdir(path.dirname(store.pathOf(packed)), { recursive: true })
      await fs.writeFile(store.pathOf(packed), 'stray copy')
      await store.deleteBatch([deleted])
      await fs.writeFile(store.pathOf(deleted), 'left behind')
      const before = store.getUsage()
      // a name that is no sha1 and one never stored are passed over
      await store.removeOrphanFiles([deleted, kept, packed, '../../etc', fakeSha1(1)])
      await assert.rejects(fs.stat(store.pathOf(deleted)), { code: 'ENOENT' })
      await assert.rejects(fs.stat(store.pathOf(packed)), { code: 'ENOENT' })
      assert.equal((await fs.stat(store.pathOf(kept))).size, 110)
      assert.deepEqual(await store.readBytes(packed), packedBytes)
      assert.deepEqual(store.getUsage(), before)
      assert.equal((await t.trove.verify()).ok, true)
    } finally {
      await t.cleanup()
    }
  })
})

describe('BlobStore small in-memory blobs (batched through the small-file worker)', () => {
  it('a wrong expectedSha1 is refused before anything is written', async () => {
    const t = await openTempTrove()
    try {
      const data = randomBytes(4096)
      await assert.rejects(t.trove.store.putBytes(data, { expectedSha1: fakeSha1(7) }), { name: 'HashMismatchError', code: 'HASH_MISMATCH' })
      assert.deepEqual(await tmpFiles(t), [])
      assert.equal(await t.trove.store.has(sha1Of(data)), false)
      assert.deepEqual(t.trove.store.getUsage(), { bytes: 0, blobs: 0 })
    } finally {
      await t.cleanup()
    }
  })

  it('hundreds of concurrent small reads each get their own bytes; a file gone behind the index is BlobNotFoundError', async () => {
    const t = await openTempTrove()
    try {
      const contents = Array.from({ length: 400 }, (_, i) => randomBytes(100 + i * 13))
      // the added event carries a blob stored from memory's first bytes (space sniffs them for links)
      const heads = new Map<string, Uint8Array | undefined>()
      const unsubscribe = t.trove.store.onAdded((info, head) => { heads.set(info.sha1, head) })
      await Promise.all(contents.map(async (c) => t.trove.store.putBytes(c)))
      unsubscribe()
      const reads = await Promise.all(contents.map(async (c) => t.trove.store.readBytes(sha1Of(c))))
      for (const [i, c] of contents.entries()) assert.deepEqual(reads[i], c)
      const ranged = await Promise.all(contents.map(async (c) => t.trove.store.readBytes(sha1Of(c), { offset: 50, length: 40 })))
      for (const [i, c] of contents.entries()) assert.deepEqual(ranged[i], c.subarray(50, 90))
      assert.deepEqual(heads.get(sha1Of(contents[0])), contents[0].subarray(0, 64))
      // loose files gone or cut short behind the index
      const files = [randomBytes(500), randomBytes(600)]
      for (const f of files) await t.trove.store.put([f])
      await fs.rm(t.trove.store.pathOf(sha1Of(files[0])))
      await assert.rejects(t.trove.store.readBytes(sha1Of(files[0])), { name: 'BlobNotFoundError' })
      await fs.truncate(t.trove.store.pathOf(sha1Of(files[1])), 10)
      await assert.rejects(t.trove.store.readBytes(sha1Of(files[1])), { name: 'BlobNotFoundError' })
      // a pack cut short behind the index, then gone
      const cut = await t.trove.store.locate(sha1Of(contents[2]))
      assert.ok(cut?.packed === true)
      await fs.truncate(cut.path, cut.offset + 10)
      await assert.rejects(t.trove.store.readBytes(sha1Of(contents[2])), { name: 'BlobNotFoundError' })
      const gone = await t.trove.store.locate(sha1Of(contents[1]))
      assert.ok(gone?.path === cut.path)
      await fs.rm(gone.path)
      await assert.rejects(t.trove.store.readBytes(sha1Of(contents[1])), { name: 'BlobNotFoundError' })
    } finally {
      await t.cleanup()
    }
  })
})

describe('SmallFileIo', () => {
  it('creates files exclusively, reads ranges, renames and removes; failures carry the system code', async () => {
    const dir = await tempDir('trove-small-io-')
    try {
      const a = path.join(dir.dir, 'a')
      const b = path.join(dir.dir, 'b')
      await Promise.all([smallFileIo.write(a, Buffer.from('hello world'), false), smallFileIo.write(b, Buffer.from('other'), true)])
      await assert.rejects(smallFileIo.write(a, Buffer.from('clobber'), false), { code: 'EEXIST' })
      assert.equal(await fs.readFile(a, 'utf8'), 'hello world')
      assert.equal((await smallFileIo.read(a, 6, 5)).toString(), 'world')
      await assert.rejects(smallFileIo.read(a, 6, 6), { code: 'SHORT_READ' })
      await assert.rejects(smallFileIo.read(path.join(dir.dir, 'missing'), 0, 1), { code: 'ENOENT' })
      await smallFileIo.rename(a, path.join(dir.dir, 'c'))
      assert.equal(await fs.readFile(path.join(dir.dir, 'c'), 'utf8'), 'hello world')
      await smallFileIo.remove(b)
      await smallFileIo.remove(b)
      assert.deepEqual((await fs.readdir(dir.dir)).sort(), ['c'])
    } finally {
      await dir.cleanup()
    }
  })

  it('runs a few operations on the main thread with the same results; only a burst starts the worker', async () => {
    const dir = await tempDir('trove-small-io-inline-')
    const io = new SmallFileIo()
    const workerOf = (): unknown => (io as unknown as { worker?: unknown }).worker
    try {
      const a = path.join(dir.dir, 'a')
      await io.write(a, Buffer.from('hello world'), true)
      await assert.rejects(io.write(a, Buffer.from('clobber'), false), { code: 'EEXIST' })
      assert.equal((await io.read(a, 6, 5)).toString(), 'world')
      await assert.rejects(io.read(a, 6, 6), { code: 'SHORT_READ' })
      await io.rename(a, path.join(dir.dir, 'c'))
      await io.remove(path.join(dir.dir, 'c'))
      assert.equal(workerOf(), undefined, 'no worker for a handful of operations')
      const many = Array.from({ length: 50 }, (_, i) => path.join(dir.dir, `m${i}`))
      await Promise.all(many.map(async (f, i) => io.write(f, Buffer.from(`blob ${i}`), false)))
      assert.notEqual(workerOf(), undefined, 'a burst goes to the worker')
      assert.deepEqual(await Promise.all(many.map(async (f) => (await fs.readFile(f)).toString())), many.map((_, i) => `blob ${i}`))
    } finally {
      await dir.cleanup()
    }
  })
})
