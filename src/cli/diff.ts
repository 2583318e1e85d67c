/**
 * `tdxpa diff A B`: what a patch author runs between v(n) and v(n+1) of a host. Each side is a scenario
 * (a file or a shipped scenario's name, run on a fresh machine), a trace written by `tdxpa run --trace`
 * (JSON Lines, or Chrome format), or a saved `tdxpa run --json` report. Shows the first SEAMCALL where
 * the two differ (leaf, decoded operands, status), the pages by state side by side, and the hazards and
 * stranded pages one side has and the other lacks. Exit 0 when no difference was found, 1 when the two
 * differ (as diff(1) does), 2 for a usage error.
 */
import { readFileSync } from "node:fs";
import type { Hazard } from "../hw/cache.js";
import { formatCall } from "../observe/describe-call.js";
import type { EventJson } from "../observe/events.js";
import { pageText } from "../scenario/report-text.js";
import { type RunReport, runScenario, sortHazards } from "../scenario/runner.js";
import { EXIT, jsonLine, type OptionSpec, parseCommandArgs, type Subcommand, UsageError } from "./io.js";
import { resolveScenarioPath, scenarioFromArgs } from "./scenario-file.js";

const OPTIONS: OptionSpec = {
  json: { type: "boolean" },
  max: { type: "string" },
};

const HELP = `Usage: tdxpa diff A B [--json] [--max N]

Compares two runs. A and B are each a scenario (a YAML or JSON file, or the name of a shipped one such
as head-page-only; run on a fresh machine), a trace written by 'tdxpa run --trace FILE' (.jsonl, or
Chrome format .json), or a report saved from 'tdxpa run --json'. Prints the first diverging SEAMCALL
(leaf, decoded operands and status of both sides; calls are compared by leaf, operands and status),
the pages by state side by side, and the hazards and stranded pages that one side has and the other
lacks. A saved report has no call sequence (its steps' calls by status are compared instead) and only
its first 20 hazards; a trace has no stranded pages.

Options:
  --json          print the comparison as one JSON object
  --max N         list at most N hazards or pages per difference (default 10)
  -h, --help      show this help

Exit status: 0 no difference, 1 the two differ, 2 usage error or invalid input.

Examples:
  tdxpa diff default head-page-only
  tdxpa diff scenarios/no-clflush.yaml scenarios/default.yaml --json
  tdxpa run v1.yaml --trace a.jsonl; tdxpa run v2.yaml --trace b.jsonl; tdxpa diff a.jsonl b.jsonl`;

/** One SEAMCALL as compared: leaf, decoded operands, status, and its line for people. */
interface Call {
  readonly key: string;
  readonly line: string;
}

/** What one side of a diff knows. */
interface Side {
  readonly label: string;
  readonly kind: "scenario" | "trace" | "report";
  /** SEAMCALLs in order (null for a saved report). */
  readonly calls: readonly Call[] | null;
  /** Per scenario step: `leaf status` → count (the host's calls). */
  readonly stepCalls: readonly Readonly<Record<string, number>>[] | null;
  readonly pages: Readonly<Record<string, number>>;
  /** Hazard keys (kind, page, KeyIDs). */
  readonly hazards: readonly string[];
  /** Stranded PFNs (null when the source does not record them). */
  readonly stranded: readonly number[] | null;
}

const callOf = (e: Omit<Extract<EventJson, { type: "seamcall" }>, "root">): Call => ({
  key: `${e.leaf} ${JSON.stringify(e.inputs)} ${e.status}`,
  line: formatCall(e),
});
const hazardKey = (h: { kind: string; pfn: number; keyIds: readonly number[] }) =>
  `${h.kind} ${pageText(h.pfn)} KeyID ${h.keyIds.join(",")}`;

function reportPages(r: RunReport): Record<string, number> {
  const c = r.conservation.totals;
  return {
    donated: r.totals.pages.donated,
    returned: r.totals.pages.returned,
    "module-owned": c.moduleOwned,
    "host-held": c.hostHeld,
    stranded: c.stranded,
    free: c.free,
  };
}

function stepCallsOf(r: RunReport): Record<string, number>[] {
  return r.phases.map((p) => {
    const o: Record<string, number> = {};
    for (const [leaf, st] of Object.entries(p.calls))
      for (const [s, n] of Object.entries(st)) o[`${leaf} ${s}`] = n;
    return o;
  });
}

