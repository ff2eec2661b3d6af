import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  RAW_CODEC, SHA1_MULTIHASH_CODE, assertSha1Hex, bytesToSha1, findReferences, formatUri,
  isSha1Hex, parseUri, sha1ToBytes, toSha1
} from '../../src/uri.js'
import { cidToSha1, sha1ToCid } from '../../src/net/dht-key.js'
import { sha1Of } from '../helpers/trove.js'

const H = sha1Of('hello')
const H2 = sha1Of('world')
const invalid = { name: 'InvalidUriError', code: 'INVALID_URI' }

describe('parseUri', () => {
  it('parses a bare URI', () => {
    assert.deepEqual(parseUri(`sha1://${H}`), { sha1: H })
  })

  it('parses a file name, percent-decoded', () => {
    assert.deepEqual(parseUri(`sha1://${H}/data.bin`), { sha1: H, name: 'data.bin' })
    assert.deepEqual(parseUri(`sha1://${H}/my%20file.txt`), { sha1: H, name: 'my file.txt' })
    assert.deepEqual(parseUri(`sha1://${H}/dir/file.txt`), { sha1: H, name: 'dir/file.txt' })
  })

  it('treats a trailing slash as no name', () => {
    assert.deepEqual(parseUri(`sha1://${H}/`), { sha1: H })
  })

  it('parses ?label=, with and without a name', () => {
    assert.deepEqual(parseUri(`sha1://${H}?label=raw%20data`), { sha1: H, label: 'raw data' })
    assert.deepEqual(parseUri(`sha1://${H}/a.txt?label=x`), { sha1: H, name: 'a.txt', label: 'x' })
    assert.deepEqual(parseUri(`sha1://${H}?other=1`), { sha1: H })
  })

  it('rejects uppercase hex', () => {
    assert.throws(() => parseUri(`sha1://${H.toUpperCase()}`), invalid)
    assert.throws(() => parseUri(`sha1://${H.slice(0, 39)}A`), invalid)
  })

  it('rejects truncated and too long hashes', () => {
    assert.throws(() => parseUri(`sha1://${H.slice(0, 39)}`), invalid)
    assert.throws(() => parseUri('sha1://'), invalid)
    assert.throws(() => parseUri(`sha1://${H}0`), invalid)
    assert.throws(() => parseUri(`sha1://${H}${H}`), invalid)
  })

  it('rejects non-hex characters', () => {
    assert.throws(() => parseUri(`sha1://${H.slice(0, 39)}g`), invalid)
    assert.throws(() => parseUri(`sha1://${'z'.repeat(40)}`), invalid)
    assert.throws(() => parseUri(`sha1://${H}#frag`), invalid)
  })

  it('rejects wrong schemes and surrounding junk', () => {
    for (const uri of [H, `sha256://${H}`, `SHA1://${H}`, `sha1:/${H}`, `http://${H}`, ` sha1://${H}`, '', 'sha1:']) {
      assert.throws(() => parseUri(uri), invalid, uri)
    }
  })

  it('rejects non-strings with InvalidUriError, never a TypeError', () => {
    for (const v of [undefined, null, 42, {}, [], true, Symbol('x')]) {
      assert.throws(() => parseUri(v), invalid)
    }
  })

  it('rejects bad percent-encoding in the name', () => {
    assert.throws(() => parseUri(`sha1://${H}/bad%zzname`), invalid)
  })

  it('keeps very long garbage out of the message', () => {
    const long = `sha1://${'x'.repeat(10_000)}`
    assert.throws(() => parseUri(long), (err: Error) => err.name === 'InvalidUriError' && err.message.length < 300)
  })
})

