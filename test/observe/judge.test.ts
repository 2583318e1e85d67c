/**
 * The judge, rule by rule (src/observe/conservation.ts, src/observe/judge.ts, the cache sweep of
 * src/hw/cache.ts, the module's page checks of 03-module.md 3.2, the extension slot of 3.4): each test
 * breaks exactly one thing in an otherwise clean machine (as a wrong host or a wrong module would) and
 * expects the one rule that names it. Fast on purpose: `npm run mutants` runs this file against every
 * mutation of those rules.
 */
import { describe, expect, it } from "vitest";
import { encodeHpaArray, encodeListEntry } from "../../src/common/formats.js";
import { Regs } from "../../src/common/seamcall.js";
import { LEAF, REG, STATUS, status } from "../../src/common/status.js";
import { cleanRefusal } from "../../src/host/claim-rule.js";
import { EXT_POOL_OWNER, extensionsBringUp } from "../../src/host/flows/extensions.js";
import { iommuClearAll, iommuSetupAll } from "../../src/host/flows/iommu.js";
import { mapPageForRead, STRANDED_TAG, strandPages } from "../../src/host/kernel.js";
import { tdxPageArrayCreate, tdxPageArrayDestroy } from "../../src/host/page-array.js";
import { functionId } from "../../src/host/spdm.js";
import type { Machine, MachineOptions } from "../../src/machine.js";
import { PT } from "../../src/module/pamt.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { judgeEndOfTeardown } from "../../src/observe/judge.js";
import { recordRawCall } from "../../src/scenario/raw-handover.js";
import { forget, freePage, hostPage, judgedMachine } from "../support/judged.js";
import {
  call,
  hpa,
  iommuMt,
  listInfo,
  machine,
  pages,
  platformWith,
  rootWith,
  statusOf,
  units,
  want,
} from "../support/machine.js";

const PLATFORM = platformWith({ MEMORY_POOL_REQUIRED_PAGES: 16 });

/** A machine after the extensions bring-up (16 pool pages) and IOMMU setup: every ledger agrees. */
const fixture = (opts: MachineOptions = {}) => judgedMachine(opts);

const violations = (m: Machine, endOfTeardown = false) =>
  checkConservation(m, { endOfTeardown }).violations.join("\n");

