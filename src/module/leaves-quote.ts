/**
 * DICE-based quoting (docs/spec/03-module.md 3.3, TDH.QUOTE.GET; the June 2026 series) and the minimal
 * TD life cycle it needs: TDH.MNG.CREATE makes a TDR page, TDH.PHYMEM.PAGE.RECLAIM gives it back (ledger
 * `td-minimal`). TDH.QUOTE.GET reads an HPA_LINKED_LIST of shared quote-buffer pages
 * (docs/spec/01-formats.md 1.3) and writes a model-defined quote into them (ledger `quote-content`):
 * interruptible, resumed with the original inputs, RCX out = the quote's length.
 */
import { readLinkedList } from "../common/formats.js";
import { LEAF, REG, STATUS } from "../common/status.js";
import { getBits, low52, PAGE_SIZE, pagesToBytes, type U64, u64FromNumber } from "../common/u64.js";
import { FEATURE_BITS } from "../hw/platform.js";
import { type CallContext, perModule, SUCCESS, st, type TdxModule } from "./emulator.js";
import { fail, type LeafTable, privatePageChecks } from "./leaf-table.js";
import { PT } from "./pamt.js";

/** The HKID each TD (by object id) was created with. */
const tdHkids = perModule(() => new Map<number, number>());

/** A plain page HPA in `reg` (bits 11:0 zero, below 2^52, KeyID 0), or null. */
function privateHpaIn(mod: TdxModule, c: CallContext, reg: number): number | null {
  const lo = c.regs.lo(reg);
  const hi = c.regs.hi(reg);
  if (getBits(lo, hi, 0, 12) !== 0 || getBits(lo, hi, 52, 12) !== 0) return null;
  const hpa = low52(lo, hi);
  return mod.keyIdOf(hpa) === 0 ? hpa : null;
}

/**
 * TDH.MNG.CREATE (9), minimal: RCX = TDR page PA (a private operand page, docs/spec/03-module.md 3.2),
 * RDX = HKID (bits 15:0, a private KeyID other than the global one; bits 63:16 reserved, else
 * OPERAND_INVALID RDX). The page becomes PT_TDR of a new TD, initialised through the global KeyID.
 */
