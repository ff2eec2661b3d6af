import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidUriError } from '../errors.js'
import { RAW_CODEC, SHA1_MULTIHASH_CODE, bytesToSha1, sha1ToBytes } from '../uri.js'

/** Multihash code of sha2-256. */
const SHA256_MULTIHASH_CODE = 0x12
/** Hashed in front of the sha1, so these keys stand for "providers of this Trove blob" and nothing else. */
const DHT_KEY_PREFIX = 'trove-dht-providers:'

/**
 * The DHT key under which a blob's providers are recorded. Not the blob's own CID: kad-dht 16
 * decodes the key of ADD_PROVIDER and GET_PROVIDERS requests with `CID.decode(multihash)`, which
 * only a sha2-256 multihash passes (as a CIDv0), so every peer refused a sha1 key ("Invalid CID",
 * found by the multi-peer rig) and no provider record was ever stored. A sha2-256 derived from the
 * sha1 is accepted everywhere, and every node derives the same one from the URI.
 */
export function dhtKey (sha1: string): CID {
  const digest = createHash('sha256').update(DHT_KEY_PREFIX).update(sha1ToBytes(sha1)).digest()
  return CID.createV1(RAW_CODEC, Digest.create(SHA256_MULTIHASH_CODE, digest))
}

// here, not in uri.ts: multiformats is loaded by the network, not by every CLI command that parses a URI
/** CIDv1, raw codec, sha1 multihash: how blobs are named on the DHT. */
export function sha1ToCid (sha1: string): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA1_MULTIHASH_CODE, sha1ToBytes(sha1)))
}

export function cidToSha1 (cid: CID): string {
  if (cid.multihash.code !== SHA1_MULTIHASH_CODE) {
    throw new InvalidUriError(`CID does not use a sha1 multihash (code 0x${cid.multihash.code.toString(16)})`)
  }
  return bytesToSha1(cid.multihash.digest)
}
