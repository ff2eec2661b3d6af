import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CID } from 'multiformats/cid'
import { dhtKey, sha1ToCid } from '../../src/net/dht-key.js'

const A = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'
const B = '2fd4e1c67a2d28fced849ee1bb76e7391b93eb12'

test('dhtKey: kad-dht peers can decode it (they read the key as CID.decode(multihash))', () => {
  const key = dhtKey(A)
  assert.equal(CID.decode(key.multihash.bytes).multihash.code, 0x12)
  // the blob's own CID is what peers refused before: its sha1 multihash is no CIDv0
  assert.throws(() => CID.decode(sha1ToCid(A).multihash.bytes))
})

test('dhtKey: the same for every node, different per blob', () => {
  assert.equal(dhtKey(A).toString(), dhtKey(A).toString())
  assert.notEqual(dhtKey(A).toString(), dhtKey(B).toString())
})
