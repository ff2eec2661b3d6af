/**
 * Watches one transfer of a running node and prints a JSON line each time it moves:
 * `node watch-transfer.js DATA_DIR SHA1 TIMEOUT_MS`. Run on the node's own host (its network
 * namespace, where its API listens) by the rig's kill-mid-transfer scenario, which kills a serving
 * peer as soon as the bytes start to flow. Exits 0 once the transfer is over, 3 on timeout.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'

/** Often enough to catch a transfer of tens of MiB while it runs; each poll is one local GET. */
const POLL_MS = 20

interface Transfer {
  sha1: string
  size?: number
  bytes: number
  peers: string[]
  state: string
}

async function main (): Promise<void> {
  const [dataDir, sha1, timeout] = process.argv.slice(2)
  const deadline = Date.now() + Number(timeout)
  const { url } = JSON.parse(await readFile(path.join(dataDir, 'api.json'), 'utf8')) as { url: string }
  let last = ''
  let seen = false
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/api/v1/transfers`).catch(() => undefined)
    if (res?.ok === true) {
      const { transfers } = await res.json() as { transfers: Transfer[] }
      const t = transfers.find((x) => x.sha1 === sha1)
      if (t !== undefined) {
        seen = true
        const line = JSON.stringify({ bytes: t.bytes, size: t.size, state: t.state, peers: t.peers })
        if (line !== last) process.stdout.write(line + '\n')
        last = line
        if (t.state === 'done' || t.state === 'failed') return
      } else if (seen) {
        return
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  process.exitCode = 3
}

await main()
