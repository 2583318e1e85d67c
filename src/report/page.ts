/**
 * The HTML report's own code (bundled by scripts/build-report-page.mjs into one inline script): reads
 * the embedded {@link ReportModel} and draws the summary, the page map at a slider position, the
 * SEAMCALL timeline (virtualised: only the visible rows exist), the selected step's detail and the
 * hazards. Root-page entries are decoded here with the project's own decoders (src/common/formats.ts),
 * the same code the CLI and the emulated module use, so the page and the CLI cannot disagree.
 *
 * Hooks for tests and measurements: `body[data-ready]` when drawn, `data-parse-ms` / `data-render-ms`,
 * `#map[data-pos]`, legend items `[data-cat][data-count]`, `#timeline[data-rows]`, `.entry` rows.
 */
import { decodeIommuMtEntry, decodeListEntry } from "../common/formats.js";
import { u64ToHex } from "../common/u64.js";
import { browser, type Canvas2d, type DomCanvas, type DomElement, type DomInput } from "./dom.js";
import {
  CAT,
  categories,
  cellOf,
  cellsOfRanges,
  MAP_COLS,
  type MapFrame,
  mapFrame,
  mapLayout,
} from "./map.js";
import { BASE_NAMES, baseOf, CLS, expandEntryRuns, type ReportModel, stateAt } from "./model.js";

const b = browser();
const doc = b.document;

const CELL = 6;
const GUTTER = 92;
const ROW_H = 22;
const ENTRIES_SHOWN = 64;
const HAZARDS_SHOWN = 200;
/** Badge class of each verdict (src/scenario/verdict.ts). */
const VERDICT_CLASS: Readonly<Record<string, string>> = {
  clean: "ok",
  "findings, all expected": "warn",
  "problems found": "bad",
};
const COLOURS = ["#e2e8f0", "#60a5fa", "#111827"];
const MODULE_COLOURS = ["#16a34a", "#9333ea", "#0d9488", "#d97706", "#db2777", "#4d7c0f", "#0369a1"];
const HAZARD_COLOUR = "#dc2626";
const ZOOM_CELL = 12;
const ZOOM_COLS = 64;
const ZOOM_MAX = 1024;

type Child = DomElement | string | null | false;

/** Creates an element: `h("td", "cls", "text", child…)`; attributes via `{ attr: value }`. */
function h(tag: string, cls: string | Record<string, string> | null, ...kids: Child[]): DomElement {
  const e = doc.createElement(tag);
  if (typeof cls === "string") e.className = cls;
  else if (cls !== null) for (const [k, v] of Object.entries(cls)) e.setAttribute(k, v);
  for (const k of kids) if (k !== null && k !== false) e.append(k);
  return e;
}

/** Replaces `e`'s children, skipping null and false. */
function put(e: DomElement, ...kids: Child[]): void {
  e.replaceChildren(...kids.filter((k): k is DomElement | string => k !== null && k !== false));
}

const $ = (id: string): DomElement => {
  const e = doc.getElementById(id);
  if (e === null) throw new Error(`report page: no #${id}`);
  return e;
};

const fmt = (n: number) => n.toLocaleString("en-US");
const hpaOf = (pfn: number) => `0x${(pfn * 4096).toString(16)}`;
const mib = (pages: number) => `${(pages / 256).toLocaleString("en-US", { maximumFractionDigits: 2 })} MiB`;

function catColour(cat: number): string {
  return cat < CAT.MODULE0 ? COLOURS[cat]! : MODULE_COLOURS[(cat - CAT.MODULE0) % MODULE_COLOURS.length]!;
}

