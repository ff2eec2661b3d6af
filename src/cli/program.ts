import { Command, CommanderError } from 'commander'
import { InvalidArgumentError } from '../errors.js'
import { VERSION } from '../version.js'
import { registerBlobCommands } from './commands/blobs.js'
import { registerDirCommands } from './commands/dirs.js'
import { registerGetCommand } from './commands/get.js'
import { registerNodeCommands } from './commands/node.js'
import { registerRefCommands } from './commands/refs.js'
import { registerStartCommand } from './commands/start.js'
import { registerSpaceCommands } from './commands/space.js'
import { registerUiCommand } from './commands/ui.js'
import { reportError, type GlobalOptions } from './output.js'

export function buildProgram (): Command {
  const program = new Command('trove')
    .description('peer-to-peer content-addressed sharing for lab machines')
    // -V only: `--version` belongs to `ref get KEY --version N`; run() answers a leading --version
    .version(VERSION, '-V')
    .option('--json', 'machine-readable output (and JSON errors on stdout)')
    .option('--data <dir>', 'data directory (default: $TROVE_DATA, else ~/.trove)')
    .showSuggestionAfterError()
    // usage errors are reported by run() like every other error: one line, or JSON with --json
    .configureOutput({ outputError: () => {} })
    .exitOverride()
  const globals = (): GlobalOptions => program.opts<GlobalOptions>()
  registerNodeCommands(program, globals)
  registerBlobCommands(program, globals)
  registerGetCommand(program, globals)
  registerDirCommands(program, globals)
  registerRefCommands(program, globals)
  registerStartCommand(program, globals)
  registerSpaceCommands(program, globals)
  registerUiCommand(program, globals)
  for (const cmd of allCommands(program)) cmd.exitOverride()
  return program
}

function allCommands (cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)])
}

/** Runs the CLI; resolves to the process exit code. */
export async function run (argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  if (asksForVersion(argv.slice(2))) {
    process.stdout.write((json ? JSON.stringify({ version: VERSION }) : VERSION) + '\n')
    return 0
  }
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0
      // a command group run without a subcommand: commander already printed its help on stderr
      if (err.code === 'commander.help') return 2
      const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()
      return reportError(new InvalidArgumentError(message, { cause: err }), json)
    }
    return reportError(err, json)
  }
}

/** `trove [--json] [--data DIR] -V|--version`; `--version` after a command is that command's own option. */
function asksForVersion (args: string[]): boolean {
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--json' || args[i].startsWith('--data=')) continue
    if (args[i] === '--data') {
      i++
      continue
    }
    rest.push(args[i])
  }
  return rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')
}
