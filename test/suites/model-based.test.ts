/**
 * Stateful model-based testing (fast-check `fc.commands` / `fc.modelRun`): random sequences of host
 * operations (allocate page sets and their descriptors, hand them over with TDH.EXT.MEM.ADD,
 * TDH.IOMMU.SETUP, TDH.SPDM.CREATE and TDH.IDE.STREAM.CREATE, connect sessions, release with
 * TDH.IOMMU.CLEAR / TDH.SPDM.DELETE / TDH.IDE.STREAM.DELETE, with injected release failures that strand
 * pages, re-issue a hand-over, change the interrupt schedule, destroy and free) checked after every step
 * against a small independent model of who holds each page: free, host-held, module-owned (by which
 * object) or stranded. The model is written here from docs/spec/02-kapi.md 2.2–2.6 and docs/spec/03-module.md 3.2–3.3, not
 * from the project's conservation code; the real state is read the way a host can (the allocator,
 * TDH.PHYMEM.PAGE.RDMD, the host's ledger), and checkConservation must hold too.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeHpaListInfo } from "../../src/common/formats.js";
import { isSuccessClass, LEAF, REG, STATUS } from "../../src/common/status.js";
import type { U64 } from "../../src/common/u64.js";
import { strandPages } from "../../src/host/kernel.js";
import type { Page } from "../../src/host/page.js";
import { type TdxPageArray, tdxPageArrayCreate, tdxPageArrayDestroy } from "../../src/host/page-array.js";
import {
  extMemAdd,
  ideStreamBlock,
  ideStreamCreate,
  ideStreamDelete,
  iommuClear,
  iommuSetup,
  ok,
  pageRdmd,
  spdmConnect,
  spdmCreate,
  spdmDelete,
  spdmDisconnect,
} from "../../src/host/seamcalls/index.js";
import { type SpdmChannel, selectiveStream, writeSpdmConf } from "../../src/host/spdm.js";
import { rootPortDevfn } from "../../src/hw/devices.js";
import type { Machine } from "../../src/machine.js";
import { PT } from "../../src/module/pamt.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { toBe, toEqual } from "../support/assert.js";
import { machine, platformWith } from "../support/machine.js";

// ---- the model ------------------------------------------------------------------------------------

type Kind = "ext" | "spdm" | "ide" | "iommu";
/** Where a page is: free in the allocator, held by the host, owned by a module object, stranded. */
type Place = "host" | `module:${string}` | "stranded";

interface SetModel {
  readonly kind: Kind;
  readonly pfns: number[];
  /** The module object holding it, or null. */
  owner: string | null;
  stranded: boolean;
  gone: boolean;
}

interface Model {
  readonly sets: SetModel[];
  readonly place: Map<number, Place>;
  poolUsed: number;
  readonly poolCap: number;
  /** Device index → session state. */
  readonly sessions: Map<number, { set: number; connected: boolean; streams: number }>;
  /** Stream key "port:slot" → set index and device. */
  readonly streams: Map<string, { set: number; device: number }>;
  /** IOMMU unit index → set index. */
  readonly units: Map<number, number>;
  /**
   * Objects whose release failed: the module still has them (a refused release changes nothing), the
   * host stranded their pages, so the device, slot or unit can never be used again.
   */
  readonly dead: Set<string>;
}

// ---- the real system ------------------------------------------------------------------------------

interface Real {
  readonly m: Machine;
  readonly pages: Page[][];
  readonly arrays: (TdxPageArray | null)[];
  readonly spdmIds: Map<number, U64>;
  readonly channels: Map<number, SpdmChannel>;
  readonly streamIds: Map<string, U64>;
  readonly iommuIds: Map<number, U64>;
}

const POOL_CAP = 48;
const PLATFORM = platformWith({ MEMORY_POOL_REQUIRED_PAGES: POOL_CAP });
const DEVICES = PLATFORM.devices!;
const PORT_OF = DEVICES.map((d) => PLATFORM.rootPorts!.findIndex((p) => p.name === d.rootPort));

