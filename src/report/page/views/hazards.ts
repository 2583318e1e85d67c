/**
 * The report page's hazard list: identical hazards (same kind, same cause, same text but for the page)
 * collapse into one row with a count and a page range; clicking a row moves the slider to it and
 * highlights its pages on the map. Browser code.
 */
import { cellOf } from "../../map.js";
import { type PageState, str } from "../state.js";
import { $, fmt, HAZARDS_SHOWN, h, hpaOf, put } from "../ui.js";
import { posLink } from "./detail.js";

/** A hazard row's message with page addresses elided, so rows differing only there group. */
const elide = (message: string) => message.replace(/\b(PFN|page) 0x[0-9a-f]+/g, "$1 …");

/** Hazards grouped as listed: the first of each group, and the pages of all of them. */
function groupHazards(st: PageState): Map<string, { first: number[]; pfns: number[] }> {
  const groups = new Map<string, { first: number[]; pfns: number[] }>();
  for (const x of st.m.hazards) {
    const [, , kind, call, cause, message] = x as [number, number, number, number, number, number];
    const key = `${kind} ${call >= 0 ? `#${call}` : cause} ${elide(str(st, message))}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, { first: x, pfns: [x[1]!] });
    else g.pfns.push(x[1]!);
  }
  return groups;
}

/** The row of one group. */
function hazardRow(st: PageState, x: number[], pfns: number[]) {
  const c = st.m.calls;
  const [p, pfn, kind, call, cause, message] = x as [number, number, number, number, number, number];
  const lo = Math.min(...pfns);
  const hi = Math.max(...pfns);
  const n = pfns.length;
  const tr = h(
    "tr",
    { class: "hazard", "data-count": String(n) },
    h("td", null, str(st, kind)),
    h("td", "num", n > 1 ? `×${fmt(n)}` : "1"),
    h("td", "mono", n > 1 ? `${hpaOf(lo)} … ${hpaOf(hi)}` : hpaOf(pfn)),
    h(
      "td",
      null,
      call >= 0
        ? posLink(st, `#${c.seq[call]} ${str(st, c.leaf[call]!)}`, c.pos[call]!)
        : posLink(st, str(st, cause), p),
    ),
    h("td", null, n > 1 ? elide(str(st, message)) : str(st, message)),
  );
  tr.addEventListener("click", () => {
    st.setPos(p, true);
    for (const q of pfns) {
      const cell = cellOf(st.layout, q);
      if (cell >= 0) st.highlight.add(cell);
    }
    st.drawMap();
  });
  return tr;
}

/** Draws `#hazards` (once). */
export function renderHazards(st: PageState): void {
  const m = st.m;
  const hz = $("hazards");
  if (m.figures.hazards === 0) {
    put(hz, h("h2", null, "Hazards"), h("p", "muted", "None: no page was at risk in this run."));
    return;
  }
  const groups = groupHazards(st);
  const rows = [...groups.values()]
    .slice(0, HAZARDS_SHOWN)
    .map(({ first, pfns }) => hazardRow(st, first, pfns));
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
