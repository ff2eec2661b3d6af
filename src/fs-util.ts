import type fs from 'node:fs/promises'

/** Writes all of `data` at `position`, looping over short writes (a full disk surfaces as the error). */
export async function writeFully (fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset, position + offset)
    offset += bytesWritten
  }
}
