/**
 * One protocol session (docs/PROTOCOL.md): a host program in C drives a simulated machine through the
 * allocator, KeyID-0 memory, CLFLUSH and SEAMCALL, exactly where a kernel touches the hardware
 * (docs/spec/02-kapi.md for the host, docs/spec/03-module.md for the module that judges it). The session
 * turns received bytes into replies, never throws for anything a client sends (a malformed frame gets
 * an error reply and closes the session), and at the end builds the same run report as `tdxpa run`.
 *
 * What the model cannot see from C it infers, and says so (docs/ASSUMPTIONS.md, `exec-ledger-from-pamt`):
 * a C host keeps no ledger of what it donated, so the ledger follows the PAMT; pages the program
 * strands on purpose are declared with a STRAND mark; pages still held by the host when the session
 * ends are a finding (a leak). Kernel warnings (WARN_ON) and allocator misuse (double free, use after
 * free) are findings too. Core code: no Node APIs; the transport lives in src/cli/exec-host.ts.
 */
import { isTdxpaError } from "../common/errors.js";
import { Regs } from "../common/seamcall.js";
import { hpaToPfn, PAGE_SIZE, PFN_LIMIT, u64ToNumber } from "../common/u64.js";
import { strandPages } from "../host/kernel.js";
import { createMachine, type Machine } from "../machine.js";
import { checkConservation } from "../observe/conservation.js";
import type { EventSink } from "../observe/events.js";
import type { RunReport } from "../scenario/runner.js";
import type { Scenario } from "../scenario/schema.js";
import { verdictOf } from "../scenario/verdict.js";
import { PhaseLog, pageStatesOf, type SessionWarning, watchMachine } from "./phases.js";
import {
  ALLOC_FLAG,
  ALLOC_KIND,
  BadPayload,
  FREE_KIND,
  type Frame,
  FrameSplitter,
  frame,
  HEADER_BYTES,
  HELLO_MAGIC,
  MARK_KIND,
  MAX_BULK,
  MSG,
  PayloadReader,
  PayloadWriter,
  PROTO_ERROR,
  PROTOCOL_VERSION,
  protoErrorName,
  RESULT,
} from "./protocol.js";

/** Options of an {@link ExecSession}. */
export interface ExecSessionOptions {
  /** Receives every model event (traces, the HTML report). */
  readonly onEvent?: EventSink;
  /** Forward per-page events (PAMT changes, frees) to `onEvent` (default true). */
  readonly pageEvents?: boolean;
}

/** A protocol violation that ended the session. */
export interface ProtocolFailure {
  readonly code: number;
  readonly name: string;
  readonly message: string;
}

/** What a session counted, by request type name. */
export type RequestCounts = Record<string, number>;

/** The run report of a session, plus what only a program run has. */
export interface SessionReport extends RunReport {
  /** The protocol violation that ended the session, or null. */
  readonly protocolError: ProtocolFailure | null;
  /** True when the client said BYE. */
  readonly bye: boolean;
  /** Requests served, by type. */
  readonly requests: RequestCounts;
  /** Kernel warnings (WARN_ON) the program raised: the function and the text. */
  readonly warnings: readonly SessionWarning[];
}

/** Bytes of a SEAMCALL reply frame: header, `i32 result`, `u32 0`, 16 registers. */
const SEAMCALL_REPLY_BYTES = HEADER_BYTES + 8 + 128;

/** Most marks kept on the function stack (deeper ones are counted, not named). */
const MAX_MARK_DEPTH = 64;
/** Most findings listed (all are counted). */
const MAX_FINDINGS = 50;
/**
 * Most pages one contiguous allocation, CLFLUSH or STRAND mark may name (8 GiB): bounds the work one
 * frame can ask for. A 1,048,576-page pool fits.
 */
export const MAX_RANGE_PAGES = 1 << 21;

