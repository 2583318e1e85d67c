/**
 * The format table (src/common/format-table.ts): one row per u64 kind, every layout covered, the derived
 * lists in the order the C enum and the schema use, and each row's decode/encode a round trip that
 * agrees with the per-format codecs of common/formats.ts.
 */
import { describe, expect, it } from "vitest";
import { LAYOUTS } from "../../src/common/fields.js";
import {
  FORMAT_KINDS,
  FORMATS,
  formatDef,
  isFormatKind,
  isListFormat,
  LIST_FORMATS,
} from "../../src/common/format-table.js";
import {
  decodeHpaArray,
  decodeHpaListInfo,
  decodeIommuMt,
  decodeIommuMtEntry,
  decodeListEntry,
} from "../../src/common/formats.js";
import { parseU64 } from "../../src/common/u64.js";

/** Valid values of each kind (01-formats.md 1.5 worked values and simple ones). */
const VALID: Record<string, string[]> = {
  "hpa-list-info": ["0xFF80000012345000", "0x0100000000100010", "0x0000000000000000"],
  "hpa-array": ["0x0100000000100000", "0x0000000076543000", "0xff800ffffffff000"],
  "iommu-mt": ["0x0000000000001000", "0x000ffffffffff000"],
  "iommu-mt-entry": ["0x0000000020000002", "0x0000000000001000", "0x000fffffff800800"],
  "list-entry": ["0x0000000000001000", "0x000ffffffffff000"],
};

describe("format table", () => {
  it("lists the kinds in C enum order, and the list formats in table order", () => {
    expect(FORMAT_KINDS).toEqual(["hpa-list-info", "hpa-array", "iommu-mt", "iommu-mt-entry", "list-entry"]);
    expect(LIST_FORMATS).toEqual(["hpa-list-info", "hpa-array", "iommu-mt"]);
    expect(isListFormat("iommu-mt")).toBe(true);
    expect(isListFormat("list-entry")).toBe(false);
    expect(isFormatKind("status")).toBe(false);
    expect(isFormatKind("toString")).toBe(false);
  });

  it("has exactly one row per layout of fields.ts", () => {
    expect(FORMAT_KINDS.map((k) => FORMATS[k].layout).sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [...LAYOUTS].sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it("decodes as the per-format decoders do, and re-encodes valid values to themselves", () => {
    const direct = {
      "hpa-list-info": decodeHpaListInfo,
      "hpa-array": decodeHpaArray,
      "iommu-mt": decodeIommuMt,
      "iommu-mt-entry": decodeIommuMtEntry,
      "list-entry": decodeListEntry,
    } as const;
    for (const kind of FORMAT_KINDS) {
      const def = formatDef(kind);
      for (const text of VALID[kind]!) {
        const v = parseU64(text);
        const d = def.decode(v.lo, v.hi);
        const want = direct[kind](v.lo, v.hi);
        expect(d.violation, `${kind} ${text}`).toBeNull();
        expect(d.values, `${kind} ${text}`).toEqual(want.fields);
        expect(Object.keys(d.values)).toEqual(def.shown.map((f) => f.key));
        expect(def.encode(d.values), `${kind} ${text}`).toEqual(v);
      }
      const bad = def.decode(0xffff_ffff, 0xffff_ffff);
      expect(bad.violation, `${kind} all ones`).not.toBeNull();
    }
  });

  it("finds the page list of each list format, or null for an operand that does not decode", () => {
    const ref = (k: (typeof LIST_FORMATS)[number], t: string) => {
      const v = parseU64(t);
      return FORMATS[k].list.root(v.lo, v.hi);
    };
    expect(ref("hpa-list-info", "0xFF80000012345000")).toEqual({
      hpa: 0x1234_5000,
      singleton: false,
      count: 512,
      firstEntry: 0,
    });
    // Resumed past LAST_ENTRY (rule 2 fails) still names its root page; a reserved bit does not.
    expect(ref("hpa-list-info", "0x0100000000100028")?.hpa).toBe(0x10_0000);
    expect(ref("hpa-list-info", "0x0100000000100001")).toBeNull();
    expect(ref("hpa-array", "0x0000000076543000")).toEqual({
      hpa: 0x7654_3000,
      singleton: true,
      count: 1,
      firstEntry: null,
    });
    expect(ref("iommu-mt", "0x0000000000201000")).toEqual({
      hpa: 0x20_1000,
      singleton: false,
      count: null,
      firstEntry: null,
    });
    expect(ref("iommu-mt", "0x8000000000201000")).toBeNull();
  });
});
