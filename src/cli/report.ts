/**
 * `tdxpa report [scenario] --out FILE`: runs a scenario (the default one when no file is given) and
 * writes a self-contained HTML report of the run: the page map scrubbed step by step, the SEAMCALL
 * timeline with decoded operands and root pages, the run's figures and its hazards. The file has its
 * script, styles and data inline and references no URL, so it opens from disk. It is written to a
 * temporary file and renamed into place, so an error never leaves a partial report.
 *
 * The page's script is the bundle of src/report/page.ts that `npm run build` puts in
 * dist/report/page.bundle.js; it decodes with the same core code the CLI uses.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { buildReport } from "../report/build.js";
import { renderReportHtml } from "../report/html.js";
import { EXIT, jsonLine, type OptionSpec, parseCommandArgs, type Subcommand, UsageError } from "./io.js";
import { scenarioFromArgs } from "./scenario-file.js";

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
  -o, --out FILE   where to write the report (required); written atomically
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

/** Writes `text` to `path` through a temporary file renamed into place. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(
      `report: --out: cannot write ${path}: ${(e as { code?: string }).code ?? (e as Error).message}`,
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
    const bundle = readPageBundle();
    const progress = io.progress;
    const { model, run } = buildReport(scenario, {
      progress: (done, total, label) => progress?.(`tdxpa report: step ${done}/${total} ${label}`),
    });
    progress?.("");
    const html = renderReportHtml(model, bundle);
    writeAtomic(out, html);
    const f = model.figures;
    const summary = {
      out,
      bytes: Buffer.byteLength(html),
      scenario: model.scenario,
      /** The host's SEAMCALLs (the runner's bookkeeping RDMDs apart). */
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
    if (values.json === true) io.out(jsonLine(summary));
    else
      io.out(
        `report: ${out} (${(summary.bytes / 1024).toFixed(0)} KiB): ${summary.steps} scenario steps, ${summary.calls} SEAMCALLs by the host${summary.bookkeepingCalls > 0 ? ` (+${summary.bookkeepingCalls} bookkeeping RDMDs)` : ""}, ${f.pagesInvolved} pages on the map, ${f.hazards} hazards; result: ${run.verdict} (exit ${run.exitCode})`,
      );
    return run.exitCode === 0 ? EXIT.OK : EXIT.INVALID;
  },
};