const TYPE_NAMES: Record<number, string> = {
  [MSG.HELLO]: "hello",
  [MSG.ALLOC]: "alloc",
  [MSG.FREE]: "free",
  [MSG.READ]: "read",
  [MSG.WRITE]: "write",
  [MSG.CLFLUSH]: "clflush",
  [MSG.SEAMCALL]: "seamcall",
  [MSG.MARK]: "mark",
  [MSG.PING]: "ping",
  [MSG.BYE]: "bye",
};

/** A protocol session over a fresh machine built from a scenario's platform, module and host sections. */
export class ExecSession {
  readonly machine: Machine;
  readonly #scenario: Scenario;
  readonly #splitter = new FrameSplitter();
  readonly #events: { detach: () => void; now: () => number };
  #hello = false;
  #bye = false;
  #failure: ProtocolFailure | null = null;
  readonly #stack: string[] = [];
  #depth = 0;
  readonly #findings: string[] = [];
  #findingCount = 0;
  readonly #requests: RequestCounts = {};
  readonly #log: PhaseLog;
  /** The cache's cause text for requests made in `#causeFn` (built once per function change). */
  #causeFn: string | null = null;
  #cause = "host";

  constructor(scenario: Scenario, opts: ExecSessionOptions = {}) {
    this.#scenario = scenario;
    this.machine = createMachine(scenario.platform, {
      behaviours: scenario.behaviours,
      interrupts: scenario.interrupts,
      policy: scenario.policy,
    });
    const forward = opts.onEvent ?? null;
    this.#events = watchMachine(this.machine, forward, opts.pageEvents !== false, () => this.currentFunction);
    this.#log = new PhaseLog(this.machine, forward, this.#events.now);
  }

  /** The protocol violation that ended the session, or null. */
  get failure(): ProtocolFailure | null {
    return this.#failure;
  }

  /** True once the session is over (BYE or a protocol violation): nothing more is read. */
  get closed(): boolean {
    return this.#failure !== null || this.#bye;
  }

  /** The function the host program is in (its innermost mark), or null. */
  get currentFunction(): string | null {
    return this.#stack.length === 0 ? null : this.#stack[this.#stack.length - 1]!;
  }

