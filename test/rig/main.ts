/**
 * `npm run rig [-- --netns] [--compose FILE] [--scenario NAME]... [--keep] [--json] [--quiet]`:
 * runs the docker-compose.yml topology as local processes (docs/rig.md), prints a summary and
 * exits non-zero when a scenario failed.
 */
import { parseArgs } from 'node:util'
import { SCENARIOS } from './scenarios.js'
import { formatSummary, NetnsUnavailableError, RigConfigError, runRig } from './run.js'

const USAGE = `usage: npm run rig -- [--netns] [--compose FILE] [--scenario NAME]... [--keep] [--json] [--quiet]
  --netns       each node in its own network namespace and address (root; ip netns + veth)
  --compose     compose file to map (default: the repository's docker-compose.yml)
  --scenario    run only these of the rig's scenarios (${SCENARIOS.map((s) => s.name).join(', ')});
                the compose file's own scenario services always run
  --keep        keep the run's data directories and logs
  --json        print the summary as JSON
  --quiet       no progress lines on stderr`

async function main (): Promise<void> {
  let values
  try {
    ({ values } = parseArgs({
      options: {
        netns: { type: 'boolean' },
        compose: { type: 'string' },
        scenario: { type: 'string', multiple: true },
        keep: { type: 'boolean' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true
    }))
  } catch (err) {
    process.stderr.write(`rig: ${(err as Error).message}\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  if (values.help === true) {
    process.stdout.write(USAGE + '\n')
    return
  }
  try {
    const summary = await runRig({
      compose: values.compose,
      netns: values.netns,
      scenarios: values.scenario,
      keep: values.keep,
      log: values.quiet === true ? undefined : (line) => { process.stderr.write(`rig: ${line}\n`) }
    })
    if (values.json === true) {
      process.stdout.write(JSON.stringify(summary, (k, v: unknown) => v instanceof Error ? Object.assign({ message: v.message }, v) : v, 2) + '\n')
    } else {
      process.stdout.write(formatSummary(summary) + '\n')
    }
    if (summary.failed > 0) process.exitCode = 1
  } catch (err) {
    if (err instanceof RigConfigError || err instanceof NetnsUnavailableError) {
      process.stderr.write(`rig: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    throw err
  }
}

await main()