type Cmd = fc.Command<Model, Real>;

function pfnsOf(pages: readonly Page[]): number[] {
  const out: number[] = [];
  for (const p of pages) for (let i = 0; i < p.nrPages; i++) out.push(p.pfn + i);
  return out;
}

/** Compares every tracked page's place with the real system, then the conservation check. */
function verify(model: Model, real: Real): void {
  const { m } = real;
  for (const [pfn, want] of model.place) {
    const md = pageRdmd(m.kernel, pfn);
    const owned = md.type !== PT.NDA;
    const where = () => `page 0x${(pfn * 4096).toString(16)}`;
    toBe(m.alloc.isFree(pfn), false, () => `${where()} free`);
    if (want === "stranded") {
      toBe(m.kernel.ledger.stranded.has(pfn), true, () => `${where()} stranded`);
    } else if (want === "host") {
      toBe(owned, false, () => `${where()} host-held, PAMT type ${md.type}`);
      toBe(m.kernel.ledger.donated.has(pfn), false, () => `${where()} not in donated`);
    } else {
      toBe(owned, true, () => `${where()} owned by ${want}`);
      toBe(m.kernel.ledger.donated.has(pfn), true, () => `${where()} donated`);
      // Which object: the one the model names, identified by the id its creating call returned.
      const obj = m.module.objects.get(md.owner);
      if (obj === undefined) expect(obj, `${where()} owner object ${md.owner}`).toBeDefined();
      const who = want.slice("module:".length);
      if (who === "ext-pool") toBe(obj!.kind, "ext-pool", () => `${where()} owner`);
      else toBe(md.owner, expectedOwnerId(real, who), () => `${where()} owned by ${who}`);
      toBe(obj!.pages.includes(pfn), true, () => `${where()} in ${obj!.name}'s page list`);
    }
  }
  const c = checkConservation(m);
  toEqual(c.violations, []);
  toEqual(m.cache.hazards, []);
  toEqual(m.module.reports, []);
  let modelOwned = 0;
  for (const p of model.place.values()) if (p.startsWith("module:")) modelOwned++;
  toBe(c.totals.moduleOwned, modelOwned);
}

/** The module object id of the model's owner `who` ("spdm 0", "ide 0:1", a unit name), from the ids the creating calls returned. */
function expectedOwnerId(real: Real, who: string): number | undefined {
  if (who.startsWith("spdm ")) return real.spdmIds.get(Number(who.slice(5)))?.lo;
  if (who.startsWith("ide ")) return real.streamIds.get(who.slice(4))?.lo;
  const unit = UNITS.findIndex((u) => u.name === who);
  return real.iommuIds.get(unit)?.lo;
}

function setPlace(model: Model, s: SetModel, p: Place): void {
  for (const pfn of s.pfns) model.place.set(pfn, p);
}

function donate(real: Real, pfns: readonly number[], who: string): void {
  for (const p of pfns) real.m.kernel.ledger.donated.set(p, who);
}

function undonate(real: Real, pfns: readonly number[]): void {
  for (const p of pfns) real.m.kernel.ledger.donated.delete(p);
}

/** Forces a failure on the next call of `leaf` (a release the module refuses). */
function injectFailure(real: Real, leaf: number): void {
  const nth = (real.m.module.callsByLeaf.get(leaf) ?? 0) + 1;
  real.m.module.forceStatus({ leaf, nth, status: { lo: REG.RDX, hi: STATUS.TDX_OPERAND_INVALID.hi } });
}

/** The failure policy (02-kapi.md 2.6): strand the pages and the root forever. */
function strand(model: Model, real: Real, i: number, why: string): void {
  const s = model.sets[i]!;
  strandPages(real.m.kernel, [...s.pfns, real.arrays[i]!.rootPage.pfn], why);
  s.stranded = true;
  s.owner = null;
  setPlace(model, s, "stranded");
}

