import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { ChunkHasher } from '../../src/store/chunk-hasher.js'

describe('ChunkHasher', () => {
  it('gives the sha1 of every chunk, whatever the sizes of the pieces fed to it', async () => {
    const chunkSize = 64 * 1024
    const data = randomBytes(10 * chunkSize + 12345)
    const expected: string[] = []
    for (let o = 0; o < data.length; o += chunkSize) expected.push(createHash('sha1').update(data.subarray(o, o + chunkSize)).digest('hex'))
    for (const piece of [1000, chunkSize, chunkSize + 1, 3 * chunkSize + 7]) {
      const h = new ChunkHasher(chunkSize)
      for (let o = 0; o < data.length; o += piece) await h.update(data.subarray(o, o + piece))
      assert.deepEqual(await h.digest(), expected, `pieces of ${piece}`)
    }
  })

  it('an exact multiple of the chunk size has no empty last chunk; empty input has no chunks', async () => {
    const h = new ChunkHasher(1024)
    await h.update(Buffer.alloc(2048, 7))
    assert.equal((await h.digest()).length, 2)
    assert.deepEqual(await new ChunkHasher(1024).digest(), [])
  })
})
