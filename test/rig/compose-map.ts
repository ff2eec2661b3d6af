import fs from 'node:fs/promises'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { RigConfigError } from './errors.js'

/**
 * Reads docker-compose.yml into a plan of local processes. The compose file is the one source of
 * the topology: this module only accepts the shapes it can run faithfully and names the service
 * and field of anything else, rather than guessing.
 */

export type Role = 'bootstrap' | 'peer' | 'scenario'
export type DependCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully'

export interface Dependency {
  service: string
  condition: DependCondition
}

export interface VolumeMount {
  /** Named volume (declared under the top-level `volumes`). */
  volume: string
  /** Absolute path inside the container. */
  target: string
  readOnly: boolean
}

/** One `trove start` flag with its values, in compose order. */
export interface StartFlag {
  flag: string
  values: string[]
}

interface ServiceBase {
  name: string
  role: Role
  /** Environment as the container sees it (compose's `$$` already turned into `$`). */
  env: Record<string, string>
  volumes: VolumeMount[]
  /** The volume mounted where TROVE_DATA points: the node's data directory. */
  dataVolume: string
  dependsOn: Dependency[]
}

export interface NodeService extends ServiceBase {
  kind: 'node'
  role: 'bootstrap' | 'peer'
  /** `trove start` flags (the command without its leading `start`). */
  flags: StartFlag[]
  /** Services named by `rig:<service>` arguments: they must have published their address first. */
  bootstrapFrom: string[]
  /** `--max-size` as written, if any. */
  maxSize?: string
}

export interface ScriptService extends ServiceBase {
  kind: 'script'
  role: 'scenario'
  /** The `sh -c` script. */
  script: string
  /** The node whose network (and data volume) the script uses: `network_mode: service:<on>`. */
  on: string
}

export type RigService = NodeService | ScriptService

export interface RigPlan {
  file: string
  services: Map<string, RigService>
  /** Services in an order where every dependency comes first. */
  order: string[]
  volumes: string[]
}

/** Top-level keys of a compose file; `x-*` extensions are always allowed. */
const TOP_LEVEL_KEYS = new Set(['version', 'name', 'services', 'volumes'])
/** Service keys the rig maps to something local. */
const MAPPED_KEYS = new Set(['command', 'entrypoint', 'environment', 'volumes', 'depends_on', 'network_mode', 'x-trove'])
/**
 * Service keys with no meaning for a local process: how the image is made or the container is
 * supervised. Accepted and ignored; anything not listed here or above is refused.
 */
const IGNORED_KEYS = new Set(['image', 'build', 'init', 'restart', 'healthcheck', 'labels', 'stop_grace_period', 'stop_signal', 'container_name', 'hostname', 'ports'])
const ROLES = new Set<Role>(['bootstrap', 'peer', 'scenario'])
const CONDITIONS = new Set<DependCondition>(['service_started', 'service_healthy', 'service_completed_successfully'])

/** `trove start` flags the rig understands, and how many values each takes (-1: one or more). */
const START_FLAGS = new Map<string, number>([
  ['--listen', -1],
  ['--bootstrap', -1],
  ['--api', 1],
  ['--max-size', 1],
  ['--swarm-key', 1],
  ['--no-mdns', 0],
  ['--dht', 0],
  ['--json', 0]
])
/** Prefix of a `--bootstrap` value naming a service (rig/entrypoint.mjs substitutes its address). */
export const SERVICE_REF = 'rig:'
/** The one scenario entrypoint: a POSIX shell script, which both a container and this machine can run. */
const SCRIPT_ENTRYPOINT = ['sh', '-c']
/** Multiaddrs the rig can rewrite to a local address: IPv4 and TCP, nothing else. */
const LISTEN_RE = /^\/ip4\/(\d{1,3}(?:\.\d{1,3}){3})\/tcp\/(\d{1,5})$/

