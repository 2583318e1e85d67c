/**
 * One catalogue of hostile inputs thrown at every public function of the core: each call must either
 * return normally or throw a TdxpaError whose message names the argument — never a TypeError, a
 * RangeError from the engine, or a hang.
 */
import { describe, expect, it } from "vitest";
import { checkInt, isTdxpaError } from "../../src/common/errors.js";
import * as formats from "../../src/common/formats.js";
import { decodeStatus } from "../../src/common/status.js";
import { parseU64, toU64, u64FromBigint } from "../../src/common/u64.js";
import { PageAllocator } from "../../src/host/page-alloc.js";
import {
  forEachChunk,
  tdxPageArrayCreate,
  tdxPageArrayDestroy,
  tdxPageArrayRepopulate,
} from "../../src/host/page-array.js";
import { PhysMem } from "../../src/hw/physmem.js";
import { defaultPlatform, uniformPlatform, validatePlatform } from "../../src/hw/platform.js";
import { createMachine } from "../../src/machine.js";

const spoof = {
  lo: 1,
  hi: 2,
  base: 0,
  size: 4096,
  pfn: 5,
  valueOf() {
    return 4096;
  },
  toString() {
    return "0x1000";
  },
};
const HOSTILE: readonly [string, unknown][] = [
  ["null", null],
  ["undefined", undefined],
  ["NaN", Number.NaN],
  ["-1", -1],
  ["-0", -0],
  ["0.5", 0.5],
  ["2^53", 2 ** 53],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["2^64 bigint", 2n ** 64n],
  ["-1 bigint", -1n],
  ["empty string", ""],
  ["hex string", "0x1000"],
  ["Uint8Array(8)", new Uint8Array(8)],
  ["BigUint64Array", new BigUint64Array(1)],
  ["empty object", {}],
  ["array", [1, 2]],
  ["spoofed object", spoof],
  ["symbol", Symbol("x")],
  ["function", () => 1],
];

const m = createMachine();
const page = m.alloc.allocPage()!;

