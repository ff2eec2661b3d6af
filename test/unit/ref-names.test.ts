import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { refFiles } from '../../src/cli/ref-files.js'
import { mergeRefObj, refEntryNames } from '../../src/ops.js'

const H1 = '1'.repeat(40)
const H2 = '2'.repeat(40)

describe('names of files in refs', () => {
  it('add --ref: base names, and trailing paths where base names collide', () => {
    assert.deepEqual(refEntryNames(['/d/a.csv', '/d/b.csv']), ['a.csv', 'b.csv'])
    assert.deepEqual(refEntryNames(['/d/a/x.txt', '/d/b/x.txt', '/d/y.txt']), ['a/x.txt', 'b/x.txt', 'y.txt'])
    assert.deepEqual(refEntryNames(['/r/1/a/x', '/r/2/a/x', '/r/b/x']), ['1/a/x', '2/a/x', 'b/x'])
    // one path inside the other's tail: the shorter keeps all it has
    assert.deepEqual(refEntryNames(['/a/f', '/b/a/f']), ['a/f', 'b/a/f'])
    // the same file twice is one member
    assert.deepEqual(refEntryNames(['/d/x.txt', '/d/./x.txt']), ['x.txt', 'x.txt'])
    const names = refEntryNames(['/p/q/r/s.bin', '/p/x/r/s.bin', '/z/x/r/s.bin'])
    assert.equal(new Set(names).size, 3, names.join(' '))
  })

  it('merging keeps every member and refuses what is not an object', () => {
    assert.deepEqual(mergeRefObj('k', undefined, { a: 1 }), { a: 1 })
    assert.deepEqual(mergeRefObj('k', { a: 1, b: 2 }, { b: 3, c: 4 }), { a: 1, b: 3, c: 4 })
    for (const bad of [[1], 'text', 5, null, true]) {
      assert.throws(() => mergeRefObj('k', bad, {}), { name: 'RefNotObjectError', code: 'REF_NOT_OBJECT' })
    }
  })

  it('get --ref -o DIR: member names, nested objects as directories, URI names in arrays', () => {
    assert.deepEqual(refFiles('k', { 'a/x.txt': `sha1://${H1}/x.txt`, b: { 'y.bin': `sha1://${H2}` }, n: 5 }), [
      { path: 'a/x.txt', sha1: H1 }, { path: 'b/y.bin', sha1: H2 }
    ])
    assert.deepEqual(refFiles('k', { files: [`sha1://${H1}/one.txt`, `sha1://${H2}`] }), [{ path: `files/${H2}`, sha1: H2 }, { path: 'files/one.txt', sha1: H1 }])
    assert.deepEqual(refFiles('k', `sha1://${H1}/top.txt`), [{ path: 'top.txt', sha1: H1 }])
    // the same blob at one path twice is one file
    assert.deepEqual(refFiles('k', [`sha1://${H1}/same`, `sha1://${H1}/same`]), [{ path: 'same', sha1: H1 }])
  })

  it('get --ref -o DIR refuses names that leave DIR and paths two blobs (or a file and a directory) would share', () => {
    for (const obj of [{ '../up': `sha1://${H1}` }, { 'a//b': `sha1://${H1}` }, { '.': `sha1://${H1}` }, { '': `sha1://${H1}` },
      [`sha1://${H1}/same`, `sha1://${H2}/same`], { a: `sha1://${H1}`, 'a/b': `sha1://${H2}` }]) {
      assert.throws(() => refFiles('k', obj), { name: 'InvalidArgumentError' }, JSON.stringify(obj))
    }
  })
})
