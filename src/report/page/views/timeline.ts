/**
 * The report page's SEAMCALL timeline, virtualised: one row per scenario step header and per step (a
 * call or a host batch), of which only the visible rows exist in the DOM. Browser code.
 */
import type { DomElement } from "../../dom.js";
import { CLS } from "../../model.js";
import { type PageState, str } from "../state.js";
import { $, fmt, h, put, ROW_H } from "../ui.js";

/** The timeline's rows: kind 0 a scenario step header (ref: its index), 1 a step (ref: its position). */
interface Rows {
  readonly kind: number[];
  readonly ref: number[];
  /** Row of each position (1-based). */
  readonly ofPos: Int32Array;
}

function rowsOf(st: PageState): Rows {
  const { m, S } = st;
  const kind: number[] = [];
  const ref: number[] = [];
  const ofPos = new Int32Array(S + 1);
  const step = (p: number) => {
    ofPos[p] = kind.length;
    kind.push(1);
    ref.push(p);
  };
  let p = 1;
  m.phases.forEach((ph, i) => {
    for (; p <= ph[1]!; p++) step(p);
    kind.push(0);
    ref.push(i);
    for (; p <= ph[2]!; p++) step(p);
  });
  for (; p <= S; p++) step(p);
  return { kind, ref, ofPos };
}

/** The row of host batch `-(s + 1)`: what it allocated and freed, and its hazards. */
function hostRow(st: PageState, s: number): DomElement {
  const m = st.m;
  const hi = -s - 1;
  const al = m.hosts.allocs[hi]!;
  let pages = 0;
  const tags = new Set<string>();
  for (let k = 0; k < al.length; k += 3) {
    pages += al[k + 1]!;
    tags.add(str(st, al[k + 2]!));
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

/** The row of position `p`: a call (leaf, operands, status, badges) or a host batch. */
function stepRow(st: PageState, p: number): DomElement {
  const s = st.m.steps[p - 1]!;
  if (s < 0) return hostRow(st, s);
  const c = st.m.calls;
  const cls = c.cls[s]!;
  return h(
    "div",
    `row call ${cls === CLS.ERROR ? "err" : cls === CLS.INTERRUPTED ? "int" : ""}`,
    h("span", "seq", `#${c.seq[s]}`),
    h("span", "leaf", str(st, c.leaf[s]!)),
    h("span", "ops", str(st, c.inputs[s]!)),
    h("span", `st c${cls}`, str(st, c.status[s]!)),
    c.resumes[s]! >= 0 ? h("span", "badge res", `resumes #${c.seq[c.resumes[s]!]}`) : null,
    c.forced[s] === 1 ? h("span", "badge err", "forced") : null,
    c.units[s]! > 0 ? h("span", "units", `${fmt(c.units[s]!)} u`) : null,
  );
}

/** The header row of scenario step `i`. */
function phaseRow(st: PageState, i: number): DomElement {
  const ph = st.m.phases[i]!;
  const el = h(
    "div",
    `row phase ${ph[3] === 1 ? "" : "bad"}`,
    `step ${i}: ${str(st, ph[0]!)}`,
    h("span", "pr", `${ph[3] === 1 ? "ok" : "FAILED"}${ph[4]! >= 0 ? ` (${str(st, ph[4]!)})` : ""}`),
  );
  const begin = ph[1]!;
  el.addEventListener("click", () => st.setPos(Math.min(st.S, begin + 1), true));
  return el;
}

/** The timeline's actions: draw the visible rows, scroll position `p` into view. */
export interface Timeline {
  render(): void;
  scrollTo(p: number): void;
}

/** Sets up `#timeline` (its height, counts and scroll listener). */
export function initTimeline(st: PageState): Timeline {
  const { m, S } = st;
  const c = m.calls;
  const rows = rowsOf(st);
  const tl = $("timeline");
  const spacer = $("tl-spacer");
  spacer.style.setProperty("height", `${rows.kind.length * ROW_H}px`);
  tl.setAttribute("data-rows", String(rows.kind.length));
  tl.setAttribute("data-calls", String(c.seq.length));
  tl.setAttribute("data-steps", String(S));
  $("tl-count").textContent =
    `${fmt(c.seq.length)} SEAMCALLs, ${fmt(m.figures.interrupts)} interrupted and resumed, ${fmt(m.hosts.allocs.length)} host-action steps, in ${m.phases.length} scenario steps`;
  const render = (): void => {
    const first = Math.max(0, Math.floor(tl.scrollTop / ROW_H) - 2);
    const count = Math.ceil((tl.clientHeight || 400) / ROW_H) + 4;
    const out: DomElement[] = [];
    for (let i = first; i < Math.min(rows.kind.length, first + count); i++) {
      let el: DomElement;
      if (rows.kind[i] === 0) el = phaseRow(st, rows.ref[i]!);
      else {
        const p = rows.ref[i]!;
        el = stepRow(st, p);
        el.setAttribute("data-pos", String(p));
        if (p === st.pos) el.className += " cur";
        el.addEventListener("click", () => st.setPos(p, false));
      }
      el.style.setProperty("top", `${i * ROW_H}px`);
      out.push(el);
    }
    put(spacer, ...out);
  };
  tl.addEventListener("scroll", () => render(), { passive: true });
  return {
    render,
    scrollTo: (p) => {
      if (p < 1) return;
      const y = rows.ofPos[p]! * ROW_H;
      const hgt = tl.clientHeight || 400;
      if (y < tl.scrollTop || y + ROW_H > tl.scrollTop + hgt) tl.scrollTop = Math.max(0, y - hgt / 3);
    },
  };
}
