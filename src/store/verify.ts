import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { DataDirLayout } from '../datadir.js'
import type { TroveDb } from '../db.js'
import { isSha1Hex } from '../uri.js'
import type { BlobStore, Usage } from './blob-store.js'
import { IO_CHUNK_SIZE, PACK_HEADER_BYTES } from './constants.js'
import type { BlobEntry, PackFiles } from './packs.js'

export interface VerifyReport {
  /** Blobs re-hashed (files and pack records). */
  checked: number
  bytes: number
  /** Blobs whose bytes do not hash to their name, moved (a pack record: copied) to quarantine/. */
  corrupt: Array<{ sha1: string, actual: string, quarantinedAs: string }>
  /** Index entries whose file or pack record is gone; removed from the index. */
  missing: string[]
  /** Files present without an index entry (e.g. a crash between rename and index); indexed now. */
  adopted: string[]
  /** Files in the blob folders that are not named like a blob; moved to quarantine/. */
  strays: string[]
  /** Counters before and after reconciling with what is really there. */
  usageBefore: Usage
  usageAfter: Usage
  ok: boolean
}

export interface VerifyOptions {
  signal?: AbortSignal
  onProgress?: (progress: { checked: number, total: number }) => void
}

export interface VerifyComponents {
  db: TroveDb
  layout: DataDirLayout
  store: BlobStore
}

/**
 * Re-hashes every blob file and pack record, quarantines any whose bytes do not match its name,
 * and reconciles the index, the byte counters and the packs' live counts with what is there. This
 * is the one operation that crawls the blob folders; everything else reads the counters.
 */
export async function verifyStore (components: VerifyComponents, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { db, layout, store } = components
  const files = await listBlobFiles(layout.blobs)
  const report: VerifyReport = {
    checked: 0,
    bytes: 0,
    corrupt: [],
    missing: [],
    adopted: [],
    strays: [],
    usageBefore: store.getUsage(),
    usageAfter: store.getUsage(),
    ok: true
  }
  const seen = new Set<string>()
  // files (less strays) plus packed blobs: the index's count is the best guess before the crawl
  const total = Math.max(files.length, report.usageBefore.blobs)
  for (const file of files) {
    options.signal?.throwIfAborted()
    const name = path.basename(file)
    if (!isSha1Hex(name) || path.basename(path.dirname(file)) !== name.slice(0, 2)) {
      report.strays.push(path.relative(layout.blobs, file))
      await quarantine(layout, file, `stray-${name}`)
      continue
    }
    if (store.leases.isLeased(name)) {
      // being written or read right now; its hash was checked on the way in
      seen.add(name)
      continue
    }
    const hashed = await hashFile(file)
    // deleted since the folders were listed: the index pass below sorts out whether that was a delete or a loss
    if (hashed === undefined) continue
    const { sha1: actual, size } = hashed
    report.checked++
    report.bytes += size
    options.onProgress?.({ checked: report.checked, total })
    if (actual !== name) {
      const quarantinedAs = await quarantine(layout, file, name)
      report.corrupt.push({ sha1: name, actual, quarantinedAs })
      continue
    }
    seen.add(name)
  }
  const packs = await checkPacks(store.packs, db, layout, report, options, total)

  await store.reindex(async ({ setUsage }) => {
    const ops: any[] = [] // eslint-disable-line @typescript-eslint/no-explicit-any
    let bytes = 0
    let blobs = 0
    const indexed = new Set<string>()
    // read under the index lock, so writes that finished during the crawl do not count as a discrepancy
    report.usageBefore = store.getUsage()
    const liveByPack = new Map<number, number>()
    for await (const [sha1, value] of db.blobs.iterator()) {
      indexed.add(sha1)
      const entry = value as BlobEntry
      if (entry.pack !== undefined && entry.at !== undefined) {
        const where = `${entry.pack}:${entry.at}`
        // past the end the walk read: appended (or moved there by a compaction) after it
        const storedSince = entry.at >= (packs.walkedEnd.get(entry.pack) ?? 0)
        if (packs.intact.has(where) || (storedSince && !packs.damaged.has(entry.pack))) {
          bytes += entry.size
          blobs++
          liveByPack.set(entry.pack, (liveByPack.get(entry.pack) ?? 0) + PACK_HEADER_BYTES + entry.size)
          continue
        }
        if (!packs.corrupt.has(where)) report.missing.push(sha1)
        ops.push({ type: 'del', sublevel: db.blobs, key: sha1 })
        continue
      }
      if (!seen.has(sha1)) {
        if (await exists(store.pathOf(sha1))) {
          // stored after the crawl listed the folders (or stored again after its corrupt copy was
          // quarantined); its hash was checked on the way in
          bytes += (entry as { size: number }).size
          blobs++
          continue
        }
        if (!report.corrupt.some((c) => c.sha1 === sha1)) report.missing.push(sha1)
        ops.push({ type: 'del', sublevel: db.blobs, key: sha1 })
        continue
      }
      const stat = await fs.stat(store.pathOf(sha1)).catch(() => undefined)
      const size = stat?.size ?? (entry as { size: number }).size
      if (size !== (entry as { size: number }).size) {
        ops.push({ type: 'put', sublevel: db.blobs, key: sha1, value: { ...entry, size } })
      }
      bytes += size
      blobs++
    }
    const reconciled = store.packs.reconcile(liveByPack, { cuts: packs.cuts, gone: packs.gone })
    ops.push(...reconciled.ops)
    for (const sha1 of seen) {
      if (indexed.has(sha1)) continue
      const stat = await fs.stat(store.pathOf(sha1)).catch(() => undefined)
      if (stat === undefined) continue
      report.adopted.push(sha1)
      ops.push({ type: 'put', sublevel: db.blobs, key: sha1, value: { size: stat.size, addedAt: stat.mtimeMs } })
      bytes += stat.size
      blobs++
    }
    const usage = { bytes, blobs }
    ops.push({ type: 'put', sublevel: db.meta, key: 'usage', value: usage })
    await db.level.batch(ops)
    // after the batch: a crash in between leaves a file longer than the index says, which open cuts
    for (const [id, length] of packs.cuts) await fs.truncate(store.packs.pathOf(id), length)
    reconciled.commit()
    setUsage(usage)
    report.usageAfter = usage
  })
  report.ok = report.corrupt.length === 0 && report.missing.length === 0 && report.strays.length === 0 &&
    report.usageBefore.bytes === report.usageAfter.bytes && report.usageBefore.blobs === report.usageAfter.blobs
  return report
}

