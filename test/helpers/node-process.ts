/**
 * A Trove node in a child process, for tests that freeze (SIGSTOP) or kill (SIGKILL) a peer the
 * way a hung or crashed machine would. Run as `node node-process.js '<json>'`; it prints one JSON
 * line `{ addr, peerId, added }` once started and runs until SIGTERM or SIGINT.
 */
import { createTrove } from '../../src/node.js'
import type { StartOptions } from '../../src/ops.js'

export interface ChildNodeConfig {
  dataDir: string
  start?: StartOptions
  /** Files to add before reporting ready. */
  add?: string[]
}

export interface ChildNodeReady {
  addr: string
  peerId: string
  added: Array<{ sha1: string, size: number }>
}

async function main (): Promise<void> {
  const config = JSON.parse(process.argv[2]) as ChildNodeConfig
  const trove = await createTrove({ dataDir: config.dataDir, create: true, durable: false })
  await trove.start({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], ...config.start })
  const added = []
  for (const file of config.add ?? []) {
    const r = await trove.addFile(file)
    added.push({ sha1: r.sha1, size: r.size })
  }
  const addr = trove.multiaddrs().find((a) => a.includes('127.0.0.1')) ?? trove.multiaddrs()[0]
  const ready: ChildNodeReady = { addr, peerId: trove.peerId as string, added }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
  const shutdown = (): void => { void trove.close().finally(() => process.exit(0)) }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
