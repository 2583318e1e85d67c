/**
 * The report page's state: the parsed {@link ReportModel}, what is derived from it once (map layout,
 * categories, which call resumed which), the slider position and the highlighted map cells, and the
 * actions views call on each other (wired by ./main.ts). Browser code.
 */
import { type Categories, categories, type MapLayout, mapLayout } from "../map.js";
import { BASE_NAMES, baseOf, type ReportModel, stateAt } from "../model.js";

/** Everything the views share. */
export interface PageState {
  readonly m: ReportModel;
  /** Number of steps (the slider's maximum position). */
  readonly S: number;
  readonly layout: MapLayout;
  readonly cats: Categories;
  /** Per call, the call that resumed it, or -1. */
  readonly resumedBy: Int32Array;
  /** The slider position. */
  pos: number;
  /** Highlighted map cells. */
  highlight: Set<number>;
  /** Moves the slider to `p` (scrolling the timeline to it when `scroll`), redraws on the next frame. */
  setPos(p: number, scroll: boolean): void;
  /** Redraws the map (with its zoom and legend) now. */
  drawMap(): void;
  /** Shows map cell `i`'s pages and their histories in the detail panel. */
  showCell(i: number): void;
}

/** The actions of {@link PageState}, provided by the views once they exist. */
export type Actions = Pick<PageState, "setPos" | "drawMap" | "showCell">;

/** The state of model `m` with `cols` map columns, at the last position; actions fail until {@link wire}d. */
export function createState(m: ReportModel, cols: number): PageState {
  const c = m.calls;
  const resumedBy = new Int32Array(c.seq.length).fill(-1);
  for (let i = 0; i < c.seq.length; i++) if (c.resumes[i]! >= 0) resumedBy[c.resumes[i]!] = i;
  const unwired = () => {
    throw new Error("report page: views not wired");
  };
  return {
    m,
    S: m.steps.length,
    layout: mapLayout(m, undefined, cols),
    cats: categories(m),
    resumedBy,
    pos: m.steps.length,
    highlight: new Set(),
    setPos: unwired,
    drawMap: unwired,
    showCell: unwired,
  };
}

/** Installs the views' actions into `st`. */
export function wire(st: PageState, actions: Actions): void {
  Object.assign(st, actions);
}

/** String `i` of the model's string table ("" when out of range). */
export function str(st: PageState, i: number): string {
  return st.m.strings[i] ?? "";
}

/** Runs of pages inside [first, first + n) with their state at `at`: `[pfn, count, state]`. */
export function runsIn(st: PageState, first: number, n: number, at = st.pos): [number, number, number][] {
  const m = st.m;
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

/** A page state for people: `module-owned (PT_EXT_POOL, object 3) + HAZARD`. */
export function stateLabel(st: PageState, state: number): string {
  const s = st.m.states[state]!;
  const base = baseOf(s);
  let text = BASE_NAMES[base]!;
  if (s[1] >= 0) text += ` (${str(st, s[1])}, object ${s[2]})`;
  if (base === 3 && s[1] < 0) text += s[0] === 1 ? " (allocated)" : "";
  if (s[3] === 1) text += " + HAZARD";
  return text;
}
