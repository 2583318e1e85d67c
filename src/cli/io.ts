/**
 * The CLI's seam to the outside world and the plumbing every subcommand shares.
 *
 * A subcommand never touches `process`: it writes through a {@link CliIo}, so tests drive it with a
 * capturing object and `main.ts` builds the real one from `process` ({@link processIo}). User mistakes
 * are thrown as {@link UsageError} and printed by `main.ts` as one line; arguments are parsed with
 * Node's own `util.parseArgs`, which keeps every value a string (u64 text stays exact until `parseU64`).
 */
import { parseArgs, styleText } from "node:util";
import { escapeControls } from "../common/errors.js";
import { decodeUtf8, INPUT_LIMITS, readBoundedStream } from "./input-file.js";

/** Where a subcommand writes and reads. Each `out` / `err` call is one line (or block) of text. */
export interface CliIo {
  /** Writes `s` and a newline to standard output. */
  out(s: string): void;
  /** Writes `s` and a newline to standard error. */
  err(s: string): void;
  /**
   * Reads all of standard input as UTF-8 text (only called when a subcommand is given `-`); the real one
   * stops at `INPUT_LIMITS.stdin` bytes and refuses text that is not UTF-8 (input-file.ts).
   */
  readStdin(): Promise<string>;
  /** Writes `s` to standard output as is (no newline added): file data for an output named `-`. */
  write?: (s: string) => void;
  /** True when standard output is a terminal that may be styled; plain text otherwise. */
  isTTY: boolean;
  /** Rewrites a progress line on standard error; absent unless standard error is a terminal. */
  progress?: (s: string) => void;
  /**
   * True when long commands print progress lines on standard error that is not a terminal (the real
   * io sets it; a capturing io in tests leaves it out, so their stderr holds only what they test).
   */
  progressLines?: boolean;
}

/** Exit statuses of `tdxpa` (also listed by `tdxpa --help`). */
export const EXIT = Object.freeze({
  /** Everything given was valid and done. */
  OK: 0,
  /** At least one value was invalid or could not be parsed (decode). */
  INVALID: 1,
  /** Usage error: unknown subcommand, kind or option, missing or out-of-range input. */
  USAGE: 2,
  /** A bug in tdxpa (sysexits EX_SOFTWARE). */
  INTERNAL: 70,
});

/** A mistake in the command line. `main` prints `tdxpa: <message>` on one line and exits with 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** One subcommand of `tdxpa`: its name, a one-line summary for `tdxpa --help`, its help text and body. */
export interface Subcommand {
  readonly name: string;
  /** One line, shown by `tdxpa --help`. */
  readonly summary: string;
  /** Full help with examples, shown by `tdxpa <name> --help`. */
  readonly help: string;
  /** Runs with the arguments after the subcommand name; returns the exit status. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** Option table in the form `util.parseArgs` takes (only strings and booleans are used). */
export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/**
 * Parses `args` strictly against `options`, positionals allowed. Any parse failure (unknown option,
 * missing option value) becomes a one-line {@link UsageError} prefixed with `where`.
 * @example parseCommandArgs("decode", ["status", "--json", "0x0"], { json: { type: "boolean" } })
 */
export function parseCommandArgs(
  where: string,
  args: string[],
  options: OptionSpec,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return {
      values: { ...r.values } as Record<string, string | boolean | undefined>,
      positionals: r.positionals,
    };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const msg = e instanceof Error ? e.message : String(e);
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const name = /'([^']*)'/.exec(msg)?.[1] ?? msg;
      throw new UsageError(
        `${where}: unknown option '${name}' (put a value that starts with '-' after '--'); see 'tdxpa ${where} --help'`,
      );
    }
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError(`${where}: ${oneLine(msg)}`);
    }
    throw e;
  }
}

/**
 * Version of the shape of every `--json` output of `tdxpa` (each object carries it as `schemaVersion`,
 * first). Raised when a field is removed or changes meaning; adding fields keeps it.
 */
