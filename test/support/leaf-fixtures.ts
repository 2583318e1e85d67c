/**
 * Machine states the leaf rows need beyond a fresh machine, reached through the host flows of
 * `src/host/` (then the row issues its one raw call): SPDM sessions created or connected, IDE streams
 * keyed or blocked, an exchange in flight holding the extension slot, a TD with a quote buffer.
 */
import { expect } from "vitest";
import { encodeHpaArray } from "../../src/common/formats.js";
import { REG, statusText } from "../../src/common/status.js";
import { type U64, U64_ONES, u64FromNumber } from "../../src/common/u64.js";
import { type IdeStreamRecord, ideStreamSetup } from "../../src/host/flows/ide.js";
import { type SpdmSessionRecord, spdmSessionConnect } from "../../src/host/flows/spdm.js";
import type { Page } from "../../src/host/page.js";
import { buildQuoteBuffer, type QuoteBuffer } from "../../src/host/quote.js";
import { streamCreateRegs } from "../../src/host/seamcalls/ide.js";
import { mngCreate } from "../../src/host/seamcalls/quote.js";
import {
  forwardToDevice,
  functionId,
  type SpdmChannel,
  selectiveStream,
  writeSpdmConf,
} from "../../src/host/spdm.js";
import type { PcieDeviceSpec } from "../../src/hw/devices.js";
import type { Machine, MachineOptions } from "../../src/machine.js";
import { call, hpa, machine, pages, platformWith, rootWith } from "./machine.js";

/** A machine on the default platform with a small extension pool (SPDM/IDE rows need no full pool). */
export const connectMachine = (opts: MachineOptions = {}) =>
  machine(opts, platformWith({ MEMORY_POOL_REQUIRED_PAGES: 512 }));

/** Device `i` of the platform. */
export const device = (m: Machine, i = 0): PcieDeviceSpec => m.platform.devices![i]!;

/** A status's text, checked to be `want` (for the calls a fixture makes). */
function expectStatus(r: { get(reg: number): U64 }, want: string): void {
  expect(statusText(r.get(REG.RAX))).toBe(want);
}

/**
 * An HPA_ARRAY_T of `n` fresh pages (singleton when 1), or of the given page HPAs (entries written raw:
 * a misaligned HPA sets the entry's reserved bits 11:0).
 */
export function hpaArray(m: Machine, n: number, hpas?: readonly number[]) {
  const ps = hpas === undefined ? pages(m, n, "t") : [];
  const list = hpas ?? ps.map((p) => p.hpa);
  const operand =
    list.length === 1
      ? encodeHpaArray({ count: 1, pageHpa: list[0]! })
      : encodeHpaArray({
          count: list.length,
          rootHpa: rootWith(
            m,
            list.map((h) => hpa(h)),
          ),
        });
  return { operand, pages: ps };
}

/** A session of device `i` made by a raw TDH.SPDM.CREATE (state created). */
export function createdSession(m: Machine, i = 0) {
  const a = hpaArray(m, m.platform.metadata.SPDM_MT_PAGE_COUNT);
  const r = call(m, "TDH.SPDM.CREATE", { [REG.RCX]: functionId(device(m, i)), [REG.RDX]: a.operand });
  expectStatus(r, "TDX_SUCCESS");
  return { id: r.get(REG.RCX), ...a };
}

/** A session of device `i` connected by the host flow (`spdmSessionConnect`). */
export function connectedSession(m: Machine, i = 0): SpdmSessionRecord {
  const c = spdmSessionConnect(m.kernel, device(m, i));
  expect(c.result.ok).toBe(true);
  return c.session!;
}

/** A keyed IDE stream of `s` through its device's first root port (the host flow `ideStreamSetup`). */
export function keyedStream(m: Machine, s: SpdmSessionRecord): IdeStreamRecord {
  const st = ideStreamSetup(m.kernel, s, m.platform.rootPorts!, 0);
  expect(st.result.ok).toBe(true);
  return st.stream!;
}

/** Fresh request, response and spdm_conf pages (the host's spdm_conf written) for raw exchange calls. */
export function channelFor(m: Machine, i = 0): SpdmChannel {
  const [req, rsp, conf] = pages(m, 3, "msg") as [Page, Page, Page];
  writeSpdmConf(m.kernel, conf.pfn);
  return { device: device(m, i), requestPage: req, responsePage: rsp, confPage: conf };
}

/** TDH.SPDM.CONNECT's inputs for session `id` over `ch`, with a fresh 4-page device-info buffer. */
export function connectRegs(m: Machine, id: U64, ch: SpdmChannel): Record<number, U64> {
  return {
    [REG.RCX]: id,
    [REG.RDX]: hpa(ch.confPage!.hpa),
    [REG.R8]: hpa(ch.responsePage.hpa),
    [REG.R9]: hpa(ch.requestPage.hpa),
    [REG.R10]: hpaArray(m, m.platform.metadata.SPDM_MAX_DEV_INFO_PAGES).operand,
  };
}

