import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { MAX_DIR_ENTRIES } from '../../src/dirs/constants.js'
import { decodeDirManifest, dirManifestSha1 } from '../../src/dirs/manifest.js'
import { makeTree, type DiskTreeSpec as TreeSpec } from '../helpers/dirs.js'
import { tempDir } from '../helpers/tmp.js'
import { openTempTrove, type TempTrove } from '../helpers/trove.js'

/**
 * The test vectors of docs/formats.md: each tree is built on disk and added, and every manifest
 * must have exactly the published bytes and hash (and the page must publish them verbatim); each
 * malformed manifest must be refused.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const H = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'

interface Vector {
  tree: TreeSpec
  /** Every manifest, top-down: path in the tree ('' for the root), sha1, exact text. */
  manifests: Array<[string, string, string]>
  files: number
  dirs: number
  bytes: number
}

const EMPTY = '{"entries":[],"type":"trove/dir","version":1}'

const VECTORS: Record<string, Vector> = {
  empty: {
    tree: {},
    files: 0, dirs: 1, bytes: 0,
    manifests: [['', '37e05e2358ae5dc19c71946be4c6f056180fa691', EMPTY]]
  },
  'empty-file': {
    tree: { empty: '' },
    files: 1, dirs: 1, bytes: 0,
    manifests: [['', '5452f04e923f05e1eec5126f4206a37ea3e311fd', `{"entries":[{"exec":false,"kind":"file","name":"empty","sha1":"${H}","size":0}],"type":"trove/dir","version":1}`]]
  },
  nested: {
    tree: { 'top.txt': 'top\n', 'a/b/c.txt': 'hello\n', 'a/empty/': null },
    files: 2, dirs: 4, bytes: 10,
    manifests: [
      ['', '0be717621ff7b3d57f7afc237c7957e514e9f26d', '{"entries":[{"exec":false,"kind":"dir","name":"a","sha1":"fbbf289b718f91a0989acfb6ba2e718e6ba45ccc","size":6},{"exec":false,"kind":"file","name":"top.txt","sha1":"4dca56d05a21f0d018cd311f43e134e4501cf6d9","size":4}],"type":"trove/dir","version":1}'],
      ['a', 'fbbf289b718f91a0989acfb6ba2e718e6ba45ccc', '{"entries":[{"exec":false,"kind":"dir","name":"b","sha1":"b6f29d592af1a7c7c0280d2c5c414b21905969db","size":6},{"exec":false,"kind":"dir","name":"empty","sha1":"37e05e2358ae5dc19c71946be4c6f056180fa691","size":0}],"type":"trove/dir","version":1}'],
      ['a/b', 'b6f29d592af1a7c7c0280d2c5c414b21905969db', '{"entries":[{"exec":false,"kind":"file","name":"c.txt","sha1":"f572d396fae9206628714fb2ce00f72e94f2258f","size":6}],"type":"trove/dir","version":1}'],
      ['a/empty', '37e05e2358ae5dc19c71946be4c6f056180fa691', EMPTY]
    ]
  },
  exec: {
    tree: { 'run.sh': { content: '#!/bin/sh\necho hi\n', exec: true }, 'data.txt': 'data\n' },
    files: 2, dirs: 1, bytes: 23,
    manifests: [['', 'b1b5b571877728f8bb85539f1a556aef9a35c671', '{"entries":[{"exec":false,"kind":"file","name":"data.txt","sha1":"c5d84736ba451747dd5f0eb9d17e104f3697ef47","size":5},{"exec":true,"kind":"file","name":"run.sh","sha1":"b2b62c101a156f5f12dd7197cf7ae9424164b115","size":18}],"type":"trove/dir","version":1}']]
  },
  unicode: {
    tree: { Z: 'Z\n', a: 'a\n', 'é': 'e-acute\n', 'ｚ': 'fullwidth z\n', '😀': 'grin\n' },
    files: 5, dirs: 1, bytes: 29,
    manifests: [['', 'd709f2d2122e5942f22bafa0979553247ac2e02a', '{"entries":[{"exec":false,"kind":"file","name":"Z","sha1":"b4379bcb7951ef99c9119ca19c7fa2081ad08e3a","size":2},{"exec":false,"kind":"file","name":"a","sha1":"3f786850e387550fdab836ed7e6dc881de23001b","size":2},{"exec":false,"kind":"file","name":"é","sha1":"0180457499f4792a0ad6ad81ef2206930d7011f6","size":8},{"exec":false,"kind":"file","name":"ｚ","sha1":"84196c54a1ad4adfe1294ab686f58fc0f17f4790","size":12},{"exec":false,"kind":"file","name":"😀","sha1":"d81d8d8ea9a952a5703d7a093ba2ff478ee7d5a0","size":5}],"type":"trove/dir","version":1}']]
  },
  escapes: {
    tree: { 'say "hi".txt': 'q\n', 'tab\tname': 't\n', 'back\\slash': 'b\n' },
    files: 3, dirs: 1, bytes: 6,
    manifests: [['', '99ba495c5a3f14b3438af9ac684a089b28d67e7e', '{"entries":[{"exec":false,"kind":"file","name":"back\\\\slash","sha1":"89e6c98d92887913cadf06b2adb97f26cde4849b","size":2},{"exec":false,"kind":"file","name":"say \\"hi\\".txt","sha1":"e222fcdf335046a25935d43e6011535d624e9be9","size":2},{"exec":false,"kind":"file","name":"tab\\tname","sha1":"34fc7a11cb38cf4911763696a41698c68e5ddbbe","size":2}],"type":"trove/dir","version":1}']]
  }
}