export async function loadCompose (file: string): Promise<RigPlan> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    throw new RigConfigError(`cannot read compose file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  return mapCompose(text, file)
}

/** Parses compose YAML and maps it; every refusal is a RigConfigError naming service and field. */
export function mapCompose (text: string, file = 'docker-compose.yml'): RigPlan {
  let doc: unknown
  try {
    doc = parseYaml(text, { merge: true, maxAliasCount: 1000 })
  } catch (err) {
    throw new RigConfigError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (!isRecord(doc)) throw new RigConfigError(`${file} must be a mapping with a "services" key`)
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith('x-')) throw new RigConfigError(`unknown top-level key (known: ${[...TOP_LEVEL_KEYS].join(', ')}, x-*)`, { field: key })
  }
  const declared = volumesOf(doc.volumes)
  if (!isRecord(doc.services) || Object.keys(doc.services).length === 0) throw new RigConfigError('"services" must map service names to services', { field: 'services' })

  const services = new Map<string, RigService>()
  for (const [name, raw] of Object.entries(doc.services)) services.set(name, mapService(name, raw, declared))
  checkReferences(services)
  return { file, services, order: topoOrder(services), volumes: [...declared] }
}

function volumesOf (raw: unknown): Set<string> {
  if (raw === undefined || raw === null) return new Set()
  if (!isRecord(raw)) throw new RigConfigError('top-level "volumes" must be a mapping of volume names', { field: 'volumes' })
  for (const [name, v] of Object.entries(raw)) {
    if (v !== null && !(isRecord(v) && Object.keys(v).length === 0)) {
      throw new RigConfigError(`volume "${name}" has options (driver, external, ...): the local rig maps only plain named volumes to directories`, { field: `volumes.${name}` })
    }
  }
  return new Set(Object.keys(raw))
}

function mapService (name: string, raw: unknown, declared: Set<string>): RigService {
  const where = (field: string): { service: string, field: string } => ({ service: name, field })
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new RigConfigError('service names must be letters, digits, "_", "." and "-"', { service: name })
  if (!isRecord(raw)) throw new RigConfigError('a service must be a mapping', { service: name })
  for (const key of Object.keys(raw)) {
    if (!MAPPED_KEYS.has(key) && !IGNORED_KEYS.has(key)) {
      throw new RigConfigError(`cannot be mapped to a local process (the rig maps ${[...MAPPED_KEYS].join(', ')}; ignores ${[...IGNORED_KEYS].join(', ')})`, where(key))
    }
  }
  const ext = raw['x-trove']
  if (!isRecord(ext) || typeof ext.role !== 'string' || !ROLES.has(ext.role as Role)) {
    throw new RigConfigError(`every service needs "x-trove: { role: bootstrap | peer | scenario }"`, where('x-trove.role'))
  }
  for (const key of Object.keys(ext)) if (key !== 'role') throw new RigConfigError('unknown x-trove key (known: role)', where(`x-trove.${key}`))
  const role = ext.role as Role

  const env = environmentOf(raw.environment, name)
  const volumes = mountsOf(raw.volumes, name, declared)
  const dataDir = env.TROVE_DATA
  if (dataDir === undefined) throw new RigConfigError('TROVE_DATA must name the data directory (a volume mount target)', where('environment.TROVE_DATA'))
  const dataMount = volumes.find((v) => v.target === dataDir)
  if (dataMount === undefined) throw new RigConfigError(`TROVE_DATA is ${dataDir}, where no volume is mounted: the node's data must live in its own named volume`, where('environment.TROVE_DATA'))
  for (const [key, value] of Object.entries(env)) {
    if (value.startsWith('/') && mountFor(volumes, value) === undefined) {
      throw new RigConfigError(`${value} is a container path outside every volume of this service, which the local rig cannot map`, where(`environment.${key}`))
    }
  }
  const base = { name, env, volumes, dataVolume: dataMount.volume, dependsOn: dependenciesOf(raw.depends_on, name) }

  if (role === 'scenario') {
    const entrypoint = stringList(raw.entrypoint, name, 'entrypoint')
    if (entrypoint === undefined || entrypoint.join(' ') !== SCRIPT_ENTRYPOINT.join(' ')) {
      throw new RigConfigError(`a scenario runs a shell script: "entrypoint: [${SCRIPT_ENTRYPOINT.join(', ')}]"`, where('entrypoint'))
    }
    const command = stringList(raw.command, name, 'command')
    if (command?.length !== 1) throw new RigConfigError('a scenario\'s command is one script (a list with one string)', where('command'))
    const script = command[0]
    for (const v of volumes) {
      const literal = new RegExp(`(^|[^\\w$./-])${escapeRe(v.target)}(?=/|[^\\w.-]|$)`, 'm')
      if (literal.test(script)) {
        throw new RigConfigError(`the script names the container path ${v.target}; use the environment variable that holds it (like $$TROVE_DATA) so the local rig can point it elsewhere`, where('command'))
      }
    }
    const mode = raw.network_mode
    const m = typeof mode === 'string' ? /^service:(.+)$/.exec(mode) : null
    if (m === null) throw new RigConfigError('a scenario runs on one peer: "network_mode: service:<peer>"', where('network_mode'))
    return { ...base, kind: 'script', role, script, on: m[1] }
  }

  if (raw.entrypoint !== undefined) throw new RigConfigError('bootstrap and peer services use the image\'s entrypoint (rig/entrypoint.mjs); remove "entrypoint"', where('entrypoint'))
  if (raw.network_mode !== undefined) throw new RigConfigError('only scenarios may share another service\'s network', where('network_mode'))
  const command = stringList(raw.command, name, 'command')
  if (command === undefined || command[0] !== 'start') throw new RigConfigError('a node\'s command is "[start, <trove start flags>]"', where('command'))
  const flags = startFlags(command.slice(1), name)
  const bootstrapFrom: string[] = []
  for (const f of flags) {
    if (f.flag === '--listen') {
      for (const v of f.values) {
        if (!LISTEN_RE.test(v)) throw new RigConfigError(`--listen ${v}: the rig maps /ip4/<address>/tcp/<port> only`, where('command'))
      }
    }
    if (f.flag === '--bootstrap') {
      for (const v of f.values) {
        if (!v.startsWith(SERVICE_REF)) throw new RigConfigError(`--bootstrap ${v}: name the service instead ("${SERVICE_REF}<service>"), whose address is only known once it runs`, where('command'))
        bootstrapFrom.push(v.slice(SERVICE_REF.length))
      }
    }
    if (f.flag === '--api' && !/^(?:127\.0\.0\.1:)?\d{1,5}$/.test(f.values[0])) {
      throw new RigConfigError(`--api ${f.values[0]}: the API stays on loopback ("127.0.0.1:<port>" or "<port>")`, where('command'))
    }
    if (f.flag === '--swarm-key' && mountFor(volumes, f.values[0]) === undefined) {
      throw new RigConfigError(`--swarm-key ${f.values[0]} must be a file inside one of this service's volumes`, where('command'))
    }
  }
  if (!flags.some((f) => f.flag === '--listen')) throw new RigConfigError('a node needs --listen /ip4/<address>/tcp/<port>', where('command'))
  const maxSize = flags.find((f) => f.flag === '--max-size')?.values[0]
  if (role === 'bootstrap' && env.TROVE_RIG_PUBLISH === undefined) {
    throw new RigConfigError('the bootstrap peer publishes its address for the others: set TROVE_RIG_PUBLISH to a file in a shared volume', where('environment.TROVE_RIG_PUBLISH'))
  }
  const node: NodeService = { ...base, kind: 'node', role, flags, bootstrapFrom }
  if (maxSize !== undefined) node.maxSize = maxSize
  return node
}

