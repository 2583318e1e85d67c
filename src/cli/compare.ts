/**
 * `tdxpa compare [scenario]`: runs every `tdx_page_array` design (src/designs) through the same flows
 * on the same platform and prints one column per design (02-kapi.md 2.7). A scenario file supplies the
 * platform, module behaviours and interrupt schedule; its steps and host policy are not used (each
 * design brings its own host code). `--json` prints the comparison as one JSON object.
 *
 * The host-code size figures are read at run time from `src/designs/*.ts` (and the draft's files)
 * relative to the package root, "n/a" when the sources are not there (an installed package).
 */
import { readFileSync } from "node:fs";
import {
  type Comparison,
  compareDesigns,
  DESIGNS,
  type DesignReport,
  type FlowFigures,
  type InjectionFigures,
} from "../designs/compare.js";
import { FLOW_NAMES, FLOW_SUMMARY } from "../designs/design.js";
import { defaultPlatform } from "../hw/platform.js";
import { EXIT, type OptionSpec, parseCommandArgs, type Subcommand, startProgress, UsageError } from "./io.js";
import { inScenario, loadScenario } from "./scenario-file.js";

const OPTIONS: OptionSpec = {
  json: { type: "boolean" },
  "no-faults": { type: "boolean" },
  "fault-pool": { type: "string" },
};

const HELP = `usage: tdxpa compare [scenario.yaml|scenario.json] [options]

Runs every design of the tdx_page_array kAPI (v2 2026-03, the 2026-04-14 draft, the draft with the
2026-04-16 head-page-only write-back, the reviewers' split, the 2026-06 hpa_list) through the same
flows (extensions bring-up, IOMMU setup+clear, SPDM sessions, IDE streams, each with its teardown) on
the same platform, each flow on a fresh machine, and prints one column per design: allocations, pages,
root pages, peak extra memory, SEAMCALLs, CLFLUSHes, write-backs, hazards, stranded pages, the
conservation check; then the full single-fault injection of each flow (every allocation and every
SEAMCALL of the clean run failed once, on a fresh machine each); the size of each design's host code;
and the CLFLUSH_BEFORE_ALLOC experiment. A scenario file gives the platform, module behaviours and
interrupts (its steps and host policy are ignored).

options:
  -h, --help         show this help
  --json             print the comparison as one JSON object
  --no-faults        skip the single-fault injection (fast)
  --fault-pool N     MEMORY_POOL_REQUIRED_PAGES of the injection runs (default: the platform's value,
                     at most 2048)

exit status: 0 done, 1 a conservation failure was found, 2 usage error or invalid scenario.

examples:
  tdxpa compare
  tdxpa compare --no-faults
  tdxpa compare scenarios/delete-omits-one-page.yaml
  tdxpa compare --json > designs.json`;

/** Lines and exported functions of a design's files, or null when the sources are not present. */
export interface CodeSize {
  readonly lines: number;
  readonly exportedFunctions: number;
  readonly sharedLines: number;
}

const EXPORTED_FN =
  /^export (?:async )?function\b|^export const \w+(?::\s*[\w<>]+)?\s*=\s*(?:\([^)]*\)|\w+)\s*=>/gm;

function measure(files: readonly string[]): { lines: number; fns: number } | null {
  let lines = 0;
  let fns = 0;
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(new URL(`../../${f}`, import.meta.url), "utf8");
    } catch {
      return null;
    }
    lines += text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    fns += text.match(EXPORTED_FN)?.length ?? 0;
  }
  return { lines, fns };
}

/** Size of `d`'s host code from its source text, null when the sources are not present. */
export function codeSize(d: Pick<DesignReport, "sources" | "sharedSources">): CodeSize | null {
  const own = measure(d.sources);
  const shared = measure(d.sharedSources);
  if (own === null || shared === null) return null;
  return { lines: own.lines, exportedFunctions: own.fns, sharedLines: shared.lines };
}

type Row = [label: string, cells: string[]];