describe("conservation: the three ledgers and the allocator", () => {
  it("a clean machine passes, and after teardown the host holds nothing", () => {
    const { m, setups } = fixture();
    expect(violations(m)).toBe("");
    expect(iommuClearAll(m.kernel, setups).ok).toBe(true);
    expect(violations(m, true)).toBe("");
    const c = checkConservation(m, { endOfTeardown: true });
    expect(c.totals).toMatchObject({ hostHeld: 0, moduleOwned: 16, stranded: 0 });
    expect(c.totals.free + c.totals.reserved + c.totals.hostHeld + c.totals.moduleOwned).toBe(c.totals.total);
  });

  it("an owner object the module no longer has", () => {
    const { m, unit } = fixture();
    m.module.dropObject(unit.id);
    expect(violations(m)).toMatch(/owned by object \d+, which the module no longer has/);
  });

  it("a PAMT-owned page missing from its object's page list", () => {
    const { m, unit } = fixture();
    unit.pages.pop();
    expect(violations(m)).toMatch(/in the PAMT but not in .*'s page list/);
  });

  it("an object listing a page the PAMT does not give it", () => {
    const { m, pool } = fixture();
    pool.pages.push(hostPage(m));
    expect(violations(m)).toMatch(/is listed by extension memory pool but the PAMT says PT_NDA/);
  });

  it("a page listed by two objects (IOMMU.SETUP taking over a pool page)", () => {
    const { m, pool, unit } = fixture();
    unit.pages.push(pool.pages[0]!);
    expect(violations(m)).toMatch(/is listed by .* and by object/);
  });

  it("a page type that does not fit its owner's kind", () => {
    const { m, pool } = fixture();
    m.module.pamt.set(pool.pages[0]!, PT.IOMMU_MT, pool.id);
    expect(violations(m)).toMatch(/is PT_IOMMU_MT but its owner extension memory pool is a ext-pool object/);
  });

  it("a module-owned page the allocator reserves", () => {
    const { m, pool } = fixture();
    m.module.pamt.set(5, PT.EXT_POOL, pool.id);
    pool.pages.push(5);
    expect(violations(m)).toMatch(/is module-owned \(PT_EXT_POOL\) but reserved in the allocator/);
  });

  it("a module-owned page free in the allocator", () => {
    const { m, pool } = fixture();
    const pfn = freePage(m);
    m.module.pamt.set(pfn, PT.EXT_POOL, pool.id);
    pool.pages.push(pfn);
    expect(violations(m)).toMatch(
      /is module-owned \(PT_EXT_POOL, extension memory pool\) but free in the host allocator/,
    );
  });

  it("a module-owned page the host holds for its own use (it assumed a rollback)", () => {
    const { m, pool } = fixture();
    forget(m, pool.pages[0]!);
    m.kernel.ledger.held.set(pool.pages[0]!, "test");
    expect(violations(m)).toMatch(/but the host holds it for its own use/);
  });

  it("a module-owned page the host has no record of", () => {
    const { m, pool } = fixture();
    forget(m, pool.pages[0]!);
    expect(violations(m)).toMatch(/but the host has no record of it/);
  });

  it("a page the host believes it gave to another object", () => {
    const { m, pool, unit } = fixture();
    m.kernel.ledger.donated.set(pool.pages[0]!, `iommu ${unit.name}`);
    expect(violations(m)).toMatch(
      /is owned by extension memory pool but the host believes it donated it to iommu/,
    );
  });

  it("a page the host believes it donated but the module does not own", () => {
    const { m } = fixture();
    m.kernel.ledger.donated.set(hostPage(m), EXT_POOL_OWNER);
    expect(violations(m)).toMatch(
      /the host believes it donated it \(extension memory pool\) but the module does not own it/,
    );
  });

  it("a page the host believes it donated but the allocator has free", () => {
    const { m } = fixture();
    m.kernel.ledger.donated.set(freePage(m), EXT_POOL_OWNER);
    expect(violations(m)).toMatch(/believes it donated it \(extension memory pool\) but it is free/);
  });

  it("a page the host believes it holds but the allocator has free", () => {
    const { m } = fixture();
    m.kernel.ledger.held.set(freePage(m), "test");
    expect(violations(m)).toMatch(/the host believes it holds it \(test\) but it is free/);
  });

  it("a page in two places of the host's ledger", () => {
    const { m, pool } = fixture();
    m.kernel.ledger.held.set(pool.pages[0]!, "test");
    expect(violations(m)).toMatch(/is in two places of the host's ledger/);
  });

  it("a free of a page the host had donated", () => {
    const { m, setups } = fixture();
    const p = setups[0]!.pages[2]!;
    m.alloc.freePages(p, p.order);
    expect(violations(m)).toMatch(/was freed while the host's ledger had it donated to iommu/);
  });

  it("a stranded page never reported", () => {
    const { m } = fixture();
    strandPages(m.kernel, [hostPage(m)], "test");
    expect(violations(m)).toBe("");
    m.kernel.ledger.strandReports.length = 0;
    expect(violations(m)).toMatch(/is stranded but was never reported/);
  });

  it("a stranded page reused, or not tagged stranded", () => {
    const { m } = fixture();
    const a = m.alloc.allocPage({ tag: "test" })!;
    const b = m.alloc.allocPage({ tag: "test" })!;
    strandPages(m.kernel, [a.pfn, b.pfn], "test");
    m.alloc.retag(b, "test");
    expect(violations(m)).toMatch(/carries allocator tag test, not tdx:stranded/);
    expect(violations(m)).toMatch(/allocator shows 1 pages tagged stranded, the host's ledger 2/);
    m.alloc.freePages(a);
    expect(violations(m)).toMatch(/stranded page 0x[0-9a-f]+ is free in the allocator/);
  });

  it("a page allocated behind the host ledger's back", () => {
    const { m } = fixture();
    const hooks = m.alloc.hooks;
    m.alloc.hooks = {};
    m.alloc.allocPage({ tag: "sneaky" });
    m.alloc.hooks = hooks;
    expect(violations(m)).toMatch(
      /the allocator has \d+ pages allocated, the host's ledger accounts for \d+/,
    );
  });

  it("counts by place that do not add up (a wrong free count)", () => {
    const { m } = fixture();
    const stats = m.alloc.stats.bind(m.alloc);
    m.alloc.stats = () => ({ ...stats(), freePages: stats().freePages + 1 });
    expect(violations(m)).toMatch(/pages by place add up to \d+, not \d+/);
  });

  it("a PAMT whose owned-page count disagrees with its entries", () => {
    const { m } = fixture();
    (m.module.pamt as unknown as { ownedCount: number }).ownedCount++;
    expect(violations(m)).toMatch(/the PAMT counts \d+ module-owned pages but lists \d+/);
  });

  it("after teardown, a page the host still holds is a leak (stranded but never reported)", () => {
    const { m, setups } = fixture();
    iommuClearAll(m.kernel, setups);
    const leak = hostPage(m);
    expect(violations(m)).toBe("");
    expect(violations(m, true)).toMatch(
      new RegExp(`page 0x${(leak * 4096).toString(16)} \\(test\\) is still held by the host after teardown`),
    );
  });
});

describe("end of teardown: sweep and failure policy", () => {
  it("the sweep names a page released without its write-back, its KeyID and the call that left it", () => {
    const { m, setups } = fixture();
    const r = call(m, "TDH.IOMMU.CLEAR", {
      [REG.RCX]: setups[0]!.iommuId,
      [REG.RDX]: setups[0]!.array.toIommuMt(),
    });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    const left = m.cache.sweep();
    expect(left).toHaveLength(20);
    expect(left[0]).toMatchObject({
      kind: "private-lines-left-at-end",
      keyIds: [m.platform.keyIds.global],
    });
    expect(left[0]!.cause).toMatch(/^TDH\.IOMMU\.CLEAR #\d+$/);
    expect(m.cache.sweep((pfn) => left.some((h) => h.pfn === pfn))).toEqual([]);
  });

  it("a host read of a released page before its write-back is hazard 2, caused by the host", () => {
    const { m, setups } = fixture();
    const s = setups[0]!;
    call(m, "TDH.IOMMU.CLEAR", { [REG.RCX]: s.iommuId, [REG.RDX]: s.array.toIommuMt() });
    mapPageForRead(m.kernel, s.pages[2]!.pfn);
    const h = m.cache.hazards.filter((x) => x.kind === "private-lines-on-host-page");
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ pfn: s.pages[2]!.pfn, cause: "host" });
  });

  it("the end-of-teardown judge sweeps, exempting only stranded pages", () => {
    const { m, setups } = fixture();
    const s = setups[0]!;
    call(m, "TDH.IOMMU.CLEAR", { [REG.RCX]: s.iommuId, [REG.RDX]: s.array.toIommuMt() });
    strandPages(m.kernel, [s.pages[2]!.pfn], "test");
    const j = judgeEndOfTeardown(m, []);
    expect(j.sweep).toHaveLength(19);
    expect(j.sweep.some((h) => h.pfn === s.pages[2]!.pfn)).toBe(false);
  });

  it("the sweep leaves module-owned pages and written-back pages alone", () => {
    const { m, setups } = fixture();
    expect(iommuClearAll(m.kernel, setups).ok).toBe(true);
    expect(m.cache.sweep()).toEqual([]);
  });

  it("a failed bring-up that kept its pool donated breaks the failure policy; stranded pages are exempt from the sweep", () => {
    const m = machine({}, PLATFORM);
    m.module.forceStatus({
      leaf: LEAF["TDH.EXT.INIT"],
      nth: 1,
      status: status(STATUS.TDX_OP_STATE_INCORRECT),
    });
    const r = extensionsBringUp(m.kernel);
    expect(r.ok).toBe(false);
    expect(judgeEndOfTeardown(m, [r]).policy).toEqual([]);
    expect(r.strandedPages).toBe(16);
    // The same run had the host kept the pool as donated:
    const m2 = machine({}, PLATFORM);
    expect(extensionsBringUp(m2.kernel).ok).toBe(true);
    const failed = { ...r };
    expect(judgeEndOfTeardown(m2, [failed]).policy[0]).toMatch(/16 page\(s\) are still donated to the pool/);
  });
});

describe("the module's page checks (03-module.md 3.2), each in its place", () => {
  it("every page of a queue block must be PT_NDA, not only its head", () => {
    const m = machine({}, PLATFORM);
    const mt = iommuMt(m);
    // The tail page of queue block 0 goes to the extension pool first.
    const add = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [mt.blocks[0]!.hpa + 4096]) });
    expect(statusOf(add)).toBe("TDX_SUCCESS");
    const r = call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand });
    expect(statusOf(r)).toBe(want("TDX_PAGE_METADATA_INCORRECT", "RDX"));
  });

  it("a page another logical CPU holds locked is BUSY before its PAMT type is looked at", () => {
    // TDX Module 1.5 releases every lock before a SEAMCALL returns, so a lock is only ever held by a
    // call running on another CPU: CPU 1 holds the 4K entry of a page the IOMMU already owns.
    const m = machine({}, PLATFORM);
    const mt = iommuMt(m);
    const r = call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt.operand });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    const pfn = mt.blocks[0]!.pfn;
    expect(m.module.pamtLocks.acquire(1, pfn, "exclusive")).toBe("ok");
    const add = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [mt.blocks[0]!.hpa]) });
    expect(statusOf(add)).toBe(want("TDX_OPERAND_BUSY", "RCX"));
    m.module.pamtLocks.releaseAll(1);
    const again = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [mt.blocks[0]!.hpa]) });
    expect(statusOf(again)).toBe(want("TDX_PAGE_METADATA_INCORRECT", "RCX"));
  });

  it("private operand pages: KeyID bits → OPERAND_INVALID, outside every TDMR → ADDR_RANGE_ERROR", () => {
    const m = machine({}, PLATFORM);
    const p = pages(m, 1)[0]!;
    const keyed = p.hpa + 2 ** m.platform.keyIds.shift;
    expect(m.module.privatePageStatus(keyed, 1, REG.RCX)).toEqual(
      status(STATUS.TDX_OPERAND_INVALID, REG.RCX),
    );
    expect(m.module.privatePageStatus(p.hpa + 2048, 1, REG.RCX)).toEqual(
      status(STATUS.TDX_OPERAND_INVALID, REG.RCX),
    );
    const outside = m.platform.tdmrs.reduce((e, t) => Math.max(e, t.base + t.size), 0) + 4096;
    expect(m.module.privatePageStatus(outside, 1, REG.RCX)).toEqual(
      status(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, REG.RCX),
    );
    expect(m.module.privatePageStatus(p.hpa, 1, REG.RCX)).toBeNull();
  });

  it("shared operand pages: a private KeyID or the module's range is refused; a module-owned one reported", () => {
    const { m, pool } = fixture();
    const root = rootWith(m, []);
    expect(m.module.sharedPageProblem(root)).toBeNull();
    expect(
      m.module.sharedPageProblem(root + m.platform.keyIds.global * 2 ** m.platform.keyIds.shift),
    ).toMatch(/private KeyID/);
    expect(m.module.sharedPageProblem(m.platform.moduleRange.base)).toMatch(/module's range/);
    expect(m.module.sharedPageProblem(pool.pages[0]! * 4096)).toBeNull();
    expect(m.module.reports.map((r) => r.kind)).toEqual(["module-owned-shared-page"]);
  });
});