// ---- commands -------------------------------------------------------------------------------------

class Alloc implements Cmd {
  constructor(
    readonly kind: Kind,
    readonly n: number,
  ) {}
  check = () => true;
  run(model: Model, real: Real): void {
    const { alloc } = real.m;
    const tag = `mbt:${this.kind}`;
    let pages: Page[];
    if (this.kind === "iommu") {
      pages = [alloc.allocPages(1, { tag, zero: true })!, alloc.allocPages(1, { tag, zero: true })!];
      pages.push(...alloc.allocPagesBulk(PLATFORM.metadata.IOMMU_MT_PAGE_COUNT, { tag, zero: true }));
    } else {
      const n =
        this.kind === "spdm"
          ? PLATFORM.metadata.SPDM_MT_PAGE_COUNT
          : this.kind === "ide"
            ? PLATFORM.metadata.IDE_MT_PAGE_COUNT
            : this.n;
      pages = alloc.allocPagesBulk(n, { tag, zero: true });
    }
    const array = tdxPageArrayCreate(real.m.kernel, pages, pages.length);
    expect(array).not.toBeNull();
    real.pages.push(pages);
    real.arrays.push(array);
    const s: SetModel = { kind: this.kind, pfns: pfnsOf(pages), owner: null, stranded: false, gone: false };
    model.sets.push(s);
    setPlace(model, s, "host");
    verify(model, real);
  }
  toString = () => `alloc ${this.kind}${this.kind === "ext" ? ` ${this.n}` : ""}`;
}

/** Picks the `pick`-th set of `kind` that is live, host-held and not handed over; -1 when none. */
function hostSet(model: Model, kind: Kind, pick: number): number {
  const c = model.sets.flatMap((s, i) =>
    s.kind === kind && !s.gone && !s.stranded && s.owner === null ? [i] : [],
  );
  return c.length === 0 ? -1 : c[pick % c.length]!;
}

class ExtAdd implements Cmd {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>) => hostSet(model as Model, "ext", this.pick) >= 0;
  run(model: Model, real: Real): void {
    const i = hostSet(model, "ext", this.pick);
    const s = model.sets[i]!;
    // The model: the pool takes pages until it holds poolCap, then refuses the rest with POOL_FULL.
    const take = Math.min(s.pfns.length, model.poolCap - model.poolUsed);
    const r = extMemAdd(real.m.kernel, real.arrays[i]!);
    // Success-class: TDX_SUCCESS or the pool-full status.
    expect(isSuccessClass(r.status)).toBe(true);
    const full = r.status.hi === STATUS.TDX_EXT_MEMORY_POOL_FULL.hi;
    expect(full).toBe(take < s.pfns.length);
    const next = decodeHpaListInfo(r.regs.lo(REG.RCX), r.regs.hi(REG.RCX)).fields.firstEntry;
    const added = full ? next : s.pfns.length;
    expect(added).toBe(take);
    // The host learns from FIRST_ENTRY which pages went; the rest stay its own.
    donate(real, s.pfns.slice(0, added), "extension memory pool");
    for (const pfn of s.pfns.slice(0, added)) model.place.set(pfn, "module:ext-pool");
    model.poolUsed += take;
    // Pool pages are never returned: the set is spent (its descriptor is destroyed, the rest freed).
    tdxPageArrayDestroy(real.m.kernel, real.arrays[i]!);
    const rest = real.pages[i]!.slice(added);
    for (const p of rest) real.m.alloc.freePages(p, p.order);
    for (const pfn of s.pfns.slice(added)) model.place.delete(pfn);
    s.owner = "ext-pool";
    s.gone = true;
    verify(model, real);
  }
  toString = () => `ext-mem-add #${this.pick}`;
}

