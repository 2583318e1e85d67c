/**
 * Runs a scenario and builds its report model (src/report/model.ts). Kept apart from the model so the
 * HTML page's bundle does not pull the simulator in. Core code.
 */
import { type RunOptions, type RunReport, runScenario } from "../scenario/runner.js";
import type { Scenario } from "../scenario/schema.js";
import { ReportCollector } from "./collector.js";
import type { ReportModel } from "./model.js";

/**
 * Runs `s` with page events and returns its report model and run report.
 * @example const { model, run } = buildReport(scenario); model.figures.calls === run.totals.calls
 */
export function buildReport(
  s: Scenario,
  opts: Pick<RunOptions, "progress"> & { readonly onEvent?: RunOptions["onEvent"] } = {},
): { model: ReportModel; run: RunReport } {
  const c = new ReportCollector(s);
  const extra = opts.onEvent;
  const run = runScenario(s, {
    pageEvents: true,
    onEvent:
      extra === undefined
        ? c.sink
        : (e) => {
            c.sink(e);
            extra(e);
          },
    onDone: c.onDone,
    ...(opts.progress === undefined ? {} : { progress: opts.progress }),
  });
  return { model: c.finish(run), run };
}
