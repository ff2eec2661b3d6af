import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_DIR_MANIFEST_BYTES } from '../../src/dirs/constants.js'
import { compareNames, decodeDirManifest, dirManifestSha1, encodeDirManifest, looksLikeDirManifest, nameProblem, type DirEntry } from '../../src/dirs/manifest.js'
import { formatDirUri, isDirUri, parseDirUri } from '../../src/dirs/uri.js'
import { sha1Of } from '../helpers/trove.js'

const H = sha1Of('hello')
const bad = { name: 'InvalidDirManifestError', code: 'INVALID_DIR_MANIFEST' }
const invalidUri = { name: 'InvalidUriError', code: 'INVALID_URI' }
const file = (name: string, size = 5, exec = false): DirEntry => ({ name, kind: 'file', sha1: H, size, exec })

describe('directory manifest', () => {
  it('encodes canonically whatever order the entries come in, and decodes back', () => {
    const a = encodeDirManifest({ entries: [file('b'), file('a', 1, true), { name: 'c', kind: 'dir', sha1: H, size: 6, exec: false }] })
    const b = encodeDirManifest({ entries: [{ name: 'c', kind: 'dir', sha1: H, size: 6, exec: false }, file('a', 1, true), file('b')] })
    assert.deepEqual(a, b)
    const m = decodeDirManifest(a)
    assert.deepEqual(m.entries.map((e) => e.name), ['a', 'b', 'c'])
    assert.deepEqual(m.entries[0], file('a', 1, true))
    assert.equal(dirManifestSha1(a), sha1Of(Buffer.from(a)))
  })

  it('orders names by UTF-8 bytes, not UTF-16 code units', () => {
    assert.ok(compareNames('ｚ', '😀') < 0)
    assert.ok('😀' < 'ｚ', 'JavaScript string order differs here')
    assert.ok(compareNames('Z', 'a') < 0)
    assert.ok(compareNames('a', 'ab') < 0)
    assert.equal(compareNames('é', 'é'), 0)
  })

  it('compares names exactly as their UTF-8 bytes compare', () => {
    const pool = ['a', 'Z', 'é', '\u00ff', '\u0800', '\ud7ff', '\ue000', 'ｚ', '\uffff', '😀', '\u{10000}', '\u{10ffff}', '𝄞', '~', '']
    let seed = 7
    const rand = (k: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k }
    const word = (): string => Array.from({ length: 1 + rand(4) }, () => pool[rand(pool.length)]).join('')
    for (let i = 0; i < 5000; i++) {
      const a = word()
      const b = word()
      assert.equal(Math.sign(compareNames(a, b)), Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
    }
  })

  it('refuses to encode what it would refuse to decode', () => {
    assert.throws(() => encodeDirManifest({ entries: [file('a'), file('a')] }), bad)
    assert.throws(() => encodeDirManifest({ entries: [file('..')] }), bad)
    assert.throws(() => encodeDirManifest({ entries: [{ ...file('a'), kind: 'link' as 'file' }] }), bad)
    assert.throws(() => encodeDirManifest({ entries: [{ ...file('a'), size: -1 }] }), bad)
    assert.throws(() => encodeDirManifest({ entries: [{ ...file('a'), sha1: 'x' }] }), bad)
    assert.throws(() => encodeDirManifest({ entries: [{ name: 'd', kind: 'dir', sha1: H, size: 0, exec: true }] }), bad)
  })

  it('names problems of names', () => {
    assert.equal(nameProblem('ok.txt'), undefined)
    assert.equal(nameProblem('é 😀'), undefined)
    for (const n of ['', '.', '..', 'a/b', 'a\0', '\ud800', 'x'.repeat(256)]) assert.notEqual(nameProblem(n), undefined, JSON.stringify(n))
    assert.equal(nameProblem('é'.repeat(127)), undefined, '254 bytes')
    assert.notEqual(nameProblem('é'.repeat(128)), undefined, '256 bytes')
  })

  it('refuses bytes over the size limit before parsing them', () => {
    assert.throws(() => decodeDirManifest(new Uint8Array(MAX_DIR_MANIFEST_BYTES + 1)), bad)
  })

  it('recognises a manifest by its first bytes', () => {
    assert.equal(looksLikeDirManifest(encodeDirManifest({ entries: [] })), true)
    assert.equal(looksLikeDirManifest(Buffer.from('{"type":"trove/manifest"}')), false)
    assert.equal(looksLikeDirManifest(Buffer.from('{"e')), false)
  })
})

describe('sha1dir:// URIs', () => {
  it('parses the root and a sub path, percent-decoded', () => {
    assert.deepEqual(parseDirUri(`sha1dir://${H}`), { sha1: H, path: [] })
    assert.deepEqual(parseDirUri(`sha1dir://${H}/`), { sha1: H, path: [] })
    assert.deepEqual(parseDirUri(`sha1dir://${H}/a/b%20c.txt`), { sha1: H, path: ['a', 'b c.txt'] })
  })

  it('refuses what could leave the directory or is not a sha1', () => {
    for (const u of [`sha1dir://${H}/..`, `sha1dir://${H}/a/../b`, `sha1dir://${H}/.`, `sha1dir://${H}//a`, `sha1dir://${H}/%2E%2E`, `sha1dir://${H}/a%00`, `sha1dir://${H}/a%2Fb`,
      `sha1dir://${H.toUpperCase()}`, `sha1dir://${H.slice(1)}`, `sha1dir://${H.slice(0, 39)}g`, `sha1dir://${H}?x=1`, `sha1dir://${H}#f`, `sha1://${H}`, `sha1dir://${H}/%zz`]) {
      assert.throws(() => parseDirUri(u), invalidUri, u)
    }
    assert.throws(() => parseDirUri(5), invalidUri)
  })

  it('formats segments percent-encoded, and round-trips', () => {
    const path = ['a b', 'c?d#e', 'é', '100%']
    const uri = formatDirUri(H, path)
    assert.equal(uri, `sha1dir://${H}/a%20b/c%3Fd%23e/%C3%A9/100%25`)
    assert.deepEqual(parseDirUri(uri), { sha1: H, path })
    assert.equal(formatDirUri(H), `sha1dir://${H}`)
    assert.throws(() => formatDirUri('nothex'), invalidUri)
    assert.equal(isDirUri(`sha1dir://${H}`), true)
    assert.equal(isDirUri(`sha1://${H}`), false)
  })
})
