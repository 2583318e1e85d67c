/**
 * The TDX Module 1.5 facts this project agrees with, pinned as literal tables so they cannot drift
 * (docs/spec/03-module.md 3.1–3.2): status values and their class bits, operand ids, leaf numbers, page
 * types and the private operand page check order. Each value here is typed from the spec, not computed
 * from the code it checks.
 */
import { describe, expect, it } from "vitest";
import { LEAF, REG, RESOURCE_OPERAND, STATUS } from "../../src/common/status.js";
import { PT } from "../../src/module/index.js";
import { call, listInfo, machine, pages, statusOf, want } from "../support/machine.js";

/** name, full value (bits 31:0 zero), error, non-recoverable, class, detail. */
const STATUSES: readonly (readonly [keyof typeof STATUS, bigint, boolean, boolean, number, number])[] = [
  ["TDX_SUCCESS", 0x0000000000000000n, false, false, 0x00, 0x00],
  ["TDX_INTERRUPTED_RESUMABLE", 0x8000000300000000n, true, false, 0x00, 0x03],
  ["TDX_INTERRUPTED_RESTARTABLE", 0x8000000400000000n, true, false, 0x00, 0x04],
  ["TDX_INVALID_RESUMPTION", 0xc000000600000000n, true, true, 0x00, 0x06],
  ["TDX_OPERAND_INVALID", 0xc000010000000000n, true, true, 0x01, 0x00],
  ["TDX_OPERAND_ADDR_RANGE_ERROR", 0xc000010100000000n, true, true, 0x01, 0x01],
  ["TDX_OPERAND_BUSY", 0x8000020000000000n, true, false, 0x02, 0x00],
  ["TDX_SYS_BUSY", 0x8000020200000000n, true, false, 0x02, 0x02],
  ["TDX_RND_NO_ENTROPY", 0x8000020300000000n, true, false, 0x02, 0x03],
  ["TDX_OPERAND_BUSY_HOST_PRIORITY", 0x8000020400000000n, true, false, 0x02, 0x04],
  ["TDX_PAGE_METADATA_INCORRECT", 0xc000030000000000n, true, true, 0x03, 0x00],
  ["TDX_PAGE_NOT_FREE", 0xc000030300000000n, true, true, 0x03, 0x03],
  ["TDX_SYS_NOT_READY", 0xc000050500000000n, true, true, 0x05, 0x05],
  ["TDX_SYS_SHUTDOWN", 0xc000050600000000n, true, true, 0x05, 0x06],
  ["TDX_OP_STATE_INCORRECT", 0xc000060800000000n, true, true, 0x06, 0x08],
  ["TDX_METADATA_FIELD_ID_INCORRECT", 0xc0000c0000000000n, true, true, 0x0c, 0x00],
  ["TDX_METADATA_FIELD_NOT_READABLE", 0xc0000c0200000000n, true, true, 0x0c, 0x02],
  ["TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH", 0xc0000f4500000000n, true, true, 0x0f, 0x45],
  ["TDX_SPDM_REQUEST", 0xc0000f5700000000n, true, true, 0x0f, 0x57],
];

describe("status values and class bits (1.5)", () => {
  it.each(STATUSES)("%s", (name, value, error, nonRecoverable, cls, detail) => {
    expect(BigInt(STATUS[name].hi) << 32n).toBe(value);
    expect(STATUS[name].modelDefined).toBe(false);
    expect((value >> 63n) & 1n).toBe(error ? 1n : 0n);
    expect((value >> 62n) & 1n).toBe(nonRecoverable ? 1n : 0n);
    expect(Number((value >> 40n) & 0xffn)).toBe(cls);
    expect(Number((value >> 32n) & 0xffn)).toBe(detail);
  });

  it("every non-model-defined status the emulator knows is in the pinned table", () => {
    const pinned = new Set(STATUSES.map((s) => s[0]));
    const real = Object.entries(STATUS)
      .filter(([, k]) => !k.modelDefined)
      .map(([n]) => n);
    expect(real.filter((n) => !pinned.has(n as keyof typeof STATUS))).toEqual([]);
  });
});

