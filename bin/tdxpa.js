#!/usr/bin/env node
// The tdxpa command: runs the CLI bundled into one file, dist/cli/tdxpa.bundle.js (`npm run build` writes
// it with scripts/build-cli-bundle.mjs; `npm ci` and `npm pack` run the build through the `prepare`
// script), so that starting it loads one module. When dist/ is missing it says so on one line and exits 2,
// never with a stack trace.
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
