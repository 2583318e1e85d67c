/**
 * The report page's DOM helpers and drawing constants, shared by its views (./views/). Browser code,
 * bundled into the HTML report by scripts/build-report-page.mjs; the DOM types come from ../dom.ts.
 */
import { pfnToHpa } from "../../common/u64.js";
import { browser, type DomElement } from "../dom.js";
import { CAT } from "../map.js";

/** The browser globals the page uses. */
export const b = browser();
/** The document. */
export const doc = b.document;

/** Map cell size and the gutter left of the map (CSS pixels). */
export const CELL = 6;
export const GUTTER = 92;
/** Timeline row height (CSS pixels). */
export const ROW_H = 22;
/** Root entries listed one by one (entries breaking a rule are always listed). */
export const ENTRIES_SHOWN = 64;
/** Hazard rows listed. */
export const HAZARDS_SHOWN = 200;
/** Badge class of each verdict (src/scenario/verdict.ts). */
export const VERDICT_CLASS: Readonly<Record<string, string>> = {
  clean: "ok",
  "findings, all expected": "warn",
  "problems found": "bad",
};
const COLOURS = ["#e2e8f0", "#60a5fa", "#111827"];
const MODULE_COLOURS = ["#16a34a", "#9333ea", "#0d9488", "#d97706", "#db2777", "#4d7c0f", "#0369a1"];
export const HAZARD_COLOUR = "#dc2626";
/** The zoom panel: cell size, columns, most cells shown. */
export const ZOOM_CELL = 12;
export const ZOOM_COLS = 64;
export const ZOOM_MAX = 1024;

/** What {@link h} and {@link put} accept as a child; null and false are skipped. */
export type Child = DomElement | string | null | false;

/** Creates an element: `h("td", "cls", "text", child…)`; attributes via `{ attr: value }`. */
export function h(tag: string, cls: string | Record<string, string> | null, ...kids: Child[]): DomElement {
  const e = doc.createElement(tag);
  if (typeof cls === "string") e.className = cls;
  else if (cls !== null) for (const [k, v] of Object.entries(cls)) e.setAttribute(k, v);
  for (const k of kids) if (k !== null && k !== false) e.append(k);
  return e;
}

/** Replaces `e`'s children, skipping null and false. */
export function put(e: DomElement, ...kids: Child[]): void {
  e.replaceChildren(...kids.filter((k): k is DomElement | string => k !== null && k !== false));
}

/** The element with id `id` (the page's HTML has them all: a missing one is a bug, thrown). */
export const $ = (id: string): DomElement => {
  const e = doc.getElementById(id);
  if (e === null) throw new Error(`report page: no #${id}`);
  return e;
};

/** A count with thousands separators. */
export const fmt = (n: number) => n.toLocaleString("en-US");
/** The HPA of page `pfn`, as hex. */
export const hpaOf = (pfn: number) => `0x${pfnToHpa(pfn).toString(16)}`;
/** `pages` 4 KiB pages in MiB. */
export const mib = (pages: number) =>
  `${(pages / 256).toLocaleString("en-US", { maximumFractionDigits: 2 })} MiB`;

/** The colour of map category `cat` ({@link CAT}). */
export function catColour(cat: number): string {
  return cat < CAT.MODULE0 ? COLOURS[cat]! : MODULE_COLOURS[(cat - CAT.MODULE0) % MODULE_COLOURS.length]!;
}
