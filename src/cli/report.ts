/**
 * `tdxpa report [scenario] --out FILE`: runs a scenario (the default one when no file is given) and
 * writes a self-contained HTML report of the run: the page map scrubbed step by step, the SEAMCALL
 * timeline with decoded operands and root pages, the run's figures and its hazards. The file has its
 * script, styles and data inline and references no URL, so it opens from disk. It is written to a
 * temporary file and renamed into place by the CLI's one output writer (output-file.ts), so an error or a
 * signal never leaves a partial report.
 *
 * The page's script is the bundle of src/report/page/main.ts that `npm run build` puts in
 * dist/report/page.bundle.js; it decodes with the same core code the CLI uses.
 */
import { readFileSync } from "node:fs";
import { escapeControls } from "../common/errors.js";
import { buildReport } from "../report/build.js";
import { renderReportHtml } from "../report/html.js";
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
import { inScenario, scenarioFromArgs, scenarioSource } from "./scenario-file.js";

const OPTIONS: OptionSpec = {
  out: { type: "string", short: "o" },
  json: { type: "boolean" },
};

const HELP = `Usage: tdxpa report [scenario.yaml|scenario.json] --out FILE [--json]

Runs a scenario on a fresh simulated machine (the default scenario when no file is given) and writes
one self-contained HTML file showing the run: a map of every page involved, coloured by state (host
free, host held, module-owned by PAMT type and object, stranded, hazard), scrubbed step by step with
a slider; the SEAMCALL timeline with decoded operands, statuses, interrupts and resumptions (click a
call for its root page decoded and the pages it touched); the run's figures and each hazard with its
page and the call that caused it. The file needs no server and no network: open it from disk.

Options:
  -o, --out FILE   where to write the report (required): a regular file, written atomically
                   (docs/FILES.md); '-' writes it to standard output, the summary to stderr
  --json           print a one-line JSON summary instead of the text line
  -h, --help       show this help

Exit status: 0 clean (or everything found was expected), 1 hazard, conservation failure or unmet
expectation (the report is written either way), 2 usage error or invalid scenario.

Examples:
  tdxpa report --out report.html
  tdxpa report scenarios/no-clflush.yaml --out no-clflush.html
  tdxpa report scenarios/pool-1m.yaml -o pool.html`;

/** Where `npm run build` puts the page bundle: `../../dist/report/` from src/cli and dist/cli alike. */
const BUNDLE_URL = new URL("../../dist/report/page.bundle.js", import.meta.url);

/** Reads the built page script, or fails with one line saying how to build it. */
export function readPageBundle(): string {
  try {
    return readFileSync(BUNDLE_URL, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(
      `report: the report page is not built (${code ?? (e as Error).message}: dist/report/page.bundle.js); run 'npm run build'`,
    );
  }
}

/** The `report` subcommand. */
export const reportCommand: Subcommand = {
  name: "report",
  summary: "run a scenario and write a self-contained HTML report of it (page map, timeline, hazards)",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("report", args, OPTIONS);
    const out = values.out;
    if (typeof out !== "string" || out === "")
      throw new UsageError("report: --out FILE is required; see 'tdxpa report --help'");
    const scenario = scenarioFromArgs("report", positionals);
    // Checked before the run: a device, a FIFO, a dangling link or the scenario itself is refused.
    const file = openOutput(out, {
      cmd: "report",
      option: "--out",
      inputs: positionals,
      ...(io.write === undefined ? {} : { stdout: io.write }),
    });
    const progress = startProgress(io, "report");
    let html: string;
    let built: ReturnType<typeof buildReport>;
    try {
      const bundle = readPageBundle();
      built = inScenario(scenarioSource(positionals), () =>
        buildReport(scenario, {
          progress: (done, total, label) => progress.update(done, total, `step ${done}/${total} ${label}`),
        }),
      );
      progress.end();
      html = renderReportHtml(built.model, bundle);
      file.write(html);
      file.commit();
    } catch (e) {
      file.abort();
      throw e;
    }
    const { model, run } = built;
    // With the page on standard output, the summary goes to standard error.
    const say = file.toStdout ? io.err : io.out;
    const f = model.figures;
    const summary = {
      out,
      bytes: Buffer.byteLength(html),
      scenario: model.scenario,
      /** The host's SEAMCALLs (the runner issues none of its own; `bookkeepingCalls` stays 0). */
      calls: run.totals.calls,
      bookkeepingCalls: run.totals.bookkeepingCalls,
      /** The scenario's own steps. */
      steps: scenario.steps.length,
      /** Positions of the page map's time slider (each SEAMCALL, each batch of host actions). */
      positions: f.steps,
      pages: f.pagesInvolved,
      hazards: f.hazards,
      ok: run.ok,
      verdict: run.verdict,
      exitCode: run.exitCode,
    };
    if (values.json === true) say(jsonLine(summary));
    else
      say(
        `report: ${escapeControls(out)} (${(summary.bytes / 1024).toFixed(0)} KiB): ${summary.steps} scenario steps, ${summary.calls} SEAMCALLs by the host, ${f.pagesInvolved} pages on the map, ${f.hazards} hazards; result: ${run.verdict} (exit ${run.exitCode})`,
      );
    return run.exitCode === 0 ? EXIT.OK : EXIT.INVALID;
  },
};
