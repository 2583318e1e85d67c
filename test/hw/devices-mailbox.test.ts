/**
 * src/hw/devices.ts answers SPDM requests through the DOE mailbox without intermediate copies, and keeps
 * one read-only copy of each device's measurement record: a differential test of the mailbox against
 * the composition it stands for (wrap of the responder's answer to the unwrapped request), over every
 * request the responder knows and malformed ones, and checks that the cached device data is never
 * handed out.
 */
import { describe, expect, it } from "vitest";
import {
  certChainOf,
  defaultDevices,
  deviceInfoOf,
  doeExchange,
  doeUnwrap,
  doeWrap,
  IDE_KM,
  measurementRecordOf,
  type PcieDeviceSpec,
  SPDM,
  SPDM_VERSION,
  spdmRespond,
} from "../../src/hw/devices.js";

const V = SPDM_VERSION.V12;

/** What the mailbox answers to a data object it cannot read: ERROR InvalidRequest. */
const INVALID_REQUEST = Uint8Array.of(V, SPDM.ERROR, 0x01, 0);

/** IDE_KM object `object` in a VENDOR_DEFINED_REQUEST with the PCI-SIG standard id. */
function km(object: number): number[] {
  return [V, SPDM.VENDOR_DEFINED_REQUEST, 0, 0, 0x03, 0x00, 0x00, 0x02, 0x00, IDE_KM.PROTOCOL_ID, object];
}

/** Requests, valid and not, as raw SPDM messages. */
const REQUESTS: readonly (readonly number[])[] = [
  [SPDM_VERSION.V10, SPDM.GET_VERSION, 0, 0],
  [V, SPDM.GET_CAPABILITIES, 0, 0],
  [V, SPDM.NEGOTIATE_ALGORITHMS, 0, 0],
  [V, SPDM.GET_DIGESTS, 0, 0],
  [V, SPDM.GET_CERTIFICATE, 0, 0, 0, 0, 0x00, 0x04],
  [V, SPDM.GET_CERTIFICATE, 0, 0, 0x00, 0x02, 0x00, 0x04],
  [V, SPDM.GET_CERTIFICATE, 0, 0, 0x01, 0x00, 0x03, 0x00],
  [V, SPDM.GET_CERTIFICATE, 0, 0, 0xff, 0xff, 0x10, 0x00],
  [V, SPDM.GET_CERTIFICATE, 1, 0, 0, 0, 0x10, 0x00],
  [V, SPDM.GET_CERTIFICATE, 0, 0],
  [V, SPDM.CHALLENGE, 0, 0],
  [V, SPDM.GET_MEASUREMENTS, 0, 0xff],
  [V, SPDM.KEY_EXCHANGE, 0, 0],
  [V, SPDM.FINISH, 0, 0],
  [V, SPDM.HEARTBEAT, 0, 0],
  [V, SPDM.KEY_UPDATE, 1, 7],
  [V, SPDM.END_SESSION, 0, 0],
  km(IDE_KM.KEY_PROG),
  km(IDE_KM.K_SET_GO),
  km(IDE_KM.K_SET_STOP),
  km(0x7e),
  [V, 0x99, 0, 0],
  [SPDM_VERSION.V10, SPDM.GET_CAPABILITIES, 0, 0],
  [V, SPDM.GET_VERSION, 0, 0],
  [V, 0x81],
  [],
];

