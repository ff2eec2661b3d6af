import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseCrypto } from '../../src/net/noise-crypto.js'

/** noise has its own copy of uint8arraylist: a list built here is the same class under another type. */
type NoiseInput = Parameters<typeof noiseCrypto.chaCha20Poly1305Decrypt>[0]
const asInput = (list: Uint8ArrayList): NoiseInput => list as unknown as NoiseInput

const bytes = (x: Uint8Array | { subarray: () => Uint8Array }): Buffer => Buffer.from(x instanceof Uint8Array ? x : x.subarray())

describe('noise crypto with cached keys', () => {
  const k = randomBytes(32)
  const nonce = randomBytes(12)
  const ad = randomBytes(32)

  for (const size of [0, 100, 1199, 1200, 4096, 65519]) {
    it(`encrypts ${size} bytes exactly as noise's default, and decrypts either`, () => {
      const plain = randomBytes(size)
      const ours = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
      const theirs = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
      assert.ok(ours.equals(theirs), 'same ciphertext and tag')
      // a ciphertext split over several buffers, as noise hands frames that span TCP reads
      const split = new Uint8ArrayList(ours.subarray(0, Math.floor(ours.length / 3)), ours.subarray(Math.floor(ours.length / 3)))
      for (const input of [ours, asInput(split)]) {
        assert.ok(bytes(noiseCrypto.chaCha20Poly1305Decrypt(input, nonce, ad, k)).equals(plain))
      }
      // and a plaintext handed as a list
      const list = new Uint8ArrayList(plain.subarray(0, size >> 1), plain.subarray(size >> 1))
      assert.ok(bytes(noiseCrypto.chaCha20Poly1305Encrypt(asInput(list), nonce, ad, k)).equals(theirs))
    })
  }

  it('refuses a tampered frame, a wrong key and a wrong nonce', () => {
    const plain = randomBytes(65519)
    const sealed = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
    const tampered = Buffer.from(sealed)
    tampered[1000] ^= 1
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, k))
    const tag = Buffer.from(sealed)
    tag[tag.length - 1] ^= 1
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(tag, nonce, ad, k))
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, randomBytes(32)))
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, randomBytes(12), ad, k))
  })
})
