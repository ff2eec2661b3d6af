import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { it } from 'node:test'
import { PACK_MAX_BYTES } from '../../src/store/constants.js'
import { isConnected, spawnNodes, stopNodes, waitFor } from '../helpers/nodes.js'
import { sha1Of } from '../helpers/space.js'

it('a flipped byte in a stored blob, packed or loose: verify finds it, the node no longer serves it, and fetches it again from a peer that has it', async () => {
  const [a, b] = await spawnNodes(2)
  try {
    await waitFor(() => isConnected(a, b) && isConnected(b, a), 10_000, 'the nodes to connect')
    const blobs = { packed: randomBytes(2000), loose: randomBytes(PACK_MAX_BYTES * 4) }
    for (const bytes of Object.values(blobs)) {
      const added = await a.trove.store.putBytes(bytes)
      await b.trove.ensureLocal(`sha1://${added.sha1}`)
    }
    for (const [kind, bytes] of Object.entries(blobs)) {
      const sha1 = sha1Of(bytes)
      const loc = await a.trove.store.locate(sha1)
      assert.equal(loc?.packed === true, kind === 'packed', `the ${kind} blob is stored ${kind}`)
      const fh = await fs.open(loc?.path as string, 'r+')
      const at = (loc?.offset ?? 0) + 100
      const byte = Buffer.alloc(1)
      await fh.read(byte, 0, 1, at)
      byte[0] ^= 0x01
      await fh.write(byte, 0, 1, at)
      await fh.close()
    }

    const report = await a.trove.verify()
    assert.deepEqual(report.corrupt.map((c) => c.sha1).sort(), Object.values(blobs).map((x) => sha1Of(x)).sort(), 'verify finds both')
    for (const bytes of Object.values(blobs)) {
      const sha1 = sha1Of(bytes)
      assert.equal(await a.trove.store.has(sha1), false, 'the corrupt copy is not served')
      await assert.rejects(a.trove.store.readBytes(sha1), { name: 'BlobNotFoundError' })
      // a have from the peer hears "no" now
      const answers = await b.trove.network!.have.query(a.trove.network!.libp2p.peerId, [sha1]) // eslint-disable-line @typescript-eslint/no-non-null-assertion
      assert.equal(answers[0].have, false)
    }
    for (const bytes of Object.values(blobs)) {
      const sha1 = sha1Of(bytes)
      await a.trove.ensureLocal(`sha1://${sha1}`, { timeoutMs: 20_000 })
      assert.deepEqual(Buffer.from(await a.trove.store.readBytes(sha1)), bytes, 'fetched again, intact')
    }
    const after = await a.trove.verify()
    assert.equal(after.ok, true)
  } finally {
    await stopNodes([a, b])
  }
})
