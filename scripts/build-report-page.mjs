#!/usr/bin/env node
/**
 * Builds the HTML report's page script: bundles src/report/page/main.ts (its views, and the core modules it imports,
 * such as src/common/formats.ts) into one minified IIFE, dist/report/page.bundle.js, which
 * `tdxpa report` reads at run time and inlines into the HTML. Run by `npm run build` after tsc.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const entry = `${root}src/report/page/main.ts`;
const outfile = `${root}dist/report/page.bundle.js`;

mkdirSync(dirname(outfile), { recursive: true });
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
// Quiet under `npm run build --silent` (as `npm start` and `prepare` run it): only the run's output shows.
if (process.env.npm_config_loglevel !== "silent")
  console.log(`report page: ${outfile} (${statSync(outfile).size} bytes)`);
