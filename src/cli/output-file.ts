/**
 * The one output writer every subcommand uses for files it writes (`run --trace`, `report --out`,
 * `vectors --out`): the policy is documented in docs/FILES.md.
 *
 * - The target is a regular file, or `-` for standard output. A directory, FIFO, device or socket is
 *   refused (exit 2) before any work; so is an output that is one of the command's inputs.
 * - Symbolic links are resolved: `out.html -> real.html` writes `real.html` and the link stays a link.
 *   A dangling link is refused (it is not known what the user meant to create).
 * - Data goes to a temporary file with a random name, created exclusively (O_EXCL, O_NOFOLLOW) with mode
 *   0600 in the target's directory, then given the target's mode, fsynced and renamed over the target:
 *   readers see the old file or the whole new one, never a part.
 * - The temporary file is removed on every exit path: errors (abort), normal exit, and death by a signal
 *   (SIGINT, SIGTERM, SIGHUP, even SIGKILL) through a tiny watcher process ({@link guardTemp}) that
 *   removes it when this process is gone. The signals keep their default action, so Ctrl-C stops a long
 *   synchronous run at once and the exit status stays 128+signal.
 * - File-system errors (ENOSPC, ENAMETOOLONG, EACCES, EROFS, …) are an {@link OutputError}: one line
 *   naming the option, the path and the reason; exit 2.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { errnoReason, fileKind } from "./input-file.js";
import { UsageError } from "./io.js";

/** A file-system error while writing an output: a usage error (exit 2) with the errno code kept. */
export class OutputError extends UsageError {
  constructor(
    message: string,
    /** The errno code (`ENOSPC`, …) or null for a refusal by policy. */
    readonly errno: string | null,
  ) {
    super(message);
  }
}

/** An output being written. Nothing appears at the target before {@link OutputFile.commit}. */
export interface OutputFile {
  /** The path the user gave (`-` for standard output). */
  readonly path: string;
  /** True when writing to standard output. */
  readonly toStdout: boolean;
  /** Appends text (buffered; flushed to the temporary file in 1 MiB pieces). */
  write(text: string): void;
  /** Finishes: fsync and rename into place (or the last write to standard output). */
  commit(): void;
  /** Gives up: the temporary file is removed. Never throws. */
  abort(): void;
}

/** Where an output is named on the command line, for messages (`run`, `--trace`). */
export interface OutputOwner {
  readonly cmd: string;
  readonly option: string;
  /** Paths the command reads: an output may not be one of them. */
  readonly inputs?: readonly string[];
  /** Raw writes to standard output, for `-`. */
  readonly stdout?: (text: string) => void;
}

const FLUSH_AT = 1 << 20;

/** Text the temporary files of this module start with (`.tdxpa-<16 hex>.tmp`). */
export const TEMP_PREFIX = ".tdxpa-";

/**
 * Checks `path` as an output of `owner` and returns the file to write: the resolved target when `path`
 * is a symbolic link. Throws an {@link OutputError} for anything but a regular file or a new name in an
 * existing directory, and for a path that is one of `owner.inputs`.
 */
export function resolveOutputPath(path: string, owner: OutputOwner): string {
  const where = `${owner.cmd}: ${owner.option} ${path}`;
  const fail = (why: string, errno: string | null = null): never => {
    throw new OutputError(`${where}: ${why}`, errno);
  };
  if (path === "") fail("needs a file name");
  let target = path;
  let st: Stats | null = null;
  try {
    st = lstatSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "ENOENT") fail(`cannot write: ${errnoReason(e)}`, code ?? null);
  }
  if (st?.isSymbolicLink()) {
    try {
      target = realpathSync(path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      fail(
        code === "ENOENT"
          ? "is a symbolic link to nothing; name the file itself"
          : `cannot write: ${errnoReason(e)}`,
        code ?? null,
      );
    }
    st = statSync(target);
  }
  if (st !== null && !st.isFile())
    fail(`is ${fileKind(st)}; outputs are regular files (or '-' for standard output)`);
  if (st === null) {
    try {
      const d = statSync(dirname(path));
      if (!d.isDirectory()) fail(`cannot write: ${dirname(path)} is not a directory`, "ENOTDIR");
    } catch (e) {
      if (e instanceof OutputError) throw e;
      const code = (e as { code?: string }).code;
      fail(`cannot write: ${errnoReason(e)}`, code ?? null);
    }
  }
  for (const input of owner.inputs ?? []) {
    if (input === "-" || input === "") continue;
    if (sameFile(input, target, st)) fail(`is the command's input ${input}; write somewhere else`);
  }
  return target;
}

