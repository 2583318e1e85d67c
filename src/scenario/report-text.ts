/**
 * The readable report of a run (what `tdxpa run` prints): each step with its SEAMCALLs by leaf and
 * status, pages and MiB by state, interrupts and hazards; then totals, the conservation check,
 * hazards, model reports, expectations and the verdict.
 */
import { escapeControls } from "../common/errors.js";
import { pfnToHpa } from "../common/u64.js";
import type { Hazard } from "../hw/cache.js";
import type { PageStates, PhaseReport, RunReport } from "./runner.js";

const mib = (pages: number) => `${(pages / 256).toFixed(pages % 256 === 0 ? 0 : 2)} MiB`;
const pg = (n: number) => `${n} (${mib(n)})`;

function pagesLine(p: PageStates): string {
  return `donated ${pg(p.donated)}, module-owned ${pg(p.moduleOwned)}, returned ${pg(p.returned)}, stranded ${pg(p.stranded)}`;
}

/** What a step did, in words: "ok", "failed as expected (STATUS)", "FAILED (why)". */
export function outcomeText(p: PhaseReport): string {
  if (p.outcome === "failed-as-expected") return `failed as expected (${p.status ?? p.detail ?? "?"})`;
  if (p.outcome === "failed") return `FAILED${p.detail === null ? "" : ` (${p.detail})`}`;
  // A SEAMCALL step that succeeded says which success it got; other steps add their note.
  const note = p.status ?? p.detail;
  return `ok${note === null ? "" : ` (${note})`}`;
}

/** `HPA 0x3301000 (PFN 0x3301)`: both names of a page, labelled. */
export function pageText(pfn: number): string {
  return `HPA 0x${pfnToHpa(pfn).toString(16)} (PFN 0x${pfn.toString(16)})`;
}

/** One line per distinct hazard (identical ones collapsed with a count), in the order given. */
export function hazardLines(hs: readonly Hazard[]): string[] {
  const rows = new Map<string, number>();
  for (const h of hs) {
    const key = `${h.kind} ${pageText(h.pfn)} KeyID ${h.keyIds.join(",")} by ${h.cause}: ${h.message}`;
    rows.set(key, (rows.get(key) ?? 0) + 1);
  }
  return [...rows].map(([k, n]) => (n > 1 ? `${k} (x${n})` : k));
}

/** Renders a run report as plain text lines. */
export function renderReport(r: RunReport): string {
  const out: string[] = [];
  out.push(`scenario: ${r.scenario}`, `platform: ${r.platform}`, "");
  for (const p of r.phases) {
    out.push(`[${p.index}] ${p.label}: ${outcomeText(p)}`);
    if (p.outcome === "failed-as-expected" && p.status !== null && p.detail !== null)
      out.push(`    at ${p.detail}`);
    const leaves = Object.entries(p.calls);
    const w = Math.max(0, ...leaves.map(([l]) => l.length));
    for (const [leaf, statuses] of leaves) {
      out.push(
        `    ${leaf.padEnd(w)}  ${Object.entries(statuses)
          .map(([s, n]) => `${s} x${n}`)
          .join(", ")}`,
      );
    }
    for (const n of p.notes) out.push(`    note: ${n}`);
    if (leaves.length > 0 || p.hazards > 0) {
      out.push(
        `    pages: ${pagesLine(p.pages)}`,
        `    interrupts resumed: ${p.interrupts}; hazards: ${p.hazards}`,
      );
    }
  }
  const t = r.totals;
  out.push(
    "",
    `totals: ${t.calls} SEAMCALLs by the host, ${t.interrupts} interrupts resumed, ${t.hazards} hazards, ${t.reports} model reports`,
    `pages: ${pagesLine(t.pages)}`,
  );
  const c = r.conservation;
  const objs = Object.entries(c.byObject)
    .map(([o, n]) => `${o} ${n}`)
    .join(", ");
  out.push(
    `conservation: ${c.ok ? "ok" : `FAILED (${c.violationCount} violations)`}; free ${c.totals.free}, host-held ${c.totals.hostHeld}, module-owned ${c.totals.moduleOwned}${objs ? ` [${objs}]` : ""}, stranded ${c.totals.stranded}, reserved ${c.totals.reserved} of ${c.totals.total} pages`,
  );
  for (const v of c.violations.slice(0, 10)) out.push(`  violation: ${v}`);
  if (r.hazards.length > 0) {
    out.push(
      `hazards (${t.hazards}${t.hazards > r.hazards.length ? `, the first ${r.hazards.length} by page shown` : ""}):`,
    );
    for (const l of hazardLines(r.hazards)) out.push(`  ${l}`);
  }
  if (r.reports.length > 0) {
    out.push(`model reports (${t.reports}):`);
    for (const m of r.reports) out.push(`  ${m.kind} by ${m.cause}: ${m.message}`);
  }
  if (r.expectations.length > 0) {
    const met = r.expectations.filter((e) => e.ok).length;
    out.push(`expectations: ${met}/${r.expectations.length} met`);
    for (const e of r.expectations) if (!e.ok) out.push(`  NOT MET at step ${e.step}: ${e.message}`);
  }
  for (const u of r.unexpected) out.push(`unexpected: ${u}`);
  out.push(`result: ${r.verdict} (exit ${r.exitCode})`);
  // Names come from the scenario file: a control character or newline in one is shown escaped, never
  // obeyed (no forged "result:" line, no terminal escape sequences).
  return out.map(escapeControls).join("\n");
}