describe("the extension slot and forced statuses with effects (03-module.md 3.4–3.5)", () => {
  it("an interrupted EXT.MEM.ADD holds the slot until its list is done", () => {
    const m = machine({ interrupts: { kind: "every", k: 1 } }, PLATFORM);
    const list = listInfo(
      m,
      pages(m, 3).map((p) => p.hpa),
    );
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: list });
    expect(statusOf(r)).toBe("TDX_INTERRUPTED_RESUMABLE");
    const meta = pages(m, 8);
    const arr = encodeHpaArray({
      count: 8,
      rootHpa: rootWith(
        m,
        meta.map((p) => encodeListEntry(p.hpa)),
      ),
    });
    const spdm = call(m, "TDH.SPDM.CREATE", {
      [REG.RCX]: functionId(m.platform.devices![0]!),
      [REG.RDX]: arr,
    });
    expect(statusOf(spdm)).toBe("TDX_OPERAND_BUSY(SYS)");
    expect(statusOf(call(m, "TDH.EXT.INIT"))).toBe("TDX_OPERAND_BUSY(SYS)");
    const other = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [pages(m, 1)[0]!.hpa]) });
    expect(statusOf(other)).toBe("TDX_INVALID_RESUMPTION");
    const again = new Regs();
    again.copyFrom(r);
    for (let i = 0; i < 3 && statusOf(again) !== "TDX_SUCCESS"; i++) {
      again.set(REG.RAX, { lo: LEAF["TDH.EXT.MEM.ADD"], hi: 0 });
      m.module.seamcall(again);
    }
    expect(statusOf(again)).toBe("TDX_SUCCESS");
    expect(m.module.extSlot).toBeNull();
  });

  it("a forced SYS_SHUTDOWN with effects keeps what the claim took and shuts the module down", () => {
    const plain = machine({}, PLATFORM);
    const mt = iommuMt(plain);
    plain.module.forceStatus({
      leaf: LEAF["TDH.IOMMU.SETUP"],
      nth: 1,
      status: status(STATUS.TDX_SYS_SHUTDOWN),
    });
    const r0 = call(plain, "TDH.IOMMU.SETUP", {
      [REG.RCX]: hpa(units(plain).capable),
      [REG.RDX]: mt.operand,
    });
    expect(statusOf(r0)).toBe("TDX_SYS_SHUTDOWN");
    expect(plain.module.pamt.ownedPages).toBe(0);

    const m = machine({}, PLATFORM);
    const mt2 = iommuMt(m);
    m.module.forceStatus({
      leaf: LEAF["TDH.IOMMU.SETUP"],
      nth: 1,
      status: status(STATUS.TDX_SYS_SHUTDOWN),
      effects: true,
    });
    const r = call(m, "TDH.IOMMU.SETUP", { [REG.RCX]: hpa(units(m).capable), [REG.RDX]: mt2.operand });
    expect(statusOf(r)).toBe("TDX_SYS_SHUTDOWN");
    expect(m.module.pamt.ownedPages).toBe(20);
    expect(m.module.shutdown).toBe(true);
    expect(m.module.reports).toEqual([]);
  });

  it("the host's claim rule: a SETUP that fails with a status that is not a clean refusal strands its pages", () => {
    // Under both flag rules: before the call (the kernel) the write-back of the claimed pages fails and
    // strands them; on success only, nothing is written back, and only the claim rule keeps them from
    // the allocator (ledger claim-failure-strands).
    for (const flushFlag of ["before-call", "on-success"] as const) {
      const m = machine({ policy: { flushFlag } }, PLATFORM);
      m.module.forceStatus({
        leaf: LEAF["TDH.IOMMU.SETUP"],
        nth: 1,
        status: status(STATUS.TDX_SYS_SHUTDOWN),
        effects: true,
      });
      const io = iommuSetupAll(m.kernel, m.platform.iommus);
      expect(io.result.ok, flushFlag).toBe(false);
      expect(m.module.pamt.ownedPages, flushFlag).toBe(20);
      expect(m.kernel.ledger.stranded.size, flushFlag).toBeGreaterThanOrEqual(20);
      expect(violations(m), flushFlag).toBe("");
    }
  });

  it("a forced shutdown with effects on a leaf with no private write completes it, then shuts the module down", () => {
    const m = machine({}, PLATFORM);
    m.module.forceStatus({
      leaf: LEAF["TDH.EXT.MEM.ADD"],
      nth: 1,
      status: status(STATUS.TDX_SYS_SHUTDOWN),
      effects: true,
    });
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: listInfo(m, [pages(m, 1)[0]!.hpa]) });
    expect(statusOf(r)).toBe("TDX_SYS_SHUTDOWN");
    expect(m.module.pamt.ownedPages).toBe(1);
    expect(m.module.shutdown).toBe(true);
    expect(statusOf(call(m, "TDH.SYS.RD", { [REG.RDX]: { lo: 0, hi: 0 } }))).toBe("TDX_SYS_SHUTDOWN");
  });

  it("the host strands a failed claim unless the status is a known clean refusal", () => {
    expect(cleanRefusal(status(STATUS.TDX_OPERAND_INVALID, REG.RDX))).toBe(true);
    expect(cleanRefusal(status(STATUS.TDX_PAGE_METADATA_INCORRECT, REG.RDX))).toBe(true);
    expect(cleanRefusal(status(STATUS.TDX_SYS_SHUTDOWN))).toBe(false);
    expect(cleanRefusal(status(STATUS.TDX_INTERRUPTED_RESUMABLE))).toBe(false);
    const m = machine({}, PLATFORM);
    m.module.forceStatus({
      leaf: LEAF["TDH.IOMMU.SETUP"],
      nth: 1,
      status: status(STATUS.TDX_SYS_SHUTDOWN),
      effects: true,
    });
    const io = iommuSetupAll(m.kernel, m.platform.iommus);
    expect(io.result.ok).toBe(false);
    expect(io.result.strandedPages).toBe(20);
    expect(violations(m, true)).toBe("");
  });
});

