import fs from 'node:fs/promises'
import { Level } from 'level'
import { DataDirLockedError, SchemaVersionError } from './errors.js'

/** Bump when the key layout changes; opening a store of another version is refused, not guessed at. */
export const SCHEMA_VERSION = 1

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any
export type Sub = ReturnType<typeof makeSub>

function makeSub (level: Level<string, Json>, name: string) { // eslint-disable-line @typescript-eslint/explicit-function-return-type
  return level.sublevel<string, Json>(name, { valueEncoding: 'json' })
}

/**
 * The one LevelDB of a data directory, split into named sublevels. Every part that must change
 * atomically with another (blob index and byte counters, refs and their edges) writes through
 * `db.batch()` with operations on several sublevels.
 */
export interface TroveDb {
  level: Level<string, Json>
  meta: Sub
  blobs: Sub
  refs: Sub
  versions: Sub
  edges: Sub
  pins: Sub
  expiry: Sub
  access: Sub
  /** pack number -> { size, live }: committed length and live bytes of each pack file (src/store/packs.ts). */
  packs: Sub
  /** blob sha1 -> sha1 of its chunk manifest (large blobs only). */
  manifests: Sub
  /** blob sha1 -> state of an interrupted chunked download, for resume. */
  partials: Sub
  /** Space management (src/space): per-blob hold state, eviction order, pending reclassifications. */
  spaceState: Sub
  spaceEvict: Sub
  spaceDirty: Sub
  /** JSON blob -> blobs it references (`<parent>\0<child>`), and the reverse (`<child>\0<parent>`). */
  spaceLinks: Sub
  spaceLinkedBy: Sub
  /** Class counters, run history, refs asking for minCopies, deletion intents of a GC run. */
  spaceMeta: Sub
  /**
   * Installed by space management (src/space/watch.ts): given a batch about to be written, returns
   * it with the space index's dirty marks for the whole batch in one record. Writers that batch
   * many changes at once (the ref store) call it; every other write is marked operation by
   * operation by the prewrite hook, so calling it is an optimisation, never a requirement.
   */
  prepareBatch?: (ops: any[]) => any[] // eslint-disable-line @typescript-eslint/no-explicit-any
  close: () => Promise<void>
}

export interface OwnerInfo {
  pid: number
  command: string
  startedAt: string
}

export interface OpenDbOptions {
  /** What the owning process is doing, shown to another process that finds the directory locked. */
  command?: string
}

export async function openDb (dbPath: string, ownerFile: string, options: OpenDbOptions = {}): Promise<TroveDb> {
  const level = new Level<string, Json>(dbPath, { valueEncoding: 'json' })
  try {
    await level.open()
  } catch (err) {
    if (isLocked(err)) {
      const owner = await readOwner(ownerFile)
      const who = owner !== undefined ? `process ${owner.pid} (${owner.command}, since ${owner.startedAt})` : 'another process'
      throw new DataDirLockedError(`data directory is in use by ${who}: ${dbPath}`, { cause: err })
    }
    throw err
  }
  const sub = (name: string): Sub => makeSub(level, name)
  const db: TroveDb = {
    level,
    meta: sub('meta'),
    blobs: sub('blobs'),
    refs: sub('refs'),
    versions: sub('versions'),
    edges: sub('edges'),
    pins: sub('pins'),
    expiry: sub('expiry'),
    access: sub('access'),
    packs: sub('packs'),
    manifests: sub('manifests'),
    partials: sub('partials'),
    spaceState: sub('space-state'),
    spaceEvict: sub('space-evict'),
    spaceDirty: sub('space-dirty'),
    spaceLinks: sub('space-links'),
    spaceLinkedBy: sub('space-linked-by'),
    spaceMeta: sub('space-meta'),
    close: async () => {
      await fs.rm(ownerFile, { force: true })
      await level.close()
    }
  }
  try {
    await checkSchema(db)
  } catch (err) {
    await level.close()
    throw err
  }
  const owner: OwnerInfo = { pid: process.pid, command: options.command ?? 'trove', startedAt: new Date().toISOString() }
  await fs.writeFile(ownerFile, JSON.stringify(owner) + '\n')
  return db
}

async function checkSchema (db: TroveDb): Promise<void> {
  const version = await db.meta.get('schema') as number | undefined
  if (version === undefined) {
    await db.meta.put('schema', SCHEMA_VERSION)
    return
  }
  if (version !== SCHEMA_VERSION) {
    throw new SchemaVersionError(`data directory has schema version ${String(version)}, this Trove understands version ${SCHEMA_VERSION}`)
  }
}

function isLocked (err: unknown): boolean {
  const e = err as { code?: string, cause?: { code?: string } }
  return e?.code === 'LEVEL_LOCKED' || e?.cause?.code === 'LEVEL_LOCKED'
}

async function readOwner (ownerFile: string): Promise<OwnerInfo | undefined> {
  try {
    return JSON.parse(await fs.readFile(ownerFile, 'utf8')) as OwnerInfo
  } catch {
    return undefined
  }
}
