/**
 * What a raw SEAMCALL (a scenario's `seamcall` step, a fuzz program's call) handed over or got back, as
 * the host that issued it can tell from the call's own operands and status (02-kapi.md 2.3–2.6,
 * 03-module.md 3.3–3.4), written into the host's ledger. The host never asks the module
 * (no TDH.PHYMEM.PAGE.RDMD) and never reads the PAMT: it reads its own root pages and the registers the
 * call returned (ledger `raw-call-ledger`).
 *
 * - TDH.EXT.MEM.ADD: on success, TDX_EXT_MEMORY_POOL_FULL or an interruption, the entries from the
 *   FIRST_ENTRY it passed up to the FIRST_ENTRY the module returned were added to the pool; any other
 *   failure but TDX_OPERAND_BUSY is fatal as in the kernel (2.5): every named page is stranded;
 * - TDH.IOMMU.SETUP, TDH.SPDM.CREATE, TDH.IDE.STREAM.CREATE: on success every page the list names is
 *   donated to the new object (`<kind> #<id>`, the id the call returned); an interruption lends them to
 *   the call until it ends; a failure that is not a known clean refusal (src/host/claim-rule.ts) strands
 *   them, reported;
 * - TDH.IOMMU.CLEAR: interrupted, the unit's pages are lent to the call; on success they come back;
 * - TDH.SPDM.DELETE, TDH.IDE.STREAM.DELETE: on success the pages of the released list the module wrote
 *   (RCX out) come back.
 *
 * Only pages the host itself holds (or lent, or donated for a release) change state: a raw value naming
 * someone else's page hands over nothing the host owns.
 */
import { decodeHpaArray, decodeHpaListInfo, decodeIommuMt } from "../common/formats.js";
import { decodeLeafRax, type Regs } from "../common/seamcall.js";
import { isStatus, LEAF, REG, STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import { hpaToPfn, PAGE_SIZE } from "../common/u64.js";
import { cleanRefusal } from "../host/claim-rule.js";
import { EXT_POOL_OWNER } from "../host/flows/extensions.js";
import { type HostKernel, strandPages } from "../host/kernel.js";

/** The word pair of entry `i` of the root page at `rootHpa` as the host wrote it (no cache effect), or null. */
function entryAt(k: HostKernel, rootHpa: number, i: number): [number, number] | null {
  const pfn = hpaToPfn(rootHpa);
  if (!k.mem.contains(pfn)) return null;
  const p = k.mem.peek(pfn);
  if (p === undefined) return [0, 0];
  const w = new Uint32Array(p.buffer, p.byteOffset, 1024);
  return [w[2 * i]!, w[2 * i + 1]!];
}

/** PFNs covered by entries [from, to) of a list root (an IOMMU_MT entry's bits 11:0 give its pages). */
function listPfns(k: HostKernel, rootHpa: number, from: number, to: number, iommuMt: boolean): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) {
    const e = entryAt(k, rootHpa, i);
    if (e === null) return out;
    const n = iommuMt ? Math.max(1, e[0] & 0xfff) : 1;
    const pfn = Math.floor(((e[0] & 0xffff_f000) >>> 0) / PAGE_SIZE) + (e[1] & 0xf_ffff) * 0x10_0000;
    for (let j = 0; j < Math.min(n, 2048); j++) out.push(pfn + j);
  }
  return out;
}

/** PFNs named by an HPA_ARRAY_T operand. */
function arrayPfns(k: HostKernel, v: U64): number[] {
  const d = decodeHpaArray(v.lo, v.hi);
  if (d.violation !== null) return [];
  if (d.fields.singleton) return [d.fields.pageHpa! / PAGE_SIZE];
  return listPfns(k, d.fields.rootHpa!, 0, d.fields.count, false);
}

/** The register named in the input register file `w` (as SEAMCALL read it). */
function reg(w: Uint32Array, r: number): U64 {
  return { lo: w[2 * r]!, hi: w[2 * r + 1]! };
}

/**
 * Records in the host's ledger what the raw call did with the host's pages: `regsIn` is the register
 * file as issued, `out` as returned. `iommuEntries` is IOMMU_MT_PAGE_COUNT + 2 (from TDH.SYS.RD).
 */
