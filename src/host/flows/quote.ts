/**
 * The quote flow (docs/spec/02-kapi.md 2.5, the June 2026 series): read TDX_FEATURES0 bit 50 and
 * MAX_QUOTE_SIZE; create a TD (its TDR page), build a quote buffer of MAX_QUOTE_SIZE bytes with its
 * HPA_LINKED_LIST, TDH.QUOTE.GET (re-issued with the original inputs while interrupted), read the quote
 * back and check it; then free the buffer and the input page (never private) and reclaim the TDR
 * (TDH.PHYMEM.PAGE.RECLAIM, then PAGE.WBINVD under the global KeyID before it goes back to the
 * allocator). `fault` builds one of the wrong quote buffers the module must refuse.
 */
import { getBits, PAGE_SIZE } from "../../common/u64.js";
import { FEATURE_BITS } from "../../hw/platform.js";
import { type HostKernel, hpaWithKeyId, mapPageForRead, mapPageForWrite, strandPages } from "../kernel.js";
import { buildQuoteBuffer, freeQuoteBuffer, type QuoteBufferFault } from "../quote.js";
import {
  flushBeforeHandoff,
  mngCreate,
  ok,
  pageReclaim,
  pageWbinvd,
  quoteGet,
  sysRd,
} from "../seamcalls/index.js";
import { FlowRecorder, type FlowResult } from "./result.js";

/** Allocator tag of a TDR page. */
export const TDR_TAG = "tdx:tdr";
/** Allocator tag of the quote's input-data page. */
export const QUOTE_INPUT_TAG = "tdx:quote-input";
/** Bytes of input data (REPORTDATA) the flow asks to be quoted. */
export const QUOTE_INPUT_BYTES = 64;

/** Which wrong quote buffer to build (the wrong-host variants). */
export type QuoteFault = "none" | "loop" | "short" | "private-page";

/**
 * Runs the quote flow. The variants hand over a list that loops, a list naming fewer data pages than R11
 * says, or a list whose first data page is a private page (the TD's TDR through the TD's private KeyID).
 */
export function quoteFlow(k: HostKernel, fault: QuoteFault = "none"): FlowResult {
  const rec = new FlowRecorder(fault === "none" ? "quote" : `quote (${fault})`);
  const features = sysRd(k, "TDX_FEATURES0");
  if (!ok(features.status)) return rec.fail("TDH.SYS.RD TDX_FEATURES0", features.status);
  if (getBits(features.value.lo, features.value.hi, FEATURE_BITS.QUOTING, 1) === 0) {
    rec.details.skipped = "module does not advertise quoting (TDX_FEATURES0 bit 50)";
    return rec.ok();
  }
  const max = sysRd(k, "MAX_QUOTE_SIZE");
  if (!ok(max.status)) return rec.fail("TDH.SYS.RD MAX_QUOTE_SIZE", max.status);
  const size = max.value.lo;

  // The TD: guest KeyIDs follow the global one (as KVM allocates them).
  const tdr = k.alloc.allocPage({ tag: TDR_TAG, zero: true });
  if (tdr === null) return rec.fail("alloc TDR page", null);
  flushBeforeHandoff(k, [tdr.pfn]);
  const hkid = k.sysinfo.globalKeyId + 1;
  const created = mngCreate(k, tdr.pfn, hkid);
  if (!ok(created)) {
    k.alloc.freePages(tdr, 0);
    return rec.fail("TDH.MNG.CREATE", created);
  }
  k.ledger.donated.set(tdr.pfn, "TD");

  const input = k.alloc.allocPage({ tag: QUOTE_INPUT_TAG, zero: true });
  const faultSpec: QuoteBufferFault =
    fault === "loop"
      ? { loop: true }
      : fault === "short"
        ? { dataPages: Math.ceil(size / PAGE_SIZE) - 1 }
        : fault === "private-page"
          ? { replaceFirst: hpaWithKeyId(k, tdr.hpa, hkid) }
          : {};
  const buf = input === null ? null : buildQuoteBuffer(k, size, faultSpec);
  let result: FlowResult;
  if (input === null || buf === null) {
    result = rec.fail("alloc quote buffer", null);
  } else {
    const w = mapPageForWrite(k, input.pfn);
    for (let i = 0; i < QUOTE_INPUT_BYTES / 4; i++) w[i] = (0x5244_0000 | i) >>> 0; // "RD" + index
    rec.details.dataPages = buf.data.length;
    rec.details.listPages = buf.list.length;
    rec.details.pfnLookups = buf.pfnLookups;
    const r = quoteGet(k, tdr.hpa, input.hpa, QUOTE_INPUT_BYTES, buf);
    rec.interrupts += r.interrupts;
    rec.details.restarts = r.restarts;
    if (!ok(r.status)) {
      result = rec.fail("TDH.QUOTE.GET", r.status);
    } else {
      rec.details.quoteBytes = r.quoteBytes;
      const problem = checkQuote(k, buf.data, r.quoteBytes, mapPageForRead(k, input.pfn));
      result = problem === null ? rec.ok() : rec.fail(`quote read back: ${problem}`, null);
    }
    freeQuoteBuffer(k, buf);
  }
  if (input !== null) k.alloc.freePages(input, 0);

  // Teardown of the TD: reclaim the TDR, write it back under the global KeyID, free it.
  const reclaimed = pageReclaim(k, tdr.pfn);
  if (!ok(reclaimed)) {
    strandPages(k, [tdr.pfn], "TDH.PHYMEM.PAGE.RECLAIM of the TDR failed");
    rec.stranded++;
    return result.ok ? rec.fail("TDH.PHYMEM.PAGE.RECLAIM", reclaimed) : result;
  }
  k.ledger.donated.delete(tdr.pfn);
  const wb = pageWbinvd(k, tdr.pfn);
  if (!ok(wb)) {
    strandPages(k, [tdr.pfn], "PAGE.WBINVD of the TDR failed: caches may hold private lines");
    rec.stranded++;
    return result.ok ? rec.fail("TDH.PHYMEM.PAGE.WBINVD (TDR)", wb) : result;
  }
  k.alloc.freePages(tdr, 0);
  return result.ok ? rec.ok() : { ...result, strandedPages: rec.stranded };
}

/** Checks the quote the module wrote: magic, its own length field, and the input data echoed. */
function checkQuote(
  k: HostKernel,
  data: readonly { pfn: number }[],
  bytes: number,
  input: Uint8Array,
): string | null {
  const first = mapPageForRead(k, data[0]!.pfn);
  const magic = String.fromCharCode(...first.subarray(0, 8));
  if (magic !== "TDXQMODL") return `magic ${JSON.stringify(magic)}`;
  const len = new DataView(first.buffer, first.byteOffset).getUint32(36, true);
  if (len !== bytes) return `length field ${len}, RCX ${bytes}`;
  for (let i = 0; i < QUOTE_INPUT_BYTES; i++)
    if (first[48 + i] !== input[i]) return `input byte ${i} differs`;
  return null;
}
