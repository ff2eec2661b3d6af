import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { CLI_BIN, cliSandbox, type CliSandbox } from './cli.js'

/** A node that has not printed its start line by then is hung; the test fails instead of stalling. */
export const START_TIMEOUT_MS = 30_000

export interface Daemon {
  child: ChildProcessWithoutNullStreams
  started: { apiUrl: string, dataDir: string, pid: number, peerId?: string, multiaddrs?: string[] }
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  stderr: () => string
  /** The node's loopback multiaddr with /p2p/<id>, for --bootstrap. */
  addr: () => string
}

/** Runs the built `trove start` on a sandbox's data directory, on free ports, without mDNS. */
export async function startDaemon (t: CliSandbox, extra: string[] = []): Promise<Daemon> {
  const child = spawn(process.execPath, [CLI_BIN, '--data', t.data, '--json', 'start', '--api', '127.0.0.1:0', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', ...extra], {
    env: { ...process.env, HOME: t.home, TROVE_DATA: undefined },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`trove start printed nothing; stderr: ${err}`)) }, START_TIMEOUT_MS)
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        resolve(out.slice(0, nl))
      }
    })
    void exited.then(({ code }) => {
      clearTimeout(timer)
      reject(new Error(`trove start exited (${String(code)}) before starting; stdout: ${out} stderr: ${err}`))
    })
  })
  const started = JSON.parse(line) as Daemon['started']
  return {
    child,
    started,
    exited,
    stderr: () => err,
    addr: () => {
      const a = (started.multiaddrs ?? []).find((m) => m.includes('/ip4/127.0.0.1/'))
      if (a === undefined) throw new Error(`node printed no loopback address: ${line}`)
      return a
    }
  }
}

/** Kills a daemon (SIGKILL unless a signal is given) and waits for it to exit. */
export async function stopDaemon (node: Daemon | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (node === undefined || node.child.exitCode !== null || node.child.signalCode !== null) return
  node.child.kill(signal)
  await node.exited
}

/** Two sandboxes, each with a running node; B bootstraps from A, as a second lab machine would. */
export interface NodePair {
  a: CliSandbox
  b: CliSandbox
  nodeA: Daemon
  nodeB: Daemon
  /** Stops both nodes (SIGTERM, a clean shutdown) and removes both sandboxes. */
  close: () => Promise<void>
}

export async function startNodePair (options: { bFlags?: string[], beforeB?: (b: CliSandbox) => Promise<void> } = {}): Promise<NodePair> {
  const a = await cliSandbox()
  const b = await cliSandbox()
  let nodeA: Daemon | undefined
  let nodeB: Daemon | undefined
  const close = async (): Promise<void> => {
    await stopDaemon(nodeA, 'SIGTERM')
    await stopDaemon(nodeB, 'SIGTERM')
    await a.cleanup()
    await b.cleanup()
  }
  try {
    await options.beforeB?.(b)
    nodeA = await startDaemon(a)
    nodeB = await startDaemon(b, ['--bootstrap', nodeA.addr(), ...(options.bFlags ?? [])])
  } catch (err) {
    await close()
    throw err
  }
  return { a, b, nodeA, nodeB, close }
}