describe("the DOE mailbox answers as the responder does", () => {
  const devices: PcieDeviceSpec[] = defaultDevices();

  it("every request: the mailbox's data object is the wrapped answer to the unwrapped request", () => {
    let checked = 0;
    for (const d of devices) {
      for (const r of REQUESTS) {
        // Lengths that are and are not whole DWs, with padding after the message.
        for (const pad of [0, 1, 3, 5]) {
          const req = Uint8Array.from([...r, ...new Array(pad).fill(0)]);
          const obj = doeWrap(req);
          const unwrapped = doeUnwrap(obj);
          const answer = unwrapped === null ? INVALID_REQUEST : spdmRespond(d, unwrapped);
          const want = doeWrap(answer);
          expect(Array.from(doeExchange(d, obj))).toEqual(Array.from(want));
          checked++;
        }
      }
    }
    expect(checked).toBe(devices.length * REQUESTS.length * 4);
  });

  it("certificate portions and measurements carry the device's own bytes where DSP0274 puts them", () => {
    for (const d of devices) {
      const chain = certChainOf(d);
      for (const [off, want] of [
        [0, 16],
        [5, 1024],
        [chain.length - 3, 64],
      ] as const) {
        const rsp = spdmRespond(
          d,
          Uint8Array.of(V, SPDM.GET_CERTIFICATE, 0, 0, off & 0xff, off >>> 8, want & 0xff, want >>> 8),
        );
        const len = Math.min(want, 1024, chain.length - off);
        expect(rsp.length).toBe(8 + len);
        expect(rsp[4]! | (rsp[5]! << 8)).toBe(len);
        expect(rsp[6]! | (rsp[7]! << 8)).toBe(chain.length - off - len);
        expect(Array.from(rsp.subarray(8))).toEqual(Array.from(chain.subarray(off, off + len)));
      }
      const rec = measurementRecordOf(d);
      const m = spdmRespond(d, Uint8Array.of(V, SPDM.GET_MEASUREMENTS, 0, 0xff));
      expect(m[4]).toBe(d.spdm.measurements.length);
      expect(m[5]! | (m[6]! << 8) | (m[7]! << 16)).toBe(rec.length);
      expect(Array.from(m.subarray(8))).toEqual(Array.from(rec));
    }
  });

  it("a data object the mailbox cannot read gets an InvalidRequest ERROR, wrapped", () => {
    const error = doeWrap(INVALID_REQUEST);
    const good = doeWrap(Uint8Array.of(V, SPDM.GET_DIGESTS, 0, 0));
    const badVendor = good.slice();
    badVendor[0] = 0x02;
    const badLength = good.slice();
    badLength[4] = 2; // below 3 DWs
    const tooLong = good.slice();
    tooLong[4] = 0xff; // beyond the object
    for (const obj of [new Uint8Array(8), badVendor, badLength, tooLong])
      expect(Array.from(doeExchange(devices[0]!, obj))).toEqual(Array.from(error));
  });

  it("the mailbox reads the request in place and changes nothing in it", () => {
    const obj = doeWrap(Uint8Array.of(V, SPDM.GET_CERTIFICATE, 0, 0, 0, 0, 0x00, 0x01));
    const before = obj.slice();
    const answer = doeExchange(devices[0]!, obj);
    expect(Array.from(obj)).toEqual(Array.from(before));
    expect(answer.buffer).not.toBe(obj.buffer);
  });
});

describe("device data is generated once and never handed out", () => {
  const d = defaultDevices()[0]!;

  it("the measurement record is a fresh copy each time", () => {
    const first = measurementRecordOf(d);
    const copy = first.slice();
    first.fill(0xee);
    expect(Array.from(measurementRecordOf(d))).toEqual(Array.from(copy));
    expect(measurementRecordOf(d)).not.toBe(measurementRecordOf(d));
  });

  it("device info is the chain and the record, each with its length, for the device's own values", () => {
    const other: PcieDeviceSpec = {
      ...d,
      spdm: {
        ...d.spdm,
        measurements: d.spdm.measurements.map((m, i) => (i === 0 ? { ...m, seed: `${m.seed}!` } : m)),
      },
    };
    for (const dev of [d, other, d]) {
      const info = deviceInfoOf(dev);
      const cert = certChainOf(dev);
      const rec = measurementRecordOf(dev);
      const want = new Uint8Array(8 + cert.length + rec.length);
      new DataView(want.buffer).setUint32(0, cert.length, true);
      want.set(cert, 4);
      new DataView(want.buffer).setUint32(4 + cert.length, rec.length, true);
      want.set(rec, 8 + cert.length);
      expect(Array.from(info)).toEqual(Array.from(want));
      info.fill(0);
    }
    expect(Array.from(measurementRecordOf(other))).not.toEqual(Array.from(measurementRecordOf(d)));
  });
});