class SpdmCreate implements Cmd {
  constructor(
    readonly pick: number,
    readonly device: number,
  ) {}
  check = (model: Readonly<Model>) => hostSet(model as Model, "spdm", this.pick) >= 0;
  run(model: Model, real: Real): void {
    const i = hostSet(model, "spdm", this.pick);
    const s = model.sets[i]!;
    const wantOk = !model.sessions.has(this.device) && !model.dead.has(`device ${this.device}`);
    const r = spdmCreate(real.m.kernel, DEVICES[this.device]!, real.arrays[i]!);
    expect(ok(r.status), `SPDM.CREATE device ${this.device}`).toBe(wantOk);
    if (wantOk) {
      real.spdmIds.set(this.device, r.regs.get(REG.RCX));
      const req = real.m.alloc.allocPage({ tag: "mbt:msg", zero: true })!;
      const rsp = real.m.alloc.allocPage({ tag: "mbt:msg", zero: true })!;
      const conf = real.m.alloc.allocPage({ tag: "mbt:msg", zero: true })!;
      writeSpdmConf(real.m.kernel, conf.pfn);
      real.channels.set(this.device, {
        device: DEVICES[this.device]!,
        requestPage: req,
        responsePage: rsp,
        confPage: conf,
      });
      donate(real, s.pfns, `spdm #${r.regs.lo(REG.RCX)}`);
      s.owner = `spdm ${this.device}`;
      setPlace(model, s, `module:${s.owner}`);
      model.sessions.set(this.device, { set: i, connected: false, streams: 0 });
    }
    verify(model, real);
  }
  toString = () => `spdm-create #${this.pick} device ${this.device}`;
}

class SpdmConnect implements Cmd {
  constructor(readonly device: number) {}
  check = (model: Readonly<Model>) => model.sessions.get(this.device)?.connected === false;
  run(model: Model, real: Real): void {
    const k = real.m.kernel;
    const info = real.m.alloc.allocPagesBulk(PLATFORM.metadata.SPDM_MAX_DEV_INFO_PAGES, {
      tag: "mbt:info",
      zero: true,
    });
    const array = tdxPageArrayCreate(k, info, info.length)!;
    const r = spdmConnect(k, real.channels.get(this.device)!, real.spdmIds.get(this.device)!, array);
    expect(ok(r.status)).toBe(true);
    tdxPageArrayDestroy(k, array);
    for (const p of info) real.m.alloc.freePages(p, 0);
    model.sessions.get(this.device)!.connected = true;
    verify(model, real);
  }
  toString = () => `spdm-connect device ${this.device}`;
}

class IdeCreate implements Cmd {
  constructor(
    readonly pick: number,
    readonly device: number,
  ) {}
  check = (model: Readonly<Model>) =>
    hostSet(model as Model, "ide", this.pick) >= 0 && model.sessions.has(this.device);
  run(model: Model, real: Real): void {
    const i = hostSet(model, "ide", this.pick);
    const s = model.sets[i]!;
    const port = PORT_OF[this.device]!;
    let slot = 0;
    while (model.streams.has(`${port}:${slot}`) || model.dead.has(`slot ${port}:${slot}`)) slot++;
    const session = model.sessions.get(this.device)!;
    const wantOk = session.connected && slot < PLATFORM.rootPorts![port]!.streamSlots;
    const r = ideStreamCreate(
      real.m.kernel,
      real.spdmIds.get(this.device)!,
      selectiveStream(DEVICES[this.device]!, rootPortDevfn(PLATFORM.rootPorts!, port)),
      real.arrays[i]!,
    );
    expect(ok(r.status), `IDE.STREAM.CREATE device ${this.device} slot ${slot}`).toBe(wantOk);
    if (wantOk) {
      // The module picks the lowest free stream register block of the port: the model's slot.
      expect(r.regs.lo(REG.RDX)).toBe(slot);
      const key = `${port}:${slot}`;
      real.streamIds.set(key, r.regs.get(REG.RCX));
      donate(real, s.pfns, `ide #${r.regs.lo(REG.RCX)}`);
      s.owner = `ide ${key}`;
      setPlace(model, s, `module:${s.owner}`);
      model.streams.set(key, { set: i, device: this.device });
      session.streams++;
    }
    verify(model, real);
  }
  toString = () => `ide-create #${this.pick} device ${this.device}`;
}

