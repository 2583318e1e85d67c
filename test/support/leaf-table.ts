/**
 * The row format and runner of the table-driven leaf tests (issue 11 item 5): one row per (leaf, failing
 * status) a descriptor of `src/module/leaves.ts` lists, as registers in → status and operand id,
 * registers out, PAMT change. The rows live beside their test files (`test/module/leaf-table*.test.ts`,
 * `test/support/leaf-rows-*.ts`); `test/module/leaf-table.test.ts` checks that together they cover
 * every descriptor's `fails` and name nothing else.
 */
import { expect } from "vitest";
import { callRegs, NR_REGS, type Regs } from "../../src/common/seamcall.js";
import { LEAF, type LeafName, REG, STATUS, type StatusName, statusText } from "../../src/common/status.js";
import type { U64 } from "../../src/common/u64.js";
import type { Machine } from "../../src/machine.js";
import type { FailingStatus } from "../../src/module/leaf-table.js";
import { call, listInfo, machine, pages } from "./machine.js";

const GiB = 2 ** 30;

/** What a row's `arrange` prepared: the call's inputs and what to check after it. */
export interface Arranged {
  readonly inputs: Record<number, U64>;
  /** PFNs whose PAMT entries (type and owner) to watch. */
  readonly watch?: readonly number[];
  /** RAX version of the call (bits 23:16). */
  readonly version?: number;
  /** Output registers after the call, checked exactly (computed after the call). */
  readonly out?: () => Record<number, U64>;
  /** Further checks on the machine after the call. */
  readonly after?: () => void;
  /** PAMT type of each watched page after the call; null (or none given): unchanged. */
  readonly pamtAfter?: readonly (number | null)[];
  /**
   * Issues the row's call (default: a SEAMCALL on CPU 0), e.g. on another logical CPU inside a call
   * running on CPU 0; it must leave the row call's outputs in `regs`.
   */
  readonly issue?: (regs: Regs) => void;
}

/** One row: the machine state and inputs that make `leaf` return `status`, and what must hold after. */
export interface Row {
  readonly leaf: LeafName;
  readonly status: StatusName;
  /** Operand id in bits 31:0 (a register id or a resource id; 0 for none). */
  readonly operand: number;
  /**
   * The descriptor's `effects` variant: the status forced by the fault injector with the real failure's
   * side effects (emulator `ForcedStatus.effects`) on the row's call; the row checks those effects.
   */
  readonly effects?: boolean;
  readonly what: string;
  /** The machine the row runs on (default: a fresh default machine). */
  readonly machine?: () => Machine;
  /** Prepares the machine (possibly with calls of its own); returns the row call's inputs and checks. */
  readonly arrange: (m: Machine) => Arranged;
  /** Output registers after the call (checked exactly). */
  readonly out?: (m: Machine) => Record<number, U64>;
  /** Further checks on the machine after the call. */
  readonly after?: (m: Machine) => void;
  /** PAMT type of each watched page after the call; null (or none given): unchanged. */
  readonly pamtAfter?: readonly (number | null)[];
}

/** The coverage key of a descriptor entry or a row. */
export const keyOf = (leaf: LeafName, f: Pick<FailingStatus, "name" | "operand" | "effects">) =>
  `${leaf} ${f.name}(${f.operand})${f.effects === true ? " effects" : ""}`;

/** The coverage key of a row. */
export const rowKey = (r: Row) => keyOf(r.leaf, { name: r.status, operand: r.operand, effects: r.effects });

/** `it.each` cases of `rows`: a title and the row. */
export const cases = (rows: readonly Row[]) => rows.map((r) => [`${rowKey(r)}: ${r.what}`, r] as const);

/**
 * Runs one row: arrange, the call (with the forced-with-effects status first when the row is the
 * `effects` variant), then status and operand, every output register (those the row names exactly, all
 * others unchanged from the inputs), the PAMT of the watched pages and the row's further checks.
 */
