import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { CliSandbox } from '../helpers/cli.js'
import { startNodePair, type NodePair } from '../helpers/daemon.js'
import { Exec, readTree, storeTree, type AddsBlobs, type TreeSpec } from '../helpers/dirs.js'

const TREE: TreeSpec = {
  'notes.txt': 'lab notes\n',
  run: { 'go.sh': new Exec('#!/bin/sh\necho go\n'), 'params.json': '{"k":1}' },
  figures: { 'fig 1.svg': '<svg/>' },
  empty: {}
}

/** A's node adds each blob through the CLI (`trove add -`, content on stdin). */
function cliAdder (t: CliSandbox): AddsBlobs {
  return {
    async add (source) {
      const stdin = Buffer.concat([...source])
      const res = await t.runJson<Array<{ sha1: string, size: number }>>(['add', '-'], { stdin })
      assert.equal(res.code, 0, res.stderr)
      return res.json[0]
    }
  }
}

describe('trove ls / cat / get of sha1dir:// URIs, between two trove start processes', () => {
  let pair: NodePair | undefined
  let root: { sha1: string, uri: string }

  before(async () => {
    pair = await startNodePair({ bFlags: ['--find-timeout', '5s'] })
    root = await storeTree(cliAdder(pair.a), TREE)
  })
  after(async () => { await pair?.close() })

  it('ls lists names, kinds, sizes and locality; cat prints a file inside; a directory is a clear error', async () => {
    const { b } = pair!
    const ls = await b.runJson<{ kind: string, entries: Array<{ name: string, kind: string, local: boolean }> }>(['ls', root.uri])
    assert.equal(ls.code, 0, ls.stderr)
    assert.deepEqual(ls.json.entries.map((e) => [e.name, e.kind, e.local]), [['empty', 'dir', false], ['figures', 'dir', false], ['notes.txt', 'file', false], ['run', 'dir', false]])
    const text = await b.run(['ls', `${root.uri}/run`])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^x .* go\.sh$/m)
    assert.match(text.stdout, /^f .* params\.json$/m)

    const cat = await b.run(['cat', `${root.uri}/figures/${encodeURIComponent('fig 1.svg')}`])
    assert.equal(cat.code, 0, cat.stderr)
    assert.equal(cat.stdout, '<svg/>')
    const dir = await b.runJson<{ error: { code: string } }>(['cat', `${root.uri}/run`])
    assert.notEqual(dir.code, 0)
    assert.equal(dir.json.error.code, 'IS_A_DIRECTORY')
  })

  it('get -o DIR writes the tree; an existing DIR is refused; --force replaces it', async () => {
    const { b } = pair!
    const out = path.join(b.dir, 'results')
    const got = await b.runJson<{ files: number, dirs: number, replaced: boolean }>(['get', root.uri, '-o', out])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.json.files, 4)
    assert.deepEqual(await readTree(out), TREE)

    const again = await b.runJson<{ error: { code: string } }>(['get', root.uri, '-o', out])
    assert.notEqual(again.code, 0)
    assert.equal(again.json.error.code, 'FILE_EXISTS')

    await fs.writeFile(path.join(out, 'notes.txt'), 'edited')
    const forced = await b.runJson<{ replaced: boolean, fetched: number }>(['get', root.uri, '-o', out, '--force'])
    assert.equal(forced.code, 0, forced.stderr)
    assert.equal(forced.json.replaced, true)
    assert.equal(forced.json.fetched, 0)
    assert.deepEqual(await readTree(out), TREE)

    const sub = path.join(b.dir, 'run-only')
    const human = await b.run(['get', `${root.uri}/run`, '-o', sub])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /2 files/)
    assert.deepEqual(await readTree(sub), TREE.run)

    const noOut = await b.runJson<{ error: { code: string } }>(['get', root.uri])
    assert.equal(noOut.json.error.code, 'INVALID_ARGUMENT')
  })
})