/** Release: the pages come back, or (injected failure) are stranded. Then destroy (write-back). */
function released(model: Model, real: Real, i: number, wentOk: boolean, why: string): void {
  const s = model.sets[i]!;
  if (!wentOk) {
    strand(model, real, i, why);
    return;
  }
  undonate(real, s.pfns);
  s.owner = null;
  setPlace(model, s, "host");
}

class IdeDelete implements Cmd {
  constructor(
    readonly pick: number,
    readonly fail: boolean,
  ) {}
  check = (model: Readonly<Model>) => model.streams.size > 0;
  run(model: Model, real: Real): void {
    const keys = [...model.streams.keys()];
    const key = keys[this.pick % keys.length]!;
    const st = model.streams.get(key)!;
    const id = real.streamIds.get(key)!;
    const spdmId = real.spdmIds.get(st.device)!;
    expect(ok(ideStreamBlock(real.m.kernel, spdmId, id).status)).toBe(true);
    if (this.fail) injectFailure(real, LEAF["TDH.IDE.STREAM.DELETE"]);
    const r = ideStreamDelete(real.m.kernel, spdmId, id, real.arrays[st.set]!);
    expect(ok(r.status)).toBe(!this.fail);
    released(model, real, st.set, !this.fail, `IDE.STREAM.DELETE ${key} failed`);
    model.streams.delete(key);
    if (this.fail) model.dead.add(`slot ${key}`);
    // A stranded stream stays attached to its session in the module: the session can never go.
    if (!this.fail) model.sessions.get(st.device)!.streams--;
    verify(model, real);
  }
  toString = () => `ide-delete #${this.pick}${this.fail ? " (fails)" : ""}`;
}

class SpdmDelete implements Cmd {
  constructor(
    readonly device: number,
    readonly fail: boolean,
  ) {}
  check = (model: Readonly<Model>) => model.sessions.get(this.device)?.streams === 0;
  run(model: Model, real: Real): void {
    const k = real.m.kernel;
    const ss = model.sessions.get(this.device)!;
    const ch = real.channels.get(this.device)!;
    const id = real.spdmIds.get(this.device)!;
    if (ss.connected) expect(ok(spdmDisconnect(k, ch, id).status)).toBe(true);
    if (this.fail) injectFailure(real, LEAF["TDH.SPDM.DELETE"]);
    const r = spdmDelete(k, id, real.arrays[ss.set]!);
    expect(ok(r.status)).toBe(!this.fail);
    released(model, real, ss.set, !this.fail, `SPDM.DELETE device ${this.device} failed`);
    real.m.alloc.freePages(ch.requestPage, 0);
    real.m.alloc.freePages(ch.responsePage, 0);
    real.m.alloc.freePages(ch.confPage!, 0);
    model.sessions.delete(this.device);
    if (this.fail) model.dead.add(`device ${this.device}`);
    verify(model, real);
  }
  toString = () => `spdm-delete device ${this.device}${this.fail ? " (fails)" : ""}`;
}

const UNITS = PLATFORM.iommus;

