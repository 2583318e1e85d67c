/**
 * Status vectors (docs/spec/03-module.md 3.1): every status kind of `STATUS`, unknown values and seeded
 * random ones, decoded by `decodeStatus`.
 */
import { decodeStatus, REG, STATUS, status } from "../common/status.js";
import { type U64, U64_ONES } from "../common/u64.js";
import type { VectorRng } from "./rng.js";
import type { Origin, StatusVector } from "./types.js";

function statusVector(v: U64, origin: Origin, note: string): StatusVector {
  const s = decodeStatus(v.lo, v.hi);
  return {
    raw: s.raw,
    origin,
    note,
    fields: {
      name: s.name,
      error: s.error,
      nonRecoverable: s.nonRecoverable,
      fatal: s.fatal,
      hostRecoverabilityHint: s.hostRecoverabilityHint,
      class: s.class,
      detail: s.detail,
      operandId: s.operandId,
      info: s.info,
      modelDefined: s.modelDefined,
    },
  };
}

export function statusVectors(r: VectorRng): StatusVector[] {
  const out: StatusVector[] = [];
  const kinds = Object.values(STATUS);
  for (const k of kinds) {
    out.push(statusVector(status(k), "boundary", `${k.name}, operand 0`));
    if (k.hi >>> 31 === 1) out.push(statusVector(status(k, REG.RCX), "boundary", `${k.name}(RCX)`));
  }
  out.push(
    statusVector(
      status(STATUS.TDX_OPERAND_INVALID, 0xffff_ffff),
      "boundary",
      "TDX_OPERAND_INVALID, operand 0xffffffff",
    ),
  );
  out.push(statusVector(U64_ONES, "boundary", "all ones (unknown kind, every flag set)"));
  out.push(statusVector({ lo: 0, hi: 0x8000_0000 }, "boundary", "bit 63 only (unknown error kind)"));
  out.push(statusVector({ lo: 0, hi: 0x1000_0000 }, "boundary", "bit 60 only (unknown success kind)"));
  for (let i = 0; i < 4; i++) {
    const k = kinds[r.below(kinds.length)]!;
    const reg = r.below(16);
    out.push(statusVector(status(k, reg), "random-valid", `${k.name}, operand ${reg}`));
  }
  for (let i = 0; i < 4; i++)
    out.push(statusVector({ lo: r.u32(), hi: r.u32() }, "random-raw", "64 random bits"));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Descriptor vectors
