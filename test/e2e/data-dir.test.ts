import assert from 'node:assert/strict'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import { cliSandbox, LIB_ENTRY, type CliSandbox, type JsonError } from '../helpers/cli.js'

const FAILURE_EXIT = 1

/**
 * A second process that opens the data directory with the library and holds it until its stdin
 * closes: what a running `trove start` looks like to the CLI.
 */
const HOLDER_SCRIPT = `
const { createTrove } = await import(process.argv[1])
const trove = await createTrove({ dataDir: process.argv[2], command: 'e2e holder' })
process.stdout.write('ready\\n')
process.stdin.resume()
process.stdin.on('end', async () => { await trove.close(); process.exit(0) })
`

async function startHolder (dataDir: string): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HOLDER_SCRIPT, pathToFileURL(LIB_ENTRY).href, dataDir], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('ready\n')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`holder exited (${String(code)}) before it was ready: ${err}`)))
  })
  return child
}

async function stopHolder (child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.stdin.end()
  await exited
}

describe('a data directory in use by another process', () => {
  let t: CliSandbox
  let holder: ChildProcessWithoutNullStreams | undefined
  before(async () => { t = await cliSandbox() })
  after(async () => {
    if (holder !== undefined) {
      holder.kill('SIGKILL')
      await stopHolder(holder).catch(() => {})
    }
    await t.cleanup()
  })

  it('is DATA_DIR_LOCKED naming the owner pid, and nothing changes', async () => {
    const file = await t.file('a.txt', 'a\n')
    assert.equal((await t.run(['ref', 'set', 'lab/one', '{}'])).code, 0)
    const before = await t.snapshot()

    holder = await startHolder(t.data)
    for (const args of [['status'], ['add', file], ['ref', 'set', 'lab/two', '{}'], ['ref', 'ls']]) {
      const human = await t.run(args)
      assert.equal(human.code, FAILURE_EXIT, human.stderr)
      assert.equal(human.stdout, '')
      assert.match(human.stderr, /^[^\n]+\n$/)
      assert.ok(human.stderr.includes(String(holder.pid)), `error names pid ${String(holder.pid)}: ${human.stderr}`)

      const json = await t.runJson<JsonError>(args)
      assert.equal(json.code, FAILURE_EXIT)
      assert.equal(json.json.error.code, 'DATA_DIR_LOCKED')
      assert.ok(json.json.error.message.includes(String(holder.pid)))
    }
    await stopHolder(holder)
    holder = undefined

    assert.deepEqual(await t.snapshot(), before)
    assert.equal((await t.run(['add', file])).code, 0, 'usable again once the other process is gone')
  })
})

describe('a data directory of an unknown schema version', () => {
  let t: CliSandbox
  before(async () => { t = await cliSandbox() })
  after(async () => { await t.cleanup() })

  it('is SCHEMA_VERSION and is left as it was', async () => {
    assert.equal((await t.run(['ref', 'set', 'lab/one', '{}'])).code, 0)
    const FUTURE_SCHEMA = 999
    const level = new Level<string, unknown>(path.join(t.data, 'db'), { valueEncoding: 'json' })
    await level.sublevel<string, unknown>('meta', { valueEncoding: 'json' }).put('schema', FUTURE_SCHEMA)
    await level.close()

    for (const args of [['status'], ['ref', 'ls'], ['ref', 'set', 'lab/two', '{}']]) {
      const human = await t.run(args)
      assert.equal(human.code, FAILURE_EXIT)
      assert.equal(human.stdout, '')
      assert.match(human.stderr, /^[^\n]+\n$/)
      const json = await t.runJson<JsonError>(args)
      assert.equal(json.code, FAILURE_EXIT)
      assert.equal(json.json.error.code, 'SCHEMA_VERSION')
    }

    const check = new Level<string, unknown>(path.join(t.data, 'db'), { valueEncoding: 'json' })
    try {
      assert.equal(await check.sublevel<string, unknown>('meta', { valueEncoding: 'json' }).get('schema'), FUTURE_SCHEMA)
      const refs: string[] = []
      for await (const key of check.sublevel<string, unknown>('refs', { valueEncoding: 'json' }).keys()) refs.push(key)
      assert.deepEqual(refs, ['lab/one'])
    } finally {
      await check.close()
    }
  })
})