describe("operand ids (1.5)", () => {
  it("registers", () => {
    expect(REG).toEqual({
      RAX: 0,
      RCX: 1,
      RDX: 2,
      RBX: 3,
      RSI: 6,
      RDI: 7,
      R8: 8,
      R9: 9,
      R10: 10,
      R11: 11,
      R12: 12,
      R13: 13,
      R14: 14,
      R15: 15,
    });
  });
  it("resources", () => {
    expect(RESOURCE_OPERAND).toEqual({ TDR: 0x80, SEPT: 0x92, TD_EPOCH: 0xa9, SYS: 0xb8 });
  });
});

describe("leaf numbers", () => {
  it("every leaf the project knows", () => {
    expect(LEAF).toMatchObject({
      "TDH.PHYMEM.PAGE.RDMD": 24,
      "TDH.PHYMEM.PAGE.RECLAIM": 28,
      "TDH.SYS.RD": 34,
      "TDH.PHYMEM.PAGE.WBINVD": 41,
      "TDH.SYS.CONFIG": 45,
      "TDH.EXT.INIT": 60,
      "TDH.EXT.MEM.ADD": 61,
      "TDH.QUOTE.GET": 98,
      "TDH.IOMMU.SETUP": 128,
      "TDH.IOMMU.CLEAR": 129,
      "TDH.SPDM.CREATE": 130,
      "TDH.SPDM.DELETE": 131,
      "TDH.IDE.STREAM.CREATE": 132,
      "TDH.IDE.STREAM.BLOCK": 133,
      "TDH.IDE.STREAM.DELETE": 134,
      "TDH.IDE.STREAM.KM": 135,
      "TDH.SPDM.CONNECT": 142,
      "TDH.SPDM.DISCONNECT": 143,
      "TDH.SPDM.MNG": 144,
    });
  });
});

describe("page types", () => {
  it("the real ones (1.5 and the TDX-IO prototype), and model-defined ones at 32 and above", () => {
    expect(PT).toMatchObject({ NDA: 0, RSVD: 1, REG: 3, TDR: 4, TDCX: 5, TDVPR: 6, EPT: 8, IOMMU_MT: 11 });
    const real = new Set([0, 1, 3, 4, 5, 6, 8, 11]);
    for (const v of Object.values(PT)) expect(real.has(v) || v >= 32).toBe(true);
  });
});

describe("private operand page check order (1.5: alignment/KeyID/width, TDMR, lock, PT_NDA)", () => {
  const GiB = 2 ** 30;
  it("misaligned and outside every TDMR → OPERAND_INVALID, not ADDR_RANGE_ERROR", () => {
    const m = machine();
    const r = call(m, "TDH.EXT.MEM.ADD", { 1: listInfoRaw(m, 600 * GiB + 8) });
    expect(statusOf(r)).toBe(want("TDX_OPERAND_INVALID", "RCX"));
  });
  it("outside every TDMR and a reserved-area neighbour → ADDR_RANGE_ERROR before PAMT state", () => {
    const m = machine();
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { 1: listInfo(m, [600 * GiB]) }))).toBe(
      want("TDX_OPERAND_ADDR_RANGE_ERROR", "RCX"),
    );
  });
  it("in a TDMR, not PT_NDA → PAGE_METADATA_INCORRECT", () => {
    const m = machine();
    const p = pages(m, 1)[0]!;
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { 1: listInfo(m, [p.hpa, p.hpa]) }))).toBe(
      want("TDX_PAGE_METADATA_INCORRECT", "RCX"),
    );
  });
  it("a private KeyID on an in-TDMR page that is not free → OPERAND_INVALID first", () => {
    const m = machine();
    const p = pages(m, 1)[0]!;
    const keyed = p.hpa + m.platform.keyIds.firstPrivate * 2 ** m.platform.keyIds.shift;
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { 1: listInfo(m, [p.hpa]) }))).toBe("TDX_SUCCESS");
    expect(statusOf(call(m, "TDH.EXT.MEM.ADD", { 1: listInfo(m, [keyed]) }))).toBe(
      want("TDX_OPERAND_INVALID", "RCX"),
    );
  });
});

/** An HPA_LIST_INFO of one raw entry (no encoder checks, so a misaligned entry can be written). */
function listInfoRaw(m: ReturnType<typeof machine>, entry: number) {
  const root = m.alloc.allocPage({ tag: "root", zero: true })!;
  const w = m.mem.words(root.pfn);
  w[0] = entry % 2 ** 32;
  w[1] = Math.floor(entry / 2 ** 32);
  return { lo: root.hpa, hi: 0 };
}
