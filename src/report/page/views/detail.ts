/**
 * The report page's detail panel: the selected step (a call with its operands, status, resumption
 * links and its root page decoded entry by entry, or a host batch), a map cell's page histories, or the
 * introduction. Root-page entries are decoded here with the project's own decoders
 * (src/common/formats.ts), the same code the CLI and the emulated module use, so the page and the CLI
 * cannot disagree. Browser code.
 */
import { decodeIommuMtEntry, decodeListEntry } from "../../../common/formats.js";
import { hpaToPfn, u64ToHex } from "../../../common/u64.js";
import type { DomElement } from "../../dom.js";
import { expandEntryRuns, type RootRecord } from "../../model.js";
import { type PageState, stateLabel, str } from "../state.js";
import { $, type Child, ENTRIES_SHOWN, fmt, h, hpaOf, put } from "../ui.js";

/** A link that moves the slider to position `p`. */
export function posLink(st: PageState, text: string, p: number): DomElement {
  const a = h("a", { href: "#", "data-goto": String(p) }, text);
  a.addEventListener("click", (e) => {
    e.preventDefault();
    st.setPos(p, true);
  });
  return a;
}

const kv = (k: string, ...v: Child[]) => h("div", "kv", h("span", "k", k), h("span", "v", ...v));

/** `[pfn, count]` ranges step `p` touched. */
function touchedRanges(st: PageState, p: number): number[] {
  return st.m.touch.slice(st.m.touchOff[p - 1]!, st.m.touchOff[p]!);
}

/** `12 pages in 2 ranges: 0x…, 0x… ×11`. */
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

/** Host batch `-(s + 1)` at position `p`. */
function hostDetail(st: PageState, s: number, p: number, touched: readonly number[]): Child[] {
  const m = st.m;
  const hi = -s - 1;
  const al = m.hosts.allocs[hi]!;
  const allocs: DomElement[] = [];
  for (let k = 0; k < al.length; k += 3)
    allocs.push(
      h(
        "li",
        null,
        `${hpaOf(al[k]!)}: ${fmt(al[k + 1]!)} page${al[k + 1] === 1 ? "" : "s"}, tag ${str(st, al[k + 2]!)}`,
      ),
    );
  return [
    h("h2", null, "Host actions", h("span", "pos", ` position ${fmt(p)}`)),
    kv("allocations", `${fmt(al.length / 3)}`),
    allocs.length > 0 ? h("ul", "allocs", ...allocs.slice(0, 20)) : null,
    kv("pages freed", fmt(m.hosts.frees[hi]!)),
    kv("hazards", fmt(m.hosts.hazards[hi]!)),
    kv("pages touched", rangesText(touched)),
  ];
}

/** A call's root page, its entries decoded; pushes the pages they list (and the root) onto `hl`. */
function rootDetail(st: PageState, root: RootRecord, hl: number[]): Child[] {
  const raws = expandEntryRuns(root.runs);
  const rows: DomElement[] = [];
  let listed = 0;
  let bad = 0;
  raws.forEach(([lo, hi], index) => {
    const d =
      root.format === "iommu-mt"
        ? decodeIommuMtEntry(lo, hi, { index, queuePages: st.m.queuePages })
        : decodeListEntry(lo, hi, index);
    const pages = Math.max(1, d.fields.numPages);
    listed += pages;
    hl.push(hpaToPfn(d.fields.hpa), pages);
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
  // The model writes the root page's address as hex text (it is shown as is).
  if (root.rootHpa !== null) hl.push(hpaToPfn(Number.parseInt(root.rootHpa, 16)), 1);
  return [
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
  ];
}

/** Call `s` at position `p`; pushes the pages to highlight onto `hl`. */
function callDetail(st: PageState, s: number, p: number, touched: readonly number[], hl: number[]): Child[] {
  const c = st.m.calls;
  const cls = c.cls[s]!;
  const kids: Child[] = [
    h(
      "h2",
      null,
      `#${c.seq[s]} ${str(st, c.leaf[s]!)} `,
      h("span", `st c${cls}`, str(st, c.status[s]!)),
      h("span", "pos", ` position ${fmt(p)}`),
    ),
    kv("inputs", str(st, c.inputs[s]!) || "—"),
    kv("outputs", str(st, c.outputs[s]!) || "—"),
    kv(
      "work",
      `${fmt(c.units[s]!)} units, virtual time ${fmt(c.t[s]!)}${c.forced[s] === 1 ? " (forced status)" : ""}`,
    ),
  ];
  if (c.resumes[s]! >= 0)
    kids.push(
      kv("resumes", posLink(st, `#${c.seq[c.resumes[s]!]}`, c.pos[c.resumes[s]!]!), " (interrupted)"),
    );
  const by = st.resumedBy[s]!;
  if (by >= 0) kids.push(kv("resumed by", posLink(st, `#${c.seq[by]}`, c.pos[by]!)));
  kids.push(kv("PAMT changes", rangesText(touched)));
  const ri = c.root[s]!;
  if (ri >= 0) kids.push(...rootDetail(st, st.m.roots[ri]!, hl));
  return kids;
}

/** Shows step `p` (a call or a host batch) and returns the pages to highlight as `[pfn, count]` ranges. */
export function showStep(st: PageState, p: number): number[] {
  const detail = $("detail");
  if (p === 0) {
    put(
      detail,
      h("h2", null, "Start"),
      h("p", "muted", "Before the first step. Move the slider or click a row of the timeline."),
    );
    return [];
  }
  const s = st.m.steps[p - 1]!;
  const touched = touchedRanges(st, p);
  const hl = [...touched];
  put(detail, ...(s < 0 ? hostDetail(st, s, p, touched) : callDetail(st, s, p, touched, hl)));
  return hl;
}

/** Shows map cell `i`'s runs of pages with their histories, and highlights the cell. */
export function showCell(st: PageState, i: number): void {
  const m = st.m;
  const first = st.layout.cellPfn[i]!;
  const n = st.layout.cellPages[i]!;
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
        h(
          "li",
          null,
          posLink(st, `position ${fmt(hist[q]!)}`, hist[q]!),
          `: ${stateLabel(st, hist[q + 1]!)}`,
        ),
      );
    const s = Math.max(a, first);
    kids.push(
      h("h3", null, `${fmt(Math.min(e, first + n) - s)} page(s) from ${hpaOf(s)}`),
      h("ul", "hist", ...items.slice(0, 30)),
    );
  }
  put($("detail"), ...kids);
  st.highlight = new Set([i]);
  st.drawMap();
}

/** The introduction shown before anything is selected. */
export function showIntro(st: PageState): void {
  const hazards = st.m.figures.hazards;
  put(
    $("detail"),
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
    hazards > 0
      ? h(
          "p",
          "bad",
          `This run has ${fmt(hazards)} hazard(s): red cells on the map, red ticks on the step bar, and the list below.`,
        )
      : h("p", "muted", "This run has no hazards."),
  );
}
