/**
 * The one-word verdict of a scenario run, kept apart from its exit code: a run that found a hazard its
 * scenario expected exits 0 like a clean run, but it is not clean and must not be shown as such (the
 * text report's `result:` line, the HTML report's badge, `--json`).
 */

/** `clean`: nothing found. `findings, all expected`: something was found and the scenario declared all of it. `problems found`: exit 1. */
export type Verdict = "clean" | "findings, all expected" | "problems found";

/** The figures a verdict is made of. */
export interface VerdictInput {
  /** No unexpected finding and every expectation met (the exit code is 0). */
  readonly ok: boolean;
  readonly hazards: number;
  readonly reports: number;
  readonly conservationOk: boolean;
  /** Steps whose outcome was not `ok` (a failure, expected or not). */
  readonly failedSteps: number;
  /** Pages the host stranded. */
  readonly stranded: number;
}

/**
 * The verdict of a run from its figures.
 * @example verdictOf({ ok: true, hazards: 8, reports: 0, conservationOk: true, failedSteps: 0, stranded: 0 }) // "findings, all expected"
 */
export function verdictOf(v: VerdictInput): Verdict {
  if (!v.ok) return "problems found";
  const findings = v.hazards > 0 || v.reports > 0 || !v.conservationOk || v.failedSteps > 0 || v.stranded > 0;
  return findings ? "findings, all expected" : "clean";
}
