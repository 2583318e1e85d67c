/**
 * `tdxpa exec [scenario] [options] -- PROGRAM [ARGS…]` and `tdxpa serve --socket PATH [scenario]`: run
 * a host program written in C (built against the shims in c/, docs/C-HARNESS.md) against the emulator
 * over the wire protocol (docs/PROTOCOL.md), and print the same report as `tdxpa run`. The scenario
 * file gives the platform and the module's behaviours and interrupts; its steps and host policy are
 * not used (the program is the host). Traces and the HTML report work as on scenario runs.
 */
import type { ModelEvent } from "../observe/events.js";
import { ReportCollector } from "../report/collector.js";
import { renderReportHtml } from "../report/html.js";
import { renderReport } from "../scenario/report-text.js";
import type { Scenario } from "../scenario/schema.js";
import { EXEC_EXIT, type ExecOutcome, execProgram, SpawnError, serveOnce } from "./exec-host.js";
import {
  type CliIo,
  jsonLine,
  type OptionSpec,
  parseCommandArgs,
  type Subcommand,
  UsageError,
} from "./io.js";
import { openOutput } from "./output-file.js";
import { readPageBundle } from "./report.js";
import { scenarioFromArgs } from "./scenario-file.js";
import { openTrace, type TraceFormat, type TraceWriter } from "./trace-file.js";

const COMMON: OptionSpec = {
  trace: { type: "string" },
  "trace-format": { type: "string" },
  "no-page-events": { type: "boolean" },
  report: { type: "string" },
  json: { type: "boolean" },
  timeout: { type: "string" },
};

const EXIT_TEXT = `Exit status: 0 the program exited 0 and nothing was found; 1 findings (a hazard, a model report,
a conservation failure, a kernel warning, pages not freed, allocator misuse); 2 usage error or the
program could not be started; 3 the program exited non-zero; 4 the program was killed by a signal
(named in the last line); 5 --timeout expired and the program was killed; 6 the program broke the
protocol (malformed, oversized or truncated frame, replies not read). When several apply, the first
of 5, 4, 6, 3, 1 is the status.`;

const EXEC_HELP = `Usage: tdxpa exec [scenario.yaml|scenario.json] [options] -- PROGRAM [ARGS...]

Builds a machine (the scenario's platform, module behaviours and interrupts; the default
scenario's without one; its steps and host policy are not used: PROGRAM is the host), starts PROGRAM with the protocol
channel connected (an inherited socket, its descriptor number in TDXPA_FD), serves it until it exits,
then prints the same report as 'tdxpa run': SEAMCALLs by leaf and status per top-level function the
program marked, pages by state, hazards with the page and the call that caused them, conservation.
PROGRAM is a host built against the C shims (docs/C-HARNESS.md); its own output goes to stderr.

Options:
  --timeout SECONDS       kill the program (and its children) after SECONDS (default: no limit)
  --trace FILE            write every event to FILE (SEAMCALLs name the program's function)
  --trace-format FORMAT   jsonl (default) or chrome
  --no-page-events        leave per-page events out of the trace
  --report FILE.html      write the self-contained HTML report of the run
  --json                  print the report as one JSON object
  -h, --help              show this help

${EXIT_TEXT}

Examples:
  make -C c && tdxpa exec -- c/build/tdx_host
  tdxpa exec --timeout 60 --trace run.jsonl -- c/build/tdx_host_head_page_only
  tdxpa exec scenarios/no-tdx-iommu.yaml --report host.html -- ./my_host`;

const SERVE_HELP = `Usage: tdxpa serve --socket PATH [scenario.yaml|scenario.json] [options]

Like 'tdxpa exec', but listens on the Unix socket PATH for one program started separately (under gdb
or valgrind, say) with TDXPA_SOCKET=PATH, serves it until it closes the channel, removes the socket
and prints the report. PATH must not exist.

Options:
  --socket PATH           where to listen (required)
  --timeout SECONDS       give up when no program finished within SECONDS
  --trace FILE, --trace-format FORMAT, --no-page-events, --report FILE.html, --json: as for exec
  -h, --help              show this help

${EXIT_TEXT} (3 and 4 do not apply: serve does not see the program's status.)

Examples:
  tdxpa serve --socket /tmp/tdxpa.sock &
  TDXPA_SOCKET=/tmp/tdxpa.sock gdb -ex run c/build/tdx_host`;

interface Parsed {
  readonly scenario: Scenario;
  readonly values: Record<string, string | boolean | undefined>;
  readonly timeoutMs: number;
  readonly format: TraceFormat;
}

function parseCommon(cmd: string, args: string[], extra: OptionSpec): Parsed {
  const { values, positionals } = parseCommandArgs(cmd, args, { ...COMMON, ...extra });
  const format = (values["trace-format"] ?? "jsonl") as string;
  if (format !== "jsonl" && format !== "chrome")
    throw new UsageError(`${cmd}: --trace-format: "${format}" is not jsonl or chrome`);
  if (values["trace-format"] !== undefined && values.trace === undefined)
    throw new UsageError(`${cmd}: --trace-format needs --trace FILE`);
  if (values.trace === "") throw new UsageError(`${cmd}: --trace needs a file name`);
  if (values.report === "") throw new UsageError(`${cmd}: --report needs a file name`);
  let timeoutMs = 0;
  if (values.timeout !== undefined) {
    const t = Number(values.timeout);
    if (!/^\d+(\.\d+)?$/.test(String(values.timeout)) || !(t > 0) || t > 86_400)
      throw new UsageError(`${cmd}: --timeout: "${values.timeout}" is not a number of seconds in (0, 86400]`);
    timeoutMs = Math.round(t * 1000);
  }
  return { scenario: scenarioFromArgs(cmd, positionals), values, timeoutMs, format };
}

