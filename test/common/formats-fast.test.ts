/**
 * The allocation-free codecs of src/common/formats.ts (encode…Into, field readers, …Rule codes) and the
 * u64.ts helpers under them, against a plain bigint oracle written the way docs/spec/01-formats.md 1.1,
 * 1.2 and 1.4 read, and against the object API they back.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTdxpaError } from "../../src/common/errors.js";
import {
  decodeHpaArray,
  decodeHpaListInfo,
  decodeIommuMtEntry,
  decodeListEntry,
  encodeHpaArrayInto,
  encodeHpaListInfoInto,
  encodeIommuMtEntryInto,
  entryHpa,
  hpaArrayHpa,
  hpaArrayRule,
  hpaArraySize,
  hpaListInfoFirstEntry,
  hpaListInfoLastEntry,
  hpaListInfoRootHpa,
  hpaListInfoRule,
  iommuMtEntryNumPages,
  iommuMtEntryRule,
  iommuMtEntryValue,
  listEntryRule,
  RULE_ENTRY_ALIGNMENT,
  RULE_ENTRY_NUM_PAGES,
  RULE_ENTRY_RESERVED_BITS,
  RULE_FIRST_AFTER_LAST,
  RULE_OK,
  RULE_RESERVED_BITS,
  type RuleCode,
} from "../../src/common/formats.js";
import { hpaHi, hpaLo, isPageHpa, isPowerOfTwo, u64ToBigint } from "../../src/common/u64.js";
import { toBe } from "../support/assert.js";

const bits = (v: bigint, hi: number, lo: number) => (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
const arbPfn = fc.integer({ min: 0, max: 2 ** 40 - 1 });
const arbHpa = arbPfn.map((p) => p * 4096);
const arbCount = fc.integer({ min: 1, max: 512 });
const arbU64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const halves = (b: bigint) => [Number(b & 0xffff_ffffn), Number(b >> 32n)] as const;
/** Words around the written pair stay untouched: out has sentinels at 0 and 3, the value at 1..2. */
const written = (f: (out: Uint32Array) => void): bigint => {
  const out = new Uint32Array([0xdead_beef, 0, 0, 0xcafe_f00d]);
  f(out);
  expect(out[0]).toBe(0xdead_beef);
  expect(out[3]).toBe(0xcafe_f00d);
  return u64ToBigint(out[1]!, out[2]!);
};

const RULE_NAME: Record<RuleCode, string | null> = {
  [RULE_OK]: null,
  [RULE_RESERVED_BITS]: "reserved-bits",
  [RULE_FIRST_AFTER_LAST]: "first-after-last",
  [RULE_ENTRY_RESERVED_BITS]: "entry-reserved-bits",
  [RULE_ENTRY_NUM_PAGES]: "entry-num-pages",
  [RULE_ENTRY_ALIGNMENT]: "entry-alignment",
};

describe("encode…Into matches the bigint oracle and writes only its two words", () => {
  it("HPA_LIST_INFO", () => {
    fc.assert(
      fc.property(arbHpa, arbCount, fc.nat(511), (root, count, f) => {
        const first = f % count;
        const want = (BigInt(count - 1) << 55n) | BigInt(root) | (BigInt(first) << 3n);
        expect(written((o) => encodeHpaListInfoInto(o, 1, root, count, first))).toBe(want);
      }),
    );
  });
  it("HPA_ARRAY_T", () => {
    fc.assert(
      fc.property(arbHpa, arbCount, (hpa, count) => {
        expect(written((o) => encodeHpaArrayInto(o, 1, count, hpa))).toBe(
          (BigInt(count - 1) << 55n) | BigInt(hpa),
        );
      }),
    );
  });
  it("IOMMU_MT entry", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 11 }), arbPfn, (order, pfn) => {
        const pages = 2 ** order;
        const hpa = (pfn - (pfn % pages)) * 4096;
        const want = BigInt(hpa) | BigInt(pages === 1 ? 0 : pages);
        expect(written((o) => encodeIommuMtEntryInto(o, 1, hpa, pages))).toBe(want);
        // The one-number form is the same u64, exact (below 2^52).
        expect(BigInt(iommuMtEntryValue(hpa, pages))).toBe(want);
      }),
    );
  });
});