/** What the exchange leaves' inputs need of a session: its id and its channel's pages. */
export type SessionRegs = Pick<SpdmSessionRecord, "spdmId" | "channel">;

/** TDH.SPDM.DISCONNECT's inputs for a session (RDX response, R8 request). */
export function disconnectRegs(s: SessionRegs): Record<number, U64> {
  return {
    [REG.RCX]: s.spdmId,
    [REG.RDX]: hpa(s.channel.responsePage.hpa),
    [REG.R8]: hpa(s.channel.requestPage.hpa),
  };
}

/** TDH.SPDM.MNG's inputs (RDX op, R8 param −1, R9 response, R10 request, R11 −1). */
export function mngRegs(s: SessionRegs, op: number): Record<number, U64> {
  return {
    [REG.RCX]: s.spdmId,
    [REG.RDX]: u64FromNumber(op),
    [REG.R8]: U64_ONES,
    [REG.R9]: hpa(s.channel.responsePage.hpa),
    [REG.R10]: hpa(s.channel.requestPage.hpa),
    [REG.R11]: U64_ONES,
  };
}

/** TDH.IDE.STREAM.KM's inputs (R8 op, R9 response, R10 request). */
export function kmRegs(s: SessionRegs, stream: IdeStreamRecord, op: number): Record<number, U64> {
  return {
    [REG.RCX]: s.spdmId,
    [REG.RDX]: stream.streamId,
    [REG.R8]: u64FromNumber(op),
    [REG.R9]: hpa(s.channel.responsePage.hpa),
    [REG.R10]: hpa(s.channel.requestPage.hpa),
  };
}

/**
 * TDH.IDE.STREAM.CREATE's inputs for a selective stream of `s` through root port 0 (the host's
 * `selectiveStream`), with a fresh IDE_MT array unless `array` is given; `over` replaces registers.
 */
export function streamCreateInputs(
  m: Machine,
  spdmId: U64,
  over: Record<number, U64> = {},
  array?: U64,
): Record<number, U64> {
  const good = selectiveStream(device(m), m.platform.rootPorts![0]!.devfn!);
  const a = array ?? hpaArray(m, m.platform.metadata.IDE_MT_PAGE_COUNT).operand;
  return { ...streamCreateRegs(spdmId, good, a), ...over };
}

/**
 * Issues a raw extension call that answers TDX_SPDM_REQUEST, then forwards the request to the device as
 * the host does: the call is in flight, holding the extension slot, and its re-issue with the same
 * inputs takes the device's answer.
 */
export function exchangeInFlight(
  m: Machine,
  leaf: "TDH.SPDM.CONNECT" | "TDH.SPDM.DISCONNECT" | "TDH.SPDM.MNG" | "TDH.IDE.STREAM.KM",
  inputs: Record<number, U64>,
  ch: SpdmChannel,
): void {
  const r = call(m, leaf, inputs);
  expectStatus(r, "TDX_SPDM_REQUEST");
  forwardToDevice(m.kernel, ch, r.lo(REG.RCX));
}

/** The extension slot held by a CONNECT of device 2's session in flight (another extension call is BUSY). */
export function slotHeldByConnect(m: Machine): void {
  const s = createdSession(m, 2);
  const ch = channelFor(m, 2);
  exchangeInFlight(m, "TDH.SPDM.CONNECT", connectRegs(m, s.id, ch), ch);
  expect(m.module.extSlot).not.toBeNull();
}

/** A TD, an input page of 64 bytes and a quote buffer of `bytes`: the registers of a TDH.QUOTE.GET. */
export function quoteSetup(m: Machine, bytes = 64 * 1024) {
  const tdr = m.alloc.allocPage({ tag: "tdr", zero: true })!;
  expect(mngCreate(m.kernel, tdr.pfn, m.platform.keyIds.global + 1)).toEqual({ lo: 0, hi: 0 });
  const input = m.alloc.allocPage({ tag: "in", zero: true })!;
  m.mem.page(input.pfn).fill(0xa5, 0, 64);
  const buf: QuoteBuffer = buildQuoteBuffer(m.kernel, bytes)!;
  const regs: Record<number, U64> = {
    [REG.RCX]: hpa(tdr.hpa),
    [REG.RDX]: { lo: 1, hi: 0 },
    [REG.R8]: hpa(input.hpa),
    [REG.R9]: { lo: 64, hi: 0 },
    [REG.R10]: hpa(buf.list[0]!.hpa),
    [REG.R11]: { lo: bytes, hi: 0 },
  };
  return { tdr, input, buf, regs };
}

/**
 * The input registers as an interrupted call returns them with the default behaviour
 * `clobberInputsOnInterrupt` (emulator `interrupted`): overwritten with a marker naming the call.
 */
export function clobbered(m: Machine, regs: readonly number[]): Record<number, U64> {
  const seq = m.module.seq;
  return Object.fromEntries(
    regs.map((r) => [r, { lo: (0xdead_0000 | (seq % 0x1_0000)) >>> 0, hi: 0xc10b_b3d0 }]),
  );
}
