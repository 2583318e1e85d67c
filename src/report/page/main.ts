/**
 * The HTML report's own code (bundled by scripts/build-report-page.mjs into one inline script): reads
 * the embedded {@link ReportModel} and draws the summary, the page map at a slider position, the
 * SEAMCALL timeline (virtualised: only the visible rows exist), the selected step's detail and the
 * hazards. This file starts the page and wires the views (./views/) to the shared state (./state.ts).
 *
 * Hooks for tests and measurements: `body[data-ready]` when drawn, `data-parse-ms` / `data-render-ms`,
 * `#map[data-pos]`, legend items `[data-cat][data-count]`, `#timeline[data-rows]`, `.entry` rows.
 */
import { cellsOfRanges, MAP_COLS } from "../map.js";
import type { ReportModel } from "../model.js";
import { createState, wire } from "./state.js";
import { $, b, CELL, doc, GUTTER } from "./ui.js";
import { showCell, showIntro, showStep } from "./views/detail.js";
import { renderHazards } from "./views/hazards.js";
import { initMap } from "./views/map.js";
import { initScrubber } from "./views/scrubber.js";
import { renderSummary } from "./views/summary.js";
import { initTimeline } from "./views/timeline.js";

/** As many map columns as the map's panel has room for (at most MAP_COLS), so nothing is clipped. */
function mapColumns(): number {
  const room = ($("map-panel") as unknown as { clientWidth?: number }).clientWidth ?? 0;
  return room > 0 ? Math.max(32, Math.min(MAP_COLS, Math.floor((room - 26 - GUTTER) / CELL))) : MAP_COLS;
}

function main(): void {
  const t0 = b.performance.now();
  const m = JSON.parse($("tdxpa-data").textContent ?? "null") as ReportModel;
  const parseMs = b.performance.now() - t0;
  const st = createState(m, mapColumns());
  renderSummary(st);
  const drawMap = initMap(st);
  const showPos = initScrubber(st);
  const timeline = initTimeline(st);
  let pending = false;
  wire(st, {
    drawMap,
    showCell: (i) => showCell(st, i),
    setPos: (p, scroll) => {
      st.pos = Math.max(0, Math.min(st.S, p));
      showPos();
      st.highlight = cellsOfRanges(st.layout, showStep(st, st.pos));
      if (scroll) timeline.scrollTo(st.pos);
      if (!pending) {
        pending = true;
        b.requestAnimationFrame(() => {
          pending = false;
          drawMap();
          timeline.render();
        });
      }
    },
  });
  renderHazards(st);
  showPos();
  showIntro(st);
  st.highlight = new Set();
  drawMap();
  timeline.render();
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
