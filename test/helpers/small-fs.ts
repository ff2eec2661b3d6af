import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import type { TestContext } from 'node:test'

const run = promisify(execFile)

/** Set to 1 where a test cannot mount a filesystem (not root): such tests are skipped, not failed. */
export const SKIP_MOUNT_ENV = 'TROVE_SKIP_MOUNT_TESTS'

export interface SmallFs {
  dir: string
  /** Writes a file until the filesystem is full (ENOSPC); its descriptor is closed, so `free` frees it. */
  fill: () => Promise<void>
  free: () => Promise<void>
  unmount: () => Promise<void>
}

/**
 * Mounts a tmpfs of `mib` MiB on `dir` (created): a disk that really fills up, under LevelDB too.
 * Without the right to mount, the test fails with one line saying so, or is skipped when
 * TROVE_SKIP_MOUNT_TESTS=1.
 */
export async function mountSmallFs (t: TestContext, dir: string, mib: number): Promise<SmallFs | undefined> {
  await fs.mkdir(dir, { recursive: true })
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir])
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0]
    if (process.env[SKIP_MOUNT_ENV] === '1') {
      t.skip(`cannot mount a tmpfs (${why}); skipped because ${SKIP_MOUNT_ENV}=1`)
      return undefined
    }
    throw new Error(`cannot mount a tmpfs on ${dir} (${why}): run as root, or set ${SKIP_MOUNT_ENV}=1 to skip`)
  }
  const filler = path.join(dir, 'filler')
  return {
    dir,
    fill: async () => {
      for (const [name, block] of [[filler, 1 << 20], [filler + '-tail', 512]] as const) {
        const fh = await fs.open(name, 'w')
        try {
          const buf = Buffer.alloc(block, 0xaa)
          for (;;) await fh.write(buf)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
        } finally {
          await fh.close()
        }
      }
    },
    free: async () => {
      await fs.rm(filler, { force: true })
      await fs.rm(filler + '-tail', { force: true })
    },
    unmount: async () => { await run('umount', [dir]) }
  }
}