function main(): void {
  const t0 = b.performance.now();
  const m = JSON.parse($("tdxpa-data").textContent ?? "null") as ReportModel;
  const parseMs = b.performance.now() - t0;
  const S = m.steps.length;
  const str = (i: number) => m.strings[i] ?? "";
  // As many columns as the map's panel has room for (at most MAP_COLS), so nothing is clipped.
  const room = ($("map-panel") as unknown as { clientWidth?: number }).clientWidth ?? 0;
  const cols =
    room > 0 ? Math.max(32, Math.min(MAP_COLS, Math.floor((room - 26 - GUTTER) / CELL))) : MAP_COLS;
  const layout = mapLayout(m, undefined, cols);
  const cats = categories(m);
  const c = m.calls;
  const resumedBy = new Int32Array(c.seq.length).fill(-1);
  for (let i = 0; i < c.seq.length; i++) if (c.resumes[i]! >= 0) resumedBy[c.resumes[i]!] = i;

  let pos = S;
  let highlight = new Set<number>();
  let frame: MapFrame | null = null;
  let pending = false;

  // ---- summary -------------------------------------------------------------------------------
  const r = m.run;
  // Green only for a clean run: findings the scenario expected are amber, never a green badge.
  const verdict = r.verdict ?? (r.ok ? "clean" : "problems found");
  const t = r.totals;
  const fig = (key: string, label: string, value: string, cls = "") =>
    h("div", `fig ${cls}`, h("span", { class: "v", "data-fig": key }, value), h("span", "l", label));
  put(
    $("summary"),
    h(
      "div",
      "title",
      h("h1", null, m.scenario),
      h(
        "span",
        { class: `verdict ${VERDICT_CLASS[verdict] ?? "bad"}`, "data-verdict": verdict },
        verdict,
        ` (exit ${r.exitCode})`,
      ),
    ),
    h("p", "desc", m.description, h("span", "platform", ` Platform: ${m.platform}.`)),
    h(
      "div",
      "figs",
      fig("calls", "SEAMCALLs by the host", fmt(t.calls)),
      fig("interrupts", "interrupts resumed", fmt(t.interrupts)),
      fig("hazards", "hazards", fmt(t.hazards), t.hazards > 0 ? "bad" : ""),
      fig("reports", "model reports", fmt(t.reports), t.reports > 0 ? "bad" : ""),
      fig("donated", "pages donated", `${fmt(t.pages.donated)}`),
      fig("moduleOwned", "module-owned now", fmt(t.pages.moduleOwned)),
      fig("returned", "returned", fmt(t.pages.returned)),
      fig("stranded", "stranded", fmt(t.pages.stranded), t.pages.stranded > 0 ? "bad" : ""),
      fig(
        "conservation",
        "conservation",
        r.conservation.ok ? "ok" : `FAILED (${r.conservation.violationCount})`,
        r.conservation.ok ? "" : "bad",
      ),
      fig("pagesInvolved", "pages on the map", fmt(m.figures.pagesInvolved)),
    ),
    h(
      "div",
      "notes",
      r.expectations.total > 0
        ? h("span", null, `expectations: ${r.expectations.met}/${r.expectations.total} met`)
        : null,
      ...r.expectations.notMet.map((s) => h("span", "bad", `not met: ${s}`)),
      ...r.unexpected.map((s) => h("span", "bad", `unexpected: ${s}`)),
      ...r.reports.map((x) =>
        h("span", "bad", `model report ${x.kind} page ${hpaOf(x.pfn)} by ${x.cause}: ${x.message}`),
      ),
      ...r.conservation.violations.map((s) => h("span", "bad", `violation: ${s}`)),
    ),
  );

  // ---- map -------------------------------------------------------------------------------------
  const canvas = $("map") as DomCanvas;
  const dpr = Math.max(1, Math.min(2, b.devicePixelRatio || 1));
  const cssW = GUTTER + layout.cols * CELL;
  const cssH = Math.max(1, layout.rows) * CELL;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  canvas.style.setProperty("width", `${cssW}px`);
  canvas.style.setProperty("height", `${cssH}px`);
  canvas.setAttribute("data-cells", String(layout.cellPfn.length));
  canvas.setAttribute("data-pages", String(layout.pages));
  canvas.setAttribute("data-pages-per-cell", String(layout.pagesPerCell));
  canvas.setAttribute("data-groups", layout.groupRows.map((g) => g.label).join("|"));
  const ctx = canvas.getContext("2d") as Canvas2d;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  $("map-scale").textContent = `${fmt(layout.pages)} pages in ${fmt(m.runs.length / 3)} runs; ${
    layout.pagesPerCell === 1
      ? "1 cell = 1 page (4 KiB)"
      : `1 cell = ${fmt(layout.pagesPerCell)} pages (${mib(layout.pagesPerCell)})`
  }; each row ${fmt(layout.cols * layout.pagesPerCell)} pages; grouped by object (${fmt(layout.groupRows.length)} groups), a new PFN region starts a new row`;

  function drawMap(): void {
    frame = mapFrame(m, layout, cats, pos);
    const f = frame;
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.font = "10px ui-monospace, SFMono-Regular, Menlo, monospace";
    ctx.fillStyle = "#64748b";
    for (const g of layout.groupRows) {
      ctx.fillStyle = "#0f172a";
      ctx.fillText(`${g.label}: ${fmt(g.pages)} page${g.pages === 1 ? "" : "s"}`, GUTTER, g.row * CELL + 10);
    }
    // An HPA in the gutter at the first cell of a row, at most one per four rows.
    const rowStart = new Map<number, number>();
    for (let i = 0; i < layout.cellPfn.length; i++) {
      const slot = layout.cellSlot[i]!;
      if (slot % layout.cols === 0) rowStart.set(slot / layout.cols, layout.cellPfn[i]!);
    }
    let lastRow = -8;
    ctx.fillStyle = "#64748b";
    for (const [row, pfn] of [...rowStart].sort((x, y) => x[0] - y[0])) {
      if (row - lastRow < 4) continue;
      ctx.fillText(hpaOf(pfn), 2, row * CELL + CELL + 2);
      lastRow = row;
    }
    const dim = highlight.size > 0;
    const n = layout.cellPfn.length;
    for (let i = 0; i < n; i++) {
      const slot = layout.cellSlot[i]!;
      const row = Math.floor(slot / layout.cols);
      const col = slot - row * layout.cols;
      ctx.globalAlpha = dim && !highlight.has(i) ? 0.22 : 1;
      ctx.fillStyle = f.cellHazard[i]! > 0 ? HAZARD_COLOUR : catColour(f.cellCat[i]!);
      ctx.fillRect(GUTTER + col * CELL, row * CELL, CELL - 1, CELL - 1);
    }
    ctx.globalAlpha = 1;
    if (dim) {
      ctx.strokeStyle = "#0f172a";
      ctx.lineWidth = 1;
      for (const i of highlight) {
        const slot = layout.cellSlot[i]!;
        const row = Math.floor(slot / layout.cols);
        const col = slot - row * layout.cols;
        ctx.strokeRect(GUTTER + col * CELL - 0.5, row * CELL - 0.5, CELL, CELL);
      }
    }
    canvas.setAttribute("data-pos", String(pos));
    canvas.setAttribute("data-highlighted", String(highlight.size));
    drawZoom(f);
    drawLegend(f);
  }

  /** The highlighted cells again, enlarged, in address order (at most ZOOM_MAX). */
  const zoom = $("zoom") as DomCanvas;
  const zctx = zoom.getContext("2d") as Canvas2d;
  function drawZoom(f: MapFrame): void {
    const panel = $("zoom-panel");
    if (highlight.size === 0) {
      panel.className = "off";
      return;
    }
    panel.className = "";
    const cells = [...highlight].sort((x, y) => x - y).slice(0, ZOOM_MAX);
    const cols = Math.min(cells.length, ZOOM_COLS);
    const w = cols * ZOOM_CELL;
    const hgt = Math.ceil(cells.length / ZOOM_COLS) * ZOOM_CELL;
    zoom.width = Math.round(w * dpr);
    zoom.height = Math.round(hgt * dpr);
    zoom.style.setProperty("width", `${w}px`);
    zoom.style.setProperty("height", `${hgt}px`);
    zctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    cells.forEach((ci, k) => {
      zctx.fillStyle = f.cellHazard[ci]! > 0 ? HAZARD_COLOUR : catColour(f.cellCat[ci]!);
      zctx.fillRect(
        (k % ZOOM_COLS) * ZOOM_CELL,
        Math.floor(k / ZOOM_COLS) * ZOOM_CELL,
        ZOOM_CELL - 2,
        ZOOM_CELL - 2,
      );
    });
    const first = layout.cellPfn[cells[0]!]!;
    const lastCell = cells[cells.length - 1]!;
    const last = layout.cellPfn[lastCell]! + layout.cellPages[lastCell]! - 1;
    $("zoom-title").textContent =
      `Selected: ${fmt(highlight.size)} cell${highlight.size === 1 ? "" : "s"} (${hpaOf(first)}–${hpaOf(last)}), enlarged${
        highlight.size > cells.length ? `, first ${fmt(cells.length)} shown` : ""
      }`;
  }

  function drawLegend(f: MapFrame): void {
    const items: DomElement[] = [];
    cats.names.forEach((name, k) => {
      items.push(
        h(
          "span",
          { class: "item", "data-cat": name, "data-count": String(f.pagesByCat[k]) },
          h("i", { style: `background:${catColour(k)}` }),
          `${name} `,
          h("b", null, fmt(f.pagesByCat[k]!)),
        ),
      );
    });
    items.push(
      h(
        "span",
        { class: "item", "data-cat": "hazard", "data-count": String(f.hazardPages) },
        h("i", { style: `background:${HAZARD_COLOUR}` }),
        "hazard ",
        h("b", null, fmt(f.hazardPages)),
      ),
    );
    put($("legend"), ...items);
  }

  // Map hover: a tooltip naming the cell's pages and their states now; click: the pages' histories.
  const tip = $("tip");
  const cellAt = (e: { clientX?: number; clientY?: number }): number => {
    const rect = canvas.getBoundingClientRect();
    const x = (e.clientX ?? 0) - rect.left - GUTTER;
    const y = (e.clientY ?? 0) - rect.top;
    if (x < 0) return -1;
    const slot = Math.floor(y / CELL) * layout.cols + Math.floor(x / CELL);
    if (Math.floor(x / CELL) >= layout.cols) return -1;
    // cellSlot is increasing: binary search.
    let lo = 0;
    let hi = layout.cellSlot.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = layout.cellSlot[mid]!;
      if (s === slot) return mid;
      if (s < slot) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
  canvas.addEventListener("mousemove", (e) => {
    const i = cellAt(e);
    if (i < 0) {
      tip.className = "tip";
      return;
    }
    const first = layout.cellPfn[i]!;
    const n = layout.cellPages[i]!;
    const lines = runsIn(first, n).map(
      ([pfn, cnt, st]) =>
        `${cnt === 1 ? hpaOf(pfn) : `${fmt(cnt)} pages from ${hpaOf(pfn)}`}: ${stateLabel(st)}`,
    );
    put(
      tip,
      h(
        "b",
        null,
        n === 1 ? `page ${hpaOf(first)}` : `${fmt(n)} pages ${hpaOf(first)}–${hpaOf(first + n - 1)}`,
      ),
      ...lines.slice(0, 6).map((s) => h("div", null, s)),
      lines.length > 6 ? h("div", null, `… ${lines.length - 6} more runs`) : null,
    );
    tip.style.setProperty("left", `${(e.clientX ?? 0) + 14}px`);
    tip.style.setProperty("top", `${(e.clientY ?? 0) + 14}px`);
    tip.className = "tip on";
  });
  canvas.addEventListener("mouseleave", () => {
    tip.className = "tip";
  });
  canvas.addEventListener("click", (e) => {
    const i = cellAt(e);
    if (i >= 0) showCell(i);
  });

  /** Runs of pages inside [first, first + n) with their state now: `[pfn, count, state]`. */
  function runsIn(first: number, n: number, at = pos): [number, number, number][] {
    const out: [number, number, number][] = [];
    for (let k = 0; k < m.runs.length; k += 3) {
      const a = m.runs[k]!;
      const e = a + m.runs[k + 1]!;
      if (e <= first || a >= first + n) continue;
      const s = Math.max(a, first);
      out.push([s, Math.min(e, first + n) - s, stateAt(m.histories[m.runs[k + 2]!]!, at)]);
    }
    return out;
  }

  function stateLabel(st: number): string {
    const s = m.states[st]!;
    const base = baseOf(s);
    let text = BASE_NAMES[base]!;
    if (s[1] >= 0) text += ` (${str(s[1])}, object ${s[2]})`;
    if (base === 3 && s[1] < 0) text += s[0] === 1 ? " (allocated)" : "";
    if (s[3] === 1) text += " + HAZARD";
    return text;
  }

  // ---- scrubber ------------------------------------------------------------------------------
  const slider = $("slider") as DomInput;
  slider.min = "0";
  slider.max = String(S);
  slider.value = String(pos);
  slider.addEventListener("input", () => setPos(Number(slider.value), true));
  $("first").addEventListener("click", () => setPos(0, true));
  $("prev").addEventListener("click", () => setPos(Math.max(0, pos - 1), true));
  $("next").addEventListener("click", () => setPos(Math.min(S, pos + 1), true));
  $("last").addEventListener("click", () => setPos(S, true));
  doc.addEventListener("keydown", (e) => {
    const tag = (e.target as { tagName?: string }).tagName;
    if (tag === "INPUT") return;
    if (e.key === "ArrowLeft") setPos(Math.max(0, pos - 1), true);
    else if (e.key === "ArrowRight") setPos(Math.min(S, pos + 1), true);
    else return;
    e.preventDefault();
  });
  const bar = $("phases");
  const phaseEls: DomElement[] = [];
  for (const [label, begin, end, ok] of m.phases) {
    if (end! <= begin!) continue;
    const el = h(
      "div",
      { class: `ph ${ok === 1 ? "" : "bad"}`, title: `${str(label!)}: positions ${begin! + 1}–${end}` },
      str(label!),
    );
    el.style.setProperty("left", `${(begin! / Math.max(1, S)) * 100}%`);
    el.style.setProperty("width", `${((end! - begin!) / Math.max(1, S)) * 100}%`);
    el.addEventListener("click", () => setPos(begin! + 1, true));
    phaseEls.push(el);
  }
  const ticks: DomElement[] = [];
  const seenTick = new Set<number>();
  for (const hz of m.hazards) {
    const p = hz[0]!;
    const x = Math.round((p / Math.max(1, S)) * 1000);
    if (seenTick.has(x)) continue;
    seenTick.add(x);
    const el = h("div", { class: "tick", title: `hazard at position ${p}` });
    el.style.setProperty("left", `${(p / Math.max(1, S)) * 100}%`);
    ticks.push(el);
  }
  put(bar, ...phaseEls, ...ticks);

  function posLabel(p: number): string {
    if (p === 0) return "position 0: before the first step";
    const s = m.steps[p - 1]!;
    if (s >= 0)
      return `position ${fmt(p)} of ${fmt(S)}: after SEAMCALL #${c.seq[s]} ${str(c.leaf[s]!)} → ${str(c.status[s]!)}`;
    return `position ${fmt(p)} of ${fmt(S)}: after host actions`;
  }

  // ---- timeline (virtualised) ------------------------------------------------------------------
  const rowKind: number[] = []; // 0 phase header, 1 step
  const rowRef: number[] = []; // phase index, or step position (1-based)
  const rowOfPos = new Int32Array(S + 1);
  {
    let p = 1;
    m.phases.forEach((ph, i) => {
      for (; p <= ph[1]!; p++) {
        rowOfPos[p] = rowKind.length;
        rowKind.push(1);
        rowRef.push(p);
      }
      rowKind.push(0);
      rowRef.push(i);
      for (; p <= ph[2]!; p++) {
        rowOfPos[p] = rowKind.length;
        rowKind.push(1);
        rowRef.push(p);
      }
    });
    for (; p <= S; p++) {
      rowOfPos[p] = rowKind.length;
      rowKind.push(1);
      rowRef.push(p);
    }
  }
  const tl = $("timeline");
  const spacer = $("tl-spacer");
  spacer.style.setProperty("height", `${rowKind.length * ROW_H}px`);
  tl.setAttribute("data-rows", String(rowKind.length));
  tl.setAttribute("data-calls", String(c.seq.length));
  tl.setAttribute("data-steps", String(S));
  $("tl-count").textContent =
    `${fmt(c.seq.length)} SEAMCALLs, ${fmt(m.figures.interrupts)} interrupted and resumed, ${fmt(m.hosts.allocs.length)} host-action steps, in ${m.phases.length} scenario steps`;

  function stepRow(p: number): DomElement {
    const s = m.steps[p - 1]!;
    if (s < 0) {
      const hi = -s - 1;
      const al = m.hosts.allocs[hi]!;
      let pages = 0;
      const tags = new Set<string>();
      for (let k = 0; k < al.length; k += 3) {
        pages += al[k + 1]!;
        tags.add(str(al[k + 2]!));
      }
      const parts: string[] = [];
      if (al.length > 0)
        parts.push(`alloc ${fmt(pages)} page${pages === 1 ? "" : "s"} (${[...tags].join(", ")})`);
      if (m.hosts.frees[hi]! > 0) parts.push(`free ${fmt(m.hosts.frees[hi]!)} pages`);
      if (m.hosts.hazards[hi]! > 0) parts.push(`${m.hosts.hazards[hi]} hazard(s)`);
      return h(
        "div",
        `row host ${m.hosts.hazards[hi]! > 0 ? "hz" : ""}`,
        h("span", "seq", ""),
        h("span", "leaf", "host"),
        h("span", "ops", parts.join(" · ")),
      );
    }
    const cls = c.cls[s]!;
    const status = str(c.status[s]!);
    return h(
      "div",
      `row call ${cls === CLS.ERROR ? "err" : cls === CLS.INTERRUPTED ? "int" : ""}`,
      h("span", "seq", `#${c.seq[s]}`),
      h("span", "leaf", str(c.leaf[s]!)),
      h("span", "ops", str(c.inputs[s]!)),
      h("span", `st c${cls}`, status),
      c.resumes[s]! >= 0 ? h("span", "badge res", `resumes #${c.seq[c.resumes[s]!]}`) : null,
      c.forced[s] === 1 ? h("span", "badge err", "forced") : null,
      c.units[s]! > 0 ? h("span", "units", `${fmt(c.units[s]!)} u`) : null,
    );
  }

  function renderTimeline(): void {
    const first = Math.max(0, Math.floor(tl.scrollTop / ROW_H) - 2);
    const count = Math.ceil((tl.clientHeight || 400) / ROW_H) + 4;
    const out: DomElement[] = [];
    for (let i = first; i < Math.min(rowKind.length, first + count); i++) {
      let el: DomElement;
      if (rowKind[i] === 0) {
        const ph = m.phases[rowRef[i]!]!;
        el = h(
          "div",
          `row phase ${ph[3] === 1 ? "" : "bad"}`,
          `step ${rowRef[i]}: ${str(ph[0]!)}`,
          h("span", "pr", `${ph[3] === 1 ? "ok" : "FAILED"}${ph[4]! >= 0 ? ` (${str(ph[4]!)})` : ""}`),
        );
        const begin = ph[1]!;
        el.addEventListener("click", () => setPos(Math.min(S, begin + 1), true));
      } else {
        const p = rowRef[i]!;
        el = stepRow(p);
        el.setAttribute("data-pos", String(p));
        if (p === pos) el.className += " cur";
        el.addEventListener("click", () => setPos(p, false));
      }
      el.style.setProperty("top", `${i * ROW_H}px`);
      out.push(el);
    }
    put(spacer, ...out);
  }
  tl.addEventListener("scroll", () => renderTimeline(), { passive: true });

  function scrollTimelineTo(p: number): void {
    if (p < 1) return;
    const y = rowOfPos[p]! * ROW_H;
    const hgt = tl.clientHeight || 400;
    if (y < tl.scrollTop || y + ROW_H > tl.scrollTop + hgt) tl.scrollTop = Math.max(0, y - hgt / 3);
  }

  // ---- detail ----------------------------------------------------------------------------------
  const detail = $("detail");
  const link = (text: string, p: number) => {
    const a = h("a", { href: "#", "data-goto": String(p) }, text);
    a.addEventListener("click", (e) => {
      e.preventDefault();
      setPos(p, true);
    });
    return a;
  };
  const kv = (k: string, ...v: Child[]) => h("div", "kv", h("span", "k", k), h("span", "v", ...v));

  function touchedRanges(p: number): number[] {
    return m.touch.slice(m.touchOff[p - 1]!, m.touchOff[p]!);
  }

  function rangesText(ranges: readonly number[]): string {
    let pages = 0;
    for (let i = 1; i < ranges.length; i += 2) pages += ranges[i]!;
    const shown = [];
    for (let i = 0; i < ranges.length && shown.length < 4; i += 2)
      shown.push(ranges[i + 1] === 1 ? hpaOf(ranges[i]!) : `${hpaOf(ranges[i]!)} ×${fmt(ranges[i + 1]!)}`);
    return `${fmt(pages)} page${pages === 1 ? "" : "s"} in ${fmt(ranges.length / 2)} range${ranges.length === 2 ? "" : "s"}${
      shown.length > 0 ? `: ${shown.join(", ")}${ranges.length / 2 > shown.length ? ", …" : ""}` : ""
    }`;
  }

  /** Shows step `p` (a call or a host batch) and returns the pages to highlight. */
  function showStep(p: number): number[] {
    if (p === 0) {
      put(
        detail,
        h("h2", null, "Start"),
        h("p", "muted", "Before the first step. Move the slider or click a row of the timeline."),
      );
      return [];
    }
    const s = m.steps[p - 1]!;
    const touched = touchedRanges(p);
    const hl = [...touched];
    if (s < 0) {
      const hi = -s - 1;
      const al = m.hosts.allocs[hi]!;
      const allocs: DomElement[] = [];
      for (let k = 0; k < al.length; k += 3)
        allocs.push(
          h(
            "li",
            null,
            `${hpaOf(al[k]!)}: ${fmt(al[k + 1]!)} page${al[k + 1] === 1 ? "" : "s"}, tag ${str(al[k + 2]!)}`,
          ),
        );
      put(
        detail,
        h("h2", null, "Host actions", h("span", "pos", ` position ${fmt(p)}`)),
        kv("allocations", `${fmt(al.length / 3)}`),
        allocs.length > 0 ? h("ul", "allocs", ...allocs.slice(0, 20)) : null,
        kv("pages freed", fmt(m.hosts.frees[hi]!)),
        kv("hazards", fmt(m.hosts.hazards[hi]!)),
        kv("pages touched", rangesText(touched)),
      );
      return hl;
    }
    const cls = c.cls[s]!;
    const kids: Child[] = [
      h(
        "h2",
        null,
        `#${c.seq[s]} ${str(c.leaf[s]!)} `,
        h("span", `st c${cls}`, str(c.status[s]!)),
        h("span", "pos", ` position ${fmt(p)}`),
      ),
      kv("inputs", str(c.inputs[s]!) || "—"),
      kv("outputs", str(c.outputs[s]!) || "—"),
      kv(
        "work",
        `${fmt(c.units[s]!)} units, virtual time ${fmt(c.t[s]!)}${c.forced[s] === 1 ? " (forced status)" : ""}`,
      ),
    ];
    if (c.resumes[s]! >= 0)
      kids.push(kv("resumes", link(`#${c.seq[c.resumes[s]!]}`, c.pos[c.resumes[s]!]!), " (interrupted)"));
    if (resumedBy[s]! >= 0)
      kids.push(kv("resumed by", link(`#${c.seq[resumedBy[s]!]}`, c.pos[resumedBy[s]!]!)));
    kids.push(kv("PAMT changes", rangesText(touched)));
    const ri = c.root[s]!;
    if (ri >= 0) {
      const root = m.roots[ri]!;
      const raws = expandEntryRuns(root.runs);
      const rows: DomElement[] = [];
      let listed = 0;
      let bad = 0;
      raws.forEach(([lo, hi], index) => {
        // Decoded here, with the project's own decoders.
        const d =
          root.format === "iommu-mt"
            ? decodeIommuMtEntry(lo, hi, { index, queuePages: m.queuePages })
            : decodeListEntry(lo, hi, index);
        const pages = Math.max(1, d.fields.numPages);
        listed += pages;
        hl.push(d.fields.hpa / 4096, pages);
        if (d.violation !== null) bad++;
        if (index < ENTRIES_SHOWN || d.violation !== null)
          rows.push(
            h(
              "tr",
              d.violation === null ? "entry" : "entry bad",
              h("td", null, String(index)),
              h("td", "mono", u64ToHex(lo, hi)),
              h("td", "mono", `0x${d.fields.hpa.toString(16)}`),
              h("td", null, d.fields.numPages === 0 ? "1" : String(d.fields.numPages)),
              h("td", null, d.violation === null ? "ok" : `${d.violation.message} (${d.violation.ref})`),
            ),
          );
      });
      if (root.rootHpa !== null) {
        const rp = Number.parseInt(root.rootHpa, 16) / 4096;
        hl.push(rp, 1);
      }
      kids.push(
        h("h3", null, `Root page: ${root.register} = ${root.format}`),
        kv("root page", root.rootHpa ?? "none (singleton: the operand names the one page)"),
        kv(
          "entries",
          `${fmt(raws.length)} of ${fmt(root.count)}, listing ${fmt(listed)} pages${bad > 0 ? `, ${bad} breaking a rule` : ""}`,
        ),
        h(
          "table",
          { class: "entries", "data-entries": String(raws.length) },
          h("tr", null, ...["#", "raw", "HPA", "pages", "check"].map((x) => h("th", null, x))),
          ...rows,
        ),
        raws.length > rows.length
          ? h("p", "muted", `${fmt(raws.length - rows.length)} more entries of the same run not shown.`)
          : null,
      );
    }
    put(detail, ...kids);
    return hl;
  }

  function showCell(i: number): void {
    const first = layout.cellPfn[i]!;
    const n = layout.cellPages[i]!;
    const kids: Child[] = [
      h("h2", null, n === 1 ? `Page ${hpaOf(first)}` : `${fmt(n)} pages from ${hpaOf(first)}`),
    ];
    for (let k = 0; k < m.runs.length; k += 3) {
      const a = m.runs[k]!;
      const e = a + m.runs[k + 1]!;
      if (e <= first || a >= first + n) continue;
      if (kids.length > 8) {
        kids.push(h("p", "muted", "… more runs in this cell"));
        break;
      }
      const hist = m.histories[m.runs[k + 2]!]!;
      const items: DomElement[] = [];
      for (let q = 0; q < hist.length; q += 2)
        items.push(
          h("li", null, link(`position ${fmt(hist[q]!)}`, hist[q]!), `: ${stateLabel(hist[q + 1]!)}`),
        );
      const s = Math.max(a, first);
      kids.push(
        h("h3", null, `${fmt(Math.min(e, first + n) - s)} page(s) from ${hpaOf(s)}`),
        h("ul", "hist", ...items.slice(0, 30)),
      );
    }
    put(detail, ...kids);
    highlight = new Set([i]);
    drawMap();
  }

  // ---- hazards ---------------------------------------------------------------------------------
  const hz = $("hazards");
  if (m.figures.hazards === 0) {
    put(hz, h("h2", null, "Hazards"), h("p", "muted", "None: no page was at risk in this run."));
  } else {
    // Identical rows (same kind, same cause, same text but for the page) collapse into one with a count.
    const groups = new Map<string, { first: number[]; pfns: number[] }>();
    for (const x of m.hazards) {
      const [, , kind, call, cause, message] = x as [number, number, number, number, number, number];
      const key = `${kind} ${call >= 0 ? `#${call}` : cause} ${str(message).replace(/\b(PFN|page) 0x[0-9a-f]+/g, "$1 …")}`;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { first: x, pfns: [x[1]!] });
      else g.pfns.push(x[1]!);
    }
    const rows = [...groups.values()].slice(0, HAZARDS_SHOWN).map(({ first: x, pfns }) => {
      const [p, pfn, kind, call, cause, message] = x as [number, number, number, number, number, number];
      const lo = Math.min(...pfns);
      const hi = Math.max(...pfns);
      const n = pfns.length;
      const tr = h(
        "tr",
        { class: "hazard", "data-count": String(n) },
        h("td", null, str(kind)),
        h("td", "num", n > 1 ? `×${fmt(n)}` : "1"),
        h("td", "mono", n > 1 ? `${hpaOf(lo)} … ${hpaOf(hi)}` : hpaOf(pfn)),
        h(
          "td",
          null,
          call >= 0 ? link(`#${c.seq[call]} ${str(c.leaf[call]!)}`, c.pos[call]!) : link(str(cause), p),
        ),
        h("td", null, n > 1 ? str(message).replace(/\b(PFN|page) 0x[0-9a-f]+/g, "$1 …") : str(message)),
      );
      tr.addEventListener("click", () => {
        setPos(p, true);
        for (const q of pfns) {
          const cell = cellOf(layout, q);
          if (cell >= 0) highlight.add(cell);
        }
        drawMap();
      });
      return tr;
    });
    put(
      hz,
      h("h2", null, `Hazards (${fmt(m.figures.hazards)})`),
      h(
        "table",
        { class: "hz", "data-hazards": String(m.figures.hazards) },
        h(
          "tr",
          null,
          ...["kind", "count", "pages (HPA)", "caused by", "what happened"].map((s) => h("th", null, s)),
        ),
        ...rows,
      ),
      m.figures.hazards > m.hazards.length || groups.size > rows.length
        ? h(
            "p",
            "muted",
            `${groups.size > rows.length ? `${fmt(groups.size - rows.length)} more kinds of row not listed. ` : ""}${
              m.figures.hazards > m.hazards.length
                ? `Only the first ${fmt(m.hazards.length)} hazards are listed (all are red on the map).`
                : ""
            }`,
          )
        : null,
    );
  }

  // ---- state changes ---------------------------------------------------------------------------
  function setPos(p: number, scroll: boolean): void {
    pos = Math.max(0, Math.min(S, p));
    slider.value = String(pos);
    $("pos").textContent = posLabel(pos);
    const hl = showStep(pos);
    highlight = cellsOfRanges(layout, hl);
    if (scroll) scrollTimelineTo(pos);
    if (!pending) {
      pending = true;
      b.requestAnimationFrame(() => {
        pending = false;
        drawMap();
        renderTimeline();
      });
    }
  }

  $("pos").textContent = posLabel(pos);
  put(
    detail,
    h("h2", null, "How to read this report"),
    h(
      "p",
      null,
      "The map shows every page the run allocated, handed to the TDX Module or put at risk, in address order, coloured by its state at the slider position. ",
      "Move the slider (or use ← →) to replay the run step by step: each SEAMCALL is a step, and so is each batch of host allocations and frees between two SEAMCALLs.",
    ),
    h(
      "p",
      null,
      "Click a row of the timeline to see that call's operands and status, its root page decoded entry by entry, and the pages it touched highlighted on the map. ",
      "Hover the map for a cell's pages; click a cell for their history.",
    ),
    m.figures.hazards > 0
      ? h(
          "p",
          "bad",
          `This run has ${fmt(m.figures.hazards)} hazard(s): red cells on the map, red ticks on the step bar, and the list below.`,
        )
      : h("p", "muted", "This run has no hazards."),
  );
  highlight = new Set();
  drawMap();
  renderTimeline();
  doc.body.setAttribute("data-parse-ms", parseMs.toFixed(1));
  doc.body.setAttribute("data-render-ms", (b.performance.now() - t0).toFixed(1));
  doc.body.setAttribute("data-ready", "1");
}

try {
  main();
} catch (e) {
  const el = doc.getElementById("summary");
  if (el !== null) el.textContent = `The report could not be drawn: ${(e as Error).message}`;
  doc.body.setAttribute("data-error", String((e as Error).message));
}
