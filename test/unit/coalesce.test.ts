import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FetchCoalescer } from '../../src/transfer/coalesce.js'

/** A batch fetch that records its batches and answers when told to. */
function recorder (leftover: (sha1: string) => boolean = () => false): { fetch: (sha1s: string[]) => Promise<string[]>, batches: string[][], release: () => void } {
  const batches: string[][] = []
  const open = (): { promise: Promise<void>, resolve: () => void } => {
    let resolve = (): void => {}
    const promise = new Promise<void>((r) => { resolve = r })
    return { promise, resolve }
  }
  let gate = open()
  return {
    batches,
    fetch: async (sha1s) => {
      batches.push(sha1s)
      await gate.promise
      return sha1s.filter(leftover)
    },
    release: () => {
      gate.resolve()
      gate = open()
    }
  }
}

const hashes = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => (from + i).toString(16).padStart(40, '0'))

describe('FetchCoalescer: single fetches at the same time share batches', () => {
  it('requests made together go in one batch, and the ones arriving while it runs in the next', async () => {
    const r = recorder()
    const c = new FetchCoalescer(r.fetch, { batchesInFlight: 1 })
    const first = hashes(10).map(async (h) => c.get(h))
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(r.batches, [hashes(10)])
    // while the first batch is out, more arrive: they wait and go together
    const second = hashes(5, 100).map(async (h) => c.get(h))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(r.batches.length, 1)
    r.release()
    assert.deepEqual(await Promise.all(first), Array(10).fill(true))
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(r.batches[1], hashes(5, 100))
    r.release()
    assert.deepEqual(await Promise.all(second), Array(5).fill(true))
  })

  it('a hash the batch could not get, or a failed batch, sends its caller down the single path (false)', async () => {
    const left = hashes(1, 7)[0]
    const r = recorder((h) => h === left)
    const c = new FetchCoalescer(r.fetch)
    const got = Promise.all(hashes(10).map(async (h) => c.get(h)))
    await new Promise((resolve) => setImmediate(resolve))
    r.release()
    assert.deepEqual(await got, hashes(10).map((h) => h !== left))

    const failing = new FetchCoalescer(async () => { throw new Error('peer went away') })
    assert.deepEqual(await Promise.all([failing.get(hashes(1)[0]), failing.get(hashes(1, 1)[0])]), [false, false])
  })

  it('the same hash asked twice is fetched once and answers both', async () => {
    const r = recorder()
    const c = new FetchCoalescer(r.fetch)
    const [h] = hashes(1)
    const both = Promise.all([c.get(h), c.get(h)])
    await new Promise((resolve) => setImmediate(resolve))
    r.release()
    assert.deepEqual(await both, [true, true])
    assert.deepEqual(r.batches, [[h]])
  })

  it('batches are capped, and an aborted caller stops waiting without failing the others', async () => {
    const r = recorder()
    const c = new FetchCoalescer(r.fetch, { maxBatch: 4, batchesInFlight: 2 })
    const ac = new AbortController()
    const all = hashes(10).map(async (h, i) => c.get(h, i === 0 ? ac.signal : undefined))
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(r.batches.map((b) => b.length), [4, 4])
    ac.abort(new Error('caller gave up'))
    await assert.rejects(all[0], /caller gave up/)
    r.release()
    await new Promise((resolve) => setImmediate(resolve))
    r.release()
    assert.deepEqual(await Promise.all(all.slice(1)), Array(9).fill(true))
    assert.deepEqual(r.batches.map((b) => b.length), [4, 4, 2])
  })
})