export const JSON_SCHEMA_VERSION = 1;

/**
 * `obj` as one line of JSON with `schemaVersion` first.
 * @example io.out(jsonLine({ out, bytes })) // {"schemaVersion":1,"out":…,"bytes":…}
 */
export function jsonLine(obj: object): string {
  return JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...obj });
}

/**
 * Collapses a message to one line (newlines and runs of spaces become one space) and escapes every other
 * control character (`\x1b` → `\\x1b`), so text from a file cannot forge lines or drive the terminal.
 */
export function oneLine(s: string): string {
  return escapeControls(s.replace(/\s*[\r\n]+\s*/g, " ").trim());
}

/** Stderr progress of a long command: {@link Progress.update} as work advances, {@link Progress.end}. */
export interface Progress {
  /** `done` of `total` units, `label` the current piece of work. */
  update(done: number, total: number, label: string): void;
  /** Clears a terminal's progress line. */
  end(): void;
}

/** Milliseconds before a non-terminal progress line is printed: short commands stay silent. */
export const PROGRESS_AFTER_MS = 2000;
/** Percent steps of the non-terminal progress lines. */
export const PROGRESS_STEP_PERCENT = 10;

/**
 * Progress on standard error for `cmd`: on a terminal one line rewritten at most every 100 ms; otherwise
 * (a log, CI; when `io.progressLines` is set) once the command has run {@link PROGRESS_AFTER_MS} ms, one line per
 * {@link PROGRESS_STEP_PERCENT}% of the work, `tdxpa compare: 40% (design x, flow y)`.
 * `now` is injectable for tests.
 */
export function startProgress(io: CliIo, cmd: string, now: () => number = Date.now): Progress {
  const start = now();
  let last = 0;
  let nextPercent = PROGRESS_STEP_PERCENT;
  const tty = io.progress;
  return {
    update(done, total, label) {
      const t = now();
      const percent = total > 0 ? Math.floor((done * 100) / total) : 0;
      const text = `tdxpa ${cmd}: ${percent}% (${escapeControls(label)})`;
      if (tty !== undefined) {
        if (t - last > 100 || done === total) {
          last = t;
          tty(text);
        }
        return;
      }
      if (io.progressLines !== true) return;
      if (t - start < PROGRESS_AFTER_MS || percent < nextPercent || done >= total) return;
      nextPercent = (Math.floor(percent / PROGRESS_STEP_PERCENT) + 1) * PROGRESS_STEP_PERCENT;
      io.err(text);
    },
    end() {
      tty?.("");
    },
  };
}

/** Text format names `util.styleText` accepts. */
export type Style = Parameters<typeof styleText>[0];

/** `text` styled with `format` when `io` is a terminal, else `text` unchanged. */
export function style(io: CliIo, format: Style, text: string): string {
  return io.isTTY ? styleText(format, text, { validateStream: false }) : text;
}

/**
 * The real {@link CliIo}: writes to `process.stdout` / `process.stderr`, reads `process.stdin` to its
 * end. Output is styled only when stdout is a terminal and `NO_COLOR` is unset.
 */
export function processIo(): CliIo {
  return {
    out: (s) => {
      process.stdout.write(`${s}\n`);
    },
    err: (s) => {
      process.stderr.write(`${s}\n`);
    },
    ...(process.stderr.isTTY
      ? {
          progress: (s: string) => {
            process.stderr.write(`\r\x1b[K${s}`);
          },
        }
      : {}),
    progressLines: process.stderr.isTTY !== true,
    write: (s) => {
      process.stdout.write(s);
    },
    readStdin: async () => {
      const bytes = await readBoundedStream(process.stdin, "standard input", INPUT_LIMITS.stdin);
      return decodeUtf8(bytes, "standard input");
    },
    isTTY: process.stdout.isTTY === true && !process.env.NO_COLOR,
  };
}