function sameFile(input: string, target: string, targetStat: Stats | null): boolean {
  try {
    const a = statSync(input);
    if (targetStat !== null) return a.dev === targetStat.dev && a.ino === targetStat.ino;
  } catch {
    // An input that cannot be stat'ed cannot be overwritten by a new file either, unless same name.
  }
  return resolve(input) === resolve(target);
}

/**
 * Opens an output. For `-` the text goes to `owner.stdout` when given. For a file, the checks of
 * {@link resolveOutputPath} run first, then the temporary file is created and guarded.
 * @example const o = openOutput("run.jsonl", { cmd: "run", option: "--trace" }); o.write("…"); o.commit();
 */
export function openOutput(path: string, owner: OutputOwner): OutputFile {
  if (path === "-") return stdoutOutput(owner);
  const target = resolveOutputPath(path, owner);
  const where = `${owner.cmd}: ${owner.option} ${path}`;
  const wrap = (e: unknown): OutputError => {
    if (e instanceof OutputError) return e;
    const code = (e as { code?: string }).code ?? null;
    return new OutputError(`${where}: cannot write: ${errnoReason(e)}`, code);
  };
  const dir = dirname(target);
  const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}.tmp`);
  // The watcher starts before the file exists, so no moment is left where a signal could strand it.
  const guard = guardTemp(tmp);
  let fd: number;
  try {
    fd = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
      0o600,
    );
  } catch (e) {
    guard.release();
    throw wrap(e);
  }
  let buf: string[] = [];
  let size = 0;
  let open = true;
  const flush = () => {
    if (buf.length > 0) {
      const text = buf.join("");
      buf = [];
      size = 0;
      writeAll(fd, text);
    }
  };
  const abort = () => {
    if (!open) return;
    open = false;
    try {
      closeSync(fd);
    } catch {}
    try {
      unlinkSync(tmp);
    } catch {}
    guard.release();
  };
  return {
    path,
    toStdout: false,
    write(text) {
      buf.push(text);
      size += text.length;
      if (size >= FLUSH_AT) {
        try {
          flush();
        } catch (e) {
          abort();
          throw wrap(e);
        }
      }
    },
    commit() {
      try {
        flush();
        fchmodSync(fd, finalMode(target));
        fsyncSync(fd);
        closeSync(fd);
        open = false;
        renameSync(tmp, target);
      } catch (e) {
        open = true;
        abort();
        throw wrap(e);
      }
      guard.release();
      syncDir(dir);
    },
    abort,
  };
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** The mode the output gets: an existing target keeps its own; a new one gets 0666 less the umask. */
function finalMode(target: string): number {
  try {
    return statSync(target).mode & 0o7777;
  } catch {
    return 0o666 & ~process.umask();
  }
}

/** fsyncs a directory so the rename itself is durable; best effort (not every file system allows it). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {}
}

function stdoutOutput(owner: OutputOwner): OutputFile {
  const parts: string[] = [];
  return {
    path: "-",
    toStdout: true,
    write(text) {
      if (owner.stdout !== undefined) owner.stdout(text);
      else parts.push(text);
    },
    commit() {
      if (owner.stdout === undefined) throw new Error(`${owner.cmd}: ${owner.option} -: no standard output`);
    },
    abort() {},
  };
}

/** A temporary file's watcher; {@link TempGuard.release} once the file is renamed or removed. */
export interface TempGuard {
  release(): void;
}

const live = new Set<ChildProcess>();

/**
 * Starts a watcher that removes `tmp` once this process is gone, however it ends: a detached `sh` (its
 * own session, so the terminal's Ctrl-C does not reach it) that reads its standard input, a pipe from
 * us, to its end, then runs `rm -f`. The pipe ends when we release it or when the kernel closes it at
 * our death. Where `/bin/sh` is missing (Windows) there is no watcher; errors and normal exits still
 * remove the file.
 */
export function guardTemp(tmp: string): TempGuard {
  if (process.platform === "win32") return { release() {} };
  let child: ChildProcess;
  try {
    child = spawn("/bin/sh", ["-c", 'cat >/dev/null; rm -f -- "$1"', "tdxpa-temp-guard", tmp], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
    });
  } catch {
    return { release() {} };
  }
  child.on("error", () => {});
  child.stdin?.on("error", () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  live.add(child);
  return {
    release() {
      if (!live.delete(child)) return;
      child.stdin?.end();
    },
  };
}

/** The base name of a temporary file, for tests that look for leftovers. */
export function isTempName(name: string): boolean {
  return basename(name).startsWith(TEMP_PREFIX) && name.endsWith(".tmp");
}
