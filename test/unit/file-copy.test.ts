import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ChunkHasher } from '../../src/store/chunk-hasher.js'
import { copyAndHash } from '../../src/store/file-copy.js'
import { tempDir } from '../helpers/tmp.js'

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex')

describe('copyAndHash', () => {
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => { ({ dir, cleanup } = await tempDir()) })
  after(async () => { await cleanup() })

  let n = 0
  const paths = (): { src: string, dest: string } => { n++; return { src: path.join(dir, `src-${n}`), dest: path.join(dir, `dest-${n}`) } }

  it('copies and hashes files of every size around the read size, with chunk hashes', async () => {
    const chunkSize = 64 * 1024
    for (const size of [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 7 * chunkSize + 123]) {
      const { src, dest } = paths()
      const data = randomBytes(size)
      await fs.writeFile(src, data)
      const chunker = new ChunkHasher(3 * 1000)
      const seen: number[] = []
      const r = await copyAndHash(src, dest, { chunkSize, chunker, durable: true, onProgress: (b) => seen.push(b) })
      assert.deepEqual(r, { sha1: sha1(data), size }, `size ${size}`)
      assert.deepEqual(await fs.readFile(dest), data)
      const expected: string[] = []
      for (let o = 0; o < size; o += 3000) expected.push(sha1(data.subarray(o, o + 3000)))
      assert.deepEqual(await chunker.digest(), expected)
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'progress only grows')
      if (size > 0) assert.equal(seen.at(-1), size)
    }
  })

  it('gives the copy the store\'s mode, not the source\'s', async () => {
    const { src, dest } = paths()
    await fs.writeFile(src, 'private', { mode: 0o400 })
    await copyAndHash(src, dest, { chunkSize: 1024, durable: false })
    assert.equal((await fs.stat(dest)).mode & 0o777, 0o644)
  })

  it('the hash is always of the bytes stored, even while the source is being appended to', async () => {
    const { src, dest } = paths()
    await fs.writeFile(src, randomBytes(4 * 1024 * 1024))
    const writer = await fs.open(src, 'a')
    let stop = false
    const appending = (async () => { while (!stop) await writer.write(randomBytes(64 * 1024)) })()
    try {
      const r = await copyAndHash(src, dest, { chunkSize: 256 * 1024, durable: false })
      const stored = await fs.readFile(dest)
      assert.equal(r.size, stored.length)
      assert.equal(r.sha1, sha1(stored))
    } finally {
      stop = true
      await appending
      await writer.close()
    }
  })

  it('fails with the source\'s error and never overwrites an existing destination', async () => {
    const { src, dest } = paths()
    await assert.rejects(copyAndHash(src, dest, { chunkSize: 1024, durable: false }), { code: 'ENOENT' })
    await fs.writeFile(src, 'new')
    await fs.writeFile(dest, 'old')
    await assert.rejects(copyAndHash(src, dest, { chunkSize: 1024, durable: false }), { code: 'EEXIST' })
    assert.equal(await fs.readFile(dest, 'utf8'), 'old')
  })

  it('an aborted copy throws AbortError', async () => {
    const { src, dest } = paths()
    await fs.writeFile(src, randomBytes(1024 * 1024))
    const ac = new AbortController()
    ac.abort()
    await assert.rejects(copyAndHash(src, dest, { chunkSize: 1024, durable: false, signal: ac.signal }), { name: 'AbortError' })
  })
})