const CLEAN_ROWS: readonly [string, keyof FlowFigures][] = [
  ["allocations (allocator calls)", "allocations"],
  ["pages allocated", "pagesAllocated"],
  ["root pages", "rootPages"],
  ["peak extra pages", "peakExtraPages"],
  ["SEAMCALLs", "seamcalls"],
  ["CLFLUSHes", "clflushes"],
  ["write-backs (PAGE.WBINVD)", "writeBacks"],
  ["hazards", "hazards"],
  ["pages stranded", "strandedPages"],
  ["pages left held by the host", "hostHeldPages"],
  ["model reports", "reports"],
];

const FAULT_ROWS: readonly [string, (i: InjectionFigures) => string][] = [
  ["points (alloc + SEAMCALL)", (i) => `${i.allocPoints}+${i.seamcallPoints}`],
  ["points covered", (i) => String(i.covered)],
  ["pages stranded (sum)", (i) => String(i.strandedPages)],
  ["hazards (sum)", (i) => String(i.hazards)],
  ["pages left held by the host (sum)", (i) => String(i.hostHeldPages)],
  ["conservation failures", (i) => String(i.conservationFailures)],
];

function table(header: string[], rows: readonly Row[]): string[] {
  const w0 = Math.max(...rows.map((r) => r[0].length), header[0]!.length);
  const widths = header.slice(1).map((h, i) => Math.max(h.length, ...rows.map((r) => r[1][i]!.length)));
  const line = (a: string, cells: string[]) =>
    `  ${a.padEnd(w0)}  ${cells.map((c, i) => c.padStart(widths[i]!)).join("  ")}`.trimEnd();
  return [line(header[0]!, header.slice(1)), ...rows.map((r) => line(r[0], r[1]))];
}

/** The comparison as text: one table per flow, then code size, the CLFLUSH experiment and notes. */
export function renderComparison(c: Comparison, sizes: readonly (CodeSize | null)[]): string {
  const names = c.designs.map((d) => d.name);
  const out: string[] = [
    `tdxpa compare: ${names.length} designs on platform ${c.platform}, MEMORY_POOL_REQUIRED_PAGES ${c.poolPages}, CLFLUSH_BEFORE_ALLOC ${c.clflushBeforeAlloc ? "on" : "off"}`,
    "",
  ];
  const notes: string[] = [];
  const noteFor = (text: string) => {
    let i = notes.indexOf(text);
    if (i < 0) i = notes.push(text) - 1;
    return `n/a[${i + 1}]`;
  };
  for (const f of FLOW_NAMES) {
    if (c.designs.every((d) => d.flows[f] === undefined)) continue;
    out.push(`${f}: ${FLOW_SUMMARY[f]}`);
    const cell = (d: DesignReport, get: (x: FlowFigures, i: InjectionFigures | null) => string) => {
      const col = d.flows[f];
      if (col === undefined) return "-";
      return col.supported ? get(col.clean, col.injection) : noteFor(`${d.name} ${f}: ${col.reason}`);
    };
    const rows: Row[] = [
      ["flow result", c.designs.map((d) => cell(d, (x) => (x.ok ? "ok" : "FAILED")))],
      ...CLEAN_ROWS.map(([label, key]): Row => [label, c.designs.map((d) => cell(d, (x) => String(x[key])))]),
      ["conservation", c.designs.map((d) => cell(d, (x) => (x.conservationOk ? "ok" : "FAILED")))],
    ];
    if (c.injectionPoolPages !== null) {
      rows.push(["single-fault injection:", names.map(() => "")]);
      for (const [label, get] of FAULT_ROWS)
        rows.push([`  ${label}`, c.designs.map((d) => cell(d, (_, i) => (i === null ? "-" : get(i))))]);
    }
    out.push(...table(["", ...names], rows), "");
  }
  out.push("host code (lines of source)");
  const size = (get: (s: CodeSize) => number) => sizes.map((s) => (s === null ? "n/a" : String(get(s))));
  out.push(
    ...table(
      ["", ...names],
      [
        ["own files: lines", size((s) => s.lines)],
        ["own files: exported functions", size((s) => s.exportedFunctions)],
        ["flow code it runs: lines", size((s) => s.sharedLines)],
      ],
    ),
  );
  out.push(
    ...c.designs.map(
      (d) =>
        `    ${d.name}: ${d.sources.join(", ")}; flows: ${d.sharedSources.join(", ").replace(/src\/host\/flows\//g, "")}`,
    ),
    "",
  );
  if (c.clflush.length > 0) {
    out.push("CLFLUSH_BEFORE_ALLOC experiment: hazards of the extensions flow");
    out.push(
      ...table(
        ["", ...c.clflush.map((r) => r.design)],
        [
          ["CLFLUSHes issued", c.clflush.map((r) => String(r.clflushes))],
          ["fresh memory, flag on", c.clflush.map((r) => String(r.freshOn))],
          ["host-used memory, flag on", c.clflush.map((r) => String(r.usedOn))],
          ["host-used memory, flag off", c.clflush.map((r) => String(r.usedOff))],
        ],
      ),
      "    host-used: every page the allocator hands out carries dirty KeyID-0 lines of its previous user",
      "",
    );
  }
  out.push("notes:");
  if (c.injectionPoolPages !== null)
    out.push(
      `  fault injection: fresh machine per point, injected SEAMCALL status TDX_OP_STATE_INCORRECT; the injection runs use MEMORY_POOL_REQUIRED_PAGES ${c.injectionPoolPages} (clean figures: ${c.poolPages})`,
    );
  else out.push("  fault injection skipped (--no-faults)");
  out.push("  peak extra pages: root pages and page-pointer arrays (kvcalloc > 4 KiB) held at once");
  notes.forEach((n, i) => {
    out.push(`  [${i + 1}] ${n}`);
  });
  return out.join("\n");
}

