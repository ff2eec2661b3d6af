import fs from 'node:fs/promises'

/** Writes all of `data` at `position`, looping over short writes (a full disk surfaces as the error). */
export async function writeFully (fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset, position + offset)
    offset += bytesWritten
  }
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
