/**
 * The wire protocol between the emulator (`tdxpa exec` / `tdxpa serve`) and a host program written in
 * C (docs/PROTOCOL.md): versioned, little-endian, length-prefixed binary frames over one stream
 * socket. The host side it carries is the host of docs/spec/02-kapi.md (allocator, memory through the
 * KeyID-0 cache, CLFLUSH, SEAMCALL per docs/spec/03-module.md 3.1, and marks naming the host's current
 * function); this file only encodes and decodes frames. Core code: no Node APIs.
 *
 * A frame is an 8-byte header, `u32 payload length`, `u16 type`, `u16 flags` (0), then the payload.
 * Requests have types 1..10, their replies the same type with bit 7 set; type 0xFF is the error reply
 * the server sends before it closes a session. "Posted" requests (FREE, WRITE, CLFLUSH, MARK, BYE) get
 * no reply, so a client can batch them in one write; their failures become findings of the run.
 */

import { u64FromNumber } from "../common/u64.js";

/** Protocol version this server speaks (HELLO states it; a mismatch ends the session). */
export const PROTOCOL_VERSION = 1;

/** HELLO magic: the bytes "TXPA" read as a little-endian u32. */
export const HELLO_MAGIC = 0x41505854;

/** Bytes of a frame header. */
export const HEADER_BYTES = 8;

/**
 * Largest payload a frame may carry. A page write is 4 KiB plus 16 bytes; a bulk allocation reply of
 * 8,192 PFNs is 64 KiB plus 8 bytes, so the client asks for at most {@link MAX_BULK} pages at a time.
 */
export const MAX_PAYLOAD = 65_536 + 64;

/** Most pages one bulk allocation request may ask for (its reply stays under {@link MAX_PAYLOAD}). */
export const MAX_BULK = 8192;

/** Longest allocation tag or mark text, in bytes. */
export const MAX_TEXT = 256;

/** Request types. */
export const MSG = Object.freeze({
  HELLO: 1,
  ALLOC: 2,
  FREE: 3,
  READ: 4,
  WRITE: 5,
  CLFLUSH: 6,
  SEAMCALL: 7,
  MARK: 8,
  PING: 9,
  BYE: 10,
  /** Reply bit: a reply's type is its request's type with this bit set. */
  REPLY: 0x80,
  /** The error reply; the server closes the session after sending it. */
  ERROR: 0xff,
});

/** ALLOC kinds. */
export const ALLOC_KIND = Object.freeze({ PAGES: 0, BULK: 1, CONTIG: 2 });
/** FREE kinds. */
export const FREE_KIND = Object.freeze({ FREE_PAGES: 0, FREE_CONTIG: 1, GET_PAGE: 2, PUT_PAGE: 3 });
/** MARK kinds. */
export const MARK_KIND = Object.freeze({ ENTER: 0, EXIT: 1, WARN: 2, STRAND: 3 });
/** ALLOC flag bits. */
export const ALLOC_FLAG = Object.freeze({ ZERO: 1 });

/** Result codes in replies (negative errno values, as the kernel uses them). */
export const RESULT = Object.freeze({ OK: 0, ENOMEM: -12, EINVAL: -22, EPROTO: -71 });

/** Error codes of the ERROR reply (docs/PROTOCOL.md, "Errors"). */
export const PROTO_ERROR = Object.freeze({
  /** The frame header or payload is malformed (bad flags, wrong payload size for its type). */
  MALFORMED: 1,
  /** The length field is above {@link MAX_PAYLOAD}. */
  OVERSIZED: 2,
  /** An unknown request type. */
  UNKNOWN_TYPE: 3,
  /** The first request was not HELLO, or HELLO came twice. */
  NO_HELLO: 4,
  /** HELLO with a wrong magic or an unsupported version. */
  BAD_VERSION: 5,
  /** The stream ended inside a frame. */
  TRUNCATED: 6,
  /** The client sent requests but did not read the replies (the server's output backlog overflowed). */
  NOT_READING: 7,
});

/** Name of a {@link PROTO_ERROR} code. */
export function protoErrorName(code: number): string {
  for (const [k, v] of Object.entries(PROTO_ERROR)) if (v === code) return k.toLowerCase();
  return `error ${code}`;
}

/** A decoded frame: its type and a view of its payload. */
export interface Frame {
  readonly type: number;
  readonly payload: Uint8Array;
}

/** Why a byte stream cannot be framed. */
export interface FrameError {
  readonly code: number;
  readonly message: string;
}

/**
 * Splits a byte stream into frames. Feed it chunks as they arrive; it returns the complete frames and
 * keeps the rest. A bad header yields an error and the splitter stops (the session is then closed).
 */
export class FrameSplitter {
  #buf = new Uint8Array(0);
  #len = 0;
  #error: FrameError | null = null;

  /** The framing error, once one happened. */
  get error(): FrameError | null {
    return this.#error;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.#len;
  }

