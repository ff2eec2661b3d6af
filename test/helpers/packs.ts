import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BlobStore } from '../../src/store/blob-store.js'

/** Bytes of a pack record's header: 20-byte sha1, 4-byte big-endian length (src/store/constants.ts). */
export const RECORD_HEADER_BYTES = 24

/** The pack record whose data starts at `offset`: the sha1 and length in its header, and its bytes. */
export async function readRecord (file: string, offset: number): Promise<{ sha1: string, bytes: Buffer }> {
  const fh = await fs.open(file, 'r')
  try {
    const header = Buffer.alloc(RECORD_HEADER_BYTES)
    await fh.read(header, 0, RECORD_HEADER_BYTES, offset - RECORD_HEADER_BYTES)
    const bytes = Buffer.alloc(header.readUInt32BE(20))
    const { bytesRead } = await fh.read(bytes, 0, bytes.length, offset)
    return { sha1: header.toString('hex', 0, 20), bytes: bytes.subarray(0, bytesRead) }
  } finally {
    await fh.close()
  }
}

/** Pack number of a pack file path (`packs/00000012.pack` -> 12). */
export function packNumber (file: string): number {
  return Number(path.basename(file, '.pack'))
}

/** Names of the files in the packs folder, sorted. */
export async function packFiles (dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort()
}

/** Live record bytes per pack (headers included) as the blob index has them: what `db.packs` must say. */
export async function liveByPack (store: BlobStore): Promise<Map<number, number>> {
  const live = new Map<number, number>()
  for await (const b of store.list()) {
    const loc = await store.locate(b.sha1)
    if (loc?.packed !== true) continue
    const id = packNumber(loc.path)
    live.set(id, (live.get(id) ?? 0) + RECORD_HEADER_BYTES + b.size)
  }
  return live
}

/**
 * Waits until the store's index queue has run everything queued so far (a compaction queued after
 * a delete runs on it): a delete of a blob that is not there goes through the same queue.
 */
export async function indexIdle (store: BlobStore): Promise<void> {
  await store.deleteBatch(['0'.repeat(40)])
}

/** Polls until `check` holds; fails after a generous deadline, never asserts on timing. */
export async function until (check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/**
 * Every record of a pack file, read straight from disk (not through the store's own walk): the
 * header's sha1 and length and where the data starts. Stops at a header or record running past
 * the end of the file.
 */
export async function packRecords (file: string): Promise<Array<{ sha1: string, size: number, at: number }>> {
  const buf = await fs.readFile(file)
  const out: Array<{ sha1: string, size: number, at: number }> = []
  let pos = 0
  while (pos + RECORD_HEADER_BYTES <= buf.length) {
    const size = buf.readUInt32BE(pos + 20)
    const at = pos + RECORD_HEADER_BYTES
    if (at + size > buf.length) break
    out.push({ sha1: buf.toString('hex', pos, pos + 20), size, at })
    pos = at + size
  }
  return out
}

/**
 * Deterministic content for blob number `n` (a child process and the test make the same bytes):
 * 32 to 4031 bytes, distinct for every n (n is in the first four bytes).
 */
export function seededBlob (n: number): Buffer {
  const size = 32 + (n * 7919) % 4000
  const out = Buffer.alloc(size)
  out.writeUInt32BE(n, 0)
  let filled = 4
  for (let k = 0; filled < size; k++) {
    filled += createHash('sha256').update(`trove-seeded-${n}-${k}`).digest().copy(out, filled)
  }
  return out
}
