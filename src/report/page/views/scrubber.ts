/**
 * The report page's scrubber: the slider and its buttons (and ← →), the bar of scenario steps with a
 * red tick per hazard, and the line naming the position. Browser code.
 */
import type { DomInput } from "../../dom.js";
import { type PageState, str } from "../state.js";
import { $, doc, fmt, h, put } from "../ui.js";

/** Position `p` for people: `position 12 of 40: after SEAMCALL #7 TDH.EXT.MEM.ADD → TDX_SUCCESS`. */
export function posLabel(st: PageState, p: number): string {
  const { m, S } = st;
  const c = m.calls;
  if (p === 0) return "position 0: before the first step";
  const s = m.steps[p - 1]!;
  if (s >= 0)
    return `position ${fmt(p)} of ${fmt(S)}: after SEAMCALL #${c.seq[s]} ${str(st, c.leaf[s]!)} → ${str(st, c.status[s]!)}`;
  return `position ${fmt(p)} of ${fmt(S)}: after host actions`;
}

/** The step bar: one block per scenario step (click: its first position), one tick per hazard position. */
function renderStepBar(st: PageState): void {
  const { m, S } = st;
  const phaseEls = [];
  for (const [label, begin, end, ok] of m.phases) {
    if (end! <= begin!) continue;
    const el = h(
      "div",
      { class: `ph ${ok === 1 ? "" : "bad"}`, title: `${str(st, label!)}: positions ${begin! + 1}–${end}` },
      str(st, label!),
    );
    el.style.setProperty("left", `${(begin! / Math.max(1, S)) * 100}%`);
    el.style.setProperty("width", `${((end! - begin!) / Math.max(1, S)) * 100}%`);
    el.addEventListener("click", () => st.setPos(begin! + 1, true));
    phaseEls.push(el);
  }
  const ticks = [];
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
  put($("phases"), ...phaseEls, ...ticks);
}

/** Sets up the scrubber; returns the function that shows the state's position on it. */
export function initScrubber(st: PageState): () => void {
  const S = st.S;
  const slider = $("slider") as DomInput;
  slider.min = "0";
  slider.max = String(S);
  slider.value = String(st.pos);
  slider.addEventListener("input", () => st.setPos(Number(slider.value), true));
  $("first").addEventListener("click", () => st.setPos(0, true));
  $("prev").addEventListener("click", () => st.setPos(Math.max(0, st.pos - 1), true));
  $("next").addEventListener("click", () => st.setPos(Math.min(S, st.pos + 1), true));
  $("last").addEventListener("click", () => st.setPos(S, true));
  doc.addEventListener("keydown", (e) => {
    const tag = (e.target as { tagName?: string }).tagName;
    if (tag === "INPUT") return;
    if (e.key === "ArrowLeft") st.setPos(Math.max(0, st.pos - 1), true);
    else if (e.key === "ArrowRight") st.setPos(Math.min(S, st.pos + 1), true);
    else return;
    e.preventDefault();
  });
  renderStepBar(st);
  return () => {
    slider.value = String(st.pos);
    $("pos").textContent = posLabel(st, st.pos);
  };
}
