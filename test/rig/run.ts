import { fileURLToPath } from 'node:url'
import { loadCompose } from './compose-map.js'
import { NetnsUnavailableError, RigConfigError } from './errors.js'
import { Rig } from './rig.js'
import { composeResults, runScenario, SCENARIOS, type ScenarioResult } from './scenarios.js'

/** Where the built CLI and the repository's rig files are, seen from this compiled module. */
export const RIG_PATHS = {
  trovebin: fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url)),
  entrypoint: fileURLToPath(new URL('../../../rig/entrypoint.mjs', import.meta.url)),
  compose: fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url))
}

export interface RunOptions {
  compose?: string
  netns?: boolean
  /** Only these scenarios (names from SCENARIOS); the compose file's own always run with `up`. */
  scenarios?: string[]
  /** Keep the run's directory (data, logs) instead of removing it. */
  keep?: boolean
  log?: (line: string) => void
  parentDir?: string
}

export interface NodeSummary {
  service: string
  role: string
  address?: string
  peerId?: string
  ok: boolean
  detail: string
}

export interface RigSummary {
  compose: string
  mode: 'local' | 'netns'
  dir: string
  kept: boolean
  nodes: NodeSummary[]
  scenarios: ScenarioResult[]
  passed: number
  failed: number
  skipped: number
  ms: number
}

/**
 * The whole run: map the compose file, start its services in dependency order (its scenario
 * services included), run the rig's own scenarios, stop everything it started.
 */
export async function runRig (options: RunOptions = {}): Promise<RigSummary> {
  const t0 = Date.now()
  const compose = options.compose ?? RIG_PATHS.compose
  const plan = await loadCompose(compose)
  const wanted = options.scenarios ?? SCENARIOS.map((s) => s.name)
  for (const w of wanted) {
    if (!SCENARIOS.some((s) => s.name === w)) throw new RigConfigError(`unknown scenario "${w}" (known: ${SCENARIOS.map((s) => s.name).join(', ')})`)
  }
  const rig = await Rig.create(plan, { ...RIG_PATHS, netns: options.netns, log: options.log, parentDir: options.parentDir })
  const stopOnSignal = (): void => { void rig.down({ keep: options.keep }).finally(() => process.exit(130)) }
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  const scenarios: ScenarioResult[] = []
  const nodes: NodeSummary[] = []
  try {
    const up = await rig.up()
    scenarios.push(...composeResults(up.scripts))
    const allUp = up.nodes.every((n) => n.ok) && up.nodes.length === [...plan.services.values()].filter((s) => s.kind === 'node').length
    for (const s of SCENARIOS.filter((x) => wanted.includes(x.name))) {
      if (!allUp) {
        scenarios.push({ name: s.name, status: 'skipped', ms: 0, detail: 'not every node of the compose file came up (see above)' })
        continue
      }
      options.log?.(`scenario ${s.name}: ${s.description}`)
      scenarios.push(await runScenario(rig, s))
    }
    for (const name of plan.order) {
      const service = plan.services.get(name)
      if (service?.kind !== 'node') continue
      const started = up.nodes.find((n) => n.service === name)
      const running = rig.nodes.get(name)
      const entry: NodeSummary = { service: name, role: service.role, ok: started?.ok === true, detail: started?.detail ?? 'not started' }
      if (running !== undefined) {
        entry.address = running.host.address
        entry.peerId = running.start.peerId
      }
      if (started?.error !== undefined) entry.detail = started.error.message
      nodes.push(entry)
    }
  } finally {
    process.removeListener('SIGINT', stopOnSignal)
    process.removeListener('SIGTERM', stopOnSignal)
    await rig.down({ keep: options.keep })
  }
  const count = (st: ScenarioResult['status']): number => scenarios.filter((s) => s.status === st).length
  const failedNodes = nodes.filter((n) => !n.ok).length
  return {
    compose,
    mode: rig.hosts.kind,
    dir: rig.dir,
    kept: options.keep === true,
    nodes,
    scenarios,
    passed: count('passed'),
    failed: count('failed') + failedNodes,
    skipped: count('skipped'),
    ms: Date.now() - t0
  }
}

/** The summary a person reads; failures with their peer, step and log tail. */
export function formatSummary (s: RigSummary): string {
  const lines: string[] = []
  lines.push(`trove rig (${s.mode}) from ${s.compose}`)
  for (const n of s.nodes) lines.push(`  ${n.ok ? 'up  ' : 'DOWN'} ${n.service.padEnd(12)} ${n.role.padEnd(9)} ${n.address ?? ''} ${n.peerId ?? ''}${n.ok ? '' : `  ${n.detail}`}`)
  lines.push('scenarios:')
  for (const r of s.scenarios) {
    const mark = r.status === 'passed' ? 'PASS' : r.status === 'failed' ? 'FAIL' : 'SKIP'
    lines.push(`  ${mark} ${r.name.padEnd(18)} ${(r.ms / 1000).toFixed(1).padStart(5)} s  ${r.detail}`)
  }
  for (const r of s.scenarios) {
    if (r.error === undefined) continue
    lines.push('', `${r.name} failed on peer "${r.error.peer}" at step "${r.error.step}"; log tail:`, indent(r.error.logTail))
  }
  if (s.kept) lines.push('', `data and logs kept in ${s.dir}`)
  lines.push('', `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped (${(s.ms / 1000).toFixed(1)} s)`)
  return lines.join('\n')
}

function indent (text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n')
}

export { NetnsUnavailableError, RigConfigError }