class IommuSetup implements Cmd {
  constructor(
    readonly pick: number,
    readonly unit: number,
  ) {}
  check = (model: Readonly<Model>) => hostSet(model as Model, "iommu", this.pick) >= 0;
  run(model: Model, real: Real): void {
    const i = hostSet(model, "iommu", this.pick);
    const s = model.sets[i]!;
    const u = UNITS[this.unit]!;
    const wantOk = u.tdxCapable && !model.units.has(this.unit) && !model.dead.has(`unit ${this.unit}`);
    const r = iommuSetup(real.m.kernel, u.regBase, real.arrays[i]!);
    expect(ok(r.status), `IOMMU.SETUP ${u.name}`).toBe(wantOk);
    if (wantOk) {
      real.iommuIds.set(this.unit, r.regs.get(REG.RCX));
      donate(real, s.pfns, `iommu #${r.regs.lo(REG.RCX)}`);
      s.owner = u.name;
      setPlace(model, s, `module:${u.name}`);
      model.units.set(this.unit, i);
    }
    verify(model, real);
  }
  toString = () => `iommu-setup #${this.pick} unit ${this.unit}`;
}

class IommuClear implements Cmd {
  constructor(
    readonly pick: number,
    readonly fail: boolean,
  ) {}
  check = (model: Readonly<Model>) => model.units.size > 0;
  run(model: Model, real: Real): void {
    const units = [...model.units.keys()];
    const u = units[this.pick % units.length]!;
    const i = model.units.get(u)!;
    if (this.fail) injectFailure(real, LEAF["TDH.IOMMU.CLEAR"]);
    const r = iommuClear(real.m.kernel, real.iommuIds.get(u)!, real.arrays[i]!);
    expect(ok(r.status)).toBe(!this.fail);
    released(model, real, i, !this.fail, `IOMMU.CLEAR ${u} failed`);
    model.units.delete(u);
    if (this.fail) model.dead.add(`unit ${u}`);
    verify(model, real);
  }
  toString = () => `iommu-clear #${this.pick}${this.fail ? " (fails)" : ""}`;
}

/** Re-issues a hand-over of pages the module already owns: refused, nothing changes. */
class Retry implements Cmd {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>) => model.sets.some((s) => s.owner !== null && !s.gone && s.kind !== "ext");
  run(model: Model, real: Real): void {
    const c = model.sets.flatMap((s, i) => (s.owner !== null && !s.gone && s.kind !== "ext" ? [i] : []));
    const i = c[this.pick % c.length]!;
    const s = model.sets[i]!;
    const k = real.m.kernel;
    const a = real.arrays[i]!;
    const st =
      s.kind === "iommu"
        ? iommuSetup(k, UNITS[[...model.units].find(([, x]) => x === i)![0]]!.regBase, a).status
        : s.kind === "spdm"
          ? spdmCreate(k, DEVICES[[...model.sessions].find(([, x]) => x.set === i)![0]]!, a).status
          : ideStreamCreate(k, { lo: 0xffff, hi: 0 }, selectiveStream(DEVICES[0]!, 0), a).status;
    expect(ok(st)).toBe(false);
    verify(model, real);
  }
  toString = () => `retry hand-over #${this.pick}`;
}

/** destroy (write-back when flagged) and free a host-held set. */
class DestroyFree implements Cmd {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>) => model.sets.some((s) => !s.gone && !s.stranded && s.owner === null);
  run(model: Model, real: Real): void {
    const c = model.sets.flatMap((s, i) => (!s.gone && !s.stranded && s.owner === null ? [i] : []));
    const i = c[this.pick % c.length]!;
    const s = model.sets[i]!;
    const d = tdxPageArrayDestroy(real.m.kernel, real.arrays[i]!);
    expect(d.failedPfns).toEqual([]);
    for (const p of real.pages[i]!) real.m.alloc.freePages(p, p.order);
    for (const pfn of s.pfns) {
      toBe(real.m.alloc.isFree(pfn), true);
      model.place.delete(pfn);
    }
    s.gone = true;
    verify(model, real);
  }
  toString = () => `destroy+free #${this.pick}`;
}

class Interrupts implements Cmd {
  constructor(readonly k: number) {}
  check = () => true;
  run(model: Model, real: Real): void {
    real.m.module.setInterrupts(
      this.k === 0
        ? { kind: "none" }
        : this.k > 8
          ? { kind: "random", p: 0.3, seed: this.k }
          : { kind: "every", k: this.k },
    );
    verify(model, real);
  }
  toString = () => `interrupts ${this.k}`;
}

