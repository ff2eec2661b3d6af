import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { FETCH_PROTOCOL, MAX_FETCH_REQUEST_BYTES } from '../../src/protocols/fetch/constants.js'
import { FetchRequest, FetchResponse } from '../../src/protocols/fetch/pb/fetch.js'
import { StreamReader, frame } from '../../src/protocols/stream-io.js'
import { CHUNK_SIZE } from '../../src/transfer/constants.js'
import { sha1OfStored, spawnChildNode, spawnNode, spawnNodes, stopNodes, waitFor, writeRandomFile, type ChildNode, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Six chunks: several requests reach the stalling provider. */
const SIZE = 6 * CHUNK_SIZE
/** Twelve chunks: the frozen provider still has work queued when it stops. */
const FROZEN_SIZE = 12 * CHUNK_SIZE
/** A provider silent this long is dropped; short so the test is quick, long for a loaded machine. */
const STALL_TIMEOUT_MS = 2_000
/** Bytes the stalling provider sends of each answer before it goes quiet. */
const TEASE_BYTES = 1000
/** Without stall detection these tests would hang: fail them instead. */
const TEST_TIMEOUT_MS = 90_000

/**
 * Replaces a node's fetch server with one that answers OK, sends a few bytes and then nothing,
 * keeping the stream open: a stuck disk or a peer that wants to tie up its clients.
 */
async function makeStall (node: TestNode, blobSize: number): Promise<void> {
  const libp2p = node.trove.network!.libp2p
  await libp2p.unhandle(FETCH_PROTOCOL)
  await libp2p.handle(FETCH_PROTOCOL, (stream) => {
    const reader = new StreamReader(stream)
    void (async () => {
      const msg = await reader.readMessage(MAX_FETCH_REQUEST_BYTES)
      if (msg === undefined) return
      const req = FetchRequest.decode(msg)
      const length = req.length === 0n ? BigInt(blobSize) - req.offset : req.length
      stream.send(frame(FetchResponse.encode({ status: FetchResponse.Status.OK, size: BigInt(blobSize), length, message: '' })))
      stream.send(new Uint8Array(TEASE_BYTES))
    })().catch(() => {})
  }, { maxInboundStreams: 64 })
}

describe('network: stalled providers', () => {
  it('drops a provider that stops sending mid-answer and completes from another', { timeout: TEST_TIMEOUT_MS }, async () => {
    const src = await tempDir('trove-src-')
    let nodes: TestNode[] = []
    try {
      const file = path.join(src.dir, 'big.bin')
      await writeRandomFile(file, SIZE)
      nodes = await spawnNodes(2, { topology: 'none' })
      const [honest, staller] = nodes
      const [r1] = await Promise.all([honest.trove.addFile(file), staller.trove.addFile(file)])
      await makeStall(staller, SIZE)
      const fetcher = await spawnNode({ bootstrap: [honest.addr, staller.addr], stallTimeoutMs: STALL_TIMEOUT_MS, findTimeoutMs: 10_000 })
      nodes.push(fetcher)
      await waitFor(async () => (await fetcher.trove.peers()).length === 2, 10_000, 'the fetcher to connect to both providers')

      const info = await fetcher.trove.ensureLocal(r1.uri)
      assert.ok(fetcher.trove.network!.scores.faults(staller.trove.peerId as string) > 0, 'the staller was penalised')
      assert.equal(info.size, SIZE)
      assert.equal(await sha1OfStored(fetcher.trove.store, r1.sha1), r1.sha1)
      assert.deepEqual(fetcher.trove.transfers(), [])
    } finally {
      await stopNodes(nodes)
      await src.cleanup()
    }
  })

  it('drops a provider that freezes mid-transfer (SIGSTOP) after the stall timeout; the other finishes', { timeout: TEST_TIMEOUT_MS }, async () => {
    const src = await tempDir('trove-src-')
    const nodes: TestNode[] = []
    let frozen: ChildNode | undefined
    try {
      const file = path.join(src.dir, 'big.bin')
      await writeRandomFile(file, FROZEN_SIZE)
      frozen = await spawnChildNode({ add: [file] })
      const a = await spawnNode({})
      nodes.push(a)
      const ra = await a.trove.addFile(file)
      assert.equal(ra.sha1, frozen.added[0].sha1)
      const c = await spawnNode({ bootstrap: [a.addr, frozen.addr], stallTimeoutMs: STALL_TIMEOUT_MS, findTimeoutMs: 10_000 })
      nodes.push(c)
      await waitFor(async () => (await c.trove.peers()).length === 2, 10_000, 'the fetcher to connect to both providers')

      const child = frozen.child
      let froze = false
      const info = await c.trove.ensureLocal(ra.uri, {
        onProgress: (p) => {
          // a hung machine: the connection stays open but nothing more arrives from it
          if (p.bytes > 0 && !froze) froze = child.kill('SIGSTOP')
        }
      })
      assert.ok(froze, 'the provider was frozen during the transfer')
      assert.equal(info.size, FROZEN_SIZE)
      assert.equal(await sha1OfStored(c.trove.store, ra.sha1), ra.sha1)
      assert.ok(c.trove.network!.scores.faults(frozen.peerId) > 0, 'the frozen provider was penalised')
      assert.deepEqual(c.trove.transfers(), [])
    } finally {
      await frozen?.kill()
      await stopNodes(nodes)
      await src.cleanup()
    }
  })
})
