import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTdxpaError } from "../../src/common/errors.js";
import {
  HPA_ARRAY_T,
  HPA_LIST_INFO,
  IOMMU_MT,
  IOMMU_MT_ENTRY,
  LAYOUTS,
  LIST_ENTRY,
} from "../../src/common/fields.js";
import {
  checkEntries,
  decodeHpaArray,
  decodeHpaListInfo,
  decodeIommuMt,
  decodeIommuMtEntry,
  decodeListEntry,
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
  hpaListInfoCursor,
  layoutLinkedList,
  readLinkedList,
  withFirstEntry,
} from "../../src/common/formats.js";
import { parseU64, type U64, u64FromBigint, u64ToBigint } from "../../src/common/u64.js";
import vectors from "../vectors/formats.json" with { type: "json" };

// ---- A plain bigint oracle, written the way 01-formats.md 1.1 reads. ----
const B = (v: U64) => u64ToBigint(v.lo, v.hi);
const bits = (v: bigint, hi: number, lo: number) => (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
const oracle = {
  hpaListInfo: (root: number, count: number, first: number) =>
    (BigInt(count - 1) << 55n) | BigInt(root) | (BigInt(first) << 3n),
  hpaArray: (hpa: number, count: number) => (BigInt(count - 1) << 55n) | BigInt(hpa),
  iommuMtEntry: (hpa: number, pages: number) => BigInt(hpa) | BigInt(pages === 1 ? 0 : pages),
  // Rule 1 for each operand layout: the reserved bit ranges must be zero.
  hpaListInfoValid: (v: bigint) =>
    bits(v, 2, 0) === 0n && bits(v, 54, 52) === 0n && bits(v, 11, 3) <= bits(v, 63, 55),
  hpaArrayValid: (v: bigint) => bits(v, 11, 0) === 0n && bits(v, 54, 52) === 0n,
  iommuMtValid: (v: bigint) => bits(v, 11, 0) === 0n && bits(v, 63, 52) === 0n,
};

const arbPfn = fc.integer({ min: 0, max: 2 ** 40 - 1 });
const arbHpa = arbPfn.map((p) => p * 4096);
const arbCount = fc.integer({ min: 1, max: 512 });
const arbU64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => u64FromBigint(v));
const hex = (s: string) => Number(BigInt(s));

describe("layouts are data that cover 64 bits exactly", () => {
  it.each(LAYOUTS.map((l) => [l.name, l] as const))("%s", (_n, l) => {
    let next = 0;
    for (const f of l.fields) {
      expect(f.lsb).toBe(next);
      next += f.width;
    }
    expect(next).toBe(64);
  });
  it("matches the spec's table", () => {
    expect(HPA_LIST_INFO.fields.map((f) => [f.name, f.lsb, f.width])).toEqual([
      ["RESERVED_2_0", 0, 3],
      ["FIRST_ENTRY", 3, 9],
      ["PFN", 12, 40],
      ["RESERVED_54_52", 52, 3],
      ["LAST_ENTRY", 55, 9],
    ]);
    expect(HPA_ARRAY_T.fields.find((f) => f.name === "SIZE")).toMatchObject({ lsb: 55, width: 9 });
    expect(IOMMU_MT.fields.filter((f) => f.reserved).map((f) => f.name)).toEqual([
      "RESERVED_11_0",
      "RESERVED_63_52",
    ]);
    expect(IOMMU_MT_ENTRY.fields[0]).toMatchObject({ name: "NUM_PAGES", reserved: false });
    expect(LIST_ENTRY.fields[0]).toMatchObject({ reserved: true });
  });
});

