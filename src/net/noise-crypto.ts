import crypto, { type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'

/** Messages below this size go to noise's own WebAssembly cipher, faster there (noise's own cut-off). */
const NATIVE_MIN_BYTES = 1200
/** chacha20-poly1305's authentication tag. */
const TAG_BYTES = 16

/**
 * One KeyObject per session key. Noise's node cipher hands the raw key to createCipheriv for
 * every message (a 64 KiB frame), and Node checks and wraps it each time: ~0.5 CPU-s per GiB on
 * each side of a transfer in bench/fetch's profiles (getKeyObjectSlots, prepareSecretKey). A
 * noise CipherState never changes its key array, so the array itself is the cache key, and the
 * entry goes when the session does.
 */
const keys = new WeakMap<Uint8Array, KeyObject>()

function keyObject (k: Uint8Array): KeyObject {
  let key = keys.get(k)
  if (key === undefined) {
    key = crypto.createSecretKey(k)
    keys.set(k, key)
  }
  return key
}

/** Noise's default crypto, with chacha20-poly1305 keyed by a cached KeyObject (same bytes on the wire). */
export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NATIVE_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = crypto.createCipheriv('chacha20-poly1305', keyObject(k), nonce, { authTagLength: TAG_BYTES })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const parts: Uint8Array[] = []
    for (const piece of plaintext instanceof Uint8Array ? [plaintext] : plaintext) parts.push(cipher.update(piece))
    parts.push(cipher.final(), cipher.getAuthTag())
    return Buffer.concat(parts)
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NATIVE_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    const end = ciphertext.byteLength - TAG_BYTES
    const decipher = crypto.createDecipheriv('chacha20-poly1305', keyObject(k), nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(ad, { plaintextLength: end })
    decipher.setAuthTag(ciphertext.subarray(end))
    if (ciphertext instanceof Uint8Array) {
      const out = decipher.update(ciphertext.subarray(0, end))
      // final() throws when the tag does not match: nothing unauthenticated is returned
      const rest = decipher.final()
      return rest.byteLength > 0 ? Buffer.concat([out, rest]) : out
    }
    const out = new Uint8ArrayList()
    for (const piece of ciphertext.sublist(0, end)) out.append(decipher.update(piece))
    const rest = decipher.final()
    if (rest.byteLength > 0) out.append(rest)
    // noise has its own copy of uint8arraylist: same class, another type identity
    return out as unknown as ReturnType<ICryptoInterface['chaCha20Poly1305Decrypt']>
  }
}