const entry = (name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ exec: false, kind: 'file', name, sha1: H, size: 0, ...extra })
const wrap = (entries: string): string => `{"entries":[${entries}],"type":"trove/dir","version":1}`

/** Malformed manifests of the page's table, by why each is refused. */
const MALFORMED: Array<[string, Uint8Array]> = [
  ['trailing newline', Buffer.from(EMPTY + '\n')],
  ['keys out of order', Buffer.from('{"type":"trove/dir","entries":[],"version":1}')],
  ['whitespace', Buffer.from('{"entries": [],"type":"trove/dir","version":1}')],
  ['unknown version', Buffer.from('{"entries":[],"type":"trove/dir","version":2}')],
  ['another type', Buffer.from('{"entries":[],"type":"trove/manifest","version":1}')],
  ['..', Buffer.from(wrap(entry('..')))],
  ['.', Buffer.from(wrap(entry('.')))],
  ['empty name', Buffer.from(wrap(entry('')))],
  ['/ in a name', Buffer.from(wrap(entry('a/b')))],
  ['NUL in a name', Buffer.from(wrap(entry('a\u0000')))],
  ['duplicate name', Buffer.from(wrap(`${entry('a')},${entry('a')}`))],
  ['not sorted', Buffer.from(wrap(`${entry('b')},${entry('a')}`))],
  ['UTF-16 order instead of UTF-8', Buffer.from(wrap(`${entry('😀')},${entry('ｚ')}`))],
  ['bad kind', Buffer.from(wrap('{"exec":false,"kind":"link","name":"a","sha1":"' + H + '","size":0}'))],
  ['exec on a dir', Buffer.from(wrap('{"exec":true,"kind":"dir","name":"a","sha1":"' + H + '","size":0}'))],
  ['upper-case sha1', Buffer.from(wrap('{"exec":false,"kind":"file","name":"a","sha1":"' + H.toUpperCase() + '","size":0}'))],
  ['short sha1', Buffer.from(wrap('{"exec":false,"kind":"file","name":"a","sha1":"' + H.slice(1) + '","size":0}'))],
  ['negative size', Buffer.from(wrap('{"exec":false,"kind":"file","name":"a","sha1":"' + H + '","size":-1}'))],
  ['fractional size', Buffer.from(wrap('{"exec":false,"kind":"file","name":"a","sha1":"' + H + '","size":1.5}'))],
  ['size with exponent', Buffer.from(wrap('{"exec":false,"kind":"file","name":"a","sha1":"' + H + '","size":1e3}'))],
  ['extra key', Buffer.from(wrap('{"exec":false,"kind":"file","mode":420,"name":"a","sha1":"' + H + '","size":0}'))],
  ['missing key', Buffer.from(wrap('{"exec":false,"kind":"file","name":"a","sha1":"' + H + '"}'))],
  ['lone surrogate', Buffer.from(wrap('{"exec":false,"kind":"file","name":"\\ud800","sha1":"' + H + '","size":0}'))],
  ['escaped non-ASCII', Buffer.from(wrap('{"exec":false,"kind":"file","name":"\\u00e9","sha1":"' + H + '","size":0}'))],
  ['name over 255 bytes', Buffer.from(wrap(entry('x'.repeat(256))))],
  ['not UTF-8', Buffer.concat([Buffer.from('{"entries":[{"exec":false,"kind":"file","name":"a'), Buffer.from([0xff]), Buffer.from(`","sha1":"${H}","size":0}],"type":"trove/dir","version":1}`)])],
  ['not JSON', Buffer.from('{"entries":[')],
  ['an array', Buffer.from('[]')],
  ['entries not an array', Buffer.from('{"entries":{},"type":"trove/dir","version":1}')],
  ['too many entries', Buffer.from(wrap(Array.from({ length: MAX_DIR_ENTRIES + 1 }, (_, i) => entry(String(i).padStart(7, '0'))).join(',')))]
]

