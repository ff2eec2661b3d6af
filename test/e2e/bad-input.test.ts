import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, type CliSandbox, type JsonError } from '../helpers/cli.js'

/** Exit code of a usage mistake (bad flag value, unknown command); every other failure exits 1. */
const USAGE_EXIT = 2
const FAILURE_EXIT = 1

function sha1 (bytes: string): string {
  return createHash('sha1').update(bytes).digest('hex')
}

/** Variants of one mistake: the JSON form is enough after the first has checked the human form too (each run is ~0.1 s). */
const JSON_ONLY = { human: false }

/**
 * Runs a failing command in both forms and checks the contract: a one-line error on stderr and
 * nothing on stdout; with --json the error object on stdout and nothing on stderr; the same
 * non-zero exit either way. `unchanged` around a group of these checks that the store is as before.
 */
async function expectError (t: CliSandbox, args: string[], code: string, exit = FAILURE_EXIT, options: { human?: boolean } = {}): Promise<JsonError['error']> {
  if (options.human !== false) {
    const human = await t.run(args)
    assert.equal(human.code, exit, `exit of trove ${args.join(' ')}: ${human.stderr}`)
    assert.equal(human.stdout, '', `stdout of trove ${args.join(' ')}`)
    assert.match(human.stderr, /^[^\n]+\n$/, `one line on stderr for trove ${args.join(' ')}: ${JSON.stringify(human.stderr)}`)
  }

  const json = await t.runJson<JsonError>(args)
  assert.equal(json.code, exit, `exit of trove --json ${args.join(' ')}`)
  assert.equal(json.stderr, '', `stderr of trove --json ${args.join(' ')}`)
  assert.deepEqual(Object.keys(json.json), ['error'])
  assert.equal(json.json.error.code, code, `code of trove ${args.join(' ')}: ${json.json.error.message}`)
  assert.equal(typeof json.json.error.name, 'string')
  assert.ok(json.json.error.message.length > 0)
  assert.ok(!json.json.error.message.includes('\n'), 'message is one line')
  return json.json.error
}

/** Status, refs and temp files are the same after `fn` (a snapshot per command would double the suite's time). */
async function unchanged (t: CliSandbox, fn: () => Promise<void>): Promise<void> {
  const before = await t.snapshot()
  await fn()
  assert.deepEqual(await t.snapshot(), before, 'the store changed')
}

