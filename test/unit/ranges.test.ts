import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RangeNotSatisfiableError } from '../../src/errors.js'
import { resolveRange } from '../../src/store/blob-store.js'
import { coveringChunks } from '../../src/store/manifests.js'

describe('coveringChunks: the chunks a ranged read of a remote blob fetches', () => {
  const m = { size: 10 * 1024 + 100, chunkSize: 1024 }

  it('covers exactly the chunks holding the range', () => {
    assert.deepEqual(coveringChunks(m, 0, 1), [0])
    assert.deepEqual(coveringChunks(m, 1023, 1), [0])
    assert.deepEqual(coveringChunks(m, 1024, 1), [1])
    assert.deepEqual(coveringChunks(m, 1023, 2), [0, 1])
    assert.deepEqual(coveringChunks(m, 1024, 1024), [1])
    assert.deepEqual(coveringChunks(m, 1024, 1025), [1, 2])
    assert.deepEqual(coveringChunks(m, 3000, 3 * 1024), [2, 3, 4, 5])
  })

  it('the last, short chunk, the whole blob, and an empty range', () => {
    assert.deepEqual(coveringChunks(m, m.size - 1, 1), [10])
    assert.deepEqual(coveringChunks(m, 10 * 1024, 100), [10])
    assert.deepEqual(coveringChunks(m, 0, m.size), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(coveringChunks(m, 500, 0), [])
    assert.deepEqual(coveringChunks(m, m.size, 0), [])
    assert.deepEqual(coveringChunks({ size: 4096, chunkSize: 1024 }, 0, 4096), [0, 1, 2, 3])
  })

  it('every byte of every range lies in a chunk it names, and every chunk named holds one', () => {
    const small = { size: 5 * 7 + 3, chunkSize: 7 }
    for (let offset = 0; offset <= small.size; offset++) {
      for (let length = 0; offset + length <= small.size; length++) {
        const chunks = coveringChunks(small, offset, length)
        const expected = new Set<number>()
        for (let b = offset; b < offset + length; b++) expected.add(Math.floor(b / small.chunkSize))
        assert.deepEqual(chunks, [...expected], `${offset}+${length}`)
      }
    }
  })
})

describe('resolveRange: a read range against a blob size', () => {
  it('defaults to the whole blob or the rest from an offset', () => {
    assert.deepEqual(resolveRange(100, {}), { offset: 0, length: 100 })
    assert.deepEqual(resolveRange(100, { offset: 40 }), { offset: 40, length: 60 })
    assert.deepEqual(resolveRange(100, { offset: 100 }), { offset: 100, length: 0 })
    assert.deepEqual(resolveRange(100, { offset: 10, length: 90 }), { offset: 10, length: 90 })
  })

  it('refuses ranges past the end and bad numbers', () => {
    assert.throws(() => resolveRange(100, { offset: 101 }), RangeNotSatisfiableError)
    assert.throws(() => resolveRange(100, { offset: 10, length: 91 }), RangeNotSatisfiableError)
    assert.throws(() => resolveRange(100, { offset: -1 }), { name: 'InvalidArgumentError' })
    assert.throws(() => resolveRange(100, { offset: 1.5 }), { name: 'InvalidArgumentError' })
    assert.throws(() => resolveRange(100, { length: -2 }), { name: 'InvalidArgumentError' })
  })
})