describe("raw calls: the host learns from operands and status, not RDMD", () => {
  it("an interrupted IOMMU.SETUP lends its pages; success donates them to the returned id; CLEAR gives them back", () => {
    const m = machine({ interrupts: { kind: "every", k: 4 } }, PLATFORM);
    const mt = iommuMt(m);
    const regs = new Regs();
    regs.set(REG.RAX, { lo: LEAF["TDH.IOMMU.SETUP"], hi: 0 });
    regs.set(REG.RCX, hpa(units(m).capable));
    regs.set(REG.RDX, mt.operand);
    const saved = regs.clone();
    const opts = { iommuEntries: m.platform.metadata.IOMMU_MT_PAGE_COUNT + 2 };
    let last = "";
    for (let i = 0; i < 20 && last !== "TDX_SUCCESS"; i++) {
      const r = saved.clone();
      const w = r.w.slice();
      m.module.seamcall(r);
      recordRawCall(m.kernel, w, r, opts);
      last = statusOf(r);
      if (last === "TDX_INTERRUPTED_RESUMABLE") {
        expect(m.kernel.ledger.lent.size).toBe(20);
        expect(violations(m)).toBe("");
      } else regs.copyFrom(r);
    }
    expect(last).toBe("TDX_SUCCESS");
    const id = regs.lo(REG.RCX);
    expect([...m.kernel.ledger.donated].every(([, o]) => o === `iommu #${id}`)).toBe(true);
    expect(m.kernel.ledger.donated.size).toBe(20);
    expect(violations(m)).toBe("");
    const c = new Regs();
    c.set(REG.RAX, { lo: LEAF["TDH.IOMMU.CLEAR"], hi: 0 });
    c.set(REG.RCX, { lo: id, hi: 0 });
    c.set(REG.RDX, mt.operand);
    for (let i = 0; i < 20 && statusOf(c) !== "TDX_SUCCESS"; i++) {
      const r = c.clone();
      const w = r.w.slice();
      m.module.seamcall(r);
      recordRawCall(m.kernel, w, r, opts);
      if (statusOf(r) === "TDX_SUCCESS") c.copyFrom(r);
      expect(violations(m)).toBe("");
    }
    expect(m.kernel.ledger.donated.size).toBe(0);
  });

  it("a failed EXT.MEM.ADD donated the entries before FIRST_ENTRY (1.5 checks entry i in its loop); the refused rest stays the host's", () => {
    const m = machine({}, PLATFORM);
    const ps = pages(m, 2);
    const bad = listInfo(m, [ps[0]!.hpa, ps[1]!.hpa + 2 ** m.platform.keyIds.shift]);
    const r = new Regs();
    r.set(REG.RAX, { lo: LEAF["TDH.EXT.MEM.ADD"], hi: 0 });
    r.set(REG.RCX, bad);
    const w = r.w.slice();
    m.module.seamcall(r);
    recordRawCall(m.kernel, w, r, { iommuEntries: 18 });
    expect(statusOf(r)).toBe("TDX_OPERAND_INVALID(RCX)");
    expect(m.kernel.ledger.donated.get(ps[0]!.pfn)).toBe(EXT_POOL_OWNER);
    expect(m.kernel.ledger.donated.has(ps[1]!.pfn)).toBe(false);
    expect(m.kernel.ledger.stranded.size).toBe(0);
    expect(violations(m)).toBe("");
  });
});