describe('hash helpers', () => {
  it('isSha1Hex / assertSha1Hex accept only 40 lowercase hex', () => {
    assert.equal(isSha1Hex(H), true)
    assert.equal(isSha1Hex(H.toUpperCase()), false)
    assert.equal(assertSha1Hex(H), H)
    for (const v of [H.toUpperCase(), H.slice(1), `${H}a`, `sha1://${H}`, '']) {
      assert.throws(() => assertSha1Hex(v), invalid, v)
    }
    for (const v of [undefined, null, 1, {}]) {
      assert.throws(() => assertSha1Hex(v as unknown as string), invalid)
    }
  })

  it('toSha1 takes a URI or a bare hash', () => {
    assert.equal(toSha1(H), H)
    assert.equal(toSha1(`sha1://${H}/f.txt?label=l`), H)
    assert.throws(() => toSha1('nope'), invalid)
    assert.throws(() => toSha1(null as unknown as string), invalid)
  })

  it('formatUri round trips through parseUri, encoding the name', () => {
    assert.equal(formatUri(H), `sha1://${H}`)
    assert.equal(formatUri(H, ''), `sha1://${H}`)
    const uri = formatUri(H, 'a b?c#d.txt')
    assert.deepEqual(parseUri(uri), { sha1: H, name: 'a b?c#d.txt' })
    assert.throws(() => formatUri('abc'), invalid)
  })

  it('sha1ToBytes / bytesToSha1 round trip', () => {
    const bytes = sha1ToBytes(H)
    assert.equal(bytes.length, 20)
    assert.equal(bytesToSha1(bytes), H)
    assert.throws(() => bytesToSha1(new Uint8Array(19)), invalid)
  })
})

describe('CIDs', () => {
  it('sha1ToCid makes a CIDv1 with the raw codec and a sha1 multihash', () => {
    const cid = sha1ToCid(H)
    assert.equal(cid.version, 1)
    assert.equal(cid.code, RAW_CODEC)
    assert.equal(cid.code, 0x55)
    assert.equal(cid.multihash.code, SHA1_MULTIHASH_CODE)
    assert.equal(cid.multihash.code, 0x11)
    assert.equal(cid.multihash.size, 20)
    assert.equal(Buffer.from(cid.multihash.digest).toString('hex'), H)
  })

  it('round trips through the string form', () => {
    for (const h of [H, H2, '0'.repeat(40), 'f'.repeat(40)]) {
      const parsed = CID.parse(sha1ToCid(h).toString())
      assert.equal(cidToSha1(parsed), h)
      assert.ok(parsed.equals(sha1ToCid(h)))
    }
  })

  it('different hashes give different CIDs', () => {
    assert.notEqual(sha1ToCid(H).toString(), sha1ToCid(H2).toString())
  })

  it('cidToSha1 refuses a CID whose multihash is not sha1', async () => {
    const digest = await sha256.digest(new TextEncoder().encode('x'))
    assert.throws(() => cidToSha1(CID.createV1(RAW_CODEC, digest)), invalid)
  })

  it('cidToSha1 refuses a sha1 multihash of the wrong length', () => {
    const cid = CID.createV1(RAW_CODEC, Digest.create(SHA1_MULTIHASH_CODE, new Uint8Array(16)))
    assert.throws(() => cidToSha1(cid), invalid)
  })

  it('sha1ToCid refuses a bad hash', () => {
    assert.throws(() => sha1ToCid('xyz'), invalid)
  })
})

describe('findReferences', () => {
  it('finds URIs anywhere in nested objects and arrays, deduplicated', () => {
    const obj = {
      a: `sha1://${H}`,
      list: [`sha1://${H2}/x.txt`, { deep: [[`sha1://${H}?label=again`]] }],
      n: 1,
      nil: null,
      t: true,
      other: 'not a uri',
      mention: `see sha1://${H2}`
    }
    assert.deepEqual([...findReferences(obj)].sort(), [H, H2].sort())
    assert.deepEqual([...findReferences(obj, { strict: true })].sort(), [H, H2].sort())
  })

  it('finds a top-level string and nothing in scalars', () => {
    assert.deepEqual([...findReferences(`sha1://${H}`)], [H])
    for (const v of [null, undefined, 1, true, 'x', [], {}]) assert.equal(findReferences(v).size, 0)
  })

  it('does not treat object keys as references', () => {
    assert.equal(findReferences({ [`sha1://${H}`]: 1 }).size, 0)
  })

  it('strict mode throws InvalidUriError for a malformed sha1:// string, wherever it is', () => {
    for (const bad of [`sha1://${H.toUpperCase()}`, 'sha1://abc', `sha1://${H}0`]) {
      assert.throws(() => findReferences({ a: [{ b: bad }] }, { strict: true }), invalid, bad)
      assert.throws(() => findReferences([`sha1://${H}`, bad], { strict: true }), invalid, bad)
    }
  })

  it('lenient mode skips malformed ones and keeps the good ones', () => {
    const found = findReferences({ a: 'sha1://abc', b: [`sha1://${H}`, `sha1://${H.toUpperCase()}`] })
    assert.deepEqual([...found], [H])
    assert.deepEqual([...findReferences({ a: 'sha1://abc' }, { strict: false })], [])
  })
})
