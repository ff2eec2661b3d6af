import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { PACK_HEADER_BYTES } from '../../src/store/constants.js'
import { FAULT_BAD_DATA } from '../../src/transfer/constants.js'
import { connect, locateStored, overwriteStored, sha1OfStored, spawnNode, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

/** A ref of many small files (a dataset of images, a results folder). */
const BLOBS = 3_000
/** Small blobs of up to 4 KiB, ~6 MB in all: well under the pack size limit each. */
const MAX_BLOB = 4 * 1024
/** Small packs, so the ref spans several of them and deleting most of it makes them compactable. */
const PACK_TARGET = 1024 * 1024
/** Every KEEP_EVERY-th blob survives the deletion. */
const KEEP_EVERY = 10
const ADD_CONCURRENCY = 16

function sha1Of (bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex')
}

/** Regular files anywhere under `dir`, and their bytes. */
async function filesUnder (dir: string): Promise<{ files: number, bytes: number }> {
  let files = 0
  let bytes = 0
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    files++
    bytes += (await fs.stat(path.join(e.parentPath, e.name))).size
  }
  return { files, bytes }
}

async function inParallel<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

/** Checks that `node` holds each blob with exactly its content, reading the bytes where its store keeps them. */
async function assertHolds (node: TestNode, sha1s: string[], expected: Map<string, string>): Promise<void> {
  for (const s of sha1s) assert.equal(await sha1OfStored(node.trove.store, s), expected.get(s), `sha1://${s}`)
}