const pick = fc.nat({ max: 7 });
const device = fc.integer({ min: 0, max: DEVICES.length - 1 });
const alloc = fc
  .constantFrom<Kind>("ext", "spdm", "ide", "iommu")
  .chain((k) => fc.integer({ min: 1, max: 40 }).map((n) => new Alloc(k, n)));
const COMMANDS = [
  alloc,
  alloc,
  alloc,
  pick.map((p) => new ExtAdd(p)),
  fc.tuple(pick, device).map(([p, d]) => new SpdmCreate(p, d)),
  device.map((d) => new SpdmConnect(d)),
  fc.tuple(pick, device).map(([p, d]) => new IdeCreate(p, d)),
  fc.tuple(pick, fc.boolean()).map(([p, f]) => new IdeDelete(p, f)),
  fc.tuple(device, fc.boolean()).map(([d, f]) => new SpdmDelete(d, f)),
  fc.tuple(pick, fc.integer({ min: 0, max: UNITS.length - 1 })).map(([p, u]) => new IommuSetup(p, u)),
  fc.tuple(pick, fc.boolean()).map(([p, f]) => new IommuClear(p, f)),
  pick.map((p) => new Retry(p)),
  pick.map((p) => new DestroyFree(p)),
  fc.integer({ min: 0, max: 12 }).map((k) => new Interrupts(k)),
] as fc.Arbitrary<Cmd>[];

function setup(): { model: Model; real: Real } {
  return {
    model: {
      sets: [],
      place: new Map(),
      poolUsed: 0,
      poolCap: POOL_CAP,
      sessions: new Map(),
      streams: new Map(),
      units: new Map(),
      dead: new Set(),
    },
    real: {
      m: machine({}, PLATFORM),
      pages: [],
      arrays: [],
      spdmIds: new Map(),
      channels: new Map(),
      streamIds: new Map(),
      iommuIds: new Map(),
    },
  };
}

describe("model-based: the host's page hand-offs against an independent ownership model", () => {
  it("random sequences of host operations keep every page where the model says (300 sequences)", () => {
    let steps = 0;
    let released = 0;
    fc.assert(
      fc.property(fc.commands(COMMANDS, { maxCommands: 60, size: "large" }), (cmds) => {
        const s = setup();
        fc.modelRun(() => s, cmds);
        steps += [...cmds].length;
        released += s.real.m.module.pageCounts.released;
      }),
      { numRuns: 300, seed: 20260401 },
    );
    expect(steps).toBeGreaterThan(3000);
    expect(released).toBeGreaterThan(0);
  });

  it("a fixed sequence through every operation, including stranding", () => {
    const s = setup();
    const cmds: Cmd[] = [
      new Alloc("ext", 40),
      new ExtAdd(0),
      new Alloc("ext", 20),
      new ExtAdd(0),
      new Alloc("spdm", 0),
      new SpdmCreate(0, 0),
      new SpdmConnect(0),
      new Alloc("ide", 0),
      new IdeCreate(0, 0),
      new Retry(0),
      new Interrupts(1),
      new Alloc("iommu", 0),
      new IommuSetup(0, 0),
      new IommuSetup(0, 2),
      new IommuClear(0, false),
      new IdeDelete(0, false),
      new SpdmDelete(0, true),
      new DestroyFree(0),
      new DestroyFree(0),
    ];
    for (const c of cmds) if (c.check(s.model)) c.run(s.model, s.real);
    expect(s.model.poolUsed).toBe(POOL_CAP);
    expect([...s.model.place.values()].filter((p) => p === "stranded").length).toBe(
      PLATFORM.metadata.SPDM_MT_PAGE_COUNT,
    );
    expect(s.real.m.kernel.ledger.strandReports).toHaveLength(1);
  });
});
