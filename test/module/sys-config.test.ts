/**
 * TDH.SYS.CONFIG and TDH.SYS.RD (docs/spec/03-module.md 3.3): the version-1 handler (R8 global KeyID,
 * R9 features, R11 ignored), feature metadata valid only after it, both vintages of the pool fields, the
 * TDX Module 1.5 enumeration by field id 0 and the 1.5 global fields; and the host's extension init
 * issuing the kernel's sequence (SYS.CONFIG v1, then SYS.RD of the pool fields of its vintage).
 */
import { describe, expect, it } from "vitest";
import { leafRax, Regs } from "../../src/common/seamcall.js";
import { LEAF } from "../../src/common/status.js";
import { parseU64, type U64, u64FromNumber, u64ToHex } from "../../src/common/u64.js";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { iommuSetupAll } from "../../src/host/flows/iommu.js";
import { defaultPlatform, METADATA_FIELD_IDS, RFC_V2_FIELD_IDS } from "../../src/hw/platform.js";
import type { Machine } from "../../src/machine.js";
import type { CallRecord } from "../../src/module/index.js";
import { configState, METADATA_FIELDS } from "../../src/module/metadata.js";
import { call, machine, REG, statusOf, want } from "../support/machine.js";

const smallPool = (fieldIds?: "both" | "rfc-v2" | "june") => {
  const p = defaultPlatform();
  return {
    ...p,
    metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: 512, ...(fieldIds ? { fieldIds } : {}) },
  };
};

/** SYS.CONFIG at `version` with the given registers. */
function sysConfig(m: Machine, version: number, inputs: Record<number, U64>): Regs {
  const r = new Regs();
  r.set(REG.RAX, leafRax(LEAF["TDH.SYS.CONFIG"], version));
  for (const [k, v] of Object.entries(inputs)) r.set(Number(k), v);
  m.module.seamcall(r);
  return r;
}

const read = (m: Machine, id: string) => call(m, "TDH.SYS.RD", { [REG.RDX]: parseU64(id) });
const CONNECT = { lo: 1 << 6, hi: 0 };

describe("TDH.SYS.CONFIG", () => {
  it("version 1: R8 global KeyID, R9 features; feature metadata readable only after it", () => {
    const m = machine({}, smallPool());
    expect(statusOf(read(m, METADATA_FIELD_IDS.TDX_FEATURES0))).toBe("TDX_SUCCESS");
    expect(statusOf(read(m, METADATA_FIELD_IDS.IOMMU_MT_PAGE_COUNT))).toBe(
      want("TDX_METADATA_FIELD_NOT_READABLE"),
    );
    const r = sysConfig(m, 1, {
      [REG.R8]: u64FromNumber(48),
      [REG.R9]: CONNECT,
      [REG.R11]: u64FromNumber(1_790_000_000),
    });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(read(m, METADATA_FIELD_IDS.IOMMU_MT_PAGE_COUNT).get(REG.R8)).toEqual(u64FromNumber(16));
    // A second SYS.CONFIG is refused.
    expect(statusOf(sysConfig(m, 1, { [REG.R8]: u64FromNumber(48), [REG.R9]: CONNECT }))).toBe(
      want("TDX_OP_STATE_INCORRECT"),
    );
  });

  it("errors: wrong global KeyID → R8; a feature the module lacks → R9; version 2 → RAX", () => {
    const m = machine({}, smallPool());
    expect(statusOf(sysConfig(m, 1, { [REG.R8]: u64FromNumber(49), [REG.R9]: CONNECT }))).toBe(
      want("TDX_OPERAND_INVALID", "R8"),
    );
    expect(statusOf(sysConfig(m, 1, { [REG.R8]: u64FromNumber(48), [REG.R9]: { lo: 1 << 7, hi: 0 } }))).toBe(
      want("TDX_OPERAND_INVALID", "R9"),
    );
    expect(statusOf(sysConfig(m, 2, { [REG.R8]: u64FromNumber(48) }))).toBe(
      want("TDX_OPERAND_INVALID", "RAX"),
    );
  });

  it("bit 39 alone has no effect: Extensions come with TDX Connect (bit 6)", () => {
    const m = machine({}, smallPool());
    expect(statusOf(sysConfig(m, 1, { [REG.R8]: u64FromNumber(48), [REG.R9]: { lo: 0, hi: 1 << 7 } }))).toBe(
      "TDX_SUCCESS",
    );
    expect(configState(m.module)).toEqual({ configured: true, features: { lo: 0, hi: 0 } });
  });
});