describe('bad input: clear errors that change nothing', () => {
  let t: CliSandbox
  const content = 'kept content\n'
  const hash = sha1(content)
  const absent = sha1('never added')
  let file: string

  before(async () => {
    t = await cliSandbox()
    file = await t.file('kept.txt', content)
    const add = await t.run(['add', file, '--ref', 'lab/kept', '--pin'])
    assert.equal(add.code, 0, add.stderr)
  })
  after(async () => { await t.cleanup() })

  it('malformed, uppercase and truncated URIs are INVALID_URI', async () => {
    await unchanged(t, async () => {
      const bad = [
        'sha1://not-a-hash',
        `sha1://${hash.toUpperCase()}`,
        `sha1://${hash.slice(0, 39)}`,
        `sha1://${hash}0`,
        `SHA1://${hash}`,
        `http://example.org/${hash}`,
        ''
      ]
      for (const [i, uri] of bad.entries()) {
        const err = await expectError(t, ['cat', uri], 'INVALID_URI', FAILURE_EXIT, { human: i === 0 })
        assert.equal(err.name, 'InvalidUriError')
      }
      for (const cmd of ['get', 'pin', 'unpin', 'why']) {
        await expectError(t, [cmd, `sha1://${hash.slice(0, 20)}`], 'INVALID_URI', FAILURE_EXIT, JSON_ONLY)
      }
      await expectError(t, ['ref', 'ls', '--refs-to', 'sha1://zz'], 'INVALID_URI')
    })
  })

  it('a URI of an absent blob is BLOB_NOT_FOUND; get -o writes no file and checks its path first', async () => {
    await unchanged(t, async () => {
      await expectError(t, ['cat', `sha1://${absent}`], 'BLOB_NOT_FOUND')
      await expectError(t, ['pin', `sha1://${absent}/name.txt`], 'BLOB_NOT_FOUND')
      const out = path.join(t.dir, 'out.bin')
      await expectError(t, ['get', `sha1://${absent}`, '-o', out], 'BLOB_NOT_FOUND')
      assert.ok(!existsSync(out))
      assert.ok(!existsSync(`${out}.trove-partial`))
      await expectError(t, ['get', `sha1://${hash}`, '-o', t.dir], 'INVALID_ARGUMENT', USAGE_EXIT)
      await expectError(t, ['get', `sha1://${hash}`, '-o', path.join(t.dir, 'no-such-dir', 'out.txt')], 'FILE_NOT_FOUND')
    })
  })

  it('invalid JSON for ref set is INVALID_JSON, also from stdin and @FILE', async () => {
    await unchanged(t, async () => {
      await expectError(t, ['ref', 'set', 'lab/kept', '{"a": '], 'INVALID_JSON')
      await expectError(t, ['ref', 'set', 'lab/new', 'not json'], 'INVALID_JSON', FAILURE_EXIT, JSON_ONLY)
      const stdin = await t.runJson<JsonError>(['ref', 'set', 'lab/new', '-'], { stdin: '{oops' })
      assert.equal(stdin.code, FAILURE_EXIT)
      assert.equal(stdin.json.error.code, 'INVALID_JSON')
      const bad = await t.file('bad.json', '[1, 2,')
      await expectError(t, ['ref', 'set', 'lab/new', `@${bad}`], 'INVALID_JSON', FAILURE_EXIT, JSON_ONLY)
      await expectError(t, ['ref', 'set', 'lab/new', '{}', '--meta', '[1]'], 'INVALID_ARGUMENT', USAGE_EXIT)
      // a sha1:// string inside the value must be valid, or the blob it meant would go unprotected
      await expectError(t, ['ref', 'set', 'lab/new', JSON.stringify({ x: `sha1://${hash.slice(1)}` })], 'INVALID_URI')
    })
  })

  it('invalid keys are INVALID_KEY, including add --ref (nothing stored or pinned first)', async () => {
    await unchanged(t, async () => {
      for (const [i, key] of ['has space', '/lead', 'trail/', 'a//b', 'a/../b', 'é'].entries()) {
        await expectError(t, ['ref', 'set', key, '{}'], 'INVALID_KEY', FAILURE_EXIT, { human: i === 0 })
      }
      await expectError(t, ['ref', 'get', 'bad key'], 'INVALID_KEY', FAILURE_EXIT, JSON_ONLY)
      await expectError(t, ['ref', 'rm', 'a//b'], 'INVALID_KEY', FAILURE_EXIT, JSON_ONLY)
      await expectError(t, ['ref', 'history', '..'], 'INVALID_KEY', FAILURE_EXIT, JSON_ONLY)
      await expectError(t, ['ref', 'ls', 'bad prefix'], 'INVALID_KEY', FAILURE_EXIT, JSON_ONLY)
      const fresh = await t.file('fresh.txt', 'not yet stored\n')
      await expectError(t, ['add', fresh, '--pin', '--ref', 'bad key'], 'INVALID_KEY')
      // ref meta flags without --ref would be silently dropped: refused before anything is stored
      await expectError(t, ['add', fresh, '--pin', '--priority', '5'], 'INVALID_ARGUMENT', USAGE_EXIT)
    })
  })

  it('absent refs and unknown ref versions', async () => {
    await unchanged(t, async () => {
      await expectError(t, ['ref', 'get', 'lab/absent'], 'REF_NOT_FOUND')
      await expectError(t, ['ref', 'rm', 'lab/absent'], 'REF_NOT_FOUND', FAILURE_EXIT, JSON_ONLY)
      await expectError(t, ['ref', 'get', 'lab/kept', '--version', '7'], 'VERSION_NOT_FOUND')
      await expectError(t, ['ref', 'get', 'lab/kept', '--version', '0'], 'INVALID_ARGUMENT', USAGE_EXIT, JSON_ONLY)
      await expectError(t, ['ref', 'get', 'lab/kept', '--version', 'two'], 'INVALID_ARGUMENT', USAGE_EXIT)
      await expectError(t, ['ref', 'set', 'lab/kept', '{}', '--priority', 'high'], 'INVALID_ARGUMENT', USAGE_EXIT)
      await expectError(t, ['ref', 'set', 'lab/kept', '{}', '--expires', 'someday'], 'INVALID_ARGUMENT', USAGE_EXIT, JSON_ONLY)
    })
  })

  it('add with a missing file among several adds nothing', async () => {
    await unchanged(t, async () => {
      const a = await t.file('several/a.txt', 'a\n')
      const b = await t.file('several/b.txt', 'b\n')
      const missing = path.join(t.dir, 'several', 'missing.txt')
      await expectError(t, ['add', a, missing, b], 'FILE_NOT_FOUND')
      await expectError(t, ['add', a, b, missing, '--ref', 'lab/several', '--pin'], 'FILE_NOT_FOUND')
      // a directory is added as a tree now (issue 14); one holding a symlink is refused before anything is stored
      await fs.symlink('a.txt', path.join(t.dir, 'several', 'link.txt'))
      await expectError(t, ['add', path.join(t.dir, 'several')], 'INVALID_DIR_ENTRY', FAILURE_EXIT, JSON_ONLY)
    })
  })

  it('unknown commands, options and missing arguments are usage errors', async () => {
    await unchanged(t, async () => {
      await expectError(t, ['frobnicate'], 'INVALID_ARGUMENT', USAGE_EXIT)
      await expectError(t, ['stat'], 'INVALID_ARGUMENT', USAGE_EXIT) // commander suggests "status" on the same line
      await expectError(t, ['ref', 'frob', 'x'], 'INVALID_ARGUMENT', USAGE_EXIT, JSON_ONLY)
      await expectError(t, ['status', '--bogus'], 'INVALID_ARGUMENT', USAGE_EXIT)
      await expectError(t, ['cat'], 'INVALID_ARGUMENT', USAGE_EXIT, JSON_ONLY)
      await expectError(t, ['ref', 'set', 'lab/only-key'], 'INVALID_ARGUMENT', USAGE_EXIT)
    })
  })

  it('the good data survived all of the above', async () => {
    const cat = await t.run(['cat', `sha1://${hash}`])
    assert.equal(cat.stdout, content)
    const ref = await t.runJson(['ref', 'get', 'lab/kept'])
    assert.equal(ref.json.version, 1)
    const verify = await t.run(['verify'])
    assert.equal(verify.code, 0, verify.stdout)
  })
})

describe('bad data directories', () => {
  let t: CliSandbox
  before(async () => { t = await cliSandbox({ init: false }) })
  after(async () => { await t.cleanup() })

  it('a data directory that was never initialized is DATA_DIR_MISSING and is not created', async () => {
    for (const args of [['status'], ['ref', 'ls'], ['add', await t.file('x.txt', 'x')], ['cat', `sha1://${sha1('x')}`]]) {
      const res = await t.run(args)
      assert.equal(res.code, FAILURE_EXIT)
      assert.match(res.stderr, /^[^\n]+\n$/)
      const json = await t.runJson<JsonError>(args)
      assert.equal(json.code, FAILURE_EXIT)
      assert.equal(json.json.error.code, 'DATA_DIR_MISSING')
    }
    assert.ok(!existsSync(t.data), 'the data directory was not created')

    // an existing but empty directory (say, made by hand) is not a data directory either
    await fs.mkdir(t.data)
    const json = await t.runJson<JsonError>(['status'])
    assert.equal(json.json.error.code, 'DATA_DIR_MISSING')
    assert.deepEqual(await fs.readdir(t.data), [])
  })
})
