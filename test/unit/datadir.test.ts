import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { DEFAULT_CONFIG, ensureDataDir, initDataDir, isInitialized, layout, readConfig, resolveDataDir } from '../../src/datadir.js'
import { tempDir } from '../helpers/tmp.js'

describe('datadir', () => {
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let root: string
  beforeEach(async () => {
    tmp = await tempDir('trove-datadir-')
    root = path.join(tmp.dir, 'data')
  })
  afterEach(async () => { await tmp.cleanup() })

  const snapshot = async (): Promise<Record<string, string>> => {
    const l = layout(root)
    return { token: await fs.readFile(l.apiToken, 'utf8'), config: await fs.readFile(l.config, 'utf8') }
  }

  it('initDataDir creates the layout, and a second run changes nothing', async () => {
    assert.equal(isInitialized(root), false)
    assert.deepEqual(await initDataDir(root), { dataDir: root, created: true })
    const l = layout(root)
    for (const dir of [l.blobs, l.tmp, l.quarantine]) assert.equal((await fs.stat(dir)).isDirectory(), true)
    assert.equal(isInitialized(root), true)
    assert.deepEqual(JSON.parse(await fs.readFile(l.config, 'utf8')), DEFAULT_CONFIG)
    const first = await snapshot()
    assert.match(first.token, /^[0-9a-f]{64}\n$/)

    assert.deepEqual(await initDataDir(root), { dataDir: root, created: false })
    assert.deepEqual(await snapshot(), first)
  })

  it('concurrent inits agree on one token', async () => {
    await Promise.all(Array.from({ length: 5 }, async () => initDataDir(root)))
    const token = (await snapshot()).token
    await initDataDir(root)
    assert.equal((await snapshot()).token, token)
  })

  it('the api-token file is readable by its owner only, and the root is private', async () => {
    await initDataDir(root)
    assert.equal((await fs.stat(layout(root).apiToken)).mode & 0o777, 0o600)
    assert.equal((await fs.stat(root)).mode & 0o077, 0)
  })

  it('a missing token is recreated without touching the config', async () => {
    await initDataDir(root)
    const { config } = await snapshot()
    await fs.rm(layout(root).apiToken)
    await initDataDir(root)
    const after = await snapshot()
    assert.equal(after.config, config)
    assert.match(after.token, /^[0-9a-f]{64}\n$/)
    assert.equal((await fs.stat(layout(root).apiToken)).mode & 0o777, 0o600)
  })

  it('ensureDataDir refuses a missing directory unless asked to create it, and restores removed folders', async () => {
    await assert.rejects(ensureDataDir(root), { name: 'DataDirMissingError', code: 'DATA_DIR_MISSING' })
    assert.equal(existsSync(root), false)
    await ensureDataDir(root, { create: true })
    assert.equal(isInitialized(root), true)
    await fs.rm(layout(root).tmp, { recursive: true })
    await fs.rm(layout(root).quarantine, { recursive: true })
    await ensureDataDir(root)
    assert.equal(existsSync(layout(root).tmp), true)
    assert.equal(existsSync(layout(root).quarantine), true)
  })

  it('readConfig merges the file over the defaults and refuses what is not a JSON object', async () => {
    assert.deepEqual(await readConfig(root), DEFAULT_CONFIG)
    await initDataDir(root)
    await fs.writeFile(layout(root).config, JSON.stringify({ dht: true, maxSize: '10GiB', custom: 1 }))
    assert.deepEqual(await readConfig(root), { ...DEFAULT_CONFIG, dht: true, maxSize: '10GiB', custom: 1 })
    for (const bad of ['{not json', '[1,2]', 'null', '"text"']) {
      await fs.writeFile(layout(root).config, bad)
      await assert.rejects(readConfig(root), { name: 'InvalidJsonError', code: 'INVALID_JSON' }, bad)
    }
  })

  it('resolveDataDir: explicit, then $TROVE_DATA, then ~/.trove', () => {
    const saved = process.env.TROVE_DATA
    try {
      process.env.TROVE_DATA = path.join(tmp.dir, 'from-env')
      assert.equal(resolveDataDir('rel/dir'), path.resolve('rel/dir'))
      assert.equal(resolveDataDir(), path.join(tmp.dir, 'from-env'))
      delete process.env.TROVE_DATA
      assert.equal(resolveDataDir(), path.join(os.homedir(), '.trove'))
    } finally {
      if (saved === undefined) delete process.env.TROVE_DATA
      else process.env.TROVE_DATA = saved
    }
  })
})