function conservationFailures(c: Comparison): number {
  let n = 0;
  for (const d of c.designs)
    for (const f of FLOW_NAMES) {
      const col = d.flows[f];
      if (col?.supported !== true) continue;
      if (!col.clean.conservationOk) n++;
      n += col.injection?.conservationFailures ?? 0;
    }
  return n;
}

/** The `compare` subcommand. */
export const compareCommand: Subcommand = {
  name: "compare",
  summary: "run every tdx_page_array design through the same flows and compare the figures",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("compare", args, OPTIONS);
    if (positionals.length > 1)
      throw new UsageError(`compare: one scenario file at most, got ${positionals.length}`);
    let faultPool: number | undefined;
    if (typeof values["fault-pool"] === "string") {
      const v = values["fault-pool"];
      faultPool = /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
      if (!Number.isSafeInteger(faultPool) || faultPool < 1 || faultPool > 1_048_576)
        throw new UsageError(`compare: --fault-pool: "${v}" is not a page count in 1..1048576`);
    }
    const file = positionals[0];
    const s = file === undefined ? null : loadScenario(file);
    const progress = startProgress(io, "compare");
    const c = inScenario(file ?? "default platform", () =>
      compareDesigns({
        progress: (done, total, label) => progress.update(done, total, label),
        platform: s?.platform ?? defaultPlatform(),
        ...(s === null ? {} : { behaviours: s.behaviours, interrupts: s.interrupts }),
        designs: DESIGNS,
        injection: values["no-faults"] !== true,
        ...(faultPool === undefined ? {} : { injectionPoolPages: faultPool }),
      }),
    );
    progress.end();
    const sizes = c.designs.map((d) => codeSize(d));
    if (values.json === true) {
      io.out(
        JSON.stringify({ ...c, codeSize: Object.fromEntries(c.designs.map((d, i) => [d.name, sizes[i]])) }),
      );
    } else io.out(renderComparison(c, sizes));
    return conservationFailures(c) === 0 ? EXIT.OK : EXIT.INVALID;
  },
};
