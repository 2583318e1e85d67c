/**
 * Runs `tdxpa` in-process with a capturing io: exit code, standard output lines, standard error lines.
 * The one `runCli` of the test suite (issue 11 item 5): tests about CLI behaviour call `main` through it;
 * only the few tests about the process itself (exit status of `bin/tdxpa.js`, no stack trace, signals)
 * spawn one.
 */
import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

/** What one `tdxpa` invocation did. */
export interface CliRun {
  code: number;
  /** Each `out` call (one call writes one line, without its newline). */
  out: string[];
  /** Each `err` call. */
  err: string[];
  /** Everything written to stdout, as the process would have written it: each `out` call and a newline. */
  stdout: string;
  /** `stdout` split into lines (an `out` call with embedded newlines gives several). */
  lines: string[];
}

/** How to run: what `-` reads on stdin, and whether stdout is a terminal (styled output). */
export interface CliRunOptions {
  stdin?: string;
  isTTY?: boolean;
}

/** `tdxpa ...argv`, with stdin `stdin` (a string) or with {@link CliRunOptions}. */
export async function runCli(argv: string[], opts: string | CliRunOptions = {}): Promise<CliRun> {
  const { stdin = "", isTTY = false } = typeof opts === "string" ? { stdin: opts } : opts;
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    readStdin: async () => stdin,
    isTTY,
  };
  const code = await main(argv, io);
  const stdout = out.map((s) => `${s}\n`).join("");
  return { code, out, err, stdout, lines: stdout.split("\n").slice(0, -1) };
}