interface PackCheck {
  /** `<pack>:<at>` of records that hash to their header's sha1 and are what the index points at. */
  intact: Set<string>
  /** `<pack>:<at>` of records the index points at whose bytes do not hash to the blob's sha1. */
  corrupt: Set<string>
  /** How far each pack was read: records past it were appended after the walk. */
  walkedEnd: Map<number, number>
  /** Packs whose walk stopped at a record running past the end of the file (or of its committed length). */
  damaged: Set<number>
  /** Damaged packs' last whole record's end: the index and the file are cut back to it. */
  cuts: Map<number, number>
  /** Packs whose file is gone. */
  gone: Set<number>
}

/**
 * Walks every pack record by record and re-hashes each. Corrupt records the index points at are
 * copied to quarantine/ (the pack itself is left alone: its other records may be fine); the
 * index pass then drops their entries.
 */
async function checkPacks (packs: PackFiles, db: TroveDb, layout: DataDirLayout, report: VerifyReport, options: VerifyOptions, total: number): Promise<PackCheck> {
  const check: PackCheck = { intact: new Set(), corrupt: new Set(), walkedEnd: new Map(), damaged: new Set(), cuts: new Map(), gone: new Set() }
  for (const [id, state] of packs.list()) {
    options.signal?.throwIfAborted()
    const walk: { damagedAt?: number } = {}
    const records = []
    try {
      for await (const r of packs.records(id, { withData: true, walk })) {
        records.push({ sha1: r.sha1, at: r.at, size: r.size, actual: createHash('sha1').update(r.data as Buffer).digest('hex'), data: undefined as Buffer | undefined })
        // keep the bytes only of records that may need quarantining: the walk's buffer is reused
        const last = records[records.length - 1]
        if (last.actual !== last.sha1) last.data = Buffer.from(r.data as Buffer)
      }
    } catch (err) {
      // a pack file gone (a compaction retired it meanwhile, or lost): its entries are sorted out below
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      check.damaged.add(id)
      check.gone.add(id)
      check.walkedEnd.set(id, state.size)
      continue
    }
    if (walk.damagedAt !== undefined) {
      check.damaged.add(id)
      check.cuts.set(id, walk.damagedAt)
    }
    check.walkedEnd.set(id, state.size)
    const entries = await db.blobs.getMany(records.map((r) => r.sha1)) as Array<BlobEntry | undefined>
    for (const [i, r] of records.entries()) {
      const entry = entries[i]
      const pointed = entry?.pack === id && entry.at === r.at
      const where = `${id}:${r.at}`
      // a record the index does not point at is a deleted blob's dead space (a restart cuts off
      // appends that were never indexed), so it is not adopted as files are
      if (!pointed) continue
      // counted whether intact or not, as files are
      report.checked++
      report.bytes += r.size
      options.onProgress?.({ checked: report.checked, total: Math.max(total, report.checked) })
      if (r.actual !== r.sha1) {
        const quarantinedAs = await quarantineBytes(layout, r.sha1, r.data as Buffer)
        report.corrupt.push({ sha1: r.sha1, actual: r.actual, quarantinedAs })
        check.corrupt.add(where)
        continue
      }
      check.intact.add(where)
    }
  }
  return check
}

async function quarantineBytes (layout: DataDirLayout, name: string, bytes: Buffer): Promise<string> {
  await fs.mkdir(layout.quarantine, { recursive: true })
  const dest = path.join(layout.quarantine, `${name}.${Date.now()}.${randomBytes(4).toString('hex')}`)
  await fs.writeFile(dest, bytes, { flag: 'wx' })
  return path.relative(layout.root, dest)
}

async function listBlobFiles (root: string): Promise<string[]> {
  const out: string[] = []
  let shards: string[]
  try {
    shards = await fs.readdir(root)
  } catch {
    return out
  }
  for (const shard of shards.sort()) {
    const dir = path.join(root, shard)
    const stat = await fs.stat(dir)
    if (!stat.isDirectory()) {
      out.push(dir)
      continue
    }
    for (const name of (await fs.readdir(dir)).sort()) out.push(path.join(dir, name))
  }
  return out
}

/** undefined when the file no longer exists. */
async function hashFile (file: string): Promise<{ sha1: string, size: number } | undefined> {
  const hash = createHash('sha1')
  let size = 0
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: IO_CHUNK_SIZE })) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return { sha1: hash.digest('hex'), size }
}

async function exists (file: string): Promise<boolean> {
  return fs.stat(file).then(() => true, () => false)
}

async function quarantine (layout: DataDirLayout, file: string, name: string): Promise<string> {
  await fs.mkdir(layout.quarantine, { recursive: true })
  // the random part keeps two strays of the same name (from different shards, same millisecond) apart
  const dest = path.join(layout.quarantine, `${name}.${Date.now()}.${randomBytes(4).toString('hex')}`)
  await fs.rename(file, dest)
  return path.relative(layout.root, dest)
}
