import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { StorageFullError } from '../../src/errors.js'
import { PACK_MAX_BYTES } from '../../src/store/constants.js'
import { Ingest, writeError, type Ingested } from '../../src/store/ingest.js'
import { SmallFileIo } from '../../src/store/small-io.js'
import type { WriteTicket } from '../../src/store/types.js'
import { tempDir } from '../helpers/tmp.js'
import { fakeSha1, sha1Of } from '../helpers/trove.js'

/** A space ticket that records what it was asked to grow to, refusing past `limit`. */
function ticket (limit = Infinity): WriteTicket & { asked: number[] } {
  const asked: number[] = []
  return {
    asked,
    grow: (total) => {
      asked.push(total)
      return total > limit ? Promise.reject(new StorageFullError(`${total} is past ${limit}`)) : undefined
    },
    end: () => {}
  }
}

describe('Ingest', () => {
  let dir: { dir: string, cleanup: () => Promise<void> }
  let tmpDir: string
  let ingest: Ingest
  beforeEach(async () => {
    dir = await tempDir('trove-ingest-')
    tmpDir = path.join(dir.dir, 'tmp')
    await fs.mkdir(tmpDir)
    ingest = new Ingest({ tmpDir, io: new SmallFileIo() }, { durable: false, ioChunkSize: 64 * 1024 })
  })
  afterEach(async () => { await dir.cleanup() })

  const temps = async (): Promise<string[]> => fs.readdir(tmpDir)
  /** The temp file of ingested content, checked to hold `bytes`. */
  const assertTemp = async (content: Ingested, bytes: Uint8Array): Promise<void> => {
    assert.ok('tmp' in content, 'expected a temp file')
    assert.equal(path.dirname(content.tmp), tmpDir)
    assert.deepEqual(await fs.readFile(content.tmp), Buffer.from(bytes))
  }

  describe('bytes', () => {
    it('up to PACK_MAX_BYTES stay in memory for a pack; larger ones go to a temp file', async () => {
      const small = randomBytes(PACK_MAX_BYTES)
      const t = ticket()
      const packed = await ingest.bytes(small, {}, t)
      assert.deepEqual(packed, { bytes: small, sha1: sha1Of(small), size: small.length })
      assert.deepEqual(await temps(), [])
      assert.deepEqual(t.asked, [small.length])
      const large = randomBytes(PACK_MAX_BYTES + 1)
      const progress: number[] = []
      const file = await ingest.bytes(large, { onProgress: (n) => progress.push(n) }, undefined)
      assert.equal(file.sha1, sha1Of(large))
      assert.equal(file.size, large.length)
      await assertTemp(file, large)
      assert.deepEqual(progress, [large.length])
    })

    it('bytes that are not what was expected are refused before space is asked or anything written', async () => {
      const t = ticket()
      await assert.rejects(ingest.bytes(randomBytes(PACK_MAX_BYTES + 10), { expectedSha1: fakeSha1(1) }, t), { name: 'HashMismatchError' })
      assert.deepEqual(t.asked, [])
      assert.deepEqual(await temps(), [])
    })
  })

  describe('stream', () => {
    it('writes a temp file, hashing it whole and in chunks on the way', async () => {
      const parts = [randomBytes(70_000), randomBytes(50_000), randomBytes(10)]
      const all = Buffer.concat(parts)
      const t = ticket()
      const content = await ingest.stream(parts, { chunkSize: 40_000 }, t)
      assert.equal(content.sha1, sha1Of(all))
      assert.equal(content.size, all.length)
      await assertTemp(content, all)
      const chunks = await content.chunker?.digest()
      assert.deepEqual(chunks, [0, 40_000, 80_000, 120_000].map((at) => sha1Of(all.subarray(at, at + 40_000))))
      assert.equal(t.asked.at(-1), all.length)
    })

    it('a wrong hash, a failing source or a refused ticket leaves no temp file', async () => {
      await assert.rejects(ingest.stream([randomBytes(100)], { expectedSha1: fakeSha1(2) }, undefined), { name: 'HashMismatchError' })
      async function * broken (): AsyncGenerator<Uint8Array> {
        yield randomBytes(100)
        throw new Error('source broke')
      }
      await assert.rejects(ingest.stream(broken(), {}, undefined), { message: 'source broke' })
      await assert.rejects(ingest.stream([randomBytes(1000), randomBytes(1000)], {}, ticket(1500)), { name: 'StorageFullError' })
      assert.deepEqual(await temps(), [])
    })
  })

  describe('file', () => {
    it('copies a local file to a temp file with its hash; the ticket is asked for its size first', async () => {
      const data = randomBytes(300_000)
      const source = path.join(dir.dir, 'source.bin')
      await fs.writeFile(source, data)
      const size = await ingest.checkFile(source)
      assert.equal(size, data.length)
      const t = ticket()
      const content = await ingest.file(source, size, { chunkSize: 100_000 }, t)
      assert.equal(content.sha1, sha1Of(data))
      await assertTemp(content, data)
      assert.equal((await content.chunker?.digest())?.length, 3)
      assert.deepEqual(t.asked, [data.length])
      await fs.rm((content as { tmp: string }).tmp)
      // refused for space: nothing is left
      await assert.rejects(ingest.file(source, size, {}, ticket(10)), { name: 'StorageFullError' })
      await assert.rejects(ingest.file(source, size, { expectedSha1: fakeSha1(3) }, undefined), { name: 'HashMismatchError' })
      assert.deepEqual(await temps(), [])
    })

    it('a missing path or a folder is FileNotFoundError before anything else', async () => {
      await assert.rejects(ingest.checkFile(path.join(dir.dir, 'missing')), { name: 'FileNotFoundError' })
      await assert.rejects(ingest.checkFile(dir.dir), { name: 'FileNotFoundError' })
    })
  })

  describe('adopt', () => {
    it('re-hashes a finished file unless the caller hashed it; the file itself is the content', async () => {
      const data = randomBytes(5000)
      const file = path.join(dir.dir, 'download.part')
      await fs.writeFile(file, data)
      assert.deepEqual(await ingest.adopt(file, sha1Of(data), false), { tmp: file, sha1: sha1Of(data), size: data.length })
      await assert.rejects(ingest.adopt(file, fakeSha1(4), false), { name: 'HashMismatchError' })
      // trusted: the caller hashed exactly these bytes as it wrote them
      assert.deepEqual(await ingest.adopt(file, fakeSha1(4), true), { tmp: file, sha1: fakeSha1(4), size: data.length })
      assert.deepEqual(await fs.readFile(file), data)
    })
  })

  it('a full disk is StorageFullError; other errors pass as they are', () => {
    const full = Object.assign(new Error('no space'), { code: 'ENOSPC' })
    const mapped = writeError(full, path.join(tmpDir, 'abc.part'))
    assert.equal((mapped as Error).name, 'StorageFullError')
    assert.equal((mapped as Error).cause, full)
    const other = new Error('other')
    assert.equal(writeError(other), other)
  })
})
