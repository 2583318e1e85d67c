#!/usr/bin/env node
/**
 * Builds the `tdxpa` command as one file (issue 15): bundles src/cli/main.ts and everything it imports,
 * `yaml` included, into dist/cli/tdxpa.bundle.js (ESM, Node 20), which bin/tdxpa.js loads, so starting the
 * CLI reads and compiles one module instead of about a hundred. The bundle sits in dist/cli/ beside the
 * tsc output of main.ts so that the CLI's `new URL("../../…", import.meta.url)` paths (package.json,
 * scenarios/, dist/report/page.bundle.js) resolve to the same files from either. A linked source map
 * (dist/cli/tdxpa.bundle.js.map, not packed) maps stack traces back to src/ for developers under
 * `node --enable-source-maps bin/tdxpa.js …`; users never see a stack (the CLI prints one line).
 * Run by `npm run build` after tsc.
 */
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = `${root}dist/cli/tdxpa.bundle.js`;

await build({
  entryPoints: [`${root}src/cli/main.ts`],
  outfile,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "inline",
  charset: "utf8",
  logLevel: "warning",
  // yaml's Node build is CommonJS and requires node:process and node:buffer; an ESM bundle has no
  // `require`, so give it Node's own.
  banner: {
    js: 'import { createRequire as __tdxpaCreateRequire } from "node:module";\nconst require = __tdxpaCreateRequire(import.meta.url);',
  },
});
// Quiet under `npm run build --silent` (as `npm start` and `prepare` run it): only the run's output shows.
if (process.env.npm_config_loglevel !== "silent")
  console.log(`cli bundle: ${outfile} (${statSync(outfile).size} bytes)`);
