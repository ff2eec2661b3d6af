import { spawn } from 'node:child_process'
import { NetnsUnavailableError } from './errors.js'

/**
 * Where a rig service runs. Locally every service shares 127.0.0.1 and takes free ports; with
 * network namespaces each node gets its own namespace and address on a private bridge, like a
 * container on a compose network, so peers see each other's real addresses and per-IP limits
 * apply per peer.
 */
export interface RigHost {
  /** The service whose network this is. */
  name: string
  /** The address peers reach this host at. */
  address: string
  /** The argv that runs `argv` on this host. */
  wrap: (argv: string[]) => string[]
}

export interface HostProvider {
  kind: 'local' | 'netns'
  /**
   * Rewrites a compose `--listen` multiaddr for this provider: locally, to 127.0.0.1 and a free
   * port; in a namespace it is kept as written (the namespace is the container).
   */
  listen: (multiaddr: string) => string
  /** The `--api` value: locally a free port, in a namespace the compose value. */
  api: (composeValue: string | undefined) => string
  host: (service: string) => Promise<RigHost>
  close: () => Promise<void>
}

export class LocalHosts implements HostProvider {
  readonly kind = 'local' as const

  listen (multiaddr: string): string {
    return multiaddr.replace(/^\/ip4\/[^/]+\/tcp\/\d+$/, '/ip4/127.0.0.1/tcp/0')
  }

  api (): string {
    return '127.0.0.1:0'
  }

  async host (service: string): Promise<RigHost> {
    return { name: service, address: '127.0.0.1', wrap: (argv) => argv }
  }

  async close (): Promise<void> {}
}

/**
 * Private subnet of the namespaces' bridge. It exists only inside namespaces this rig creates (the
 * bridge lives in a hub namespace of its own), so nothing outside them ever sees these addresses.
 */
const SUBNET_PREFIX = '10.77.0.'
const SUBNET_BITS = 24
/** Hosts per run: the /24 minus network, broadcast and the reserved .1. */
const MAX_HOSTS = 250
/** Namespace names carry the rig's pid, so a later run can remove those of a run that was killed. */
const NS_PREFIX = 'trove-rig-'
/** A single `ip` command that takes longer is stuck. */
const IP_TIMEOUT_MS = 15_000

export class NetnsHosts implements HostProvider {
  readonly kind = 'netns' as const
  private readonly id = String(process.pid)
  private readonly hub = `${NS_PREFIX}${this.id}-hub`
  private readonly namespaces: string[] = []
  private readonly hosts = new Map<string, RigHost>()
  private hubReady: Promise<void> | undefined
  private queue: Promise<unknown> = Promise.resolve()

  /** Throws NetnsUnavailableError unless this process is root and may create a namespace. */
  static async check (): Promise<void> {
    if (process.getuid?.() !== 0) throw new NetnsUnavailableError('network namespaces need root (ip netns add)')
    const probe = `${NS_PREFIX}${process.pid}-probe`
    const res = await ip(['netns', 'add', probe]).catch((err: Error) => ({ code: 1, stderr: err.message }))
    if (res.code !== 0) throw new NetnsUnavailableError(`ip netns add failed: ${res.stderr.trim()}`)
    await ip(['netns', 'del', probe])
  }

  listen (multiaddr: string): string {
    return multiaddr
  }

  api (composeValue: string | undefined): string {
    return composeValue ?? '127.0.0.1:4738'
  }

  async host (service: string): Promise<RigHost> {
    // one at a time: addresses and interface names are numbered in order
    const next = this.queue.then(async () => this.create(service))
    this.queue = next.catch(() => {})
    return next
  }

  private async create (service: string): Promise<RigHost> {
    const existing = this.hosts.get(service)
    if (existing !== undefined) return existing
    this.hubReady ??= this.setupHub()
    await this.hubReady
    const index = this.hosts.size + 2
    if (index > MAX_HOSTS) throw new NetnsUnavailableError(`more than ${MAX_HOSTS} hosts`)
    const ns = `${NS_PREFIX}${this.id}-${index}`
    // interface names are at most 15 characters: "tr" + pid in base 36 + index + side
    const tag = `tr${Number(this.id).toString(36)}x${index}`
    const inside = `${tag}p`
    const outside = `${tag}h`
    const address = `${SUBNET_PREFIX}${index}`
    await run(['netns', 'add', ns])
    this.namespaces.push(ns)
    await run(['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', outside, 'netns', this.hub])
    await run(['-n', this.hub, 'link', 'set', outside, 'master', 'br0'])
    await run(['-n', this.hub, 'link', 'set', outside, 'up'])
    await run(['-n', ns, 'addr', 'add', `${address}/${SUBNET_BITS}`, 'dev', inside])
    await run(['-n', ns, 'link', 'set', inside, 'up'])
    await run(['-n', ns, 'link', 'set', 'lo', 'up'])
    const host: RigHost = { name: service, address, wrap: (argv) => ['ip', 'netns', 'exec', ns, ...argv] }
    this.hosts.set(service, host)
    return host
  }

  private async setupHub (): Promise<void> {
    await removeStale()
    await run(['netns', 'add', this.hub])
    this.namespaces.push(this.hub)
    await run(['-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge'])
    await run(['-n', this.hub, 'link', 'set', 'br0', 'up'])
  }

  /** Deleting a namespace deletes its end of each veth pair, and with it the other end. */
  async close (): Promise<void> {
    for (const ns of this.namespaces.reverse()) await ip(['netns', 'del', ns]).catch(() => {})
    this.namespaces.length = 0
    this.hosts.clear()
  }
}

/** Namespaces left by rig runs whose process is gone (killed before it could clean up). */
async function removeStale (): Promise<void> {
  const res = await ip(['netns', 'list'])
  for (const line of res.stdout.split('\n')) {
    const m = new RegExp(`^(${NS_PREFIX}(\\d+)-\\S+)`).exec(line.trim())
    if (m === null || isAlive(Number(m[2]))) continue
    await ip(['netns', 'del', m[1]]).catch(() => {})
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function run (args: string[]): Promise<void> {
  const res = await ip(args)
  if (res.code !== 0) throw new NetnsUnavailableError(`ip ${args.join(' ')} failed: ${res.stderr.trim()}`)
}

async function ip (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), IP_TIMEOUT_MS)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    })
    return { code, stdout, stderr }
  } finally {
    clearTimeout(timer)
  }
}