  /**
   * Appends `chunk` and returns every frame now complete. A payload is a view of `chunk` when the frame
   * lies whole inside it (the common case: no copy), or a copy of the bytes kept from earlier pushes;
   * either way it stays valid as long as the caller does not change `chunk`.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.#error !== null) return [];
    // Nothing kept from earlier pushes: frame `chunk` where it lies.
    const whole = this.#len === 0;
    if (!whole) {
      this.#room(this.#len + chunk.length);
      this.#buf.set(chunk, this.#len);
      this.#len += chunk.length;
    }
    const src = whole ? chunk : this.#buf;
    const end = whole ? chunk.length : this.#len;
    const frames: Frame[] = [];
    let off = 0;
    const dv = new DataView(src.buffer, src.byteOffset, end);
    while (end - off >= HEADER_BYTES) {
      const len = dv.getUint32(off, true);
      const type = dv.getUint16(off + 4, true);
      const flags = dv.getUint16(off + 6, true);
      if (len > MAX_PAYLOAD) {
        this.#error = {
          code: PROTO_ERROR.OVERSIZED,
          message: `frame of ${len} bytes is above the limit of ${MAX_PAYLOAD}`,
        };
        break;
      }
      if (flags !== 0) {
        this.#error = {
          code: PROTO_ERROR.MALFORMED,
          message: `frame type ${type} has flags 0x${flags.toString(16)}, expected 0`,
        };
        break;
      }
      if (end - off < HEADER_BYTES + len) break;
      const from = off + HEADER_BYTES;
      // A view of the caller's chunk; a copy out of our buffer, which the next push reuses.
      frames.push({
        type,
        payload: whole ? chunk.subarray(from, from + len) : this.#buf.slice(from, from + len),
      });
      off = from + len;
    }
    if (whole) {
      const rest = end - off;
      if (rest > 0) {
        this.#room(rest);
        this.#buf.set(chunk.subarray(off), 0);
      }
      this.#len = rest;
    } else if (off > 0) {
      this.#buf.copyWithin(0, off, this.#len);
      this.#len -= off;
    }
    return frames;
  }

  /** Grows the kept-bytes buffer to hold `n` bytes (keeping what it holds). */
  #room(n: number): void {
    if (n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(n, this.#buf.length * 2, 4096));
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }
}

/** Builds one frame of `type` around `payload`. */
export function frame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.length, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, 0, true);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** A little-endian payload writer that grows as needed. */
export class PayloadWriter {
  #buf = new Uint8Array(64);
  #dv = new DataView(this.#buf.buffer);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const g = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    g.set(this.#buf.subarray(0, this.#len));
    this.#buf = g;
    this.#dv = new DataView(g.buffer);
  }

  /** Appends a u8. */
  u8(v: number): this {
    this.#room(1);
    this.#dv.setUint8(this.#len, v);
    this.#len += 1;
    return this;
  }

  /** Appends a u16. */
  u16(v: number): this {
    this.#room(2);
    this.#dv.setUint16(this.#len, v, true);
    this.#len += 2;
    return this;
  }

  /** Appends a u32. */
  u32(v: number): this {
    this.#room(4);
    this.#dv.setUint32(this.#len, v >>> 0, true);
    this.#len += 4;
    return this;
  }

  /** Appends an i32. */
  i32(v: number): this {
    this.#room(4);
    this.#dv.setInt32(this.#len, v, true);
    this.#len += 4;
    return this;
  }

  /** Appends a u64 given as halves. */
  u64(lo: number, hi: number): this {
    return this.u32(lo).u32(hi);
  }

  /** Appends a u64 given as a number below 2^53 (a PFN or an address). */
  u64n(v: number): this {
    const { lo, hi } = u64FromNumber(v);
    return this.u64(lo, hi);
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** Appends `u16 length` and the bytes of `s` (printable ASCII; any other character becomes `?`). */
  text(s: string): this {
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      b[i] = c >= 0x20 && c < 0x7f ? c : 0x3f;
    }
    return this.u16(b.length).bytes(b);
  }

  /** The payload written so far. */
  done(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Thrown by {@link PayloadReader} when a payload is shorter than its type requires. */
export class BadPayload extends Error {
  override readonly name = "BadPayload";
}

/** A little-endian payload reader; every read checks the bounds. */
export class PayloadReader {
  #off = 0;
  readonly #dv: DataView;

  constructor(readonly payload: Uint8Array) {
    this.#dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  }

  #need(n: number): void {
    if (this.#off + n > this.payload.length)
      throw new BadPayload(`payload of ${this.payload.length} bytes is too short (need ${this.#off + n})`);
  }

  /** Bytes left. */
  get left(): number {
    return this.payload.length - this.#off;
  }

  /** Reads a u8. */
  u8(): number {
    this.#need(1);
    return this.#dv.getUint8(this.#off++);
  }

  /** Reads a u16. */
  u16(): number {
    this.#need(2);
    const v = this.#dv.getUint16(this.#off, true);
    this.#off += 2;
    return v;
  }

  /** Reads a u32. */
  u32(): number {
    this.#need(4);
    const v = this.#dv.getUint32(this.#off, true);
    this.#off += 4;
    return v;
  }

  /** Reads an i32. */
  i32(): number {
    this.#need(4);
    const v = this.#dv.getInt32(this.#off, true);
    this.#off += 4;
    return v;
  }

  /** Reads a u64 as halves. */
  u64(): { lo: number; hi: number } {
    const lo = this.u32();
    return { lo, hi: this.u32() };
  }

  /** Reads `n` raw bytes (a view). */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const b = this.payload.subarray(this.#off, this.#off + n);
    this.#off += n;
    return b;
  }

  /**
   * Reads `u16 length` and that many bytes as text: printable ASCII is kept, any other byte becomes `?`
   * (a client's text lands in one-line reports and traces). Longer than {@link MAX_TEXT} is refused.
   */
  text(): string {
    const n = this.u16();
    if (n > MAX_TEXT) throw new BadPayload(`text of ${n} bytes is above the limit of ${MAX_TEXT}`);
    const b = this.bytes(n);
    let s = "";
    for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
    return s;
  }
}