export function runRow(row: Row): void {
  const m = row.machine?.() ?? machine();
  const a = row.arrange(m);
  const watch = a.watch ?? [];
  const before = watch.map((pfn) => [m.module.pamt.type(pfn), m.module.pamt.owner(pfn)]);
  const leaf = LEAF[row.leaf];
  const want = { lo: row.operand, hi: STATUS[row.status].hi };
  if (row.effects === true)
    m.module.forceStatus({
      leaf,
      nth: (m.module.callsByLeaf.get(leaf) ?? 0) + 1,
      status: want,
      effects: true,
    });
  const r = callRegs(leaf, a.inputs, a.version ?? 0);
  const regsIn = r.clone();
  (a.issue ?? m.module.seamcall)(r);
  expect(statusText(r.get(REG.RAX))).toBe(statusText(want));
  const out = { ...row.out?.(m), ...a.out?.() };
  for (let reg = 1; reg < NR_REGS; reg++) {
    const v = out[reg] ?? regsIn.get(reg);
    expect(r.get(reg), `R${reg} out${reg in out ? "" : " (unchanged)"}`).toEqual(v);
  }
  const pamtAfter = a.pamtAfter ?? row.pamtAfter;
  watch.forEach((pfn, i) => {
    const type = m.module.pamt.type(pfn);
    const wantType = pamtAfter?.[i] ?? null;
    if (wantType === null)
      expect([type, m.module.pamt.owner(pfn)], `PAMT of watched page ${i}`).toEqual(before[i]);
    else expect(type, `PAMT type of watched page ${i}`).toBe(wantType);
  });
  row.after?.(m);
  a.after?.();
}

// ---- the private operand page checks (03-module.md 3.2) ------------------------------------------

/** A page the pool already holds (no longer PT_NDA). */
export const poolPage = (m: Machine): number => {
  const q = pages(m, 1)[0]!;
  const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [q.hpa]) });
  expect(statusText(r.get(REG.RAX))).toBe("TDX_SUCCESS");
  return q.hpa;
};

/** A page whose PAMT entry logical CPU 1 holds exclusively (the running call, on CPU 0, finds it busy). */
export const lockedPage = (m: Machine): number => {
  const p = pages(m, 1)[0]!;
  expect(m.module.pamtLocks.acquire(1, p.pfn, "exclusive")).toBe("ok");
  return p.hpa;
};

/** Inputs with pages to watch, as a `privatePageRows` wrapper may return them. */
interface InputsAndWatch {
  readonly inputs: Record<number, U64>;
  readonly watch: readonly number[];
}
const isInputsAndWatch = (w: Record<number, U64> | InputsAndWatch): w is InputsAndWatch => "watch" in w;

/**
 * The four private-operand-page rows of one leaf (03-module.md 3.2), on register `reg`: `wrap` builds
 * the inputs naming the page at `pageHpa` (misaligned in the OPERAND_INVALID row) and may name further
 * pages to watch (pages claimed before the bad one must be rolled back: unchanged).
 */
export function privatePageRows(
  leaf: LeafName,
  reg: number,
  wrap: (m: Machine, pageHpa: number) => Record<number, U64> | InputsAndWatch,
  opts: { machine?: () => Machine } = {},
): Row[] {
  const row = (status: StatusName, what: string, page: (m: Machine) => number): Row => ({
    leaf,
    status,
    operand: reg,
    what,
    ...opts,
    arrange: (m) => {
      const a = page(m);
      const pfn = Math.floor(a / 4096);
      const w = wrap(m, a);
      const own = m.module.pamt.inTdmr(pfn) ? [pfn] : [];
      return isInputsAndWatch(w)
        ? { inputs: w.inputs, watch: [...own, ...w.watch] }
        : { inputs: w, watch: own };
    },
  });
  return [
    row("TDX_OPERAND_INVALID", "a misaligned page", (m) => pages(m, 1)[0]!.hpa + 0x800),
    row("TDX_OPERAND_ADDR_RANGE_ERROR", "a page outside every TDMR", () => 600 * GiB),
    row("TDX_OPERAND_BUSY", "a page whose PAMT entry another CPU holds", lockedPage),
    row("TDX_PAGE_METADATA_INCORRECT", "a page the pool holds already", poolPage),
  ];
}
