import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { Level } from 'level'
import { layout } from '../../src/datadir.js'
import { SCHEMA_VERSION } from '../../src/db.js'
import { createTrove } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'

/** How long a child may take to open the store before the test gives up (a stuck child, not a slow one). */
const CHILD_READY_TIMEOUT_MS = 20_000

const nodeModule = new URL('../../src/node.js', import.meta.url).href

/** Starts a separate node process that opens `dataDir` and holds it until killed. */
async function holdInChild (dataDir: string): Promise<ChildProcess> {
  const script = `
    import { createTrove } from ${JSON.stringify(nodeModule)}
    const trove = await createTrove({ dataDir: ${JSON.stringify(dataDir)}, create: true, command: 'unit-test holder' })
    process.stdout.write('ready\\n')
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`child did not open the store: ${stderr}`)) }, CHILD_READY_TIMEOUT_MS)
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`child exited with ${String(code)}: ${stderr}`))
    })
  })
  return child
}

async function kill (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

describe('db', () => {
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let dataDir: string
  beforeEach(async () => {
    tmp = await tempDir('trove-db-')
    dataDir = path.join(tmp.dir, 'data')
  })
  afterEach(async () => { await tmp.cleanup() })

  it('a data directory held by another process is DataDirLockedError naming its pid', async () => {
    const child = await holdInChild(dataDir)
    try {
      await assert.rejects(createTrove({ dataDir }), (err: Error & { code?: string }) => {
        assert.equal(err.name, 'DataDirLockedError')
        assert.equal(err.code, 'DATA_DIR_LOCKED')
        assert.ok(err.message.includes(String(child.pid)), `message names pid ${String(child.pid)}: ${err.message}`)
        return true
      })
    } finally {
      await kill(child)
    }
    // a killed holder leaves its owner file behind; the lock itself is gone with the process
    const trove = await createTrove({ dataDir })
    const owner = JSON.parse(await fs.readFile(layout(dataDir).owner, 'utf8')) as { pid: number }
    assert.equal(owner.pid, process.pid)
    await trove.close()
    assert.equal(existsSync(layout(dataDir).owner), false)
  })

  it('a second open in the same process is DataDirLockedError too', async () => {
    const first = await createTrove({ dataDir, create: true })
    try {
      await assert.rejects(createTrove({ dataDir }), (err: Error) => err.name === 'DataDirLockedError' && err.message.includes(String(process.pid)))
    } finally {
      await first.close()
    }
    await (await createTrove({ dataDir })).close()
  })

  it('another schema version is SchemaVersionError, and the directory is left unlocked', async () => {
    const trove = await createTrove({ dataDir, create: true })
    assert.equal(await trove.db.meta.get('schema'), SCHEMA_VERSION)
    await trove.db.meta.put('schema', 999)
    await trove.close()
    await assert.rejects(createTrove({ dataDir }), { name: 'SchemaVersionError', code: 'SCHEMA_VERSION' })
    // refused, not damaged: the stored version is untouched and the lock was released
    const level = new Level<string, unknown>(layout(dataDir).db, { valueEncoding: 'json' })
    const meta = level.sublevel<string, unknown>('meta', { valueEncoding: 'json' })
    assert.equal(await meta.get('schema'), 999)
    await meta.put('schema', SCHEMA_VERSION)
    await level.close()
    await (await createTrove({ dataDir })).close()
  })

  it('a missing data directory is DataDirMissingError unless asked to create it', async () => {
    await assert.rejects(createTrove({ dataDir }), { name: 'DataDirMissingError', code: 'DATA_DIR_MISSING' })
    assert.equal(existsSync(dataDir), false)
    await (await createTrove({ dataDir, create: true })).close()
  })

  it('close is idempotent and removes the owner file', async () => {
    const trove = await createTrove({ dataDir, create: true })
    assert.equal(existsSync(layout(dataDir).owner), true)
    await trove.close()
    await trove.close()
    assert.equal(existsSync(layout(dataDir).owner), false)
  })
})
