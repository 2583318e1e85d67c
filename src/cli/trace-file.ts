/**
 * Trace files: every model event as JSON Lines, or the Trace Event format (Perfetto, chrome://tracing).
 * Written through a buffer to a temporary file that is renamed into place only when the run finished,
 * so an error never leaves a partial trace behind.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { CHROME_TRACE_META, ChromeTraceConverter, type ChromeTraceOptions } from "../model/chrome-trace.js";
import type { ModelEvent } from "../model/events.js";

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

const FLUSH_AT = 1 << 20;

/**
 * The format a trace file name implies when `--trace-format` is not given: `chrome` for `.json`, else
 * `jsonl` (JSON Lines, the default, e.g. for `.jsonl`).
 * @example traceFormatOf("run.json") // "chrome"
 */
export function traceFormatOf(path: string): TraceFormat {
  return /\.json$/i.test(path) ? "chrome" : "jsonl";
}

/** Opens a trace at `path` in `format`; `opts` names the object tracks of a Chrome trace. */
export function openTrace(
  path: string,
  format: TraceFormat,
  title: string,
  opts: ChromeTraceOptions = {},
): TraceWriter {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  let buf: string[] = [];
  let size = 0;
  let count = 0;
  let first = true;
  const write = (s: string) => {
    buf.push(s);
    size += s.length;
    if (size >= FLUSH_AT) flush();
  };
  const flush = () => {
    if (buf.length > 0) writeSync(fd, buf.join(""));
    buf = [];
    size = 0;
  };
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
      if (chrome === null) write(`${JSON.stringify(e)}\n`);
      else for (const t of chrome.convert(e)) emit(t);
    },
    commit: () => {
      if (chrome !== null) write("\n]}\n");
      flush();
      closeSync(fd);
      renameSync(tmp, path);
    },
    abort: () => {
      try {
        closeSync(fd);
      } catch {}
      rmSync(tmp, { force: true });
    },
  };
}
