import fs from 'node:fs/promises'

/** Writes all of `data` at `position`, looping over short writes (a full disk surfaces as the error). */
export async function writeFully (fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset, position + offset)
    offset += bytesWritten
  }
}

/** Fills `buf` from `position`, looping over short reads; answers the bytes read (fewer: the file ended first). */
export async function readFully (fh: fs.FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let filled = 0
  while (filled < buf.length) {
    const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return filled
}

/** fsyncs a folder, so that names created or renamed in it survive a crash. */
export async function syncDir (dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Whether a process with this id exists (EPERM: it exists but belongs to someone else). */
export function isPidAlive (pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