describe("vectors", () => {
  it.each(vectors.valid.map((v) => [v.kind, v.raw, v] as const))("valid %s %s", (kind, raw, v) => {
    const { lo, hi } = parseU64(raw);
    const want = v as Record<string, unknown>;
    switch (kind) {
      case "hpa-list-info": {
        const d = decodeHpaListInfo(lo, hi);
        expect(d.violation).toBeNull();
        expect(d.fields).toEqual({
          firstEntry: want.firstEntry,
          lastEntry: want.lastEntry,
          count: (want.lastEntry as number) + 1,
          rootHpa: hex(want.rootHpa as string),
        });
        const re = encodeHpaListInfo({
          rootHpa: d.fields.rootHpa,
          count: d.fields.count,
          firstEntry: d.fields.firstEntry,
        });
        expect(re).toEqual({ lo, hi });
        break;
      }
      case "hpa-array": {
        const d = decodeHpaArray(lo, hi);
        expect(d.violation).toBeNull();
        expect(d.fields.count).toBe(want.count);
        expect(d.fields.singleton).toBe(want.singleton);
        if (want.singleton) expect(d.fields.pageHpa).toBe(hex(want.pageHpa as string));
        else expect(d.fields.rootHpa).toBe(hex(want.rootHpa as string));
        const re = d.fields.singleton
          ? encodeHpaArray({ count: 1, pageHpa: d.fields.pageHpa! })
          : encodeHpaArray({ count: d.fields.count, rootHpa: d.fields.rootHpa! });
        expect(re).toEqual({ lo, hi });
        break;
      }
      case "iommu-mt": {
        const d = decodeIommuMt(lo, hi);
        expect(d.violation).toBeNull();
        expect(d.fields.rootHpa).toBe(hex(want.rootHpa as string));
        expect(encodeIommuMt(d.fields.rootHpa)).toEqual({ lo, hi });
        break;
      }
      case "iommu-mt-entry": {
        const d = decodeIommuMtEntry(lo, hi);
        expect(d.violation).toBeNull();
        expect(d.fields).toEqual({ hpa: hex(want.hpa as string), numPages: want.numPages });
        expect(encodeIommuMtEntry(d.fields.hpa, d.fields.numPages || 1)).toEqual({ lo, hi });
        break;
      }
      default:
        throw new Error(`unknown kind ${kind}`);
    }
  });

  it.each(vectors.invalid.map((v) => [v.kind, v.raw, v] as const))("invalid %s %s", (kind, raw, v) => {
    const { lo, hi } = parseU64(raw);
    const d =
      kind === "hpa-list-info"
        ? decodeHpaListInfo(lo, hi)
        : kind === "hpa-array"
          ? decodeHpaArray(lo, hi)
          : kind === "iommu-mt"
            ? decodeIommuMt(lo, hi)
            : decodeIommuMtEntry(lo, hi);
    expect(d.violation?.rule).toBe(v.rule);
    if ("bits" in v) {
      expect(d.violation?.bits).toBe(v.bits);
      expect(d.violation?.message).toContain(`${v.bits}`);
    }
  });
});

describe("encoders match the bigint oracle", () => {
  it("HPA_LIST_INFO", () => {
    fc.assert(
      fc.property(arbHpa, arbCount, fc.nat(511), (root, count, f) => {
        const first = f % count;
        expect(B(encodeHpaListInfo({ rootHpa: root, count, firstEntry: first }))).toBe(
          oracle.hpaListInfo(root, count, first),
        );
      }),
    );
  });
  it("HPA_ARRAY_T and singleton", () => {
    fc.assert(
      fc.property(arbHpa, arbCount, (hpa, count) => {
        const v =
          count === 1 ? encodeHpaArray({ count, pageHpa: hpa }) : encodeHpaArray({ count, rootHpa: hpa });
        expect(B(v)).toBe(oracle.hpaArray(hpa, count));
      }),
    );
  });
  it("IOMMU_MT entries", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 11 }), arbPfn, (order, pfn) => {
        const pages = 2 ** order;
        const hpa = (pfn - (pfn % pages)) * 4096;
        expect(B(encodeIommuMtEntry(hpa, pages))).toBe(oracle.iommuMtEntry(hpa, pages));
      }),
    );
    expect(B(encodeListEntry(0xfffff_ffff_f000))).toBe(0xfffff_ffff_f000n);
  });
});

describe("decoders agree with the oracle on any u64 and never throw", () => {
  it("validity", () => {
    fc.assert(
      fc.property(arbU64, (v) => {
        const b = B(v);
        expect(decodeHpaListInfo(v.lo, v.hi).violation === null).toBe(oracle.hpaListInfoValid(b));
        expect(decodeHpaArray(v.lo, v.hi).violation === null).toBe(oracle.hpaArrayValid(b));
        expect(decodeIommuMt(v.lo, v.hi).violation === null).toBe(oracle.iommuMtValid(b));
        const e = decodeListEntry(v.lo, v.hi, 7);
        expect(e.violation === null).toBe(bits(b, 11, 0) === 0n && bits(b, 63, 52) === 0n);
        expect(e.fields.hpa).toBe(Number(bits(b, 51, 12) << 12n));
      }),
    );
  });
  it("fields", () => {
    fc.assert(
      fc.property(arbU64, (v) => {
        const b = B(v);
        const l = decodeHpaListInfo(v.lo, v.hi).fields;
        expect(l.firstEntry).toBe(Number(bits(b, 11, 3)));
        expect(l.lastEntry).toBe(Number(bits(b, 63, 55)));
        expect(l.rootHpa).toBe(Number(bits(b, 51, 12)) * 4096);
        const a = decodeHpaArray(v.lo, v.hi).fields;
        expect(a.count).toBe(Number(bits(b, 63, 55)) + 1);
        expect(a.singleton ? a.pageHpa : a.rootHpa).toBe(Number(bits(b, 51, 12)) * 4096);
      }),
    );
  });
  it("round trip of valid HPA_LIST_INFO values", () => {
    fc.assert(
      fc.property(arbU64, (v) => {
        const d = decodeHpaListInfo(v.lo, v.hi);
        fc.pre(d.violation === null);
        expect(
          encodeHpaListInfo({
            rootHpa: d.fields.rootHpa,
            count: d.fields.count,
            firstEntry: d.fields.firstEntry,
          }),
        ).toEqual(v);
      }),
    );
  });
});