describe("encode…Into refuses what the object API refuses, with typed errors", () => {
  const bad: unknown[] = ["4096", Number.NaN, -4096, 4096.5, 4097, 2 ** 52, 2 ** 53, Infinity, null, 4096n];
  const refuses = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return isTdxpaError(e);
    }
    return false;
  };
  it("bad addresses, counts, first entries and block sizes", () => {
    const o = new Uint32Array(2);
    for (const h of bad) {
      expect(refuses(() => encodeHpaListInfoInto(o, 0, h as number, 2))).toBe(true);
      expect(refuses(() => encodeHpaArrayInto(o, 0, 2, h as number))).toBe(true);
      expect(refuses(() => encodeIommuMtEntryInto(o, 0, h as number, 1))).toBe(true);
    }
    for (const c of [0, 513, 1.5, "2", Number.NaN, -1])
      expect(refuses(() => encodeHpaListInfoInto(o, 0, 0x1000, c as number))).toBe(true);
    for (const c of [0, 513, 1.5, "2", Number.NaN])
      expect(refuses(() => encodeHpaArrayInto(o, 0, c as number, 0x1000))).toBe(true);
    for (const f of [2, -1, 0.5, "0"])
      expect(refuses(() => encodeHpaListInfoInto(o, 0, 0x1000, 2, f as number))).toBe(true);
    for (const p of [0, 3, 4096, 1.5, "2"])
      expect(refuses(() => encodeIommuMtEntryInto(o, 0, 0x800000, p as number))).toBe(true);
    expect(refuses(() => encodeIommuMtEntryInto(o, 0, 0x1000, 2))).toBe(true); // not aligned to 2 pages
    expect(refuses(() => encodeIommuMtEntryInto(o, 0, 0x2000, 2))).toBe(false);
  });
});

