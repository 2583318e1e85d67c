/**
 * The SPDM/IDE selector layouts (common/fields.ts): each covers 64 bits exactly once, and what the host packs
 * with them the module reads back field by field (docs/spec/03-module.md 3.3).
 */
import { describe, expect, it } from "vitest";
import {
  fieldOf,
  firstReservedSet,
  IDE_RID_ASSOC_1,
  IDE_RID_ASSOC_2,
  IDE_STREAM_INFO,
  packFields,
  readField,
  SELECTOR_LAYOUTS,
  SPDM_FUNCTION_ID,
} from "../../src/common/fields.js";
import { functionId, selectiveStream } from "../../src/host/spdm.js";

describe("selector layouts", () => {
  it.each(SELECTOR_LAYOUTS.map((l) => [l.name, l] as const))(
    "%s covers bits 0..63 once, low to high",
    (_n, l) => {
      let next = 0;
      for (const f of l.fields) {
        expect(f.lsb, `${l.name}.${f.name}`).toBe(next);
        next = f.lsb + f.width;
      }
      expect(next).toBe(64);
    },
  );

  it("the SPDM function id: requester id 15:0, segment 23:16, segment valid 24, 63:25 reserved", () => {
    const dev = { requesterId: 0x1234, segment: 0x56 } as Parameters<typeof functionId>[0];
    expect(functionId(dev)).toEqual({ lo: 0x0156_1234, hi: 0 });
    expect(functionId({ ...dev, segment: 0 }, "non-zero-segment")).toEqual({ lo: 0x1234, hi: 0 });
    const v = functionId(dev);
    expect(readField(v.lo, v.hi, fieldOf(SPDM_FUNCTION_ID, "REQUESTER_ID"))).toBe(0x1234);
    expect(readField(v.lo, v.hi, fieldOf(SPDM_FUNCTION_ID, "SEGMENT"))).toBe(0x56);
    expect(firstReservedSet(v.lo, v.hi, SPDM_FUNCTION_ID)).toBeNull();
    expect(firstReservedSet(1 << 25, 0, SPDM_FUNCTION_ID)?.name).toBe("RESERVED_63_25");
    expect(firstReservedSet(0, 1, SPDM_FUNCTION_ID)?.name).toBe("RESERVED_63_25");
  });

  it("a selective stream's stream_info and RID associations, as the hand packing gave them", () => {
    const dev = { requesterId: 0xbeef, segment: 0x12 } as Parameters<typeof selectiveStream>[0];
    const s = selectiveStream(dev, 0x1c);
    expect(s.streamInfo).toBe(0x11c);
    expect(s.rid).toEqual([0xbeef << 8, (1 | (0xbeef << 8) | (0x12 << 24)) >>> 0]);
    expect(readField(s.streamInfo, 0, fieldOf(IDE_STREAM_INFO, "ROOT_PORT_DEVFN"))).toBe(0x1c);
    expect(readField(s.rid[0], 0, fieldOf(IDE_RID_ASSOC_1, "RID_LIMIT"))).toBe(0xbeef);
    expect(readField(s.rid[1], 0, fieldOf(IDE_RID_ASSOC_2, "RID_BASE"))).toBe(0xbeef);
    expect(firstReservedSet(s.rid[1], 0, IDE_RID_ASSOC_2)).toBeNull();
  });

  it("packFields cuts a value to its field and refuses an unknown field name", () => {
    expect(packFields(IDE_STREAM_INFO, { ROOT_PORT_DEVFN: 0x1ff })).toEqual({ lo: 0xff, hi: 0 });
    expect(() => packFields(IDE_STREAM_INFO, { NOPE: 1 })).toThrow(/IDE_STREAM_INFO has no field NOPE/);
  });
});

describe("selector layouts: reserved masks", () => {
  it.each(SELECTOR_LAYOUTS.map((l) => [l.name, l] as const))(
    "%s: every reserved bit alone is found",
    (_n, l) => {
      for (const f of l.fields) {
        for (let b = f.lsb; b < f.lsb + f.width; b++) {
          const lo = b < 32 ? (1 << b) >>> 0 : 0;
          const hi = b >= 32 ? (1 << (b - 32)) >>> 0 : 0;
          expect(firstReservedSet(lo, hi, l)?.name ?? null, `${l.name} bit ${b}`).toBe(
            f.reserved ? f.name : null,
          );
        }
      }
    },
  );
});