describe("rule order and details", () => {
  it("reserved bits are reported before FIRST > LAST (rule 1 before 2)", () => {
    const v = parseU64("0x0000000000001011");
    expect(decodeHpaListInfo(v.lo, v.hi).violation?.rule).toBe("reserved-bits");
  });
  it("rule 3 uses the caller's shared-page check, after rules 1 and 2, and not in singleton mode", () => {
    const check = (hpa: number) => (hpa >= 0x8000_0000 ? "is inside the module's range" : null);
    const op = encodeHpaListInfo({ rootHpa: 0x8000_0000, count: 2 });
    const d = decodeHpaListInfo(op.lo, op.hi, check);
    expect(d.violation).toMatchObject({ rule: "root-not-shared", ref: "1.4.3" });
    expect(d.violation?.message).toContain("0x80000000");
    const single = encodeHpaArray({ count: 1, pageHpa: 0x8000_0000 });
    expect(decodeHpaArray(single.lo, single.hi, check).violation).toBeNull();
    const arr = encodeHpaArray({ count: 2, rootHpa: 0x8000_0000 });
    expect(decodeHpaArray(arr.lo, arr.hi, check).violation?.rule).toBe("root-not-shared");
    const mt = encodeIommuMt(0x8000_0000);
    expect(decodeIommuMt(mt.lo, mt.hi, check).violation?.rule).toBe("root-not-shared");
  });
  it("resume: FIRST_ENTRY advances, bits 51:3 address the next entry, 512 wraps to 0", () => {
    const op = encodeHpaListInfo({ rootHpa: 0x100000, count: 3 });
    const r = withFirstEntry(op, 2);
    const d = decodeHpaListInfo(r.lo, r.hi).fields;
    expect(d.firstEntry).toBe(2);
    expect(hpaListInfoCursor(d)).toBe(0x100010);
    expect(B(r) & ((1n << 52n) - 8n)).toBe(0x100010n);
    const full = encodeHpaListInfo({ rootHpa: 0x100000, count: 512 });
    expect(
      decodeHpaListInfo(withFirstEntry(full, 512).lo, withFirstEntry(full, 512).hi).fields.firstEntry,
    ).toBe(0);
  });
  it("IOMMU_MT entries by position: queue blocks carry NUM_PAGES, the rest 0", () => {
    const w = new Uint32Array(1024);
    const put = (i: number, v: U64) => {
      w[2 * i] = v.lo;
      w[2 * i + 1] = v.hi;
    };
    put(0, encodeIommuMtEntry(0x20000000, 2));
    put(1, encodeIommuMtEntry(0x20002000, 2));
    put(2, encodeIommuMtEntry(0x30000000, 1));
    expect(checkEntries("iommu-mt", w, 0, 2, 2)).toBeNull();
    expect(checkEntries("iommu-mt", w, 0, 2, 4)).toMatchObject({ rule: "entry-num-pages", entry: 0 });
    put(2, encodeIommuMtEntry(0x30000000, 2));
    expect(checkEntries("iommu-mt", w, 0, 2, 2)).toMatchObject({
      rule: "entry-num-pages",
      entry: 2,
      bits: "11:0",
    });
    put(1, { lo: 0x20001002, hi: 0 });
    expect(checkEntries("iommu-mt", w, 0, 2, 2)).toMatchObject({ rule: "entry-alignment", entry: 1 });
    // The same page as a list: NUM_PAGES bits are reserved there.
    expect(checkEntries("hpa-list-info", w, 0, 2)).toMatchObject({ rule: "entry-reserved-bits", entry: 0 });
    expect(checkEntries("hpa-list-info", w, 3, 511)).toBeNull();
  });
});