describe("TDH.SYS.RD", () => {
  it("field id 0 returns the first field and RDX = the next: a host enumerates every readable field", () => {
    const m = machine({ behaviours: { startConfigured: true } }, smallPool());
    const seen: string[] = [];
    let id: U64 = { lo: 0, hi: 0 };
    for (let i = 0; i < 100; i++) {
      const r = call(m, "TDH.SYS.RD", { [REG.RDX]: id });
      expect(statusOf(r)).toBe("TDX_SUCCESS");
      seen.push(u64ToHex(r.lo(REG.R8), r.hi(REG.R8)));
      id = r.get(REG.RDX);
      if (id.lo === 0xffff_ffff && id.hi === 0xffff_ffff) break;
    }
    expect(seen).toHaveLength(METADATA_FIELDS.length);
    // The first field is the lowest id: MINOR_VERSION (5, TDX Module 1.5).
    expect(seen[0]).toBe("0x0000000000000005");
  });

  it("1.5 global fields with platform-derived values: NUM_CMRS, MAX_TDMRS, versions", () => {
    const m = machine({}, smallPool());
    expect(read(m, "0x9000000100000000").get(REG.R8)).toEqual(u64FromNumber(m.platform.memory.length));
    expect(read(m, "0x9100000100000008").get(REG.R8)).toEqual(u64FromNumber(64));
    expect(read(m, "0x0800000100000004").get(REG.R8)).toEqual(u64FromNumber(1));
    expect(read(m, "0x0800000100000003").get(REG.R8)).toEqual(u64FromNumber(5));
  });

  it.each([
    ["both", true, true],
    ["rfc-v2", true, false],
    ["june", false, true],
  ] as const)("platform fieldIds %s: RFC–v2 ids %s, June ids %s", (v, rfc, june) => {
    const m = machine({ behaviours: { startConfigured: true } }, smallPool(v));
    const st = (id: string) => statusOf(read(m, id));
    const okOr = (yes: boolean) => (yes ? "TDX_SUCCESS" : want("TDX_METADATA_FIELD_ID_INCORRECT"));
    expect(st(RFC_V2_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES)).toBe(okOr(rfc));
    expect(st(RFC_V2_FIELD_IDS.EXT_REQUIRED)).toBe(okOr(rfc));
    expect(st(METADATA_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES)).toBe(okOr(june));
    expect(st(METADATA_FIELD_IDS.EXT_REQUIRED)).toBe(okOr(june));
  });

  it("the RFC–v2 pool field is a u16 (element size in bits 33:32 of its id)", () => {
    const p = smallPool();
    const m = machine(
      { behaviours: { startConfigured: true } },
      { ...p, metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: 0x1_2345 } },
    );
    expect(read(m, RFC_V2_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES).get(REG.R8)).toEqual(u64FromNumber(0x2345));
    expect(read(m, METADATA_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES).get(REG.R8)).toEqual(
      u64FromNumber(0x1_2345),
    );
  });
});

describe("the host's extension init", () => {
  function traced(policy: object = {}, fieldIds?: "both" | "rfc-v2" | "june") {
    const m = machine({ policy }, smallPool(fieldIds));
    const calls: CallRecord[] = [];
    m.module.onCall = (r) => calls.push(r);
    const r = extensionsBringUp(m.kernel);
    return { m, r, calls };
  }
  const reg = (c: CallRecord, i: number) => u64ToHex(c.regsIn[2 * i]!, c.regsIn[2 * i + 1]!);

  it("issues SYS.CONFIG v1 (global KeyID, TDX Connect bit) before reading the pool fields; an RFC–v2 host reads the RFC–v2 ids", () => {
    const { r, calls } = traced({ metadataIds: "rfc-v2" });
    expect(r.ok).toBe(true);
    const names = calls.slice(0, 4).map((c) => c.leafName);
    expect(names).toEqual(["TDH.SYS.RD", "TDH.SYS.CONFIG", "TDH.SYS.RD", "TDH.SYS.RD"]);
    const cfg = calls[1]!;
    expect((cfg.regsIn[0]! >>> 16) & 0xff).toBe(1);
    expect(reg(cfg, REG.R8)).toBe("0x0000000000000030");
    expect(reg(cfg, REG.R9)).toBe("0x0000000000000040");
    expect(reg(calls[2]!, REG.RDX)).toBe(RFC_V2_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES.toLowerCase());
    expect(reg(calls[3]!, REG.RDX)).toBe(RFC_V2_FIELD_IDS.EXT_REQUIRED.toLowerCase());
  });

  it("a June host (the default) on a June-only module works; an RFC–v2 host there fails and TDX Connect stays off", () => {
    const june = traced({}, "june");
    expect(june.r.ok).toBe(true);
    expect(u64ToHex(june.calls[2]!.regsIn[2 * REG.RDX]!, june.calls[2]!.regsIn[2 * REG.RDX + 1]!)).toBe(
      METADATA_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES.toLowerCase(),
    );
    const t = traced({ metadataIds: "rfc-v2" }, "june");
    expect(t.r.ok).toBe(false);
    expect(t.r.failedStatus).toBe("TDX_METADATA_FIELD_ID_INCORRECT");
    expect(iommuSetupAll(t.m.kernel, t.m.platform.iommus).result.details.skipped).toMatch(
      /TDX Connect initialisation failed/,
    );
    expect(t.m.module.callsByLeaf.get(LEAF["TDH.IOMMU.SETUP"]) ?? 0).toBe(0);
  });

  it("pool gate: EXT_REQUIRED 0 skips everything (04-16, June); v2 adds the pool anyway, no EXT.INIT", () => {
    for (const gate of ["ext-required", "pool-count"] as const) {
      const p = smallPool();
      const m = machine(
        { policy: { poolGate: gate } },
        { ...p, metadata: { ...p.metadata, EXT_REQUIRED: 0 } },
      );
      const r = extensionsBringUp(m.kernel);
      expect(r.ok).toBe(true);
      const adds = m.module.callsByLeaf.get(LEAF["TDH.EXT.MEM.ADD"]) ?? 0;
      expect(adds > 0).toBe(gate === "pool-count");
      expect(m.module.callsByLeaf.get(LEAF["TDH.EXT.INIT"]) ?? 0).toBe(0);
    }
  });
});