  /**
   * Takes bytes from the client and returns the bytes to send back (replies in order, then an error
   * reply when the bytes broke the protocol). Never throws for any input.
   */
  receive(chunk: Uint8Array): Uint8Array {
    if (this.closed) return new Uint8Array(0);
    const out: Uint8Array[] = [];
    const frames = this.#splitter.push(chunk);
    for (const f of frames) {
      if (this.closed) break;
      const reply = this.#handle(f);
      if (reply !== null) out.push(reply);
    }
    const err = this.#splitter.error;
    if (err !== null && this.#failure === null) out.push(this.#fail(err.code, err.message));
    return concat(out);
  }

  /** The client's end of the stream closed. A frame cut short is a protocol violation (truncated). */
  end(): void {
    if (this.closed) return;
    if (this.#splitter.pending > 0)
      this.#fail(PROTO_ERROR.TRUNCATED, `the stream ended inside a frame (${this.#splitter.pending} bytes)`);
  }

  /**
   * Ends the session with a protocol violation the transport detected (a client that never reads its
   * replies); returns the error reply to send, or an empty array when the session was already closed.
   */
  abort(code: number, message: string): Uint8Array {
    return this.closed ? new Uint8Array(0) : this.#fail(code, message);
  }

  /** Records a finding the transport saw (a program that forked and wrote from two processes, say). */
  addFinding(message: string): void {
    this.#finding(message);
  }

  /** Ends the session and builds its report (call once). */
  finish(): SessionReport {
    this.#log.close();
    const machine = this.machine;
    // End of run, as for a scenario: the cache sweep names private lines left on pages the module gave
    // back (stranded pages are exempt: never reused).
    machine.cache.sweep((pfn) => machine.kernel.ledger.stranded.has(pfn));
    this.#events.detach();
    const conservation = checkConservation(machine);
    const unexpected: string[] = [];
    if (this.#failure !== null)
      unexpected.push(`protocol error (${this.#failure.name}): ${this.#failure.message}`);
    for (const f of this.#findings) unexpected.push(f);
    if (this.#findingCount > this.#findings.length)
      unexpected.push(`… ${this.#findingCount - this.#findings.length} more finding(s)`);
    if (machine.cache.hazards.length > 0) unexpected.push(`${machine.cache.hazards.length} hazard(s) found`);
    if (machine.module.reports.length > 0)
      unexpected.push(`${machine.module.reports.length} model report(s)`);
    if (!conservation.ok) unexpected.push(`conservation check failed: ${conservation.violations[0]}`);
    else if (conservation.totals.hostHeld > 0)
      unexpected.push(
        `${conservation.totals.hostHeld} page(s) still held by the host when the session ended (not freed)`,
      );
    const { calls, interrupts } = this.#log.totals();
    const ok = unexpected.length === 0;
    return {
      scenario: this.#scenario.name,
      platform: this.#scenario.platform.name,
      ok,
      exitCode: ok ? 0 : 1,
      verdict: verdictOf({
        ok,
        hazards: machine.cache.hazards.length,
        reports: machine.module.reports.length,
        conservationOk: conservation.ok,
        failedSteps: this.#log.phases.filter((p) => p.outcome !== "ok").length,
        stranded: machine.kernel.ledger.stranded.size,
      }),
      phases: this.#log.phases,
      totals: {
        calls,
        bookkeepingCalls: 0,
        interrupts,
        hazards: machine.cache.hazards.length,
        reports: machine.module.reports.length,
        pages: pageStatesOf(machine),
      },
      hazards: machine.cache.hazards.slice(0, 20),
      reports: machine.module.reports.slice(0, 20),
      conservation,
      expectations: [],
      unexpected,
      protocolError: this.#failure,
      bye: this.#bye,
      requests: { ...this.#requests },
      warnings: [...this.#log.warnings],
    };
  }

  // ---- frames ---------------------------------------------------------------------------------

  #handle(f: Frame): Uint8Array | null {
    const name = TYPE_NAMES[f.type];
    if (name === undefined) return this.#fail(PROTO_ERROR.UNKNOWN_TYPE, `unknown request type ${f.type}`);
    if (!this.#hello && f.type !== MSG.HELLO)
      return this.#fail(PROTO_ERROR.NO_HELLO, `the first request must be HELLO, got ${name}`);
    if (this.#hello && f.type === MSG.HELLO) return this.#fail(PROTO_ERROR.NO_HELLO, "HELLO sent twice");
    this.#requests[name] = (this.#requests[name] ?? 0) + 1;
    const reader = new PayloadReader(f.payload);
    const cache = this.machine.cache;
    const fn = this.currentFunction;
    if (fn !== this.#causeFn) {
      this.#causeFn = fn;
      this.#cause = fn === null ? "host" : `host (${fn})`;
    }
    cache.cause = this.#cause;
    try {
      const reply = this.#dispatch(f.type, reader);
      if (reader.left !== 0)
        return this.#fail(
          PROTO_ERROR.MALFORMED,
          `${name}: ${reader.left} unexpected byte(s) after the payload`,
        );
      return reply;
    } catch (e) {
      if (e instanceof BadPayload) return this.#fail(PROTO_ERROR.MALFORMED, `${name}: ${e.message}`);
      throw e;
    } finally {
      cache.cause = "host";
    }
  }

  #dispatch(type: number, reader: PayloadReader): Uint8Array | null {
    switch (type) {
      case MSG.HELLO:
        return this.#helloReply(reader);
      case MSG.ALLOC:
        return this.#alloc(reader);
      case MSG.FREE:
        this.#free(reader);
        return null;
      case MSG.READ:
        return this.#read(reader);
      case MSG.WRITE:
        this.#write(reader);
        return null;
      case MSG.CLFLUSH:
        this.#clflush(reader);
        return null;
      case MSG.SEAMCALL:
        return this.#seamcall(reader);
      case MSG.MARK:
        this.#mark(reader);
        return null;
      case MSG.PING: {
        const body = reader.bytes(reader.left);
        if (body.length > 256) throw new BadPayload(`ping payload of ${body.length} bytes is above 256`);
        return frame(MSG.PING | MSG.REPLY, new PayloadWriter().i32(RESULT.OK).bytes(body).done());
      }
      case MSG.BYE:
        this.#bye = true;
        return null;
    }
    return null;
  }

  #helloReply(reader: PayloadReader): Uint8Array {
    const magic = reader.u32();
    const version = reader.u16();
    reader.u16();
    if (magic !== HELLO_MAGIC || version !== PROTOCOL_VERSION)
      return this.#fail(
        PROTO_ERROR.BAD_VERSION,
        `HELLO magic 0x${magic.toString(16)} version ${version}; this server speaks version ${PROTOCOL_VERSION} (magic 0x${HELLO_MAGIC.toString(16)})`,
      );
    this.#hello = true;
    const p = this.machine.platform;
    let top = 0;
    for (const range of p.memory) top = Math.max(top, hpaToPfn(range.base + range.size));
    const w = new PayloadWriter()
      .i32(RESULT.OK)
      .u16(PROTOCOL_VERSION)
      .u16(p.iommus.length)
      .u32(p.keyIds.shift)
      .u32(p.keyIds.global)
      .u32(p.clflushBeforeAlloc ? 1 : 0)
      .u32(0)
      .u64n(top);
    for (const u of p.iommus) w.u64n(u.regBase);
    w.text(p.name);
    return frame(MSG.HELLO | MSG.REPLY, w.done());
  }

  #tag(given: string): string {
    return `c:${given !== "" ? given : (this.currentFunction ?? "alloc")}`;
  }

  #alloc(reader: PayloadReader): Uint8Array {
    const kind = reader.u8();
    const order = reader.u8();
    const flags = reader.u16();
    const count = reader.u32();
    const tag = this.#tag(reader.text());
    const zero = (flags & ALLOC_FLAG.ZERO) !== 0;
    const a = this.machine.alloc;
    const reply = (result: number, pfns: readonly number[]) => {
      const w = new PayloadWriter().i32(result).u32(pfns.length);
      for (const p of pfns) w.u64n(p);
      return frame(MSG.ALLOC | MSG.REPLY, w.done());
    };
    const bad = (what: string) => {
      this.#finding(`${this.#where()}${what}`);
      return reply(RESULT.EINVAL, []);
    };
    if ((flags & ~ALLOC_FLAG.ZERO) !== 0) return bad(`alloc: unknown flags 0x${flags.toString(16)}`);
    try {
      switch (kind) {
        case ALLOC_KIND.PAGES: {
          if (count !== 1) return bad(`alloc_pages: count ${count}, expected 1`);
          const p = a.allocPages(order, { tag, zero });
          return p === null ? reply(RESULT.ENOMEM, []) : reply(RESULT.OK, [p.pfn]);
        }
        case ALLOC_KIND.BULK: {
          if (order !== 0 || count < 1 || count > MAX_BULK)
            return bad(`alloc_pages_bulk: order ${order}, count ${count} (order 0, 1..${MAX_BULK})`);
          return reply(
            RESULT.OK,
            a.allocPagesBulk(count, { tag, zero }).map((p) => p.pfn),
          );
        }
        case ALLOC_KIND.CONTIG: {
          if (order !== 0 || count < 1 || count > MAX_RANGE_PAGES)
            return bad(`alloc_contig_pages: order ${order}, count ${count} (order 0, 1..${MAX_RANGE_PAGES})`);
          const p = a.allocContigPages(count, { tag, zero });
          return p === null ? reply(RESULT.ENOMEM, []) : reply(RESULT.OK, [p.pfn]);
        }
        default:
          return bad(`alloc: unknown kind ${kind}`);
      }
    } catch (e) {
      if (isTdxpaError(e)) return bad(`alloc: ${e.message}`);
      throw e;
    }
  }

  #free(reader: PayloadReader): void {
    const kind = reader.u8();
    const order = reader.u8();
    reader.u16();
    const count = reader.u32();
    const pfn = readPfn(reader);
    const a = this.machine.alloc;
    const what = ["__free_pages", "free_contig_range", "get_page", "put_page"][kind] ?? `free kind ${kind}`;
    try {
      if (pfn === null || !this.machine.mem.contains(pfn)) {
        this.#finding(`${this.#where()}${what}: pfn ${hexPfn(pfn)} is outside memory`);
        return;
      }
      switch (kind) {
        case FREE_KIND.FREE_PAGES:
          a.freePages(a.pfnToPage(pfn), order);
          return;
        case FREE_KIND.FREE_CONTIG:
          a.freeContigRange(pfn, count);
          return;
        case FREE_KIND.GET_PAGE:
          a.getPage(a.pfnToPage(pfn));
          return;
        case FREE_KIND.PUT_PAGE:
          a.freePages(a.pfnToPage(pfn));
          return;
        default:
          this.#finding(`${this.#where()}free: unknown kind ${kind}`);
      }
    } catch (e) {
      if (isTdxpaError(e)) this.#finding(`${this.#where()}${what}(pfn ${hexPfn(pfn)}): ${e.message}`);
      else throw e;
    }
  }

  /** Checks a byte range of a page the host touches; returns an error text or null. */
  #checkAccess(op: string, pfn: number | null, offset: number, len: number): string | null {
    if (pfn === null || !this.machine.mem.contains(pfn)) return `${op}: pfn ${hexPfn(pfn)} is outside memory`;
    if (offset > PAGE_SIZE || len > PAGE_SIZE - offset)
      return `${op}: bytes ${offset}..${offset + len} of pfn ${hexPfn(pfn)} are outside the page`;
    const a = this.machine.alloc;
    if (a.isReserved(pfn)) return `${op}: pfn ${hexPfn(pfn)} is reserved (not host memory)`;
    if (a.isFree(pfn)) return `${op}: pfn ${hexPfn(pfn)} is free in the allocator (use after free)`;
    return null;
  }

