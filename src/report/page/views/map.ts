/**
 * The report page's map view: the page map on a canvas at the slider position (cells coloured by
 * state, hazards red, highlighted cells outlined), the zoom panel of the highlighted cells, the legend
 * with counts, the hover tooltip and the click that shows a cell's history. Browser code.
 */
import type { Canvas2d, DomCanvas } from "../../dom.js";
import { type MapFrame, mapFrame } from "../../map.js";
import { type PageState, runsIn, stateLabel } from "../state.js";
import {
  $,
  b,
  CELL,
  catColour,
  fmt,
  GUTTER,
  HAZARD_COLOUR,
  h,
  hpaOf,
  mib,
  put,
  ZOOM_CELL,
  ZOOM_COLS,
  ZOOM_MAX,
} from "../ui.js";

/** The map's canvas, sized for the layout (device pixel ratio up to 2). */
interface MapCanvas {
  readonly canvas: DomCanvas;
  readonly ctx: Canvas2d;
  readonly dpr: number;
  readonly cssW: number;
  readonly cssH: number;
}

/** Sizes `#map` for the layout, sets its data attributes and the scale line; returns its context. */
function setUpCanvas(st: PageState): MapCanvas {
  const { layout, m } = st;
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
  return { canvas, ctx, dpr, cssW, cssH };
}

/** Group labels, and an HPA in the gutter at the first cell of a row (at most one per four rows). */
function drawLabels(st: PageState, ctx: Canvas2d): void {
  const layout = st.layout;
  ctx.font = "10px ui-monospace, SFMono-Regular, Menlo, monospace";
  ctx.fillStyle = "#64748b";
  for (const g of layout.groupRows) {
    ctx.fillStyle = "#0f172a";
    ctx.fillText(`${g.label}: ${fmt(g.pages)} page${g.pages === 1 ? "" : "s"}`, GUTTER, g.row * CELL + 10);
  }
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
}

/** The cells, dimmed but for the highlighted ones, which are outlined. */
function drawCells(st: PageState, ctx: Canvas2d, f: MapFrame): void {
  const { layout, highlight } = st;
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
}

/** The highlighted cells again, enlarged, in address order (at most ZOOM_MAX). */
function drawZoom(st: PageState, zoom: DomCanvas, zctx: Canvas2d, dpr: number, f: MapFrame): void {
  const { layout, highlight } = st;
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

/** The legend: each category with its page count at the position, then hazards. */
function drawLegend(st: PageState, f: MapFrame): void {
  const items = st.cats.names.map((name, k) =>
    h(
      "span",
      { class: "item", "data-cat": name, "data-count": String(f.pagesByCat[k]) },
      h("i", { style: `background:${catColour(k)}` }),
      `${name} `,
      h("b", null, fmt(f.pagesByCat[k]!)),
    ),
  );
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

/** The cell under a mouse event, or -1 (`cellSlot` is increasing: binary search). */
function cellAt(st: PageState, canvas: DomCanvas, e: { clientX?: number; clientY?: number }): number {
  const layout = st.layout;
  const rect = canvas.getBoundingClientRect();
  const x = (e.clientX ?? 0) - rect.left - GUTTER;
  const y = (e.clientY ?? 0) - rect.top;
  if (x < 0) return -1;
  const slot = Math.floor(y / CELL) * layout.cols + Math.floor(x / CELL);
  if (Math.floor(x / CELL) >= layout.cols) return -1;
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
}

/** Map hover: a tooltip naming the cell's pages and their states now; click: the pages' histories. */
function listen(st: PageState, canvas: DomCanvas): void {
  const tip = $("tip");
  canvas.addEventListener("mousemove", (e) => {
    const i = cellAt(st, canvas, e);
    if (i < 0) {
      tip.className = "tip";
      return;
    }
    const first = st.layout.cellPfn[i]!;
    const n = st.layout.cellPages[i]!;
    const lines = runsIn(st, first, n).map(
      ([pfn, cnt, s]) =>
        `${cnt === 1 ? hpaOf(pfn) : `${fmt(cnt)} pages from ${hpaOf(pfn)}`}: ${stateLabel(st, s)}`,
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
    const i = cellAt(st, canvas, e);
    if (i >= 0) st.showCell(i);
  });
}

/** Sets up the map and returns the function that draws it at the state's position. */
export function initMap(st: PageState): () => void {
  const mc = setUpCanvas(st);
  const zoom = $("zoom") as DomCanvas;
  const zctx = zoom.getContext("2d") as Canvas2d;
  listen(st, mc.canvas);
  return () => {
    const f = mapFrame(st.m, st.layout, st.cats, st.pos);
    mc.ctx.clearRect(0, 0, mc.cssW, mc.cssH);
    drawLabels(st, mc.ctx);
    drawCells(st, mc.ctx, f);
    mc.canvas.setAttribute("data-pos", String(st.pos));
    mc.canvas.setAttribute("data-highlighted", String(st.highlight.size));
    drawZoom(st, zoom, zctx, mc.dpr, f);
    drawLegend(st, f);
  };
}
