/**
 * `tdxpa run [scenario]`: the main job. Runs a scenario file (YAML or JSON), or the default scenario,
 * on a fresh simulated machine and prints a short report; `--trace` writes every event; `--json`
 * prints the report as JSON. Exit 0 when clean, 1 when a hazard, a conservation failure or an unmet
 * expectation was found, 2 for a usage error or an invalid scenario.
 */
import "../scenario/index.js";
import { renderReport } from "../scenario/report-text.js";
import { type RunReport, runScenario } from "../scenario/runner.js";
import { EXIT, jsonLine, type OptionSpec, parseCommandArgs, type Subcommand, UsageError } from "./io.js";
import { scenarioFromArgsOrStdin } from "./scenario-file.js";
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
                          allocations, frees, hazards, model reports, steps) to FILE
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
    let trace: TraceWriter | null = null;
    if (values.trace === "") throw new UsageError("run: --trace needs a file name");
    if (typeof values.trace === "string") {
      try {
        trace = openTrace(values.trace, format as TraceFormat, scenario.name, {
          iommus: scenario.platform.iommus,
          devices: scenario.platform.devices ?? [],
        });
      } catch (e) {
        throw new UsageError(
          `run: --trace: cannot write ${values.trace}: ${(e as { code?: string }).code ?? (e as Error).message}`,
        );
      }
    }
    let report: RunReport;
    let calls = 0;
    let last = 0;
    const progress = io.progress;
    try {
      report = runScenario(scenario, {
        pageEvents: values["no-page-events"] !== true,
        onEvent: (e) => {
          trace?.sink(e);
          if (progress !== undefined && e.type === "seamcall") {
            calls++;
            const now = Date.now();
            if (now - last > 100) {
              last = now;
              progress(`tdxpa run: ${calls} SEAMCALLs (${e.leaf})`);
            }
          }
        },
        progress: (done, total, label) => progress?.(`tdxpa run: step ${done}/${total} ${label}`),
      });
    } catch (e) {
      trace?.abort();
      throw e;
    }
    try {
      trace?.commit();
    } catch (e) {
      // The rename into place failed (a directory of that name, say): a usage error, and no file left.
      trace?.abort();
      throw new UsageError(
        `run: --trace: cannot write ${values.trace}: ${(e as { code?: string }).code ?? (e as Error).message}`,
      );
    }
    progress?.("");
    if (values.json === true)
      io.out(jsonLine({ ...report, trace: values.trace ?? null, traceEvents: trace?.events() ?? 0 }));
    else {
      io.out(renderReport(report));
      if (trace !== null) io.out(`trace: ${values.trace} (${format}, ${trace.events()} events)`);
    }
    return report.exitCode === 0 ? EXIT.OK : EXIT.INVALID;
  },
};
