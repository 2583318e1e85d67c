#!/usr/bin/env node
// The tdxpa command: runs the CLI bundled into one file, dist/cli/tdxpa.bundle.js (`npm run build` writes
// it with scripts/build-cli-bundle.mjs; `npm ci` and `npm pack` run the build through the `prepare`
// script), so that starting it loads one module. When dist/ is missing it says so on one line and exits 2,
// never with a stack trace.
//
// Two V8 settings, made before the bundle loads (issue 15; measured with /usr/bin/time, user + system CPU,
// medians, docs/PERFORMANCE.md): the baseline compiler (Sparkplug) on, and optimisation (TurboFan) of a
// function only after about 4x the default interrupt budget of work in it. A `tdxpa run` lives a few hundred
// milliseconds, and TurboFan, compiling on helper threads, spent about a quarter of its CPU on functions the
// run then barely used: the default run went from 0.37-0.40 s to 0.30-0.31 s, the 1,048,576-page run from
// 1.20 s to 1.14 s, `tdxpa compare` from 5.5 s to 4.8 s. Only speed changes, never a result: these are
// compiler heuristics, and every output was compared byte for byte with and without them.
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--sparkplug");
setFlagsFromString("--interrupt-budget=500000");

let cli;
try {
  cli = await import("../dist/cli/tdxpa.bundle.js");
} catch (e) {
  const missing = e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist");
  process.stderr.write(
    missing
      ? "tdxpa: not built: dist/cli/tdxpa.bundle.js is missing; run 'npm run build' in the package directory\n"
      : `tdxpa: internal error: cannot load the CLI: ${String(e?.message ?? e).split("\n")[0]}\n`,
  );
  process.exit(missing ? 2 : 70);
}
cli.runFromProcess();
