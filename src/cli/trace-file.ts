/**
 * Trace files: every model event as JSON Lines, or the Trace Event format (Perfetto, chrome://tracing).
 * Written through the CLI's one output writer (output-file.ts, docs/FILES.md): a temporary file renamed
 * into place only when the run finished, so an error or a signal never leaves a partial trace behind;
 * `-` writes to standard output.
 */
import { CHROME_TRACE_META, ChromeTraceConverter, type ChromeTraceOptions } from "../observe/chrome-trace.js";
import { eventJson, type ModelEvent } from "../observe/events.js";
import type { OutputFile } from "./output-file.js";

/** Trace formats. */
export type TraceFormat = "jsonl" | "chrome";

/** An open trace. */
export interface TraceWriter {
  readonly sink: (e: ModelEvent) => void;
  /** Finishes the file and moves it into place. */
  commit(): void;
  /** Deletes the temporary file. */
  abort(): void;
  readonly events: () => number;
}

/**
 * The format a trace file name implies when `--trace-format` is not given: `chrome` for `.json`, else
 * `jsonl` (JSON Lines, the default, e.g. for `.jsonl`).
 * @example traceFormatOf("run.json") // "chrome"
 */
export function traceFormatOf(path: string): TraceFormat {
  return /\.json$/i.test(path) ? "chrome" : "jsonl";
}

/**
 * Starts a trace in `format` on the output `out` (opened by `openOutput`); `opts` names the object
 * tracks of a Chrome trace.
 */
export function openTrace(
  out: OutputFile,
  format: TraceFormat,
  title: string,
  opts: ChromeTraceOptions = {},
): TraceWriter {
  let count = 0;
  let first = true;
  const write = (s: string) => out.write(s);
  const chrome = format === "chrome" ? new ChromeTraceConverter(opts) : null;
  const emit = (o: unknown) => {
    write(`${first ? "" : ",\n"}${JSON.stringify(o)}`);
    first = false;
  };
  if (chrome !== null) {
    write(`${JSON.stringify(CHROME_TRACE_META).slice(0, -1)},"traceEvents":[\n`);
    for (const h of chrome.header(title)) emit(h);
  }
  return {
    events: () => count,
    sink: (e) => {
      count++;
      if (chrome === null) write(`${eventJson(e)}\n`);
      else for (const t of chrome.convert(e)) emit(t);
    },
    commit: () => {
      if (chrome !== null) write("\n]}\n");
      out.commit();
    },
    abort: () => out.abort(),
  };
}