describe("the encoders' number-only accept test is exactly the typed check", () => {
  // The fast path of encode…Into derives "integer address in 0..2^52-4096, page aligned" from the two
  // halves; it must accept exactly what isPageHpa and the integer ranges accept, on edges and at random.
  const edgeHpas = [
    0,
    -0,
    4096,
    2 ** 32,
    2 ** 32 - 4096,
    2 ** 52 - 4096,
    2 ** 52,
    2 ** 52 + 4096,
    2 ** 53,
    2 ** 53 + 8192,
    -4096,
    4096.5,
    2 ** 32 + 0.5,
    2 ** 51 + 0.5,
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    Number.NaN,
    Infinity,
    -Infinity,
    Number.EPSILON,
  ];
  const arbNum = fc.oneof(
    fc.constantFrom(...edgeHpas),
    fc.double(),
    arbHpa,
    arbHpa.map((h) => h + 0.25),
    fc.integer({ min: -(2 ** 21), max: 2 ** 21 }).map((k) => k * 2 ** 32 + 4096),
  );
  const arbSmall = fc.oneof(
    fc.integer({ min: -3, max: 2050 }),
    fc.double({ min: -2, max: 5000 }),
    fc.constantFrom(-0, Number.NaN, Infinity),
  );
  const accepted = (f: () => void): boolean => {
    try {
      f();
      return true;
    } catch (e) {
      toBe(isTdxpaError(e), true);
      return false;
    }
  };
  const isIndex = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;
  it("HPA_LIST_INFO, HPA_ARRAY_T and IOMMU_MT entry, against isPageHpa and integer ranges", () => {
    const o = new Uint32Array(2);
    fc.assert(
      fc.property(arbNum, arbSmall, arbSmall, (h, n, f) => {
        const okList = isPageHpa(h) && isIndex(n, 1, 512) && isIndex(f, 0, n - 1);
        toBe(
          accepted(() => encodeHpaListInfoInto(o, 0, h, n, f)),
          okList,
        );
        if (okList) toBe(u64ToBigint(o[0]!, o[1]!), BigInt(h) | (BigInt(f) << 3n) | (BigInt(n - 1) << 55n));
        const okArr = isPageHpa(h) && isIndex(n, 1, 512);
        toBe(
          accepted(() => encodeHpaArrayInto(o, 0, n, h)),
          okArr,
        );
        const okMt = isPageHpa(h) && isPowerOfTwo(n) && n <= 2048 && h % (n * 4096) === 0;
        toBe(
          accepted(() => encodeIommuMtEntryInto(o, 0, h, n)),
          okMt,
        );
        toBe(
          accepted(() => iommuMtEntryValue(h, n)),
          okMt,
        );
        if (okMt) toBe(iommuMtEntryValue(h, n), h + (n === 1 ? 0 : n));
      }),
      { numRuns: 3000 },
    );
  });
  it("a spoofed number is refused before any arithmetic touches it", () => {
    const o = new Uint32Array(2);
    let touched = 0;
    const spoof = {
      valueOf: () => {
        touched++;
        return 4096;
      },
    } as unknown as number;
    expect(accepted(() => encodeHpaListInfoInto(o, 0, spoof, 2))).toBe(false);
    expect(accepted(() => encodeHpaListInfoInto(o, 0, 4096, spoof))).toBe(false);
    expect(accepted(() => encodeHpaArrayInto(o, 0, spoof, 4096))).toBe(false);
    expect(accepted(() => encodeIommuMtEntryInto(o, 0, 4096, spoof))).toBe(false);
    expect(accepted(() => iommuMtEntryValue(spoof, 1))).toBe(false);
    expect(accepted(() => iommuMtEntryValue(4096, spoof))).toBe(false);
    expect(touched).toBe(0);
  });
});