/** Every public entry point, with a way to put the hostile value in each argument position. */
const TARGETS: readonly [string, (v: unknown) => unknown][] = [
  ["parseU64", (v) => parseU64(v as string)],
  ["toU64", (v) => toU64(v)],
  ["u64FromBigint", (v) => u64FromBigint(v as bigint)],
  ["checkInt", (v) => checkInt("x", v, 0, 10)],
  ["encodeHpaListInfo.rootHpa", (v) => formats.encodeHpaListInfo({ rootHpa: v as number, count: 1 })],
  ["encodeHpaListInfo.count", (v) => formats.encodeHpaListInfo({ rootHpa: 4096, count: v as number })],
  [
    "encodeHpaListInfo.firstEntry",
    (v) => formats.encodeHpaListInfo({ rootHpa: 4096, count: 4, firstEntry: v as number }),
  ],
  ["encodeHpaListInfo(arg)", (v) => formats.encodeHpaListInfo(v as never)],
  ["encodeHpaArray.count", (v) => formats.encodeHpaArray({ count: v as number, rootHpa: 4096 })],
  ["encodeHpaArray.pageHpa", (v) => formats.encodeHpaArray({ count: 1, pageHpa: v as number })],
  ["encodeHpaArray(arg)", (v) => formats.encodeHpaArray(v as never)],
  ["encodeIommuMt", (v) => formats.encodeIommuMt(v as number)],
  ["encodeListEntry", (v) => formats.encodeListEntry(v as number)],
  ["encodeIommuMtEntry.hpa", (v) => formats.encodeIommuMtEntry(v as number, 2)],
  ["encodeIommuMtEntry.pages", (v) => formats.encodeIommuMtEntry(0x2000, v as number)],
  ["iommuMtEntryValue.hpa", (v) => formats.iommuMtEntryValue(v as number, 2)],
  ["iommuMtEntryValue.pages", (v) => formats.iommuMtEntryValue(0x2000, v as number)],
  ["layoutLinkedList.list", (v) => formats.layoutLinkedList(v as number[], [])],
  ["layoutLinkedList.data", (v) => formats.layoutLinkedList([4096], v as number[])],
  ["decodeHpaListInfo", (v) => formats.decodeHpaListInfo(v as number, v as number)],
  ["decodeHpaArray", (v) => formats.decodeHpaArray(v as number, 0)],
  ["decodeIommuMt", (v) => formats.decodeIommuMt(0, v as number)],
  ["decodeIommuMtEntry", (v) => formats.decodeIommuMtEntry(v as number, 0)],
  ["decodeStatus", (v) => decodeStatus(v as number, v as number)],
  ["PhysMem(ranges)", (v) => new PhysMem(v as never)],
  ["PhysMem([range])", (v) => new PhysMem([v as never])],
  ["PageAllocator.allocPages", (v) => m.alloc.allocPages(v as number)],
  ["PageAllocator.allocPagesBulk", (v) => m.alloc.allocPagesBulk(v as number)],
  ["PageAllocator.allocContigPages", (v) => m.alloc.allocContigPages(v as number)],
  ["PageAllocator.allocPage(opts)", (v) => m.alloc.allocPage(v as never)],
  ["PageAllocator.freePages", (v) => m.alloc.freePages(v as never)],
  ["PageAllocator.freeContigRange", (v) => m.alloc.freeContigRange(v as number, 1)],
  ["PageAllocator.pfnToPage", (v) => m.alloc.pfnToPage(v as number)],
  ["PageAllocator.failNth", (v) => m.alloc.failNth(v as number)],
  ["new PageAllocator", (v) => new PageAllocator(v as never)],
  ["tdxPageArrayCreate.pages", (v) => tdxPageArrayCreate(m.kernel, v as never, 1)],
  ["tdxPageArrayCreate.nrPages", (v) => tdxPageArrayCreate(m.kernel, [page], v as number)],
  ["tdxPageArrayRepopulate.array", (v) => tdxPageArrayRepopulate(m.kernel, v as never, [page], 1)],
  ["tdxPageArrayDestroy", (v) => tdxPageArrayDestroy(m.kernel, v as never)],
  ["forEachChunk.pages", (v) => forEachChunk(m.kernel, v as never, () => false)],
  ["validatePlatform", (v) => validatePlatform(v as never)],
  ["validatePlatform.memory", (v) => validatePlatform({ ...defaultPlatform(), memory: v as never })],
  ["validatePlatform.keyIds", (v) => validatePlatform({ ...defaultPlatform(), keyIds: v as never })],
  ["validatePlatform.iommus[0]", (v) => validatePlatform({ ...defaultPlatform(), iommus: [v as never] })],
  [
    "validatePlatform.metadata.iqOrder",
    (v) =>
      validatePlatform({
        ...defaultPlatform(),
        metadata: { ...defaultPlatform().metadata, iqOrder: v as number },
      }),
  ],
  ["uniformPlatform", (v) => uniformPlatform(v as number)],
];

describe("hostile-input catalogue", () => {
  it.each(TARGETS)("%s: returns or throws a TdxpaError for every hostile value", (_name, fn) => {
    const bad: string[] = [];
    for (const [label, v] of HOSTILE) {
      try {
        fn(v);
      } catch (e) {
        if (!isTdxpaError(e))
          bad.push(`${label}: ${(e as Error)?.constructor?.name} ${(e as Error)?.message}`);
        else expect((e as Error).message).toMatch(/^[\w.[\]()-]+(\[\d+\])?[\w.]*: /);
      }
    }
    expect(bad).toEqual([]);
  });

  it("the allocator and the descriptor are still consistent after the barrage", () => {
    const s = m.alloc.stats();
    expect(s.freePages + s.allocatedPages + s.reservedPages).toBe(s.totalPages);
    expect(() => tdxPageArrayCreate(m.kernel, [page], 1)).not.toThrow();
  });
});