/** Writes `text` to `path` through the CLI's one output writer (output-file.ts, docs/FILES.md). */
function writeOutput(cmd: string, path: string, text: string): void {
  const out = openOutput(path, { cmd, option: "--report" });
  try {
    out.write(text);
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
}

/** Runs one exec/serve session with traces and the HTML report around it, prints, returns the status. */
async function runWithOutputs(
  cmd: string,
  p: Parsed,
  io: CliIo,
  title: string,
  run: (
    scenario: Scenario,
    onEvent: ((e: ModelEvent) => void) | undefined,
    pageEvents: boolean,
  ) => Promise<ExecOutcome>,
): Promise<number> {
  const scenario: Scenario = { ...p.scenario, name: title };
  const bundle = typeof p.values.report === "string" ? readPageBundle() : null;
  const collector = bundle === null ? null : new ReportCollector(scenario);
  let trace: TraceWriter | null = null;
  if (typeof p.values.trace === "string") {
    const out = openOutput(p.values.trace, { cmd, option: "--trace" });
    trace = openTrace(out, p.format, title, {
      iommus: scenario.platform.iommus,
      devices: scenario.platform.devices ?? [],
    });
  }
  const pageEvents = p.values["no-page-events"] !== true || collector !== null;
  const skipPages = p.values["no-page-events"] === true;
  let outcome: ExecOutcome;
  try {
    // No trace and no HTML report: nothing listens, so the session decodes no events (ExecSessionOptions).
    outcome = await run(
      scenario,
      collector === null && trace === null
        ? undefined
        : (e) => {
            collector?.sink(e);
            if (trace !== null && !(skipPages && (e.type === "page" || e.type === "free"))) trace.sink(e);
          },
      pageEvents,
    );
  } catch (e) {
    trace?.abort();
    if (e instanceof SpawnError) throw new UsageError(`${cmd}: ${e.message}`);
    throw e;
  }
  try {
    trace?.commit();
  } catch (e) {
    trace?.abort();
    throw e;
  }
  const r = outcome.report;
  if (collector !== null && bundle !== null && typeof p.values.report === "string") {
    collector.onDone(outcome.machine);
    const model = collector.finish(r);
    writeOutput(cmd, p.values.report, renderReportHtml(model, bundle));
  }
  if (p.values.json === true)
    io.out(
      jsonLine({
        ...r,
        program: outcome.program,
        verdict: outcome.verdict,
        exitStatus: outcome.exitCode,
        wallMs: Math.round(outcome.wallMs),
        trace: p.values.trace ?? null,
        traceEvents: trace?.events() ?? 0,
        report: p.values.report ?? null,
      }),
    );
  else {
    // The run report's own verdict line speaks of findings; the last line gives the exit status.
    io.out(renderReport(r));
    if (trace !== null) io.out(`trace: ${p.values.trace} (${p.format}, ${trace.events()} events)`);
    if (typeof p.values.report === "string") io.out(`report: ${p.values.report}`);
    io.out(`${cmd}: ${outcome.verdict} (exit ${outcome.exitCode})`);
  }
  return outcome.exitCode;
}

/** The `exec` subcommand. */
export const execCommand: Subcommand = {
  name: "exec",
  summary: "run a host program written in C against the emulator (docs/C-HARNESS.md) and report",
  help: EXEC_HELP,
  async run(args, io) {
    const sep = args.indexOf("--");
    if (sep < 0 || sep === args.length - 1)
      throw new UsageError("exec: give the program after '--': tdxpa exec [options] -- PROGRAM [ARGS...]");
    const p = parseCommon("exec", args.slice(0, sep), {});
    const [program, ...rest] = args.slice(sep + 1) as [string, ...string[]];
    const onOutput = (t: string) => {
      for (const line of t.replace(/\n$/, "").split("\n")) io.err(line);
    };
    return runWithOutputs("exec", p, io, `exec ${program}`, (scenario, onEvent, pageEvents) =>
      execProgram({ scenario, program, args: rest, timeoutMs: p.timeoutMs, onEvent, pageEvents, onOutput }),
    );
  },
};

/** The `serve` subcommand. */
export const serveCommand: Subcommand = {
  name: "serve",
  summary: "listen on a Unix socket for one host program to attach (for gdb, valgrind) and report",
  help: SERVE_HELP,
  async run(args, io) {
    const p = parseCommon("serve", args, { socket: { type: "string" } });
    const socketPath = p.values.socket;
    if (typeof socketPath !== "string" || socketPath === "")
      throw new UsageError("serve: --socket PATH is required; see 'tdxpa serve --help'");
    return runWithOutputs("serve", p, io, `serve ${socketPath}`, (scenario, onEvent, pageEvents) =>
      serveOnce({
        scenario,
        socketPath,
        timeoutMs: p.timeoutMs,
        onEvent,
        pageEvents,
        onListening: () =>
          io.err(
            `tdxpa serve: listening on ${socketPath} (start the program with TDXPA_SOCKET=${socketPath})`,
          ),
      }),
    );
  },
};

export { EXEC_EXIT };
