import { rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

const live = new Set<string>()
let hooked = false

/** An interrupted bench (Ctrl-C) must not leave a GiB-sized file behind. */
function hookSignals (): void {
  if (hooked) return
  hooked = true
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      // synchronous on purpose: the process exits right after
      for (const dir of live) rmSync(dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
}

/**
 * A temp directory for a bench, under `base` (default the OS temp dir). Everything the bench
 * writes goes inside it, so one recursive remove cleans up, even after Ctrl-C.
 */
export async function benchTempDir (prefix: string, base = os.tmpdir()): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  hookSignals()
  const dir = await fs.mkdtemp(path.join(base, prefix))
  live.add(dir)
  return {
    dir,
    cleanup: async () => {
      await fs.rm(dir, { recursive: true, force: true })
      live.delete(dir)
    }
  }
}