describe('directory test vectors (docs/formats.md)', () => {
  let t: TempTrove
  let work: { dir: string, cleanup: () => Promise<void> }
  let page: string
  before(async () => {
    t = await openTempTrove()
    work = await tempDir('trove-vectors-')
    page = await fs.readFile(path.join(root, 'docs/formats.md'), 'utf8')
  })
  after(async () => {
    await t.cleanup()
    await work.cleanup()
  })

  for (const [name, v] of Object.entries(VECTORS)) {
    it(`${name}: the tree added gives the published manifests, bytes and hashes`, async () => {
      const dir = path.join(work.dir, name)
      await makeTree(dir, v.tree)
      const r = await t.trove.addDir(dir)
      const [, rootSha1] = v.manifests[0]
      assert.equal(r.sha1, rootSha1)
      assert.equal(r.uri, `sha1dir://${rootSha1}`)
      assert.deepEqual({ files: r.files, dirs: r.dirs, bytes: r.bytes }, { files: v.files, dirs: v.dirs, bytes: v.bytes })
      for (const [at, sha1, text] of v.manifests) {
        const bytes = Buffer.from(text, 'utf8')
        assert.equal(dirManifestSha1(bytes), sha1, `${name} ${at}: the hash of the published bytes`)
        assert.deepEqual(await t.trove.store.readBytes(sha1), bytes, `${name} ${at}: stored bytes`)
        // round trip through the strict decoder
        assert.doesNotThrow(() => decodeDirManifest(bytes))
        assert.ok(page.includes(text), `${name} ${at}: docs/formats.md publishes these bytes`)
        assert.ok(page.includes(sha1), `${name} ${at}: docs/formats.md publishes this hash`)
        assert.ok(page.includes(`${sha1}   ${bytes.length} bytes`), `${name} ${at}: docs/formats.md publishes the length`)
      }
    })
  }

  for (const [why, bytes] of MALFORMED) {
    it(`refuses a malformed manifest: ${why}`, () => {
      assert.throws(() => decodeDirManifest(bytes), { name: 'InvalidDirManifestError', code: 'INVALID_DIR_MANIFEST' })
    })
  }
})
