/** Runs `tdxpa` in-process with a capturing io: exit code, standard output lines, standard error lines. */
import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

/** What one `tdxpa` invocation did. */
export interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

/** `tdxpa ...argv`, with stdin `stdin`. */
export async function runCli(argv: string[], stdin = ""): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    readStdin: async () => stdin,
    isTTY: false,
  };
  return { code: await main(argv, io), out, err };
}