  #read(reader: PayloadReader): Uint8Array {
    const pfn = readPfn(reader);
    const offset = reader.u32();
    const len = reader.u32();
    const err = this.#checkAccess("read", pfn, offset, len);
    const w = new PayloadWriter();
    if (err !== null) {
      this.#finding(`${this.#where()}${err}`);
      return frame(MSG.READ | MSG.REPLY, w.i32(RESULT.EINVAL).done());
    }
    this.machine.cache.hostAccess(pfn!, false);
    const page = this.machine.mem.peek(pfn!);
    // The reply, built in place: i32 result 0, then the bytes (zero for a page never written).
    const out = new Uint8Array(HEADER_BYTES + 4 + len);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, 4 + len, true);
    dv.setUint16(4, MSG.READ | MSG.REPLY, true);
    dv.setInt32(HEADER_BYTES, RESULT.OK, true);
    if (page !== undefined) out.set(page.subarray(offset, offset + len), HEADER_BYTES + 4);
    return out;
  }

  #write(reader: PayloadReader): void {
    const pfn = readPfn(reader);
    const offset = reader.u32();
    const len = reader.u32();
    const bytes = reader.bytes(len);
    const err = this.#checkAccess("write", pfn, offset, len);
    if (err !== null) {
      this.#finding(`${this.#where()}${err}`);
      return;
    }
    this.machine.cache.hostAccess(pfn!, true);
    this.machine.mem.page(pfn!).set(bytes, offset);
  }

  #clflush(reader: PayloadReader): void {
    const pfn = readPfn(reader);
    const pages = reader.u32();
    reader.u32();
    const mem = this.machine.mem;
    if (pfn === null || pages < 1 || pages > MAX_RANGE_PAGES || !mem.containsRun(pfn, pages)) {
      this.#finding(`${this.#where()}clflush: ${pages} page(s) at pfn ${hexPfn(pfn)} are not all memory`);
      return;
    }
    for (let i = 0; i < pages; i++) this.machine.cache.clflushPage(pfn + i);
  }

  #seamcall(reader: PayloadReader): Uint8Array {
    const regs = new Regs();
    if (reader.left >= 128) {
      // The whole register block is there: one bounds check (a short one is refused word by word below).
      const b = reader.bytes(128);
      const inDv = new DataView(b.buffer, b.byteOffset, 128);
      for (let i = 0; i < 32; i++) regs.w[i] = inDv.getUint32(4 * i, true);
    } else for (let i = 0; i < 32; i++) regs.w[i] = reader.u32();
    this.machine.module.seamcall(regs);
    // The reply, built in place (the hot path of every round trip): i32 result 0, u32 0, 16 registers.
    const out = new Uint8Array(SEAMCALL_REPLY_BYTES);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, SEAMCALL_REPLY_BYTES - HEADER_BYTES, true);
    dv.setUint16(4, MSG.SEAMCALL | MSG.REPLY, true);
    dv.setInt32(HEADER_BYTES, RESULT.OK, true);
    for (let i = 0; i < 32; i++) dv.setUint32(HEADER_BYTES + 8 + 4 * i, regs.w[i]!, true);
    return out;
  }

  #mark(reader: PayloadReader): void {
    const kind = reader.u8();
    reader.u8();
    reader.u16();
    reader.u32();
    const a = reader.u64();
    const b = reader.u64();
    const text = reader.text();
    switch (kind) {
      case MARK_KIND.ENTER:
        if (this.#depth === 0) this.#log.switchTo(text === "" ? "(unnamed)" : text, true);
        this.#depth++;
        if (this.#stack.length < MAX_MARK_DEPTH) this.#stack.push(text);
        return;
      case MARK_KIND.EXIT:
        if (this.#depth === 0) return;
        if (this.#stack.length === this.#depth) this.#stack.pop();
        this.#depth--;
        if (this.#depth === 0) this.#log.switchTo("program", false);
        return;
      case MARK_KIND.WARN: {
        const fn = this.currentFunction ?? "program";
        this.#log.warn({ fn, message: text });
        this.#finding(`WARNING in ${fn}: ${text}`);
        return;
      }
      case MARK_KIND.STRAND: {
        const pfn = u64ToNumber(a.lo, a.hi);
        const n = b.hi === 0 ? b.lo : -1;
        if (pfn === null || n < 1 || n > MAX_RANGE_PAGES || !this.machine.mem.containsRun(pfn, n)) {
          this.#finding(`${this.#where()}strand: ${b.lo} page(s) at pfn ${hexPfn(pfn)} are not all memory`);
          return;
        }
        const alloc = this.machine.alloc;
        const pfns: number[] = [];
        for (let i = 0; i < n; i++) {
          if (alloc.isFree(pfn + i) || alloc.isReserved(pfn + i))
            this.#finding(`${this.#where()}strand: pfn ${hexPfn(pfn + i)} is not allocated`);
          else pfns.push(pfn + i);
        }
        strandPages(this.machine.kernel, pfns, `${this.currentFunction ?? "program"}: ${text}`);
        return;
      }
      default:
        this.#finding(`${this.#where()}mark: unknown kind ${kind}`);
    }
  }

  // ---- phases, findings ---------------------------------------------------------------------------

  #where(): string {
    const fn = this.currentFunction;
    return fn === null ? "" : `in ${fn}: `;
  }

  #finding(message: string): void {
    this.#findingCount++;
    if (this.#findings.length < MAX_FINDINGS) this.#findings.push(message);
  }

  #fail(code: number, message: string): Uint8Array {
    this.#failure = { code, name: protoErrorName(code), message };
    return frame(MSG.ERROR, new PayloadWriter().i32(code).text(message.slice(0, 200)).done());
  }
}

function readPfn(reader: PayloadReader): number | null {
  const v = reader.u64();
  const pfn = u64ToNumber(v.lo, v.hi);
  return pfn !== null && pfn < PFN_LIMIT ? pfn : null;
}

function hexPfn(pfn: number | null): string {
  return pfn === null ? "(above 2^40)" : `0x${pfn.toString(16)}`;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