function tdhMngCreate(mod: TdxModule, c: CallContext): U64 {
  const hkid = c.regs.lo(REG.RDX);
  if (
    c.regs.hi(REG.RDX) !== 0 ||
    hkid > 0xffff ||
    !mod.isPrivateKeyId(hkid) ||
    hkid === mod.platform.keyIds.global
  )
    return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
  const hpa = privateHpaIn(mod, c, REG.RCX);
  if (hpa === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const bad = mod.privatePageStatus(hpa, 1, REG.RCX);
  if (bad !== null) return bad;
  const td = mod.newObject("td", `TD (HKID ${hkid})`);
  mod.claimPage(hpa / PAGE_SIZE, PT.TDR, td);
  if (!mod.writePrivate(hpa / PAGE_SIZE, c.cause)) return st(STATUS.TDX_SYS_SHUTDOWN);
  td.state = "created";
  tdHkids(mod).set(td.id, hkid);
  c.units = 1;
  return SUCCESS;
}

/**
 * TDH.PHYMEM.PAGE.RECLAIM (28), minimal: RCX = page PA; in a TDMR, else OPERAND_ADDR_RANGE_ERROR; a
 * TDR page (the only kind the model reclaims), else PAGE_METADATA_INCORRECT; a TD with a quote in flight
 * → OPERAND_BUSY (RCX). The page returns to PT_NDA with its global-KeyID lines still cached, so the host
 * must write it back (PAGE.WBINVD) before reuse. Out RCX = page type, RDX = owner, R8 = level 0.
 */
function tdhPhymemPageReclaim(mod: TdxModule, c: CallContext): U64 {
  const hpa = privateHpaIn(mod, c, REG.RCX);
  if (hpa === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const pfn = hpa / PAGE_SIZE;
  if (!mod.pamt.inTdmr(pfn)) return st(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, REG.RCX);
  const owner = mod.pamt.owner(pfn);
  if (mod.pamt.type(pfn) !== PT.TDR || mod.objects.get(owner)?.kind !== "td")
    return st(STATUS.TDX_PAGE_METADATA_INCORRECT, REG.RCX);
  if (mod.resumables.has(quoteKey(hpa))) return st(STATUS.TDX_OPERAND_BUSY, REG.RCX);
  mod.releasePage(pfn);
  mod.dropObject(owner);
  tdHkids(mod).delete(owner);
  c.regs.set(REG.RCX, u64FromNumber(PT.TDR));
  c.regs.set(REG.RDX, u64FromNumber(owner));
  c.regs.set(REG.R8, u64FromNumber(0));
  c.units = 1;
  return SUCCESS;
}

// ---- TDH.QUOTE.GET ----------------------------------------------------------------------------------

/** Input registers of TDH.QUOTE.GET, compared on re-issue. */
const QUOTE_INPUTS = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10, REG.R11] as const;

/** Bytes of the model's quote header. */
export const QUOTE_HEADER_BYTES = 48;
/** Bytes of the model's certification data (a fixed pattern standing in for a DICE certificate chain). */
export const QUOTE_CERT_BYTES = 10_240;
/** Bytes of the model's closing digest (a non-cryptographic fold). */
export const QUOTE_DIGEST_BYTES = 32;
/** The header's first 8 bytes: "TDXQMODL" (a model quote, never a real one). */
export const QUOTE_MAGIC = "TDXQMODL";
/** Quote ids the model's module offers (bit i of RDX = quote id i). */
const QUOTE_ID_MASK = 0x1;

function quoteKey(tdrHpa: number): string {
  return `quote:${tdrHpa}`;
}

/** What an interrupted TDH.QUOTE.GET keeps: the quote it is writing and the data pages. */
interface QuoteProgress {
  readonly quote: Uint8Array;
  readonly dataPfns: number[];
}

/**
 * The model-defined quote (ledger `quote-content`): a 48-byte header (magic, version 1, quote id mask,
 * TDR PA, HKID, input length, certification data length, total length), the input data, the
 * certification data pattern, and a 32-byte fold of everything before it. No cryptography.
 */
export function buildModelQuote(a: {
  readonly idMask: number;
  readonly tdrHpa: number;
  readonly hkid: number;
  readonly input: Uint8Array;
}): Uint8Array {
  const total = QUOTE_HEADER_BYTES + a.input.length + QUOTE_CERT_BYTES + QUOTE_DIGEST_BYTES;
  const q = new Uint8Array(total);
  const dv = new DataView(q.buffer);
  for (let i = 0; i < 8; i++) q[i] = QUOTE_MAGIC.charCodeAt(i);
  dv.setUint16(8, 1, true);
  dv.setUint32(12, a.idMask >>> 0, true);
  dv.setUint32(16, a.tdrHpa % 2 ** 32, true);
  dv.setUint32(20, Math.floor(a.tdrHpa / 2 ** 32), true);
  dv.setUint32(24, a.hkid, true);
  dv.setUint32(28, a.input.length, true);
  dv.setUint32(32, QUOTE_CERT_BYTES, true);
  dv.setUint32(36, total, true);
  q.set(a.input, QUOTE_HEADER_BYTES);
  const cert = QUOTE_HEADER_BYTES + a.input.length;
  for (let i = 0; i < QUOTE_CERT_BYTES; i++) q[cert + i] = (i * 37 + 11) & 0xff;
  const d = total - QUOTE_DIGEST_BYTES;
  // Fold: each byte into one of the 32 digest bytes, mixed with its position (not cryptographic).
  for (let i = 0; i < d; i++) q[d + (i & 31)] = ((q[d + (i & 31)]! * 31) ^ q[i]! ^ (i >>> 5)) & 0xff;
  return q;
}

/**
 * TDH.QUOTE.GET (98): RCX = TDR PA, RDX = quote id mask, R8 = input data PA, R9 = its length, R10 =
 * HPA_LINKED_LIST head of the shared quote buffer, R11 = the buffer's length in bytes. Needs
 * TDX_FEATURES0 bit 50 (without it the leaf does not exist: OPERAND_INVALID RAX, ledger
 * `quote-feature-gate`). Checks, in order: RCX a TDR (OPERAND_INVALID / ADDR_RANGE_ERROR /
 * PAGE_METADATA_INCORRECT, RCX); RDX a non-empty subset of the offered ids (RDX); R8..R8+R9 inside one
 * shared page (R8), R9 ≥ 1 (R9); R11 in 1..MAX_QUOTE_SIZE (R11); the list: a valid shared head, no
 * loop, no more list pages than R11 needs, every entry NULL or a valid shared page (R10); its data pages
 * cover R11 and R11 holds the quote (R11) (ledger `quote-checks`). Then one data page of the quote per
 * unit of work, resumable with the original inputs. A call interrupted before it keeps anything returns
 * TDX_INTERRUPTED_RESTARTABLE.
 */
function tdhQuoteGet(mod: TdxModule, c: CallContext): U64 {
  if (!mod.platform.metadata.TDX_FEATURES0_BITS.includes(FEATURE_BITS.QUOTING))
    return st(STATUS.TDX_OPERAND_INVALID, REG.RAX);
  const tdrHpa = privateHpaIn(mod, c, REG.RCX);
  if (tdrHpa === null) return st(STATUS.TDX_OPERAND_INVALID, REG.RCX);
  const key = quoteKey(tdrHpa);
  const fresh = !mod.resumables.has(key);
  if (fresh && mod.interrupts.atEntry()) return st(STATUS.TDX_INTERRUPTED_RESTARTABLE);
  const f = mod.beginResumable(c, key, QUOTE_INPUTS);
  if (!("progress" in f)) return f;
  if (f.data === undefined) {
    const p = startQuote(mod, c, tdrHpa);
    if (!("quote" in p)) {
      mod.endResumable(f, key);
      return p;
    }
    f.data = p;
  }
  const { quote, dataPfns } = f.data as QuoteProgress;
  const pages = Math.ceil(quote.length / PAGE_SIZE);
  while (f.progress < pages) {
    const pfn = dataPfns[f.progress]!;
    const page = mod.mem.page(pfn);
    page.fill(0);
    page.set(quote.subarray(pagesToBytes(f.progress), (f.progress + 1) * PAGE_SIZE));
    mod.cache.moduleWrite(pfn, 0);
    f.progress++;
    c.units++;
    if (f.progress < pages && mod.interrupts.afterUnit()) return mod.interrupted(c, QUOTE_INPUTS);
  }
  mod.endResumable(f, key);
  c.regs.set(REG.RCX, u64FromNumber(quote.length));
  return SUCCESS;
}

/** The checks of a new TDH.QUOTE.GET and the quote it will write, or the failing status. */
function startQuote(mod: TdxModule, c: CallContext, tdrHpa: number): QuoteProgress | U64 {
  const tdrPfn = tdrHpa / PAGE_SIZE;
  if (!mod.pamt.inTdmr(tdrPfn)) return st(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, REG.RCX);
  const td = mod.objects.get(mod.pamt.owner(tdrPfn));
  if (mod.pamt.type(tdrPfn) !== PT.TDR || td?.kind !== "td")
    return st(STATUS.TDX_PAGE_METADATA_INCORRECT, REG.RCX);
  const mask = c.regs.lo(REG.RDX);
  if (c.regs.hi(REG.RDX) !== 0 || mask === 0 || (mask & ~QUOTE_ID_MASK) !== 0)
    return st(STATUS.TDX_OPERAND_INVALID, REG.RDX);
  // The input data: R9 bytes at R8, inside one shared page.
  const inLo = c.regs.lo(REG.R8);
  const inHi = c.regs.hi(REG.R8);
  if (inHi >>> 20 !== 0) return st(STATUS.TDX_OPERAND_INVALID, REG.R8);
  const inHpa = low52(inLo, inHi);
  const inPage = inHpa - (inHpa % PAGE_SIZE);
  if (
    mod.sharedPageProblem(inPage) !== null ||
    mod.keyIdOf(inHpa) !== 0 ||
    !mod.mem.contains(inPage / PAGE_SIZE)
  )
    return st(STATUS.TDX_OPERAND_INVALID, REG.R8);
  const inLen = c.regs.lo(REG.R9);
  if (c.regs.hi(REG.R9) !== 0 || inLen === 0 || (inHpa % PAGE_SIZE) + inLen > PAGE_SIZE)
    return st(STATUS.TDX_OPERAND_INVALID, REG.R9);
  const bufLen = c.regs.lo(REG.R11);
  if (c.regs.hi(REG.R11) !== 0 || bufLen === 0 || bufLen > mod.platform.metadata.MAX_QUOTE_SIZE)
    return st(STATUS.TDX_OPERAND_INVALID, REG.R11);
  // The HPA_LINKED_LIST (docs/spec/01-formats.md 1.3): walked no further than R11 needs.
  const headLo = c.regs.lo(REG.R10);
  const headHi = c.regs.hi(REG.R10);
  if (getBits(headLo, headHi, 0, 12) !== 0 || getBits(headLo, headHi, 52, 12) !== 0)
    return st(STATUS.TDX_OPERAND_INVALID, REG.R10);
  const shared = (hpa: number) =>
    mod.sharedPageProblem(hpa) === null && mod.keyIdOf(hpa) === 0 && mod.mem.contains(hpa / PAGE_SIZE);
  const head = low52(headLo, headHi);
  if (!shared(head)) return st(STATUS.TDX_OPERAND_INVALID, REG.R10);
  const needPages = Math.ceil(bufLen / PAGE_SIZE);
  const maxListPages = Math.ceil(needPages / 511);
  let badListPage = false;
  const list = readLinkedList(
    (listHpa, e) => {
      if (!shared(listHpa)) {
        badListPage = true;
        return { lo: 0xffff_ffff, hi: 0xffff_ffff };
      }
      const w = mod.mem.words(listHpa / PAGE_SIZE);
      return { lo: w[2 * e]!, hi: w[2 * e + 1]! };
    },
    head,
    maxListPages,
  );
  if (list.violation !== null || badListPage) return st(STATUS.TDX_OPERAND_INVALID, REG.R10);
  for (const d of list.dataHpas) if (!shared(d)) return st(STATUS.TDX_OPERAND_INVALID, REG.R10);
  if (list.dataHpas.length < needPages) return st(STATUS.TDX_OPERAND_INVALID, REG.R11);
  const input = mod.mem.page(inPage / PAGE_SIZE).slice(inHpa % PAGE_SIZE, (inHpa % PAGE_SIZE) + inLen);
  const quote = buildModelQuote({ idMask: mask, tdrHpa, hkid: tdHkids(mod).get(td.id) ?? 0, input });
  if (quote.length > bufLen) return st(STATUS.TDX_OPERAND_INVALID, REG.R11);
  return { quote, dataPfns: list.dataHpas.map((h) => h / PAGE_SIZE) };
}

/** The descriptors of this file's leaves (gathered by `leaves.ts`). */
export const QUOTE_LEAVES = {
  "TDH.MNG.CREATE": {
    name: "TDH.MNG.CREATE",
    number: LEAF["TDH.MNG.CREATE"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "hpa"],
      [REG.RDX, "u64"],
    ],
    outputs: [],
    // The TDR page checks (RCX), a bad HKID (RDX).
    fails: [...privatePageChecks(REG.RCX), fail("TDX_OPERAND_INVALID", REG.RDX)],
    resume: "uninterrupted",
    extensionQueue: false,
    run: tdhMngCreate,
    abort: null,
  },
  "TDH.PHYMEM.PAGE.RECLAIM": {
    name: "TDH.PHYMEM.PAGE.RECLAIM",
    number: LEAF["TDH.PHYMEM.PAGE.RECLAIM"],
    maxVersion: 0,
    inputs: [[REG.RCX, "hpa"]],
    outputs: [],
    // Reserved bits, outside every TDMR, not a TDR, a quote in flight.
    fails: [
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX),
      fail("TDX_PAGE_METADATA_INCORRECT", REG.RCX),
      fail("TDX_OPERAND_BUSY", REG.RCX),
    ],
    resume: "uninterrupted",
    extensionQueue: false,
    run: tdhPhymemPageReclaim,
    abort: null,
  },
  "TDH.QUOTE.GET": {
    name: "TDH.QUOTE.GET",
    number: LEAF["TDH.QUOTE.GET"],
    maxVersion: 0,
    inputs: [
      [REG.RCX, "hpa"],
      [REG.RDX, "u64"],
      [REG.R8, "hpa"],
      [REG.R9, "u64"],
      [REG.R10, "hpa"],
      [REG.R11, "u64"],
    ],
    outputs: [[REG.RCX, "u64"]],
    // Interruption (with or without progress), a changed re-issue, and the checks of ledger
    // `quote-checks` on every input register.
    fails: [
      fail("TDX_INTERRUPTED_RESUMABLE"),
      fail("TDX_INTERRUPTED_RESTARTABLE"),
      fail("TDX_INVALID_RESUMPTION"),
      fail("TDX_OPERAND_INVALID", REG.RCX),
      fail("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX),
      fail("TDX_PAGE_METADATA_INCORRECT", REG.RCX),
      fail("TDX_OPERAND_INVALID", REG.RDX),
      fail("TDX_OPERAND_INVALID", REG.R8),
      fail("TDX_OPERAND_INVALID", REG.R9),
      fail("TDX_OPERAND_INVALID", REG.R10),
      fail("TDX_OPERAND_INVALID", REG.R11),
    ],
    resume: "interruptible",
    extensionQueue: false,
    run: tdhQuoteGet,
    abort: null,
  },
} satisfies Partial<LeafTable>;