describe("stranding", () => {
  it("stranding one page of a multi-page block strands the whole block (it can never be freed in part)", () => {
    const m = machine({}, PLATFORM);
    const block = m.alloc.allocPages(2, { tag: "test" })!;
    strandPages(m.kernel, [block.pfn + 1], "test: one tail page");
    for (let i = 0; i < 4; i++) expect(m.kernel.ledger.stranded.has(block.pfn + i), `page ${i}`).toBe(true);
    expect(m.kernel.ledger.strandReports.at(-1)!.pfns).toHaveLength(4);
    expect(violations(m)).toBe("");
  });
});

describe("destroy: the orders create recorded, or the kernel's read-at-destroy", () => {
  it("a block freed before destroy is still written back whole, unless the policy reads at destroy", () => {
    for (const [orders, want] of [
      ["recorded", 2],
      ["read-at-destroy", 1],
    ] as const) {
      const m = machine({ policy: { destroyOrders: orders } }, PLATFORM);
      const block = m.alloc.allocPages(1, { tag: "q" })!;
      const a = tdxPageArrayCreate(m.kernel, [block], 1)!;
      a.markFlushOnFree();
      m.alloc.freePages(block, 1);
      expect(tdxPageArrayDestroy(m.kernel, a).writeBacks, orders).toBe(want);
    }
  });
});

describe("the allocator tag of stranded pages", () => {
  it("is what conservation counts", () => {
    const m = machine({}, PLATFORM);
    const p = m.alloc.allocPage({ tag: "t" })!;
    strandPages(m.kernel, [p.pfn], "test");
    expect(m.alloc.tagOf(p.pfn)).toBe(STRANDED_TAG);
    expect(checkConservation(m).totals.stranded).toBe(1);
  });
});
