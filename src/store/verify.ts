import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { DataDirLayout } from '../datadir.js'
import type { TroveDb } from '../db.js'
import { isSha1Hex } from '../uri.js'
import type { BlobStore, Usage } from './blob-store.js'
import { IO_CHUNK_SIZE } from './constants.js'

export interface VerifyReport {
  /** Blob files re-hashed. */
  checked: number
  bytes: number
  /** Files whose bytes do not hash to their name, moved to quarantine/. */
  corrupt: Array<{ sha1: string, actual: string, quarantinedAs: string }>
  /** Index entries whose file is gone; removed from the index. */
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
 * Re-hashes every blob file, quarantines any whose bytes do not match its name, and reconciles
 * the index and byte counters with the files. This is the one operation that crawls the blob
 * folders; everything else reads the counters.
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
    options.onProgress?.({ checked: report.checked, total: files.length })
    if (actual !== name) {
      const quarantinedAs = await quarantine(layout, file, name)
      report.corrupt.push({ sha1: name, actual, quarantinedAs })
      continue
    }
    seen.add(name)
  }

  await store.reindex(async ({ setUsage }) => {
    const ops: any[] = [] // eslint-disable-line @typescript-eslint/no-explicit-any
    let bytes = 0
    let blobs = 0
    const indexed = new Set<string>()
    // read under the index lock, so writes that finished during the crawl do not count as a discrepancy
    report.usageBefore = store.getUsage()
    for await (const [sha1, entry] of db.blobs.iterator()) {
      indexed.add(sha1)
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
    setUsage(usage)
    report.usageAfter = usage
  })
  report.ok = report.corrupt.length === 0 && report.missing.length === 0 && report.strays.length === 0 &&
    report.usageBefore.bytes === report.usageAfter.bytes && report.usageBefore.blobs === report.usageAfter.blobs
  return report
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
