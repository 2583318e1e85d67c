/**
 * The self-contained HTML report: one file with the CSS, the page's bundled script (src/report/page/main.ts,
 * built by scripts/build-report-page.mjs) and the report model as JSON, all inline. No URL of any
 * kind is referenced, so it opens from disk with no server and no network. Core code.
 */
import type { ReportModel } from "./model.js";

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#0f172a;background:#f8fafc}
h1{font-size:19px;margin:0}
h2{font-size:14px;margin:0 0 6px}
h3{font-size:13px;margin:10px 0 4px}
.mono,.ops,.seq,.v,td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:#64748b}
.bad{color:#b91c1c}
header{padding:12px 18px 8px;background:#fff;border-bottom:1px solid #e2e8f0}
header .title{display:flex;gap:12px;align-items:center}
header .desc{margin:4px 0 8px;color:#334155;max-width:1200px}
header .platform{color:#64748b}
.verdict{padding:2px 8px;border-radius:10px;font-weight:600;font-size:12px}
.verdict.ok{background:#dcfce7;color:#166534}
.verdict.bad{background:#fee2e2;color:#991b1b}
.verdict.warn{background:#fef3c7;color:#92400e}
.figs{display:flex;flex-wrap:wrap;gap:6px}
.fig{border:1px solid #e2e8f0;border-radius:6px;padding:3px 9px;background:#f8fafc;display:flex;flex-direction:column;min-width:88px}
.fig .v{font-size:15px;font-weight:600}
.fig .l{font-size:11px;color:#64748b}
.fig.bad{border-color:#fca5a5;background:#fef2f2}
.fig.bad .v{color:#b91c1c}
.notes{display:flex;flex-direction:column;gap:2px;margin-top:6px;font-size:12px}
main{padding:10px 18px 24px;display:grid;grid-template-columns:auto minmax(420px,1fr);gap:12px;align-items:start}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 12px;min-width:0}
#map-panel{grid-column:1}
#detail{grid-column:2;grid-row:1;max-height:860px;overflow:auto}
#scrub{grid-column:1 / span 2}
#tl-panel{grid-column:1 / span 2}
#hazards{grid-column:1 / span 2;max-height:420px;overflow:auto}
/* Narrow windows: one column, so neither the map nor the details are clipped (the browser test checks 1,000 px). */
@media (max-width:1380px){main{grid-template-columns:minmax(0,1fr)}#map-panel,#detail,#scrub,#tl-panel,#hazards{grid-column:1;grid-row:auto}#detail{max-height:none}}
#legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0 8px;font-size:12px}
#legend .item{display:inline-flex;align-items:center;gap:5px}
#legend i{display:inline-block;width:11px;height:11px;border-radius:2px;border:1px solid #cbd5e1}
#map-scale{font-size:11px;color:#64748b;margin-bottom:6px}
#map{display:block;cursor:crosshair}
#zoom-panel.off{display:none}
#zoom{display:block}
.tip{position:fixed;display:none;pointer-events:none;background:#0f172a;color:#f8fafc;padding:6px 8px;border-radius:6px;font-size:12px;max-width:460px;z-index:10}
.tip.on{display:block}
#phases{position:relative;height:22px;margin:2px 0 4px;background:#f1f5f9;border-radius:4px;overflow:hidden}
#phases .ph{position:absolute;top:0;height:22px;border-right:2px solid #fff;background:#cbd5e1;font-size:11px;line-height:22px;padding:0 4px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;cursor:pointer}
#phases .ph:nth-child(even){background:#e2e8f0}
#phases .ph.bad{background:#fecaca}
#phases .tick{position:absolute;top:0;width:2px;height:22px;background:#dc2626}
.controls{display:flex;align-items:center;gap:6px}
.controls button{font:inherit;padding:1px 8px;border:1px solid #cbd5e1;background:#fff;border-radius:4px;cursor:pointer}
#slider{flex:1}
#pos{font-size:12px;color:#334155;margin-top:3px;font-family:ui-monospace,Menlo,monospace}
#tl-count{font-size:12px;color:#64748b;margin-bottom:4px}
#timeline{position:relative;height:420px;overflow-y:auto;border:1px solid #e2e8f0;border-radius:4px}
#tl-spacer{position:relative}
.row{position:absolute;left:0;right:0;height:22px;line-height:22px;padding:0 6px;white-space:nowrap;overflow:hidden;display:flex;gap:8px;font-size:12px;cursor:pointer;border-bottom:1px solid #f1f5f9}
.row:hover{background:#f1f5f9}
.row.cur{background:#fef9c3;box-shadow:inset 3px 0 #ca8a04}
.row.phase{background:#f1f5f9;font-weight:600;color:#334155}
.row.phase .pr{font-weight:400;color:#64748b}
.row.phase.bad .pr{color:#b91c1c}
.row .seq{width:48px;color:#64748b;text-align:right;flex:none}
.row .leaf{width:170px;flex:none;font-weight:600}
.row.host .leaf{color:#2563eb;font-weight:500}
.row .ops{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;color:#334155}
.row .units{color:#64748b;flex:none;width:64px;text-align:right}
.row.hz{background:#fef2f2}
.st{flex:none;font-family:ui-monospace,Menlo,monospace;font-size:12px}
.st.c0{color:#15803d}
.st.c1{color:#b45309}
.st.c2{color:#b91c1c;font-weight:600}
.badge{flex:none;font-size:11px;border-radius:8px;padding:0 6px;line-height:18px;margin-top:2px;background:#fef3c7;color:#92400e}
.badge.err{background:#fee2e2;color:#991b1b}
.kv{display:grid;grid-template-columns:110px 1fr;gap:8px;padding:2px 0;border-bottom:1px dashed #f1f5f9}
.kv .k{color:#64748b}
.kv .v{word-break:break-all;font-size:12px}
#detail .pos{font-weight:400;color:#64748b;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:12px}
table.hz td:nth-child(-n+3){white-space:nowrap}
table.hz td:first-child{font-size:11px}
table.entries td:not(:last-child){white-space:nowrap}
th{text-align:left;color:#64748b;font-weight:500;border-bottom:1px solid #e2e8f0;padding:2px 6px}
td{padding:2px 6px;border-bottom:1px solid #f1f5f9;vertical-align:top}
tr.bad td{background:#fef2f2;color:#991b1b}
tr.hazard{cursor:pointer}
tr.hazard:hover td{background:#fef2f2}
td:last-child{font-family:system-ui,sans-serif}
ul{margin:4px 0;padding-left:18px}
a{color:#1d4ed8}
`;

const BODY = `
<header id="summary">Loading the report…</header>
<main>
<section id="map-panel"><h2>Pages involved, by state at the slider position</h2><div id="legend"></div><div id="map-scale"></div><canvas id="map" width="1" height="1"></canvas><div id="zoom-panel" class="off"><h3 id="zoom-title"></h3><canvas id="zoom" width="1" height="1"></canvas></div></section>
<section id="detail"></section>
<section id="scrub"><div id="phases"></div><div class="controls"><button id="first" title="before the first step">start</button><button id="prev" title="previous step (←)">◀</button><input id="slider" type="range" min="0" max="0" step="1" value="0" aria-label="position"><button id="next" title="next step (→)">▶</button><button id="last" title="after the last step">end</button></div><div id="pos"></div></section>
<section id="tl-panel"><h2>SEAMCALL timeline</h2><div id="tl-count"></div><div id="timeline"><div id="tl-spacer"></div></div></section>
<section id="hazards"></section>
</main>
<div id="tip" class="tip"></div>
`;

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** JSON safe inside a `<script>` element: `<` is written as `\u003c`, so no `</script>` can appear. */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Script text safe inside a `<script>` element. */
export function scriptForHtml(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

/**
 * The whole HTML document for `model`, with `pageJs` (the built bundle of src/report/page/main.ts) inline.
 * @example renderReportHtml(model, readFileSync("dist/report/page.bundle.js", "utf8"))
 */
export function renderReportHtml(model: ReportModel, pageJs: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tdxpa report (${model.format})">
<title>tdxpa report: ${escapeHtml(model.scenario)}</title>
<style>${CSS}</style>
</head>
<body>${BODY}
<script type="application/json" id="tdxpa-data">${jsonForScript(model)}</script>
<script>${scriptForHtml(pageJs)}</script>
</body>
</html>
`;
}
