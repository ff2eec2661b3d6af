import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { alignedBuffer, BlockWriter, DIRECT_IO_ALIGN } from '../../src/transfer/direct-io.js'
import { tempDir } from '../helpers/tmp.js'

const MIB = 1024 * 1024

/** Writes blocks of a 2 MiB + 100 byte file out of order through a BlockWriter and reads them back. */
async function writeBlocks (dir: string, useDirect: boolean): Promise<{ writer: BlockWriter, ok: boolean }> {
  const file = path.join(dir, 'blob.part')
  const content = randomBytes(2 * MIB + 100)
  const fh = await fs.open(file, 'w+')
  let writer: BlockWriter | undefined
  try {
    await fh.truncate(content.length)
    writer = await BlockWriter.open(file, fh, useDirect)
    const block = alignedBuffer(MIB)
    // the second block first, then the first, then the unaligned tail (a plain buffer)
    for (const start of [MIB, 0]) {
      content.copy(block, 0, start, start + MIB)
      await writer.write(block, start)
    }
    await writer.write(Buffer.from(content.subarray(2 * MIB)), 2 * MIB)
  } finally {
    await writer?.close()
    await fh.close()
  }
  const back = await fs.readFile(file)
  return { writer: writer as BlockWriter, ok: back.equals(content) }
}

describe('direct writes of downloaded blocks', () => {
  it('alignedBuffer gives a buffer of the size asked, at offset 0 of its own memory', () => {
    const buf = alignedBuffer(4 * MIB)
    assert.equal(buf.byteLength, 4 * MIB)
    assert.equal(buf.byteOffset, 0)
    buf.fill(7)
    assert.equal(buf[4 * MIB - 1], 7)
    assert.equal(alignedBuffer(100).byteLength, 100)
  })

  it('writes aligned blocks directly where the filesystem allows, the rest buffered, all bytes right', async () => {
    const tmp = await tempDir()
    try {
      const { writer, ok } = await writeBlocks(tmp.dir, true)
      assert.ok(ok, 'file content')
      assert.equal(writer.directBytes + writer.bufferedBytes, 2 * MIB + 100)
      // the tail is not a multiple of the alignment, so it never goes direct
      assert.ok(writer.bufferedBytes >= 100)
      if (writer.directBytes > 0) assert.equal(writer.directBytes % DIRECT_IO_ALIGN, 0)
    } finally {
      await tmp.cleanup()
    }
  })

  it('goes direct on an ordinary Linux disk (the temp dir) and not when told not to', async (t) => {
    const tmp = await tempDir()
    try {
      const probe = path.join(tmp.dir, 'probe')
      const fh = await fs.open(probe, 'w+')
      const w = await BlockWriter.open(probe, fh, true)
      const direct = w.isDirect
      await w.close()
      await fh.close()
      if (!direct) {
        t.skip('this filesystem has no O_DIRECT')
        return
      }
      const on = await writeBlocks(tmp.dir, true)
      assert.equal(on.writer.directBytes, 2 * MIB)
      const off = await writeBlocks(tmp.dir, false)
      assert.ok(off.ok)
      assert.equal(off.writer.directBytes, 0)
      assert.equal(off.writer.isDirect, false)
    } finally {
      await tmp.cleanup()
    }
  })

  it('writes the same bytes on tmpfs (O_DIRECT there only since Linux 6.6)', async (t) => {
    if (!existsSync('/dev/shm')) {
      t.skip('no /dev/shm here')
      return
    }
    const dir = await fs.mkdtemp('/dev/shm/trove-direct-')
    try {
      const { writer, ok } = await writeBlocks(dir, true)
      assert.ok(ok)
      assert.equal(writer.directBytes + writer.bufferedBytes, 2 * MIB + 100)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  it('a plain Buffer (not known to be aligned) is written buffered', async () => {
    const tmp = await tempDir()
    try {
      const file = path.join(tmp.dir, 'f')
      const fh = await fs.open(file, 'w+')
      const w = await BlockWriter.open(file, fh, true)
      await w.write(Buffer.alloc(MIB, 1), 0)
      await w.close()
      await fh.close()
      assert.equal(w.directBytes, 0)
      assert.equal(w.bufferedBytes, MIB)
      assert.equal((await fs.stat(file)).size, MIB)
    } finally {
      await tmp.cleanup()
    }
  })
})
