#!/usr/bin/env node
// The tdxpa command: runs the compiled CLI (`npm run build` writes dist/; `npm ci` and `npm pack` run it
// through the `prepare` script). When dist/ is missing it says so on one line and exits 2, never with a
// stack trace.
let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (e) {
  const missing = e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist");
  process.stderr.write(
    missing
      ? "tdxpa: not built: dist/cli/main.js is missing; run 'npm run build' in the package directory\n"
      : `tdxpa: internal error: cannot load the CLI: ${String(e?.message ?? e).split("\n")[0]}\n`,
  );
  process.exit(missing ? 2 : 70);
}
cli.runFromProcess();
