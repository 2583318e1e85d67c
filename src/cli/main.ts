/**
 * Entry point of the `tdxpa` command: global options, the subcommand table, and the one place that turns
 * errors into exit statuses.
 *
 * `main` never throws and never prints a stack trace. A user mistake ({@link UsageError}, or a typed
 * `TdxpaError` from the library naming a value and its range) prints one line `tdxpa: <message>` on
 * stderr and exits 2; anything else is a bug and prints `tdxpa: internal error: <message>`, exit 70.
 * `bin/tdxpa.js` calls {@link runFromProcess} from `dist/cli/tdxpa.bundle.cjs` (with its V8 code cache) or
 * `dist/cli/tdxpa.bundle.js`, this module bundled into one file by scripts/build-cli-bundle.mjs.
 */
import { readFileSync } from "node:fs";
import { isTdxpaError } from "../common/errors.js";
import { compareCommand } from "./compare.js";
import { completionCommand } from "./completion.js";
import { decodeCommand } from "./decode.js";
import { diffCommand } from "./diff.js";
import { encodeCommand } from "./encode.js";
import { execCommand, serveCommand } from "./exec.js";
import { inspectCommand } from "./inspect.js";
import { type CliIo, EXIT, oneLine, processIo, type Subcommand, UsageError } from "./io.js";
import { reportCommand } from "./report.js";
import { runCommand } from "./run.js";
import { vectorsCommand } from "./vectors.js";

export type { CliIo } from "./io.js";

/** Every subcommand, in the order `tdxpa --help` lists them. New ones (run, inspect, …) slot in here. */
export const SUBCOMMANDS: readonly Subcommand[] = [
  runCommand,
  reportCommand,
  inspectCommand,
  decodeCommand,
  encodeCommand,
  vectorsCommand,
  compareCommand,
  execCommand,
  serveCommand,
  diffCommand,
  completionCommand(() => SUBCOMMANDS),
];

/**
 * The `version` of this package's package.json, found relative to this file: `../../package.json` from
 * both `src/cli/main.ts` (tsx, vitest), `dist/cli/main.js` and `dist/cli/tdxpa.bundle.js` (the built command).
 */
export function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  const version = (pkg as { version?: unknown }).version;
  if (typeof version !== "string") throw new Error("package.json has no version string");
  return version;
}

function globalHelp(): string {
  const width = Math.max(...SUBCOMMANDS.map((c) => c.name.length)) + 3;
  return `tdxpa ${packageVersion()}: the Linux tdx_page_array hand-off and the TDX Module side, as a model

Usage: tdxpa <subcommand> [options] [arguments]
       tdxpa help [subcommand] | --help | --version

Subcommands:
${SUBCOMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Run 'tdxpa help <subcommand>' (or 'tdxpa <subcommand> --help') for its options and examples, e.g.
  tdxpa run
  tdxpa run head-page-only
  tdxpa run scenarios/no-clflush.yaml --trace run.jsonl
  tdxpa diff default head-page-only
  tdxpa decode hpa-list-info 0xFF80000012345000
  tdxpa encode hpa-list-info --root 0x12345000 --count 512

Options:
  -h, --help      show this help
  -V, --version   print the version

Exit status:
  ${EXIT.OK}   success (every value valid; a run clean or everything it found expected)
  ${EXIT.INVALID}   problems found: a value invalid or unparsable (decode), or a hazard, a conservation
      failure or an unmet expectation (run)
  ${EXIT.USAGE}   usage error: unknown subcommand, kind or option; missing or out-of-range input;
      an invalid scenario file
  ${EXIT.INTERNAL}  internal error (a bug in tdxpa)
  exec and serve also use 3 to 6 (the program failed, crashed, timed out, broke the protocol);
      see 'tdxpa exec --help'`;
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError("missing subcommand; see 'tdxpa --help'");
  if (first === "--help" || first === "-h") {
    io.out(globalHelp());
    return EXIT.OK;
  }
  if (first === "--version" || first === "-V") {
    io.out(packageVersion());
    return EXIT.OK;
  }
  if (first === "help") return helpCommand(rest, io);
  if (first.startsWith("-") && first !== "-")
    throw new UsageError(`unknown option '${first}'; see 'tdxpa --help'`);
  const cmd = SUBCOMMANDS.find((c) => c.name === first);
  if (cmd === undefined) {
    const names = SUBCOMMANDS.map((c) => c.name).join(", ");
    throw new UsageError(`unknown subcommand '${first}'; subcommands: ${names}; see 'tdxpa --help'`);
  }
  // `--help` / `-h` anywhere before `--` shows the subcommand's help, whatever else was given.
  const end = rest.indexOf("--");
  if ((end < 0 ? rest : rest.slice(0, end)).some((a) => a === "--help" || a === "-h")) {
    io.out(cmd.help);
    return EXIT.OK;
  }
  return cmd.run(rest, io);
}

/** `tdxpa help [subcommand]`: the global help, or one subcommand's. */
function helpCommand(args: string[], io: CliIo): number {
  if (args.length === 0) {
    io.out(globalHelp());
    return EXIT.OK;
  }
  const names = SUBCOMMANDS.map((c) => c.name).join(", ");
  if (args.length > 1)
    throw new UsageError(`help: one subcommand at most, got ${args.length}; subcommands: ${names}`);
  const cmd = SUBCOMMANDS.find((c) => c.name === args[0]);
  if (cmd === undefined) throw new UsageError(`help: unknown subcommand '${args[0]}'; subcommands: ${names}`);
  io.out(cmd.help);
  return EXIT.OK;
}

/** Prints one line for `e` on stderr and returns the exit status; never throws. */
function reportError(e: unknown, io: CliIo): number {
  const user = e instanceof UsageError || isTdxpaError(e);
  const message = oneLine(e instanceof Error ? e.message : String(e));
  try {
    io.err(user ? `tdxpa: ${message}` : `tdxpa: internal error: ${message}`);
  } catch {
    // stderr itself failed: nothing more can be said.
  }
  return user ? EXIT.USAGE : EXIT.INTERNAL;
}

/**
 * Runs `tdxpa` with `argv` (the arguments after the command name) and returns its exit status: 0 done,
 * 1 some value invalid, 2 usage error, 70 internal error. Never throws.
 * @example await main(["decode", "status", "0xC000010000000001"], io) // 0
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    return reportError(e, io);
  }
}

/**
 * Runs `tdxpa` on `process.argv` with the real stdin/stdout/stderr and sets `process.exitCode`
 * (the process ends by itself, so buffered output is flushed). A closed stdout pipe (`| head`) ends
 * the process quietly.
 */
export function runFromProcess(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit();
    process.stderr.write(`tdxpa: internal error: ${oneLine(e.message)}\n`);
    process.exit(EXIT.INTERNAL);
  });
  main(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      // Unreachable (main never throws); kept so a bug still ends with one line and status 70.
      process.stderr.write(`tdxpa: internal error: ${oneLine(String(e))}\n`);
      process.exitCode = EXIT.INTERNAL;
    },
  );
}
