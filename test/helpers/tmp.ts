import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir (prefix = 'trove-test-'): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  return { dir, cleanup: async () => { await fs.rm(dir, { recursive: true, force: true }) } }
}
