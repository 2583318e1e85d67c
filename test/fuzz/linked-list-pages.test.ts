/**
 * The linked-list fuzz target reads its list pages from the input lazily (fuzz/targets.ts): page
 * headers, spelled entries and links as the walk asks for them. This checks that the pages a walk sees
 * are the pages an eager reader of the same bytes lays out (written here from the target's description),
 * whatever order the entries are asked in, and that the walk reaches what the input shapes allow.
 */
import { describe, expect, it } from "vitest";
import { ByteReader } from "../../fuzz/bytes.js";
import { judge, linkedListTargetFor } from "../../fuzz/targets.js";
import { readLinkedList } from "../../src/common/formats.js";
import { Rng } from "../../src/common/rng.js";
import type { U64 } from "../../src/common/u64.js";

const BASE = 0x1000_0000;
const NULL = 0xffff_ffff;

/** One spelled entry, as the target's description of readSpelledEntry says. */
function spelled(r: ByteReader): [number, number] {
  const k = r.u8();
  switch (k & 7) {
    case 0: {
      const lo = r.u32();
      return [lo, r.u32()];
    }
    case 1:
      return [NULL, NULL];
    case 4: {
      const b = r.u8();
      const bit = b % 24;
      const lo = BASE + (b >>> 5) * 0x1000;
      return bit < 12 ? [(lo | (1 << bit)) >>> 0, 0] : [lo, 2 ** (bit - 12 + 20)];
    }
    case 5: {
      const bit = r.u8() % 64;
      return bit < 32 ? [NULL - 2 ** bit, NULL] : [NULL, NULL - 2 ** (bit - 32)];
    }
    case 6: {
      const lo = r.u16() * 0x1000;
      return [lo, r.u8() * 0x1000];
    }
    default:
      return [BASE + ((k >>> 3) % 8) * 0x1000, 0];
  }
}

/** The pages of `input`, read eagerly: `pages[p][e]` as [lo, hi]. */
function eagerPages(input: Uint8Array): { maxPages: number; pages: [number, number][][] } {
  const r = new ByteReader(input);
  const maxPages = (r.u8() % 10) + 1;
  const nPages = (r.u8() % 8) + 1;
  const pages: [number, number][][] = [];
  for (let p = 0; p < nPages; p++) {
    const u = r.u8();
    const page: [number, number][] = [];
    let used: number;
    const written = new Map<number, [number, number]>();
    if ((u & 63) >= 62) {
      used = (u & 63) === 63 ? 511 : 510 - (u >>> 6);
      const s = r.u8();
      const start = (s >>> 2) * 8;
      for (let e = start; e < Math.min(start + (s & 3), 511); e++) written.set(e, spelled(r));
    } else {
      used = u >>> 2;
      for (let e = 0; e < used && !r.done; e++) written.set(e, spelled(r));
    }
    for (let e = 0; e < 511; e++)
      page.push(
        written.get(e) ?? (e < used ? [(((p << 21) | (e << 12)) >>> 0) as number, 0x100 + p] : [NULL, NULL]),
      );
    page.push(spelled(r));
    pages.push(page);
  }
  return { maxPages, pages };
}

describe("linked-list fuzz target pages", () => {
  it("are what an eager reader of the input lays out, read in any order", () => {
    const rng = Rng.mulberry32(99);
    let checked = 0;
    let wrong = "";
    for (let i = 0; i < 400; i++) {
      const input = new Uint8Array(2 + rng.below(120));
      for (let j = 0; j < input.length; j++) input[j] = rng.next() & (i % 3 === 0 ? rng.next() : 0xff);
      const want = eagerPages(input);
      // A "walk" that reads every entry of every page (and one page past them) in a seeded order.
      const t = linkedListTargetFor((read, first, max) => {
        const order: [number, number][] = [];
        for (let p = 0; p <= want.pages.length; p++) for (let e = 0; e < 512; e++) order.push([p, e]);
        for (let k = order.length - 1; k > 0; k--) {
          const j = rng.below(k + 1);
          [order[k], order[j]] = [order[j]!, order[k]!];
        }
        for (const [p, e] of order) {
          const got: U64 = read(BASE + p * 0x1000, e);
          const w = p < want.pages.length ? want.pages[p]![e]! : [NULL, NULL];
          if ((got.lo !== w[0] || got.hi !== w[1]) && wrong === "")
            wrong = `input ${i}, page ${p}, entry ${e}: ${got.lo}, ${got.hi}, not ${w[0]}, ${w[1]}`;
          checked++;
        }
        return readLinkedList(read, first, max);
      });
      // This walk reads more entries than the page limit allows, so the target may say so.
      const v = judge(t, input);
      if (!v.ok) expect(v.problem).toMatch(/^\d+ entries read for at most \d+ pages$/);
    }
    expect(wrong).toBe("");
    expect(checked).toBeGreaterThan(400 * 1024);
  });
});
