/**
 * Bounded input for every subcommand: scenario files, traces and standard input (docs/FILES.md).
 *
 * A file is read only when it is a regular file or a FIFO (`run <(gen)`), or standard input (`-`);
 * devices, directories and sockets are refused before they are opened for reading, so
 * `run /dev/urandom` or `inspect --trace /dev/zero` end at once with one line. Every read stops at a
 * documented size cap ({@link INPUT_LIMITS}) instead of growing until the heap runs out. Text must be
 * UTF-8; one leading byte-order mark is dropped for every format (YAML, JSON, traces, stdin), and
 * UTF-16/UTF-32 or malformed UTF-8 is one line naming the file. Not part of the model: Node APIs only
 * here (the core never reads files).
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from "node:fs";
import { UsageError } from "./io.js";

/** Size caps of what the CLI reads, in bytes; each refusal names its cap. */
export const INPUT_LIMITS = Object.freeze({
  /**
   * A scenario file (YAML or JSON). The largest shipped one is under 4 KiB; one at every model limit
   * (4,096 steps, 256 units, 256 devices; src/scenario/limits.ts) is about 200 KiB. The YAML library
   * takes about 1.6 s and 170 MB per MiB here (measured), so the cap keeps a refusal under a second.
   */
  scenario: 256 * 2 ** 10,
  /** A JSON Lines trace for `inspect --trace` (pool-1m with page events is about 60 MB). */
  trace: 256 * 2 ** 20,
  /** Standard input (`decode -`, `run -`). */
  stdin: 16 * 2 ** 20,
});

/** `16 MiB`, `256 KiB` for a cap in bytes. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  return n >= 2 ** 10 && n % 2 ** 10 === 0 ? `${n / 2 ** 10} KiB` : `${n} bytes`;
}

/** What a stat result is, in words, for refusals ("a character device"). */
export function fileKind(s: Stats): string {
  if (s.isFile()) return "a regular file";
  if (s.isDirectory()) return "a directory";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isFIFO()) return "a FIFO";
  if (s.isSocket()) return "a socket";
  if (s.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

/** A short reason for a file-system error code, with the code itself. */
export function errnoReason(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  const words: Record<string, string> = {
    ENOENT: "no such file or directory",
    EISDIR: "is a directory",
    ENOTDIR: "a part of the path is not a directory",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    ENOSPC: "no space left on device",
    EDQUOT: "disk quota exceeded",
    EROFS: "read-only file system",
    ENAMETOOLONG: "file name too long",
    ELOOP: "too many levels of symbolic links",
    EEXIST: "file exists",
    EXDEV: "not on the same file system",
    EIO: "input/output error",
    EMFILE: "too many open files",
    EFBIG: "file too large",
  };
  if (typeof code === "string") return `${words[code] ?? "cannot be used"} (${code})`;
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/**
 * Reads `path` whole as bytes, refusing anything but a regular file or a FIFO and anything larger than
 * `limit` bytes. `what` names the input in messages ("scenario", "trace"). Throws a one-line
 * {@link UsageError} `PATH: cannot read WHAT: REASON`.
 * @example readBoundedFile("s.yaml", "scenario", INPUT_LIMITS.scenario)
 */
export function readBoundedFile(path: string, what: string, limit: number): Buffer {
  const fail = (why: string): never => {
    throw new UsageError(`${path}: cannot read ${what}: ${why}`);
  };
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    return fail(errnoReason(e));
  }
  if (!st.isFile() && !st.isFIFO())
    fail(`it is ${fileKind(st)}; only regular files, FIFOs and '-' (standard input) are read`);
  if (st.isFile() && st.size > limit)
    fail(`${st.size} bytes is larger than the ${formatBytes(limit)} limit for a ${what}`);
  let fd: number;
  try {
    // A FIFO's open waits for its writer, as `cat` does; O_NOCTTY keeps a terminal from becoming ours.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY);
  } catch (e) {
    return fail(errnoReason(e));
  }
  try {
    const now = fstatSync(fd);
    if (!now.isFile() && !now.isFIFO()) fail(`it is ${fileKind(now)}; only regular files and FIFOs are read`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        if ((e as { code?: unknown }).code === "EAGAIN") continue;
        return fail(errnoReason(e));
      }
      if (n === 0) break;
      total += n;
      chunks.push(chunk.subarray(0, n));
      if (total > limit) fail(`larger than the ${formatBytes(limit)} limit for a ${what}`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a readable stream (standard input) to its end, at most `limit` bytes: one more byte is a
 * {@link UsageError} naming the cap. The stream is destroyed on refusal so nothing more is buffered.
 */
export async function readBoundedStream(
  stream: AsyncIterable<unknown> & { destroy?: () => void },
  what: string,
  limit: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const b = typeof c === "string" ? Buffer.from(c, "utf8") : (c as Buffer);
    total += b.length;
    if (total > limit) {
      stream.destroy?.();
      throw new UsageError(`${what}: larger than the ${formatBytes(limit)} limit for standard input`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Bytes to text, the same for every input: a leading UTF-8 byte-order mark is dropped; a UTF-16 or
 * UTF-32 byte-order mark, or bytes that are not UTF-8, are a one-line {@link UsageError} naming `source`.
 */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  const b0 = bytes[0];
  const b1 = bytes[1];
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff) || (b0 === 0 && b1 === 0))
    throw new UsageError(`${source}: UTF-16 or UTF-32 text; save it as UTF-8`);
  let start = 0;
  if (b0 === 0xef && b1 === 0xbb && bytes[2] === 0xbf) start = 3;
  try {
    return UTF8.decode(bytes.subarray(start));
  } catch {
    throw new UsageError(`${source}: not UTF-8 text (${firstBadUtf8(bytes, start)})`);
  }
}

/** Where the first malformed UTF-8 sequence starts, as `byte 0xNN at offset N`. */
function firstBadUtf8(b: Uint8Array, from: number): string {
  let i = from;
  while (i < b.length) {
    const c = b[i]!;
    const len =
      c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    let ok = len > 0 && i + len <= b.length;
    for (let k = 1; ok && k < len; k++) ok = (b[i + k]! & 0xc0) === 0x80;
    if (!ok || (len > 1 && !decodes(b.subarray(i, i + len))))
      return `byte 0x${c.toString(16).padStart(2, "0")} at offset ${i}`;
    i += len;
  }
  return "a truncated sequence at the end";
}

function decodes(seq: Uint8Array): boolean {
  try {
    UTF8.decode(seq);
    return true;
  } catch {
    return false;
  }
}
