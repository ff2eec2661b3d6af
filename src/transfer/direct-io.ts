import { constants } from 'node:fs'
import fs from 'node:fs/promises'
import { writeFully } from '../fs-util.js'

/**
 * Direct writes (O_DIRECT) must start at a file offset, and from a memory address, that are
 * multiples of the device's logical block size, with a length that is one too. 4096 covers every
 * common disk and filesystem (512-byte devices accept it as well).
 */
export const DIRECT_IO_ALIGN = 4096
/** WebAssembly pages are 64 KiB and a memory starts on a page boundary: aligned for any disk. */
const WASM_PAGE = 64 * 1024

// the one part of the WebAssembly global used here (the project's TypeScript libs do not declare it)
declare const WebAssembly: { Memory: new (descriptor: { initial: number, maximum?: number }) => { buffer: ArrayBuffer } }

/**
 * A buffer whose first byte is page-aligned, as direct writes need. Node gives no way to ask
 * malloc for alignment, and a 4 MiB Buffer starts 16 bytes into its mapping (the kernel then
 * refuses a direct write with EINVAL); a WebAssembly memory is mapped on its own, so its first
 * byte is page-aligned. Only the pages written to use memory, as with any buffer.
 */
export function alignedBuffer (size: number): Buffer {
  const pages = Math.max(1, Math.ceil(size / WASM_PAGE))
  let memory: ArrayBuffer
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer as ArrayBuffer
  } catch {
    // no address space for another memory (a tight ulimit -v): an ordinary buffer, written buffered
    return Buffer.allocUnsafeSlow(size)
  }
  aligned.add(memory)
  return Buffer.from(memory, 0, size)
}

/** Backing stores from alignedBuffer: the only ones known to be aligned. */
const aligned = new WeakSet<ArrayBufferLike>()

/**
 * Writes large blocks of a download to its partial file with O_DIRECT where the filesystem allows
 * it, and through the page cache otherwise.
 *
 * Why: a buffered write copies every byte into newly allocated page-cache pages. On the virtual
 * machines Trove runs on in labs and CI, memory the guest frees goes back to the host, and
 * touching a fresh page again traps to the hypervisor: writing 1 GiB through the page cache cost
 * 2.2-3.4 s of kernel CPU there, against 0.05-0.2 s for the same write with O_DIRECT (and 0.1-0.6
 * s through the cache on a page-cache hit). On two cores that kernel time was most of what a
 * download costs beyond the network stack (bench/fetch, `perf`: copy_folio_from_iter_atomic).
 * What is written this way is not left in the page cache; a later read of the blob comes from
 * the disk, which for a freshly fetched large blob is the common case anyway.
 *
 * A write that is not aligned (the blob's last chunk), or any direct write the kernel refuses
 * with EINVAL, goes through the ordinary descriptor instead; after one refusal the file is written
 * buffered from then on. Filesystems without O_DIRECT (tmpfs) fail the open and are written
 * buffered throughout.
 */
export class BlockWriter {
  private direct: fs.FileHandle | undefined
  /** Bytes written each way (tests check them). */
  directBytes = 0
  bufferedBytes = 0

  private constructor (private readonly fh: fs.FileHandle, direct: fs.FileHandle | undefined) {
    this.direct = direct
  }

  /**
   * `fh` is the file opened for ordinary I/O (kept by the caller); with `useDirect` a second
   * descriptor with O_DIRECT is opened on `path` when the platform and filesystem allow.
   */
  static async open (path: string, fh: fs.FileHandle, useDirect = true): Promise<BlockWriter> {
    return new BlockWriter(fh, useDirect ? await openDirect(path) : undefined)
  }

  get isDirect (): boolean {
    return this.direct !== undefined
  }

  /** Writes all of `data` at `position`. `data` must come from alignedBuffer for a direct write. */
  async write (data: Uint8Array, position: number): Promise<void> {
    const direct = this.direct
    if (direct !== undefined && isAligned(data, position)) {
      try {
        await writeFully(direct, data, position)
        this.directBytes += data.byteLength
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        // an alignment this filesystem does not accept: buffered from now on (the direct
        // handle is only closed; a failure to close it loses nothing, the buffered one writes)
        this.direct = undefined
        await direct.close().catch(() => {})
      }
    }
    await writeFully(this.fh, data, position)
    this.bufferedBytes += data.byteLength
  }

  async close (): Promise<void> {
    const direct = this.direct
    this.direct = undefined
    await direct?.close()
  }
}

function isAligned (data: Uint8Array, position: number): boolean {
  return position % DIRECT_IO_ALIGN === 0 && data.byteLength % DIRECT_IO_ALIGN === 0 && data.byteLength > 0 &&
    data.byteOffset % DIRECT_IO_ALIGN === 0 && aligned.has(data.buffer)
}

async function openDirect (path: string): Promise<fs.FileHandle | undefined> {
  // O_DIRECT is Linux's; elsewhere the constant is absent and writes are buffered
  const flag = (constants as Record<string, number | undefined>).O_DIRECT
  if (flag === undefined) return undefined
  try {
    return await fs.open(path, constants.O_WRONLY | flag)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EINVAL' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return undefined
    throw err
  }
}
