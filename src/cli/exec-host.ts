/**
 * The transport of `tdxpa exec` and `tdxpa serve` (docs/PROTOCOL.md, docs/C-HARNESS.md): spawns a host
 * program with the protocol channel already connected (an inherited stream socket, its fd number in
 * TDXPA_FD), or listens on a Unix socket for one program to attach (TDXPA_SOCKET); feeds the bytes to an
 * {@link ExecSession} and writes its replies back. Bounded everywhere: frames by the protocol, the reply
 * backlog of a client that does not read, the run by `timeoutMs`; a program that forked and left a
 * child holding the channel does not keep the run open past its own exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync, writeSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { PROTO_ERROR } from "../exec/protocol.js";
import { ExecSession, type ExecSessionOptions, type SessionReport } from "../exec/session.js";
import type { Machine } from "../machine.js";
import type { Scenario } from "../scenario/schema.js";

/** Exit statuses of `tdxpa exec` and `tdxpa serve` (also in their --help and docs/C-HARNESS.md). */
export const EXEC_EXIT = Object.freeze({
  /** The program exited 0 and nothing was found. */
  OK: 0,
  /** Findings: a hazard, a model report, a conservation failure, a kernel warning, a leak, misuse. */
  FINDINGS: 1,
  /** Usage error (or the program could not be started). */
  USAGE: 2,
  /** The program exited with a non-zero status. */
  PROGRAM_FAILED: 3,
  /** The program was killed by a signal (it crashed). */
  PROGRAM_SIGNALED: 4,
  /** The program did not finish within --timeout and was killed. */
  TIMED_OUT: 5,
  /** The program broke the protocol (malformed, oversized or truncated frame; replies not read). */
  PROTOCOL: 6,
  /** A bug in tdxpa. */
  INTERNAL: 70,
});

/** How the program ended. */
export interface ProgramEnd {
  /** Exit status, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it (`SIGSEGV`), or null. */
  readonly signal: string | null;
  readonly timedOut: boolean;
}

/** The outcome of one run: the session report, how the program ended and the exit status. */
export interface ExecOutcome {
  readonly report: SessionReport;
  /** Null for `serve` (the program is not ours to watch). */
  readonly program: ProgramEnd | null;
  readonly exitCode: number;
  /** One line saying how the run ended. */
  readonly verdict: string;
  readonly wallMs: number;
  /** The machine the program ran on (for tools that read it afterwards). */
  readonly machine: Machine;
}

/** Most reply bytes queued for a client that is not reading before the session is ended. */
const MAX_BACKLOG = 16 << 20;

/** After the program exits, how long a channel still held open (by a forked child) may stay open. */
const GRACE_MS = 1000;

/** The exit status and verdict for a run, by precedence: timeout, signal, protocol, exit status, findings. */
export function execVerdict(
  report: SessionReport,
  program: ProgramEnd | null,
): { code: number; verdict: string } {
  if (program?.timedOut) return { code: EXEC_EXIT.TIMED_OUT, verdict: "program timed out and was killed" };
  if (program !== null && program.signal !== null)
    return { code: EXEC_EXIT.PROGRAM_SIGNALED, verdict: `program killed by signal ${program.signal}` };
  if (report.protocolError !== null)
    return {
      code: EXEC_EXIT.PROTOCOL,
      verdict: `protocol error (${report.protocolError.name}): ${report.protocolError.message}`,
    };
  if (program !== null && program.code !== 0)
    return { code: EXEC_EXIT.PROGRAM_FAILED, verdict: `program exited with status ${program.code}` };
  if (!report.ok)
    return { code: EXEC_EXIT.FINDINGS, verdict: `${program ? "program exited 0; " : ""}problems found` };
  return { code: EXEC_EXIT.OK, verdict: program ? "program exited 0; clean" : "session ended; clean" };
}

/**
 * Sends `reply` on `channel`: straight to its descriptor when nothing is queued before it (one write
 * system call, none of the stream's per-write bookkeeping: the common case, a client waiting for this
 * reply), else, and for whatever the socket does not take at once (a client not reading, a broken
 * channel), through the stream, which queues the bytes in order or reports the error as before.
 */
function sendReply(channel: Socket, reply: Uint8Array): void {
  const fd = (channel as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd === "number" && fd >= 0 && channel.writableLength === 0) {
    try {
      const n = writeSync(fd, reply);
      if (n === reply.length) return;
      reply = reply.subarray(n);
    } catch {
      // EAGAIN (the socket is full) or a broken channel: the stream queues or reports it.
    }
  }
  channel.write(reply);
}

/** Wires a socket to a session; resolves when the client's end closes (or `stop` is called). */
function serveChannel(
  channel: Socket,
  session: ExecSession,
  maxBacklog = MAX_BACKLOG,
): { done: Promise<void>; stop: () => void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let ended = false;
  const stop = () => {
    if (ended) return;
    ended = true;
    channel.destroy();
    finish();
  };
  channel.on("data", (chunk: Buffer) => {
    if (ended) return;
    let reply = session.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (!session.closed && channel.writableLength + reply.length > maxBacklog) {
      const err = session.abort(
        PROTO_ERROR.NOT_READING,
        `more than ${maxBacklog} bytes of replies not read by the client`,
      );
      reply = err;
    }
    if (reply.length > 0 && !channel.destroyed) sendReply(channel, reply);
    if (session.failure !== null) {
      // The error reply goes out, then the session is over: close our side.
      channel.end();
      channel.pause();
      setImmediate(stop);
    }
  });
  channel.on("end", () => {
    session.end();
    stop();
  });
  channel.on("error", () => {
    session.end();
    stop();
  });
  channel.on("close", stop);
  return { done, stop };
}