function startFlags (args: string[], service: string): StartFlag[] {
  const out: StartFlag[] = []
  let i = 0
  while (i < args.length) {
    let arg = args[i++]
    let inline: string | undefined
    const eq = arg.indexOf('=')
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1)
      arg = arg.slice(0, eq)
    }
    const arity = START_FLAGS.get(arg)
    if (arity === undefined) {
      throw new RigConfigError(`"${arg}" is not a trove start flag the rig knows (${[...START_FLAGS.keys()].join(', ')}; --data comes from TROVE_DATA)`, { service, field: 'command' })
    }
    const values: string[] = inline !== undefined ? [inline] : []
    if (inline === undefined) {
      while (i < args.length && !args[i].startsWith('--') && (arity === -1 || values.length < arity)) values.push(args[i++])
    }
    if ((arity === -1 && values.length === 0) || (arity >= 0 && values.length !== arity)) {
      throw new RigConfigError(`${arg} takes ${arity === -1 ? 'one or more values' : arity === 0 ? 'no value' : `${arity} value`}`, { service, field: 'command' })
    }
    out.push({ flag: arg, values })
  }
  return out
}

function environmentOf (raw: unknown, service: string): Record<string, string> {
  const env: Record<string, string> = {}
  if (raw === undefined || raw === null) return env
  const put = (key: string, value: unknown): void => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new RigConfigError(`"${key}" is not a variable name`, { service, field: 'environment' })
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new RigConfigError('values must be strings (a value taken from the host\'s environment cannot be reproduced)', { service, field: `environment.${key}` })
    }
    env[key] = unescapeDollars(String(value), service, `environment.${key}`)
  }
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (typeof item !== 'string' || !item.includes('=')) throw new RigConfigError('list items must be KEY=VALUE', { service, field: 'environment' })
      const eq = item.indexOf('=')
      put(item.slice(0, eq), item.slice(eq + 1))
    }
  } else if (isRecord(raw)) {
    for (const [k, v] of Object.entries(raw)) put(k, v)
  } else {
    throw new RigConfigError('must be a mapping or a list of KEY=VALUE', { service, field: 'environment' })
  }
  return env
}

