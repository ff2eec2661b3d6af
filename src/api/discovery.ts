import fs from 'node:fs/promises'
import path from 'node:path'
import { DISCOVERY_FILE } from './constants.js'

/** What a running node writes to `<dataDir>/api.json` so CLI invocations find its API. */
export interface DiscoveryInfo {
  url: string
  pid: number
  startedAt: string
}

export function discoveryPath (dataDir: string): string {
  return path.join(dataDir, DISCOVERY_FILE)
}

/** Written via a temp file and rename, so a reader never sees half a file. */
export async function writeDiscovery (dataDir: string, info: DiscoveryInfo): Promise<void> {
  const file = discoveryPath(dataDir)
  const tmp = `${file}.${process.pid}.tmp`
  await fs.writeFile(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o644 })
  await fs.rename(tmp, file)
}

/** The discovery file, or undefined when there is none or it is not one we wrote. */
export async function readDiscovery (dataDir: string): Promise<DiscoveryInfo | undefined> {
  let text: string
  try {
    text = await fs.readFile(discoveryPath(dataDir), 'utf8')
  } catch {
    return undefined
  }
  try {
    const v = JSON.parse(text) as Partial<DiscoveryInfo>
    if (typeof v.url !== 'string' || !Number.isSafeInteger(v.pid) || typeof v.startedAt !== 'string') return undefined
    return { url: v.url, pid: v.pid as number, startedAt: v.startedAt }
  } catch {
    return undefined
  }
}

/** Removes the discovery file if it still names `pid` (a newer node may have replaced it). */
export async function removeDiscovery (dataDir: string, pid = process.pid): Promise<void> {
  const info = await readDiscovery(dataDir)
  if (info !== undefined && info.pid !== pid) return
  await fs.rm(discoveryPath(dataDir), { force: true })
}

export { isPidAlive } from '../fs-util.js'