/** Options of {@link execProgram}. */
export interface ExecOptions extends ExecSessionOptions {
  readonly scenario: Scenario;
  readonly program: string;
  readonly args: readonly string[];
  /** Kill the program after this many milliseconds (0: never). */
  readonly timeoutMs?: number;
  /** Receives the program's standard output and error (default: this process's stderr). */
  readonly onOutput?: (text: string) => void;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Reply bytes a client may leave unread before the session ends (default 16 MiB). */
  readonly maxBacklog?: number;
}

/** Thrown when the program cannot be started at all (ENOENT, EACCES): a usage error. */
export class SpawnError extends Error {
  override readonly name = "SpawnError";
}

/**
 * Runs `program` against a fresh machine: spawns it with the channel on fd 3 (TDXPA_FD=3), serves it
 * until it exits, and returns the report and the exit status. Never hangs past `timeoutMs` plus a
 * short grace; throws {@link SpawnError} when the program cannot be started.
 */
export async function execProgram(opts: ExecOptions): Promise<ExecOutcome> {
  const started = performance.now();
  const session = new ExecSession(opts.scenario, opts);
  const out = opts.onOutput ?? ((t: string) => process.stderr.write(t));
  let child: ChildProcess;
  try {
    child = spawn(opts.program, [...opts.args], {
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      env: { ...process.env, ...opts.env, TDXPA_FD: "3" },
      detached: true,
    });
  } catch (e) {
    throw new SpawnError(`cannot run ${opts.program}: ${(e as Error).message}`);
  }
  child.stdout?.on("data", (b: Buffer) => out(b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => out(b.toString("utf8")));
  const channel = child.stdio[3] as Socket;
  const served = serveChannel(channel, session, opts.maxBacklog);
  let timedOut = false;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    child.once("error", (e) =>
      reject(new SpawnError(`cannot run ${opts.program}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)),
    );
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  const timer =
    opts.timeoutMs !== undefined && opts.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          killGroup();
        }, opts.timeoutMs)
      : null;
  let end: { code: number | null; signal: string | null };
  try {
    end = await exited;
  } catch (e) {
    if (timer !== null) clearTimeout(timer);
    served.stop();
    session.finish();
    throw e;
  }
  if (timer !== null) clearTimeout(timer);
  // Read what the program sent before it exited; a forked child still holding the channel gets a grace.
  const grace = setTimeout(served.stop, GRACE_MS);
  await served.done;
  clearTimeout(grace);
  killGroup();
  await new Promise<void>((resolve) => setImmediate(resolve));
  const report = session.finish();
  const program: ProgramEnd = { code: end.code, signal: end.signal, timedOut };
  const v = execVerdict(report, program);
  return {
    report,
    program,
    exitCode: v.code,
    verdict: v.verdict,
    wallMs: performance.now() - started,
    machine: session.machine,
  };
}

/** Options of {@link serveOnce}. */
export interface ServeOptions extends ExecSessionOptions {
  readonly scenario: Scenario;
  readonly socketPath: string;
  /** Give up when no program attached and finished within this many milliseconds (0: never). */
  readonly timeoutMs?: number;
  /** Called once the socket listens. */
  readonly onListening?: () => void;
}

/**
 * Listens on `socketPath` for one program (started separately, e.g. under gdb or valgrind, with
 * TDXPA_SOCKET=path), serves it until its end of the channel closes, removes the socket and returns the
 * report. Refuses a path that already exists; refuses a second client while one is served.
 */
export async function serveOnce(opts: ServeOptions): Promise<ExecOutcome> {
  const started = performance.now();
  if (existsSync(opts.socketPath)) throw new SpawnError(`${opts.socketPath} already exists`);
  const session = new ExecSession(opts.scenario, opts);
  const server = createServer();
  let timedOut = false;
  let stopChannel: (() => void) | null = null;
  const result = new Promise<void>((resolve, reject) => {
    server.on("connection", (sock) => {
      if (stopChannel !== null) {
        sock.destroy();
        return;
      }
      const served = serveChannel(sock, session);
      stopChannel = served.stop;
      served.done.then(resolve, resolve);
    });
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new SpawnError(`cannot listen on ${opts.socketPath}: ${e.code ?? e.message}`)),
    );
    server.listen(opts.socketPath, () => opts.onListening?.());
  });
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<void>((resolve) => {
    if (opts.timeoutMs !== undefined && opts.timeoutMs > 0)
      timer = setTimeout(() => {
        timedOut = true;
        stopChannel?.();
        resolve();
      }, opts.timeoutMs);
  });
  try {
    await Promise.race([result, timeout]);
  } finally {
    if (timer !== null) clearTimeout(timer);
    server.close();
    rmSync(opts.socketPath, { force: true });
  }
  const report = session.finish();
  const v = timedOut
    ? { code: EXEC_EXIT.TIMED_OUT, verdict: "no program finished within the timeout" }
    : execVerdict(report, null);
  return {
    report,
    program: null,
    exitCode: v.code,
    verdict: v.verdict,
    wallMs: performance.now() - started,
    machine: session.machine,
  };
}