describe("HPA_LINKED_LIST", () => {
  const store = (pages: U64[][], hpas: number[]) => {
    const m = new Map<number, U64[]>();
    for (const [i, p] of pages.entries()) m.set(hpas[i]!, p);
    return (h: number, e: number) => m.get(h)?.[e] ?? { lo: 0xffffffff, hi: 0xffffffff };
  };
  it.each([0, 1, 510, 511, 512, 1022, 1023, 1100])("round trip of %i data pages", (n) => {
    const data = Array.from({ length: n }, (_, i) => 0x1000_0000 + i * 4096);
    const lists = Array.from({ length: Math.max(1, Math.ceil(n / 511)) }, (_, i) => 0x9000_0000 + i * 4096);
    const pages = layoutLinkedList(lists, data);
    expect(pages.every((p) => p.length === 512)).toBe(true);
    const r = readLinkedList(store(pages, lists), lists[0]!, 16);
    expect(r.violation).toBeNull();
    expect(r.dataHpas).toEqual(data);
    expect(r.listHpas).toEqual(n <= 511 ? [lists[0]] : lists);
  });
  it("detects a loop and a bad entry", () => {
    const data = Array.from({ length: 600 }, (_, i) => 0x1000_0000 + i * 4096);
    const lists = [0x9000_0000, 0x9000_1000];
    const pages = layoutLinkedList(lists, data);
    pages[1]![511] = encodeListEntry(0x9000_0000);
    pages[1]![100] = encodeListEntry(0x1000_0000);
    const full = Array.from({ length: 1022 }, (_, i) => 0x1000_0000 + i * 4096);
    const loop = layoutLinkedList(lists, full);
    loop[1]![511] = encodeListEntry(0x9000_0000);
    expect(readLinkedList(store(loop, lists), lists[0]!, 16).violation?.rule).toBe("list-cycle");
    pages[0]![3] = { lo: 0x1000_0001, hi: 0 };
    expect(readLinkedList(store(pages, lists), lists[0]!, 16).violation).toMatchObject({
      rule: "list-entry",
      entry: 3,
    });
  });
  it("refuses the wrong number of list pages", () => {
    expect(() =>
      layoutLinkedList(
        [0x1000],
        Array.from({ length: 512 }, (_, i) => i * 4096),
      ),
    ).toThrow(/exactly 2/);
  });
});

describe("encoder refusals name the value and the range", () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "count 0",
      () => encodeHpaListInfo({ rootHpa: 0x1000, count: 0 }),
      /count: 0 is out of range; allowed 1\.\.512/,
    ],
    ["count 513", () => encodeHpaListInfo({ rootHpa: 0x1000, count: 513 }), /513 .*1\.\.512/],
    [
      "first past count",
      () => encodeHpaListInfo({ rootHpa: 0x1000, count: 3, firstEntry: 3 }),
      /first: 3 .*0\.\.2/,
    ],
    [
      "unaligned root",
      () => encodeHpaListInfo({ rootHpa: 0x1001, count: 1 }),
      /root: 0x1001 .*4 KiB aligned/,
    ],
    ["root 2^52", () => encodeIommuMt(2 ** 52), /2\^52/],
    ["negative", () => encodeListEntry(-4096), /-4096/],
    ["NaN", () => encodeListEntry(Number.NaN), /NaN/],
    ["singleton without page", () => encodeHpaArray({ count: 1, rootHpa: 0x1000 }), /singleton/],
    ["array without root", () => encodeHpaArray({ count: 2, pageHpa: 0x1000 }), /count: 2/],
    ["entry pages 3", () => encodeIommuMtEntry(0x4000, 3), /pages: 3 .*power of two/],
    ["entry pages 4096", () => encodeIommuMtEntry(0x4000000, 4096), /4096/],
    ["entry misaligned", () => encodeIommuMtEntry(0x1000, 2), /multiple of 2 pages/],
    ["bigint", () => encodeIommuMt(4096n as unknown as number), /4096n/],
  ];
  it.each(cases)("%s", (_n, fn, msg) => {
    try {
      fn();
      expect.unreachable();
    } catch (e) {
      expect(isTdxpaError(e)).toBe(true);
      expect((e as Error).message).toMatch(msg);
    }
  });
});

describe("IOMMU_MT queue entries", () => {
  it("need NUM_PAGES >= 2 even when the caller claims a 1-page queue", () => {
    const e = encodeIommuMtEntry(0x20000000, 1);
    expect(decodeIommuMtEntry(e.lo, e.hi, { index: 0, queuePages: 1 }).violation?.rule).toBe(
      "entry-num-pages",
    );
    expect(decodeIommuMtEntry(1 | 0x20000000, 0, { index: 1, queuePages: 1 }).violation?.rule).toBe(
      "entry-num-pages",
    );
  });
});
