/**
 * Decodes a recorded SEAMCALL for people: each operand register named and decoded by the format its
 * leaf gives it (HPA_LIST_INFO, IOMMU_MT, a metadata field id, an HPA with a KeyID), and the status by
 * name. Used by the golden transcripts and by traces; it only reads the record.
 */
import { decodeHpaArray, decodeHpaListInfo, decodeIommuMt } from "../common/formats.js";
import { decodeStatus, regName } from "../common/status.js";
import { low52, u64ToHex } from "../common/u64.js";
import { METADATA_FIELD_IDS, RFC_V2_FIELD_IDS } from "../hw/platform.js";
import type { CallRecord } from "../module/emulator.js";
import type { LeafDescriptor, LeafOperand, OperandKind } from "../module/leaf-table.js";
import { LEAVES } from "../module/leaves.js";

/** How an operand register is shown (the leaf table's operand kinds). */
export type Kind = OperandKind;

/** Operand registers and their kinds, per leaf number: the `inputs` of each leaf's descriptor (03-module.md 3.3). */
export const OPERANDS: Readonly<Record<number, readonly LeafOperand[]>> = Object.freeze(
  Object.fromEntries(Object.values(LEAVES).map((d: LeafDescriptor) => [d.number, d.inputs])),
);

/** Outputs worth showing on success, per leaf number: the `outputs` of each leaf's descriptor. */
const OUTPUTS: Readonly<Record<number, readonly LeafOperand[]>> = Object.freeze(
  Object.fromEntries(Object.values(LEAVES).map((d: LeafDescriptor) => [d.number, d.outputs])),
);

const hex = (n: number) => `0x${n.toString(16)}`;
const FIELD_BY_ID = new Map([
  ...Object.entries(METADATA_FIELD_IDS).map(([n, id]) => [id.toLowerCase(), n] as const),
  ...Object.entries(RFC_V2_FIELD_IDS).map(([n, id]) => [id.toLowerCase(), `${n}(rfc-v2)`] as const),
]);

function decodeOperand(kind: Kind, lo: number, hi: number, keyIdShift: number): string {
  switch (kind) {
    case "hpa-list-info": {
      const d = decodeHpaListInfo(lo, hi);
      return `HPA_LIST_INFO{root=${hex(d.fields.rootHpa)} first=${d.fields.firstEntry} last=${d.fields.lastEntry}}${d.violation ? "!" : ""}`;
    }
    case "hpa-array": {
      const d = decodeHpaArray(lo, hi);
      return d.fields.singleton
        ? `HPA_ARRAY_T{page=${hex(d.fields.pageHpa!)} singleton}`
        : `HPA_ARRAY_T{root=${hex(d.fields.rootHpa!)} count=${d.fields.count}}${d.violation ? "!" : ""}`;
    }
    case "iommu-mt": {
      const d = decodeIommuMt(lo, hi);
      return `IOMMU_MT{root=${hex(d.fields.rootHpa)}}${d.violation ? "!" : ""}`;
    }
    case "field-id":
      return FIELD_BY_ID.get(u64ToHex(lo, hi)) ?? u64ToHex(lo, hi);
    case "hpa":
      return hi >>> 20 === 0 ? hex(low52(lo, hi)) : u64ToHex(lo, hi);
    case "hpa-keyid": {
      const a = low52(lo, hi);
      return `${hex(a % 2 ** keyIdShift)}|keyid=${Math.floor(a / 2 ** keyIdShift)}`;
    }
    case "id":
      return hi === 0 ? String(lo) : u64ToHex(lo, hi);
    default:
      return u64ToHex(lo, hi);
  }
}

/** A decoded call. */
export interface CallDescription {
  readonly seq: number;
  readonly leaf: string;
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  readonly status: string;
  readonly statusName: string | null;
  readonly units: number;
  readonly forced: boolean;
}

/** Decodes a call record. `keyIdShift` is the platform's KeyID shift (for WBINVD addresses). */
export function describeCall(r: CallRecord, keyIdShift: number): CallDescription {
  const inputs: Record<string, string> = {};
  for (const [reg, kind] of OPERANDS[r.leaf] ?? []) {
    inputs[regName(reg)!] = decodeOperand(kind, r.regsIn[2 * reg]!, r.regsIn[2 * reg + 1]!, keyIdShift);
  }
  const outputs: Record<string, string> = {};
  if (r.status.hi >>> 31 === 0 || r.status.hi === 0x8000_0003) {
    for (const [reg, kind] of OUTPUTS[r.leaf] ?? []) {
      outputs[regName(reg)!] = decodeOperand(kind, r.regsOut[2 * reg]!, r.regsOut[2 * reg + 1]!, keyIdShift);
    }
  }
  const s = decodeStatus(r.status.lo, r.status.hi);
  return {
    seq: r.seq,
    leaf: r.leafName,
    inputs,
    outputs,
    status: r.statusText,
    statusName: s.name,
    units: r.units,
    forced: r.forced,
  };
}

/** One line: `#12 TDH.EXT.MEM.ADD RCX=HPA_LIST_INFO{…} -> TDX_SUCCESS RCX=… units=512`. */
export function formatCall(d: CallDescription): string {
  const ins = Object.entries(d.inputs).map(([k, v]) => `${k}=${v}`);
  const outs = Object.entries(d.outputs).map(([k, v]) => `${k}=${v}`);
  return [
    `#${d.seq}`,
    d.leaf,
    ...ins,
    "->",
    d.status,
    ...outs,
    d.units > 0 ? `units=${d.units}` : "",
    d.forced ? "(forced)" : "",
  ]
    .filter((x) => x !== "")
    .join(" ");
}