function mountsOf (raw: unknown, service: string, declared: Set<string>): VolumeMount[] {
  if (raw === undefined) return []
  if (!Array.isArray(raw)) throw new RigConfigError('must be a list of "volume:/path[:ro]"', { service, field: 'volumes' })
  const out: VolumeMount[] = []
  for (const item of raw) {
    if (typeof item !== 'string') throw new RigConfigError('only the short syntax "volume:/path[:ro]" is mapped', { service, field: 'volumes' })
    const parts = item.split(':')
    const [volume, target, mode] = parts
    if (parts.length < 2 || parts.length > 3 || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
      throw new RigConfigError(`"${item}" is not "volume:/path[:ro]"`, { service, field: 'volumes' })
    }
    if (volume.startsWith('.') || volume.startsWith('/') || volume.startsWith('~')) {
      throw new RigConfigError(`"${item}" is a bind mount; the rig maps named volumes only (each becomes a directory of the run)`, { service, field: 'volumes' })
    }
    if (!declared.has(volume)) throw new RigConfigError(`volume "${volume}" is not declared under the top-level "volumes"`, { service, field: 'volumes' })
    if (!path.posix.isAbsolute(target) || path.posix.normalize(target) !== target || target === '/') {
      throw new RigConfigError(`"${target}" must be a normalized absolute path below /`, { service, field: 'volumes' })
    }
    if (out.some((v) => v.target === target)) throw new RigConfigError(`two volumes mounted on ${target}`, { service, field: 'volumes' })
    out.push({ volume, target, readOnly: mode === 'ro' })
  }
  return out
}

function dependenciesOf (raw: unknown, service: string): Dependency[] {
  if (raw === undefined || raw === null) return []
  if (Array.isArray(raw)) {
    return raw.map((s) => {
      if (typeof s !== 'string') throw new RigConfigError('list items must be service names', { service, field: 'depends_on' })
      return { service: s, condition: 'service_started' as const }
    })
  }
  if (!isRecord(raw)) throw new RigConfigError('must be a list of services or a mapping of service to { condition }', { service, field: 'depends_on' })
  return Object.entries(raw).map(([dep, spec]) => {
    const condition = isRecord(spec) ? spec.condition ?? 'service_started' : spec === null ? 'service_started' : undefined
    if (typeof condition !== 'string' || !CONDITIONS.has(condition as DependCondition)) {
      throw new RigConfigError(`condition must be one of ${[...CONDITIONS].join(', ')}`, { service, field: `depends_on.${dep}` })
    }
    if (isRecord(spec)) {
      for (const k of Object.keys(spec)) if (k !== 'condition') throw new RigConfigError('only "condition" is mapped', { service, field: `depends_on.${dep}.${k}` })
    }
    return { service: dep, condition: condition as DependCondition }
  })
}