describe('network: small blobs in pack files', () => {
  it('a node that fetched thousands of small blobs keeps them in a few packs, serves them on, and after deleting most still serves the rest', async () => {
    const nodes: TestNode[] = []
    try {
      const origin = await spawnNode({})
      nodes.push(origin)
      // no background runs and no grace period: the test decides when blobs go
      const middle = await spawnNode({ bootstrap: [origin.addr], trove: { space: { gcIntervalMs: 0, gracePeriodMs: 0 }, packs: { targetBytes: PACK_TARGET, retireGraceMs: 0 } } })
      nodes.push(middle)
      await waitFor(async () => (await middle.trove.peers()).length > 0, 10_000, 'the middle node to connect')

      const contents = Array.from({ length: BLOBS }, (_, i) => Buffer.concat([Buffer.from(`packed ${i}\n`), randomBytes(i % MAX_BLOB)]))
      const sha1s: string[] = []
      await inParallel(contents.map((c, i) => ({ c, i })), ADD_CONCURRENCY, async ({ c, i }) => {
        sha1s[i] = (await origin.trove.add([c])).sha1
      })
      const expected = new Map(contents.map((c, i) => [sha1s[i], sha1Of(c)]))
      assert.equal(expected.size, BLOBS)
      for (const [s, h] of expected) assert.equal(s, h)
      const uris = sha1s.map((s) => `sha1://${s}`)
      const packedBytes = contents.reduce((n, c) => n + PACK_HEADER_BYTES + c.length, 0)

      // the middle node records the dataset under a ref, then fetches it
      await middle.trove.setRef('lab/dataset', { files: uris })
      const fetched = await middle.trove.fetchMany(uris)
      assert.deepEqual(fetched.failed, [])
      assert.equal(fetched.fetched, BLOBS)
      await assertHolds(middle, sha1s, expected)

      // in a few pack files, not a file each
      const dir = middle.trove.dataDir
      const loose = await filesUnder(path.join(dir, 'blobs'))
      const packs = await filesUnder(path.join(dir, 'packs'))
      assert.equal(loose.files, 0, 'no loose blob files')
      assert.ok(packs.files >= 2, `${packs.files} packs`)
      assert.ok(packs.files <= Math.ceil(packedBytes / PACK_TARGET) + 1, `${packs.files} packs for ${packedBytes} bytes`)
      assert.equal(packs.bytes, packedBytes, 'the packs hold each blob once, with its header')
      for (const s of sha1s.slice(0, 50)) assert.equal((await middle.trove.store.locate(s))?.packed, true)

      // with the origin gone, a third node can only get the dataset from the middle one
      await origin.stop()
      const third = await spawnNode({ findTimeoutMs: 10_000 })
      nodes.push(third)
      await connect(third, middle)
      const servedBefore = middle.trove.network!.fetchProtocol.bytesServed
      const onward = await third.trove.fetchMany(uris)
      assert.deepEqual(onward.failed, [])
      assert.equal(onward.fetched, BLOBS)
      assert.ok(middle.trove.network!.fetchProtocol.bytesServed - servedBefore >= packedBytes - PACK_HEADER_BYTES * BLOBS)
      await assertHolds(third, sha1s, expected)
      await third.stop()

      // most of the dataset goes: only every KEEP_EVERY-th blob stays held
      const kept = sha1s.filter((_, i) => i % KEEP_EVERY === 0)
      const dropped = sha1s.filter((_, i) => i % KEEP_EVERY !== 0)
      await middle.trove.setRef('lab/keep', { files: kept.map((s) => `sha1://${s}`) })
      await middle.trove.rmRef('lab/dataset')
      const report = await middle.trove.gc()
      assert.deepEqual(report.errors, [])

      // packs that fell under half live are compacted and their files removed
      const keptBytes = kept.reduce((n, s) => n + PACK_HEADER_BYTES + contents[sha1s.indexOf(s)].length, 0)
      await waitFor(async () => (await filesUnder(path.join(dir, 'packs'))).bytes < packedBytes / 2, 20_000, 'the packs to be compacted')
      assert.equal((await filesUnder(path.join(dir, 'blobs'))).files, 0)
      assert.ok((await filesUnder(path.join(dir, 'packs'))).bytes >= keptBytes)
      await assertHolds(middle, kept, expected)
      for (const s of kept) await fs.access((await locateStored(middle.trove.store, s)).path)
      const verified = await middle.trove.verify()
      assert.equal(verified.ok, true)
      assert.deepEqual([verified.corrupt, verified.missing, verified.adopted, verified.strays], [[], [], [], []])
      assert.deepEqual(verified.usageAfter, verified.usageBefore)

      // a fourth node gets the survivors, byte for byte, from the middle one
      const fourth = await spawnNode({ findTimeoutMs: 10_000 })
      nodes.push(fourth)
      await connect(fourth, middle)
      const survivors = await fourth.trove.fetchMany(kept.map((s) => `sha1://${s}`))
      assert.deepEqual(survivors.failed, [])
      assert.equal(survivors.fetched, kept.length)
      await assertHolds(fourth, kept, expected)

      // one run took every blob no ref holds any more (no size limit: that is its target). Checked
      // last so that the rest runs too: this failed at first (2,300-2,430 of 2,700) because moving a
      // live record during a compaction (queued after the run's first delete batches) is a put to
      // db.blobs, which the space watch marks as a change of holds: the run's last check then vetoed
      // the moved blobs as 'changing' without counting them as skipped; a second run took them.
      assert.equal(report.evicted.blobs, dropped.length, 'evicted by the one gc run')
      const left = []
      for (const s of dropped) if (await middle.trove.store.has(s)) left.push(s)
      assert.equal(left.length, 0, 'dropped blobs still stored after the gc run')
      const gone = await fourth.trove.fetchMany([`sha1://${dropped[0]}`, `sha1://${dropped[dropped.length - 1]}`], { timeoutMs: 1_000 })
      assert.deepEqual(gone.failed.map((f) => f.code), ['NO_PROVIDERS', 'NO_PROVIDERS'])
      assert.equal((await middle.trove.verify()).checked, kept.length)
    } finally {
      await stopNodes(nodes)
    }
  })

  it('a packed blob with bad bytes in its pack is refused by a fetcher; verify on the provider quarantines it and leaves its neighbours', async () => {
    const nodes: TestNode[] = []
    try {
      const origin = await spawnNode({})
      nodes.push(origin)
      const bad = await spawnNode({ bootstrap: [origin.addr] })
      nodes.push(bad)
      await waitFor(async () => (await bad.trove.peers()).length > 0, 10_000, 'the provider to connect')
      // three neighbours in one pack on the provider, the middle one to be damaged
      const contents = [randomBytes(5_000), randomBytes(MAX_BLOB * 4), randomBytes(7_000)]
      const sha1s = await Promise.all(contents.map(async (c) => (await origin.trove.add([c])).sha1))
      const fetched = await bad.trove.fetchMany(sha1s.map((s) => `sha1://${s}`))
      assert.deepEqual(fetched.failed, [])
      const locs = await Promise.all(sha1s.map(async (s) => locateStored(bad.trove.store, s)))
      assert.ok(locs.every((l) => l.packed && l.path === locs[0].path), 'the three blobs share a pack')
      await origin.stop()

      const victim = sha1s[1]
      await overwriteStored(bad.trove.store, victim, contents[1].length / 2, Buffer.from('this is not what was stored'))
      assert.notEqual(await sha1OfStored(bad.trove.store, victim), victim)

      const fetcher = await spawnNode({ findTimeoutMs: 2_000 })
      nodes.push(fetcher)
      await connect(fetcher, bad)
      const badId = bad.trove.peerId as string
      // its neighbours in the damaged pack are served intact; it is not
      const others = await fetcher.trove.fetchMany([`sha1://${sha1s[0]}`, `sha1://${sha1s[2]}`])
      assert.deepEqual(others.failed, [])
      assert.equal(await sha1OfStored(fetcher.trove.store, sha1s[0]), sha1Of(contents[0]))
      assert.equal(await sha1OfStored(fetcher.trove.store, sha1s[2]), sha1Of(contents[2]))
      await assert.rejects(fetcher.trove.ensureLocal(`sha1://${victim}`), { name: 'TransferFailedError' })
      assert.equal(await fetcher.trove.store.has(victim), false, 'nothing unverified was stored')
      assert.ok(fetcher.trove.network!.scores.faults(badId) >= FAULT_BAD_DATA, `faults of the provider: ${fetcher.trove.network!.scores.faults(badId)}`)

      const verified = await bad.trove.verify()
      assert.equal(verified.ok, false)
      assert.deepEqual(verified.corrupt.map((c) => c.sha1), [victim])
      // the damaged bytes, kept for a look (relative to the data directory)
      const quarantined = await fs.readFile(path.join(bad.trove.dataDir, verified.corrupt[0].quarantinedAs))
      assert.equal(quarantined.length, contents[1].length)
      assert.equal(sha1Of(quarantined), verified.corrupt[0].actual)
      assert.equal(await bad.trove.store.has(victim), false)
      assert.equal(await sha1OfStored(bad.trove.store, sha1s[0]), sha1Of(contents[0]))
      assert.equal(await sha1OfStored(bad.trove.store, sha1s[2]), sha1Of(contents[2]))
      assert.equal((await bad.trove.verify()).ok, true)
    } finally {
      await stopNodes(nodes)
    }
  })
})
