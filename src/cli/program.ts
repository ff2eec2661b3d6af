import { Command, CommanderError } from 'commander'
import { VERSION } from '../version.js'
import { registerBlobCommands } from './commands/blobs.js'
import { registerNodeCommands } from './commands/node.js'
import { registerRefCommands } from './commands/refs.js'
import { reportError, type GlobalOptions } from './output.js'

export function buildProgram (): Command {
  const program = new Command('trove')
    .description('peer-to-peer content-addressed sharing for lab machines')
    // -V only: `--version` belongs to `ref get KEY --version N`; run() answers a leading --version
    .version(VERSION, '-V')
    .option('--json', 'machine-readable output (and JSON errors on stdout)')
    .option('--data <dir>', 'data directory (default: $TROVE_DATA, else ~/.trove)')
    .showSuggestionAfterError()
    .exitOverride()
  const globals = (): GlobalOptions => program.opts<GlobalOptions>()
  registerNodeCommands(program, globals)
  registerBlobCommands(program, globals)
  registerRefCommands(program, globals)
  for (const cmd of allCommands(program)) cmd.exitOverride()
  return program
}

function allCommands (cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)])
}

/** Runs the CLI; resolves to the process exit code. */
export async function run (argv: string[]): Promise<number> {
  if (argv[2] === '--version') {
    process.stdout.write(VERSION + '\n')
    return 0
  }
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version print and exit 0; usage errors were already printed by commander
      return err.exitCode === 0 ? 0 : 2
    }
    return reportError(err, argv.includes('--json'))
  }
}
