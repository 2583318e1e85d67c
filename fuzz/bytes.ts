/**
 * Byte input for fuzz targets: a reader that never runs past the end (missing bytes read as zero, like
 * libFuzzer's FuzzedDataProvider) and hex conversion for regression vectors. Every fuzz input is a byte
 * string, so any counterexample can be saved as hex and replayed exactly.
 */
import type { U64 } from "../src/common/u64.js";

/** Reads little-endian fields from a byte string; past the end every byte is 0. */
export class ByteReader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** True when every byte has been read. */
  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  u8(): number {
    const b = this.pos < this.bytes.length ? this.bytes[this.pos]! : 0;
    this.pos++;
    return b;
  }

  u16(): number {
    return this.u8() | (this.u8() << 8);
  }

  u32(): number {
    const b = this.bytes;
    const at = this.pos;
    if (at + 4 <= b.length) {
      this.pos = at + 4;
      return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
    }
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }

  u64(): U64 {
    const lo = this.u32();
    return { lo, hi: this.u32() };
  }

  /** The next `n` bytes (zero-padded). */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const end = Math.min(this.bytes.length, this.pos + n);
    if (this.pos < end) out.set(this.bytes.subarray(this.pos, end));
    this.pos += n;
    return out;
  }

  /** Everything not read yet. */
  rest(): Uint8Array {
    const r = this.pos < this.bytes.length ? this.bytes.slice(this.pos) : new Uint8Array(0);
    this.pos = this.bytes.length;
    return r;
  }
}

/** Builds a byte string field by field (the writer side of {@link ByteReader}). */
export class ByteWriter {
  private readonly out: number[] = [];

  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }

  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }

  u64(v: U64): this {
    return this.u32(v.lo).u32(v.hi);
  }

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]! & 0xff);
    return this;
  }

  done(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** Lower-case hex of a byte string. */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Bytes of a hex string (even length, 0-9a-f); null when it is not one. */
export function fromHex(s: string): Uint8Array | null {
  if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
