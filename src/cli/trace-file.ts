/**
 * Trace files: every model event as JSON Lines, or the Trace Event format (Perfetto, chrome://tracing).
 * Written through a buffer to a temporary file that is renamed into place only when the run finished,
 * so an error never leaves a partial trace behind.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { ChromeTraceConverter } from "../model/chrome-trace.js";
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

/** Opens a trace at `path` in `format`. */
export function openTrace(path: string, format: TraceFormat, title: string): TraceWriter {
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
  const chrome = format === "chrome" ? new ChromeTraceConverter() : null;
  const emit = (o: unknown) => {
    write(`${first ? "" : ",\n"}${JSON.stringify(o)}`);
    first = false;
  };
  if (chrome !== null) {
    write(
      '{"displayTimeUnit":"ns","otherData":{"generator":"tdxpa","clock":"units of work"},"traceEvents":[\n',
    );
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