export function recordRawCall(
  k: HostKernel,
  regsIn: Uint32Array,
  out: Regs,
  opts: { readonly iommuEntries: number },
): void {
  const { leaf } = decodeLeafRax(regsIn[0]!, regsIn[1]!);
  const status = out.get(REG.RAX);
  const L = k.ledger;
  const mine = (pfns: readonly number[]) => pfns.filter((p) => L.held.has(p) || L.lent.has(p));
  const success = status.hi >>> 31 === 0 && !isStatus(status, STATUS.TDX_INTERRUPTED_RESUMABLE);
  const interrupted = isStatus(status, STATUS.TDX_INTERRUPTED_RESUMABLE);
  const claim = (named: number[], kind: string) => {
    const pages = mine(named);
    if (success) for (const p of pages) L.donated.set(p, `${kind} #${out.lo(REG.RCX)}`);
    else if (interrupted) for (const p of pages) L.lend(p, `${kind} call in flight`);
    else if (!cleanRefusal(status) && pages.length > 0)
      strandPages(k, pages, `raw ${kind} claim failed with a status that is not a clean refusal`);
  };
  switch (leaf) {
    case LEAF["TDH.EXT.MEM.ADD"]: {
      const inOp = reg(regsIn, REG.RCX);
      const a = decodeHpaListInfo(inOp.lo, inOp.hi);
      const b = decodeHpaListInfo(out.lo(REG.RCX), out.hi(REG.RCX));
      if (a.violation !== null || b.fields.rootHpa !== a.fields.rootHpa) return;
      // Entries before the returned FIRST_ENTRY were added, on a success, an interruption or a failure at
      // an entry alike (TDX Module 1.5 checks entry i inside its loop); only a full success wraps it to 0.
      const done = status.lo === 0 && status.hi === 0;
      const end = done ? a.fields.lastEntry + 1 : b.fields.firstEntry;
      for (const p of mine(listPfns(k, a.fields.rootHpa, a.fields.firstEntry, end, false)))
        L.donated.set(p, EXT_POOL_OWNER);
      if (!success && !interrupted && !cleanRefusal(status)) {
        // Not a clean refusal (a shutdown in the middle of the add, say): any later named page may be the
        // module's too (claim-failure-strands).
        const named = mine(listPfns(k, a.fields.rootHpa, end, a.fields.lastEntry + 1, false));
        if (named.length > 0)
          strandPages(k, named, "raw TDH.EXT.MEM.ADD failed: any named page may be the module's");
      }
      return;
    }
    case LEAF["TDH.IOMMU.SETUP"]: {
      const v = reg(regsIn, REG.RDX);
      const d = decodeIommuMt(v.lo, v.hi);
      if (d.violation === null) claim(listPfns(k, d.fields.rootHpa, 0, opts.iommuEntries, true), "iommu");
      return;
    }
    case LEAF["TDH.SPDM.CREATE"]:
      claim(arrayPfns(k, reg(regsIn, REG.RDX)), "spdm");
      return;
    case LEAF["TDH.IDE.STREAM.CREATE"]:
      claim(arrayPfns(k, reg(regsIn, REG.R8)), "ide");
      return;
    case LEAF["TDH.IOMMU.CLEAR"]: {
      const id = regsIn[2 * REG.RCX]!;
      const label = `iommu #${id}`;
      const pages = [...L.donated].filter(([, o]) => o === label).map(([p]) => p);
      if (interrupted) for (const p of pages) L.lend(p, `${label} clear in flight`);
      const lent = [...L.lent].filter(([, o]) => o === `${label} clear in flight`).map(([p]) => p);
      if (success) {
        for (const p of pages) L.donated.delete(p);
        for (const p of lent) L.unlend(p);
      }
      return;
    }
    case LEAF["TDH.MNG.CREATE"]: {
      // The TDR page named in RCX becomes the new TD's (the quote leaves' minimal TD, ledger `td-minimal`).
      const v = reg(regsIn, REG.RCX);
      const pages = mine([Math.floor((v.hi * 2 ** 32 + v.lo) / PAGE_SIZE)]);
      if (success) for (const p of pages) L.donated.set(p, "TD");
      else if (!cleanRefusal(status) && pages.length > 0)
        strandPages(k, pages, "raw TDH.MNG.CREATE failed with a status that is not a clean refusal");
      return;
    }
    case LEAF["TDH.PHYMEM.PAGE.RECLAIM"]: {
      if (!success) return;
      const v = reg(regsIn, REG.RCX);
      const pfn = Math.floor((v.hi * 2 ** 32 + v.lo) / PAGE_SIZE);
      if (L.donated.has(pfn)) L.donated.delete(pfn);
      return;
    }
    case LEAF["TDH.SPDM.DELETE"]:
    case LEAF["TDH.IDE.STREAM.DELETE"]: {
      if (!success) return;
      for (const p of arrayPfns(k, out.get(REG.RCX))) if (L.donated.has(p)) L.donated.delete(p);
      return;
    }
  }
}