describe("field readers and rule codes agree with the oracle on any u64", () => {
  it("operands", () => {
    fc.assert(
      fc.property(arbU64, (b) => {
        const [lo, hi] = halves(b);
        expect(hpaListInfoFirstEntry(lo)).toBe(Number(bits(b, 11, 3)));
        expect(hpaListInfoLastEntry(hi)).toBe(Number(bits(b, 63, 55)));
        expect(hpaListInfoRootHpa(lo, hi)).toBe(Number(bits(b, 51, 12)) * 4096);
        expect(hpaArraySize(hi)).toBe(Number(bits(b, 63, 55)));
        expect(hpaArrayHpa(lo, hi)).toBe(Number(bits(b, 51, 12)) * 4096);
        const listReserved = bits(b, 2, 0) !== 0n || bits(b, 54, 52) !== 0n;
        expect(hpaListInfoRule(lo, hi)).toBe(
          listReserved
            ? RULE_RESERVED_BITS
            : bits(b, 11, 3) > bits(b, 63, 55)
              ? RULE_FIRST_AFTER_LAST
              : RULE_OK,
        );
        expect(hpaArrayRule(lo, hi)).toBe(
          bits(b, 11, 0) !== 0n || bits(b, 54, 52) !== 0n ? RULE_RESERVED_BITS : RULE_OK,
        );
        // The object API reports the same rule.
        expect(decodeHpaListInfo(lo, hi).violation?.rule ?? null).toBe(RULE_NAME[hpaListInfoRule(lo, hi)]);
        expect(decodeHpaArray(lo, hi).violation?.rule ?? null).toBe(RULE_NAME[hpaArrayRule(lo, hi)]);
      }),
    );
  });
  it("entries, lone and by position", () => {
    const arbEntry = fc.oneof(
      arbU64,
      // Mostly valid shapes, so the NUM_PAGES and alignment branches are reached often.
      fc
        .tuple(arbPfn, fc.integer({ min: 0, max: 12 }))
        .map(([pfn, k]) => (BigInt(pfn) << 12n) | BigInt(k === 12 ? 0 : 2 ** k)),
    );
    fc.assert(
      fc.property(
        arbEntry,
        fc.integer({ min: 0, max: 511 }),
        fc.constantFrom(0, 1, 2, 3, 8, 2048),
        (b, index, q) => {
          const [lo, hi] = halves(b);
          const np = bits(b, 11, 0);
          const hpa = bits(b, 51, 12) << 12n;
          expect(entryHpa(lo, hi)).toBe(Number(hpa));
          expect(iommuMtEntryNumPages(lo)).toBe(Number(np));
          const reservedEntry = bits(b, 63, 52) !== 0n;
          expect(listEntryRule(lo, hi)).toBe(reservedEntry || np !== 0n ? RULE_ENTRY_RESERVED_BITS : RULE_OK);
          const pow2 = (n: bigint) => n > 0n && (n & (n - 1n)) === 0n;
          const aligned = (n: bigint) => n < 2n || hpa % (n * 4096n) === 0n;
          const lone: RuleCode = reservedEntry
            ? RULE_ENTRY_RESERVED_BITS
            : np !== 0n && (np < 2n || !pow2(np))
              ? RULE_ENTRY_NUM_PAGES
              : aligned(np)
                ? RULE_OK
                : RULE_ENTRY_ALIGNMENT;
          expect(iommuMtEntryRule(lo, hi)).toBe(lone);
          const want = index < 2 ? BigInt(q) : 0n;
          const placed: RuleCode = reservedEntry
            ? RULE_ENTRY_RESERVED_BITS
            : np !== want || (index < 2 && np < 2n)
              ? RULE_ENTRY_NUM_PAGES
              : aligned(np)
                ? RULE_OK
                : RULE_ENTRY_ALIGNMENT;
          expect(iommuMtEntryRule(lo, hi, index, q)).toBe(placed);
          expect(decodeIommuMtEntry(lo, hi).violation?.rule ?? null).toBe(RULE_NAME[lone]);
          expect(decodeIommuMtEntry(lo, hi, { index, queuePages: q }).violation?.rule ?? null).toBe(
            RULE_NAME[placed],
          );
          expect(decodeListEntry(lo, hi).violation?.rule ?? null).toBe(RULE_NAME[listEntryRule(lo, hi)]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("u64 helpers without float %, Math.log2 or **", () => {
  it("isPowerOfTwo against bigint, across the 2^31 and 2^32 edges", () => {
    const oracle = (n: number) => Number.isInteger(n) && n >= 1 && (BigInt(n) & (BigInt(n) - 1n)) === 0n;
    const edges = [0, 1, 2, 3, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1];
    for (const n of [...edges, 2 ** 33, 2 ** 33 + 2 ** 32, 2 ** 52, 2 ** 53, 2 ** 40 + 4096, 6, 4095, 4096])
      expect(isPowerOfTwo(n)).toBe(oracle(n));
    for (const n of [-1, -2, 0.5, 1.5, Number.NaN, Infinity]) expect(isPowerOfTwo(n)).toBe(false);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 53 }), fc.integer({ min: -3, max: 3 }), (k, d) => {
        const n = 2 ** k + d;
        fc.pre(n >= 0 && n <= 2 ** 53);
        expect(isPowerOfTwo(n)).toBe(oracle(n));
      }),
    );
  });
  it("hpaLo / hpaHi / isPageHpa", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(BigInt(hpaHi(n)) * 2n ** 32n + BigInt(hpaLo(n))).toBe(BigInt(n));
        expect(isPageHpa(n)).toBe(n < 2 ** 52 && n % 4096 === 0);
      }),
    );
  });
});