/** Cross-service checks: what a service names exists and has the right shape. */
function checkReferences (services: Map<string, RigService>): void {
  const bootstraps = [...services.values()].filter((s) => s.role === 'bootstrap')
  if (bootstraps.length !== 1) throw new RigConfigError(`the rig needs exactly one service with role bootstrap, found ${bootstraps.length}`, { field: 'services' })
  for (const s of services.values()) {
    for (const d of s.dependsOn) {
      const target = services.get(d.service)
      if (target === undefined) throw new RigConfigError(`depends on "${d.service}", which is not a service`, { service: s.name, field: `depends_on.${d.service}` })
      if (d.condition === 'service_completed_successfully' && target.kind !== 'script') {
        throw new RigConfigError(`"${d.service}" is a node that runs until stopped; only scenarios complete`, { service: s.name, field: `depends_on.${d.service}` })
      }
    }
    if (s.kind === 'node') {
      for (const from of s.bootstrapFrom) {
        const target = services.get(from)
        if (target?.kind !== 'node' || target.env.TROVE_RIG_PUBLISH === undefined) {
          throw new RigConfigError(`--bootstrap ${SERVICE_REF}${from}: "${from}" must be a node service that publishes its address (TROVE_RIG_PUBLISH)`, { service: s.name, field: 'command' })
        }
        if (!s.dependsOn.some((d) => d.service === from)) {
          throw new RigConfigError(`bootstraps from "${from}" and must depend on it (compose starts it first)`, { service: s.name, field: 'depends_on' })
        }
        const published = target.env.TROVE_RIG_PUBLISH
        const publishDir = mountFor(target.volumes, published)
        const rigDir = s.env.TROVE_RIG_DIR
        const readable = rigDir !== undefined ? mountFor(s.volumes, rigDir) : undefined
        if (publishDir === undefined || readable === undefined || readable.volume !== publishDir.volume || path.posix.dirname(published) !== publishDir.target) {
          throw new RigConfigError(`reads "${from}"'s address from $TROVE_RIG_DIR/${from}.json: TROVE_RIG_DIR must be a volume "${from}" writes TROVE_RIG_PUBLISH to (${published})`, { service: s.name, field: 'environment.TROVE_RIG_DIR' })
        }
        if (path.posix.basename(published) !== `${from}.json`) {
          throw new RigConfigError(`must be <dir>/${from}.json so that peers find it as ${SERVICE_REF}${from}`, { service: from, field: 'environment.TROVE_RIG_PUBLISH' })
        }
      }
    } else {
      const on = services.get(s.on)
      if (on?.kind !== 'node') throw new RigConfigError(`"${s.on}" is not a node service`, { service: s.name, field: 'network_mode' })
      if (on.dataVolume !== s.dataVolume) {
        throw new RigConfigError(`runs on "${s.on}" and must mount its data volume "${on.dataVolume}" where TROVE_DATA points, so trove reaches that node`, { service: s.name, field: 'volumes' })
      }
      if (!s.dependsOn.some((d) => d.service === s.on)) throw new RigConfigError(`runs on "${s.on}" and must depend on it`, { service: s.name, field: 'depends_on' })
    }
  }
}

function topoOrder (services: Map<string, RigService>): string[] {
  const order: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, trail: string[]): void => {
    const st = state.get(name)
    if (st === 'done') return
    if (st === 'visiting') throw new RigConfigError(`dependency cycle: ${[...trail, name].join(' -> ')}`, { service: name, field: 'depends_on' })
    state.set(name, 'visiting')
    for (const d of (services.get(name) as RigService).dependsOn) visit(d.service, [...trail, name])
    state.set(name, 'done')
    order.push(name)
  }
  for (const name of services.keys()) visit(name, [])
  return order
}

/** The mount holding a container path, if any. */
export function mountFor (volumes: VolumeMount[], containerPath: string): VolumeMount | undefined {
  return volumes.find((v) => containerPath === v.target || containerPath.startsWith(v.target + '/'))
}

function stringList (raw: unknown, service: string, field: string): string[] | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string' && typeof x !== 'number')) {
    throw new RigConfigError('must be a list of strings (the exec form); a single string would need a shell to split it', { service, field })
  }
  return raw.map((x) => unescapeDollars(String(x), service, field))
}

/**
 * Compose interpolates `$VAR` and `${VAR}` from the host's environment and turns `$$` into `$`.
 * The second is all the rig reproduces: a value from the host could differ between machines.
 */
function unescapeDollars (value: string, service: string, field: string): string {
  let out = ''
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    if (c !== '$') {
      out += c
      continue
    }
    if (value[i + 1] === '$') {
      out += '$'
      i++
      continue
    }
    if (/[A-Za-z_{]/.test(value[i + 1] ?? '')) {
      throw new RigConfigError(`"${value.slice(i, i + 20)}..." is compose interpolation from the host's environment; write $$ for a $ the container's shell should see`, { service, field })
    }
    out += c
  }
  return out
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function escapeRe (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
