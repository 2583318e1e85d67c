/**
 * `tdxpa run [scenario]`: the main job. Runs a scenario file (YAML or JSON), or the default scenario,
 * on a fresh simulated machine and prints a short report; `--trace` writes every event; `--json`
 * prints the report as JSON. Exit 0 when clean, 1 when a hazard, a conservation failure or an unmet
 * expectation was found, 2 for a usage error or an invalid scenario.
 */
import { escapeControls } from "../common/errors.js";
import { renderReport } from "../scenario/report-text.js";
import { type RunReport, runScenario } from "../scenario/runner.js";
import {
  EXIT,
  jsonLine,
  type OptionSpec,
  parseCommandArgs,
  type Subcommand,
  startProgress,
  UsageError,
} from "./io.js";
import { openOutput } from "./output-file.js";
import { inScenario, resolveScenarioPath, scenarioFromArgsOrStdin, scenarioSource } from "./scenario-file.js";
import { openTrace, type TraceFormat, type TraceWriter, traceFormatOf } from "./trace-file.js";

const OPTIONS: OptionSpec = {
  trace: { type: "string" },
  "trace-format": { type: "string" },
  json: { type: "boolean" },
  "no-page-events": { type: "boolean" },
};

const HELP = `Usage: tdxpa run [scenario] [options]

Runs a scenario on a fresh simulated machine (the default scenario when none is given: extensions
bring-up, IOMMU setup, an SPDM session and an IDE stream per device, full teardown) and prints each
step with what happened (ok, failed as expected with its status, FAILED), its SEAMCALLs by leaf and
status, pages and MiB by state, interrupts, hazards, and the page conservation check; the verdict is
clean, findings (all expected) or problems found. A scenario is a file (YAML or JSON), the name of a
shipped one (e.g. head-page-only), or - for standard input.

Options:
  --trace FILE            write every event (SEAMCALLs decoded, host kAPI calls, page state changes,
                          allocations, frees, hazards, model reports, steps) to FILE, a regular file
                          written atomically ('-': standard output, the report then goes to stderr)
  --trace-format FORMAT   jsonl (JSON Lines) or chrome (Trace Event format for Perfetto and
                          chrome://tracing); default: chrome for FILE.json, else jsonl
  --no-page-events        leave per-page events (PAMT changes, frees) out of the trace
  --json                  print the report as one JSON object
  -h, --help              show this help

Exit status: 0 clean (or everything found was expected), 1 hazard, conservation failure or unmet
expectation, 2 usage error or invalid scenario.

Examples:
  tdxpa run
  tdxpa run head-page-only
  tdxpa run scenarios/no-clflush.yaml
  tdxpa run scenarios/default.yaml --trace run.jsonl
  tdxpa run --trace run.json                    # Chrome / Perfetto format, inferred from .json
  cat my.yaml | tdxpa run -
  tdxpa run pool-1m --json`;

/** The `run` subcommand. */
export const runCommand: Subcommand = {
  name: "run",
  summary: "run a scenario (or the default bring-up) on a simulated machine and report",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("run", args, OPTIONS);
    const format =
      (values["trace-format"] as string | undefined) ??
      (typeof values.trace === "string" ? traceFormatOf(values.trace) : "jsonl");
    if (format !== "jsonl" && format !== "chrome")
      throw new UsageError(`run: --trace-format: "${format}" is not jsonl or chrome`);
    if (values["trace-format"] !== undefined && values.trace === undefined)
      throw new UsageError("run: --trace-format needs --trace FILE");
    const scenario = await scenarioFromArgsOrStdin("run", positionals, io);
    const source = scenarioSource(positionals);
    let trace: TraceWriter | null = null;
    if (typeof values.trace === "string") {
      const out = openOutput(values.trace, {
        cmd: "run",
        option: "--trace",
        inputs: positionals.filter((p) => p !== "-").map(resolveScenarioPath),
        ...(io.write === undefined ? {} : { stdout: io.write }),
      });
      trace = openTrace(out, format as TraceFormat, scenario.name, {
        iommus: scenario.platform.iommus,
        devices: scenario.platform.devices ?? [],
      });
    }
    // With the trace on standard output, the report goes to standard error.
    const say = trace !== null && values.trace === "-" ? io.err : io.out;
    let report: RunReport;
    const progress = startProgress(io, "run");
    try {
      report = inScenario(source, () =>
        runScenario(scenario, {
          pageEvents: values["no-page-events"] !== true,
          ...(trace === null ? {} : { onEvent: trace.sink }),
          progress: (done, total, label) => progress.update(done, total, `step ${done}/${total} ${label}`),
        }),
      );
      trace?.commit();
    } catch (e) {
      trace?.abort();
      throw e;
    }
    progress.end();
    if (values.json === true)
      say(jsonLine({ ...report, trace: values.trace ?? null, traceEvents: trace?.events() ?? 0 }));
    else {
      say(renderReport(report));
      if (trace !== null)
        say(`trace: ${escapeControls(String(values.trace))} (${format}, ${trace.events()} events)`);
    }
    return report.exitCode === 0 ? EXIT.OK : EXIT.INVALID;
  },
};