function fromScenario(arg: string): Side {
  const scenario = scenarioFromArgs("diff", [arg]);
  const calls: Call[] = [];
  const hazards: Hazard[] = [];
  let stranded: number[] = [];
  const r = runScenario(scenario, {
    pageEvents: false,
    onEvent: (e) => {
      if (e.type === "seamcall") calls.push(callOf(e));
      else if (e.type === "hazard") hazards.push(e);
    },
    onDone: (machine) => {
      stranded = [...machine.kernel.ledger.stranded.keys()].sort((a, b) => a - b);
    },
  });
  return {
    label: `${arg} (scenario "${scenario.name}")`,
    kind: "scenario",
    calls,
    stepCalls: stepCallsOf(r),
    pages: reportPages(r),
    hazards: sortHazards(hazards).map(hazardKey),
    stranded,
  };
}

function fromJsonl(file: string, text: string): Side {
  const calls: Call[] = [];
  const hazards: Hazard[] = [];
  const owned = new Map<number, boolean>();
  let hostAllocated = 0;
  for (const [n, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let e: EventJson;
    try {
      e = JSON.parse(line) as EventJson;
    } catch {
      throw new UsageError(
        `diff: ${file}:${n + 1}: not a JSON Lines trace (write one with 'tdxpa run --trace FILE')`,
      );
    }
    if (typeof e !== "object" || e === null || typeof e.type !== "string")
      throw new UsageError(`diff: ${file}:${n + 1}: not a trace event`);
    if (e.type === "seamcall") {
      if (typeof e.leaf !== "string" || typeof e.status !== "string" || typeof e.inputs !== "object")
        throw new UsageError(`diff: ${file}:${n + 1}: not a trace event (malformed seamcall)`);
      calls.push(callOf(e));
    } else if (e.type === "hazard") hazards.push(e);
    else if (e.type === "page") owned.set(e.pfn, e.to !== "PT_NDA" && e.to !== "PT_RSVD");
    else if (e.type === "alloc") hostAllocated += e.pages;
    else if (e.type === "free") hostAllocated -= 1;
  }
  let moduleOwned = 0;
  for (const v of owned.values()) if (v) moduleOwned++;
  return {
    label: `${file} (JSON Lines trace)`,
    kind: "trace",
    calls,
    stepCalls: null,
    pages:
      owned.size === 0 && hostAllocated === 0
        ? {}
        : { "module-owned": moduleOwned, "host-allocated (net)": hostAllocated },
    hazards: sortHazards(hazards).map(hazardKey),
    stranded: null,
  };
}

function fromChrome(file: string, doc: { traceEvents: unknown }): Side {
  if (!Array.isArray(doc.traceEvents)) throw new UsageError(`diff: ${file}: traceEvents is not a list`);
  const calls: Call[] = [];
  const hazards: string[] = [];
  let pages: Record<string, number> = {};
  for (const t of doc.traceEvents as Record<string, unknown>[]) {
    if (typeof t !== "object" || t === null) continue;
    const args = (t.args ?? {}) as Record<string, unknown>;
    if (t.cat === "seamcall" && t.ph === "X") {
      const e = {
        seq: args.seq,
        leaf: t.name,
        inputs: args.inputs ?? {},
        outputs: args.outputs ?? {},
        status: args.status,
        units: args.units ?? 0,
        forced: args.forced === true,
      };
      calls.push({ key: `${e.leaf} ${JSON.stringify(e.inputs)} ${e.status}`, line: formatCall(e as never) });
    } else if (t.cat === "hazard") {
      hazards.push(
        `${String(t.name).replace(/^hazard: /, "")} ${pageText(Number.parseInt(String(args.pfn), 16))} KeyID ${(args.keyIds as number[] | undefined)?.join(",") ?? "?"}`,
      );
    } else if (t.ph === "C" && t.name === "pages") pages = { ...(args as Record<string, number>) };
  }
  return {
    label: `${file} (Chrome trace)`,
    kind: "trace",
    calls,
    stepCalls: null,
    pages,
    hazards,
    stranded: null,
  };
}

function fromReport(file: string, r: RunReport): Side {
  if (!Array.isArray(r.phases) || typeof r.totals !== "object" || typeof r.conservation !== "object")
    throw new UsageError(`diff: ${file}: not a 'tdxpa run --json' report`);
  return {
    label: `${file} (run report "${r.scenario}")`,
    kind: "report",
    calls: null,
    stepCalls: stepCallsOf(r),
    pages: reportPages(r),
    hazards: (r.hazards ?? []).map(hazardKey),
    stranded: null,
  };
}

/** Reads one side. */
function side(arg: string): Side {
  const isFile = /\.(jsonl|json)$/i.test(arg);
  if (!isFile) return fromScenario(arg);
  let text: string;
  try {
    text = readFileSync(resolveScenarioPath(arg), "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      `diff: cannot read ${arg}: ${(e as { code?: string }).code ?? (e as Error).message}`,
    );
  }
  if (/\.jsonl$/i.test(arg)) return fromJsonl(arg, text);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`diff: ${arg}: bad JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  if (typeof doc === "object" && doc !== null) {
    // A saved run report has a `traceEvents` count too: a Chrome trace's is a list.
    if (Array.isArray((doc as { traceEvents?: unknown }).traceEvents))
      return fromChrome(arg, doc as { traceEvents: unknown });
    if ("phases" in doc && "totals" in doc) return fromReport(arg, doc as RunReport);
  }
  return fromScenario(arg);
}

/** Elements of `a` not in `b`, as a multiset difference (order of `a` kept). */
function minus<T>(a: readonly T[], b: readonly T[]): T[] {
  const left = new Map<T, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  const out: T[] = [];
  for (const x of a) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

/** The comparison of two sides. */
export interface DiffResult {
  readonly a: string;
  readonly b: string;
  readonly calls: { readonly a: number | null; readonly b: number | null };
  /** First diverging SEAMCALL (index from 0 in call order), or null when the sequences agree or are unknown. */
  readonly firstDivergence: {
    readonly index: number;
    readonly a: string | null;
    readonly b: string | null;
  } | null;
  /** First scenario step whose calls by status differ (when call sequences are not available). */
  readonly firstStepDivergence: {
    readonly step: number;
    readonly a: Record<string, number> | null;
    readonly b: Record<string, number> | null;
  } | null;
  readonly pages: Readonly<Record<string, { readonly a: number | null; readonly b: number | null }>>;
  readonly hazardsOnlyA: readonly string[];
  readonly hazardsOnlyB: readonly string[];
  readonly strandedOnlyA: readonly number[] | null;
  readonly strandedOnlyB: readonly number[] | null;
  readonly same: boolean;
}

/** Compares two sides. */
function compare(a: Side, b: Side): DiffResult {
  let firstDivergence: DiffResult["firstDivergence"] = null;
  if (a.calls !== null && b.calls !== null) {
    const n = Math.max(a.calls.length, b.calls.length);
    for (let i = 0; i < n; i++) {
      const x = a.calls[i];
      const y = b.calls[i];
      if (x?.key !== y?.key) {
        firstDivergence = { index: i, a: x?.line ?? null, b: y?.line ?? null };
        break;
      }
    }
  }
  let firstStepDivergence: DiffResult["firstStepDivergence"] = null;
  if ((a.calls === null || b.calls === null) && a.stepCalls !== null && b.stepCalls !== null) {
    const n = Math.max(a.stepCalls.length, b.stepCalls.length);
    for (let i = 0; i < n; i++) {
      const x = a.stepCalls[i] ?? null;
      const y = b.stepCalls[i] ?? null;
      if (JSON.stringify(x) !== JSON.stringify(y)) {
        firstStepDivergence = { step: i, a: x, b: y };
        break;
      }
    }
  }
  const pages: Record<string, { a: number | null; b: number | null }> = {};
  for (const k of new Set([...Object.keys(a.pages), ...Object.keys(b.pages)]))
    pages[k] = { a: a.pages[k] ?? null, b: b.pages[k] ?? null };
  const hazardsOnlyA = minus(a.hazards, b.hazards);
  const hazardsOnlyB = minus(b.hazards, a.hazards);
  const both = a.stranded !== null && b.stranded !== null;
  const strandedOnlyA = both ? minus(a.stranded!, b.stranded!) : null;
  const strandedOnlyB = both ? minus(b.stranded!, a.stranded!) : null;
  const same =
    firstDivergence === null &&
    firstStepDivergence === null &&
    Object.values(pages).every((p) => p.a === p.b) &&
    hazardsOnlyA.length === 0 &&
    hazardsOnlyB.length === 0 &&
    (strandedOnlyA?.length ?? 0) === 0 &&
    (strandedOnlyB?.length ?? 0) === 0;
  return {
    a: a.label,
    b: b.label,
    calls: { a: a.calls?.length ?? null, b: b.calls?.length ?? null },
    firstDivergence,
    firstStepDivergence,
    pages,
    hazardsOnlyA,
    hazardsOnlyB,
    strandedOnlyA,
    strandedOnlyB,
    same,
  };
}

function render(d: DiffResult, max: number): string[] {
  const out = [`A: ${d.a}`, `B: ${d.b}`, ""];
  const n = (x: number | null) => (x === null ? "n/a" : String(x));
  out.push(`SEAMCALLs: A ${n(d.calls.a)}, B ${n(d.calls.b)}`);
  if (d.firstDivergence !== null) {
    out.push(`first diverging SEAMCALL: call ${d.firstDivergence.index + 1} of each run`);
    out.push(`  A: ${d.firstDivergence.a ?? "(no more calls)"}`);
    out.push(`  B: ${d.firstDivergence.b ?? "(no more calls)"}`);
  } else if (d.calls.a !== null && d.calls.b !== null) out.push("SEAMCALL sequences: identical");
  if (d.firstStepDivergence !== null) {
    const f = (x: Record<string, number> | null) =>
      x === null
        ? "(no such step)"
        : Object.entries(x)
            .map(([k, v]) => `${k} x${v}`)
            .join(", ") || "(no calls)";
    out.push(`first step whose calls differ: step ${d.firstStepDivergence.step}`);
    out.push(`  A: ${f(d.firstStepDivergence.a)}`, `  B: ${f(d.firstStepDivergence.b)}`);
  }
  const rows = Object.entries(d.pages);
  if (rows.length > 0) {
    const w = Math.max(...rows.map(([k]) => k.length), 5);
    const cw = Math.max(...rows.flatMap(([, v]) => [n(v.a).length, n(v.b).length]), 1);
    out.push("", `${"pages by state".padEnd(w + 2)}  ${"A".padStart(cw)}  ${"B".padStart(cw)}`);
    for (const [k, v] of rows)
      out.push(`  ${k.padEnd(w)}  ${n(v.a).padStart(cw)}  ${n(v.b).padStart(cw)}${v.a === v.b ? "" : "  *"}`);
  }
  const list = (title: string, xs: readonly string[]) => {
    out.push(`${title} (${xs.length})${xs.length === 0 ? "" : ":"}`);
    for (const x of xs.slice(0, max)) out.push(`  ${x}`);
    if (xs.length > max) out.push(`  … ${xs.length - max} more`);
  };
  out.push("");
  list("hazards only in A", d.hazardsOnlyA);
  list("hazards only in B", d.hazardsOnlyB);
  if (d.strandedOnlyA === null || d.strandedOnlyB === null)
    out.push("stranded pages: not recorded on one side (a trace or a saved report)");
  else {
    list("stranded pages only in A", d.strandedOnlyA.map(pageText));
    list("stranded pages only in B", d.strandedOnlyB.map(pageText));
  }
  out.push("", d.same ? "result: no difference (exit 0)" : "result: the runs differ (exit 1)");
  return out;
}

/** The `diff` subcommand. */
export const diffCommand: Subcommand = {
  name: "diff",
  summary: "compare two runs (scenarios, traces or saved reports): first diverging SEAMCALL, pages, hazards",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("diff", args, OPTIONS);
    if (positionals.length !== 2)
      throw new UsageError(
        `diff: expected two runs A and B, got ${positionals.length}; see 'tdxpa diff --help'`,
      );
    let max = 10;
    if (typeof values.max === "string") {
      max = Number(values.max);
      if (!/^\d{1,6}$/.test(values.max))
        throw new UsageError(`diff: --max: "${values.max}" is not a number; allowed 0..999999`);
    }
    const d = compare(side(positionals[0]!), side(positionals[1]!));
    if (values.json === true) io.out(jsonLine(d));
    else io.out(render(d, max).join("\n"));
    return d.same ? EXIT.OK : EXIT.INVALID;
  },
};
