/**
 * PCIe devices and root ports of the simulated platform (docs/spec/03-module.md 3.6): each device has a DOE
 * mailbox (PCIe 6.0 6.30) behind which sits an SPDM 1.2 responder (DMTF DSP0274) that answers from the
 * device's own data (certificate chain, measurement blocks, capabilities); each root port has a number of
 * IDE stream slots.
 *
 * This is hardware: the module never calls it, the host reaches it only through {@link doeExchange}
 * (the host driver writing a data object to the DOE mailbox and reading the answer), and the model reads
 * the device data to check what the module reported.
 *
 * The responder does **no cryptography** (ledger `spdm-no-crypto`): digests, signatures and key exchange
 * payloads are fixed-size fields filled with a non-cryptographic fold of the data, so messages have real
 * headers, real codes and real lengths, and carry the device's real payloads where the spec puts them.
 * Device data is JSON-friendly: byte strings are generated deterministically from seed strings.
 */
import { rangeError, stateError, typeError } from "../common/errors.js";
import { xorshift32 } from "../common/rng.js";
import { PAGE_SIZE } from "../common/u64.js";

/** One measurement block a device reports (GET_MEASUREMENTS). */
export interface MeasurementSpec {
  /** Measurement index, 1..0xFE. */
  readonly index: number;
  /** Seed of the measurement value bytes. */
  readonly seed: string;
  /** Length of the value, 1..256 bytes. */
  readonly bytes: number;
}

/** A device's SPDM responder data. */
export interface SpdmResponderSpec {
  /** CAPABILITIES flags (DSP0274 table 11), as a u32. */
  readonly capabilities: number;
  /** Seed of the certificate chain bytes (slot 0). */
  readonly certChainSeed: string;
  /** Length of the certificate chain, 16..8192 bytes. */
  readonly certChainBytes: number;
  /** Measurement blocks, 1..16. */
  readonly measurements: readonly MeasurementSpec[];
}

/** A PCIe function with a DOE mailbox and an SPDM responder. */
export interface PcieDeviceSpec {
  readonly name: string;
  /** Requester id: bus << 8 | device << 3 | function. */
  readonly requesterId: number;
  /** PCI segment, 0..255. */
  readonly segment: number;
  /** Name of the root port the device sits behind. */
  readonly rootPort: string;
  readonly spdm: SpdmResponderSpec;
}

/** A PCIe root port with IDE stream slots. */
export interface RootPortSpec {
  readonly name: string;
  /** Number of IDE stream slots, 1..256. */
  readonly streamSlots: number;
  /**
   * Device and function number of the port (device << 3 | function), 0..255: what the host puts in
   * bits 7:0 of TDH.IDE.STREAM.CREATE's stream_info. Absent: see {@link rootPortDevfn}.
   */
  readonly devfn?: number;
}

/** The devfn of root port `i` of `ports`: its own, else device i + 1, function 0 ((i + 1) << 3). */
export function rootPortDevfn(ports: readonly RootPortSpec[], i: number): number {
  return ports[i]?.devfn ?? ((i + 1) << 3) & 0xff;
}

/** Requester id from bus, device and function numbers. */
export function requesterId(bus: number, dev: number, fn: number): number {
  return ((bus & 0xff) << 8) | ((dev & 0x1f) << 3) | (fn & 7);
}

// ---------------------------------------------------------------------------------------------------
// Deterministic device data

/** FNV-1a of a string: the seed of a byte generator (not cryptographic). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x0100_0193) >>> 0;
  }
  return h || 1;
}

/** `n` bytes generated from `seed` by xorshift32: replayable, not random, not secret. */
export function seededBytes(seed: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = fnv1a(seed);
  for (let i = 0; i < n; i++) {
    x = xorshift32(x);
    out[i] = x & 0xff;
  }
  return out;
}

/** The device's certificate chain (slot 0). */
export function certChainOf(d: PcieDeviceSpec): Uint8Array {
  return seededBytes(d.spdm.certChainSeed, d.spdm.certChainBytes);
}

/**
 * The responder's read-only view of a chain and its digest, by seed and length: the same bytes
 * {@link certChainOf} and `fold48` of it give, generated once per chain instead of once per SPDM message
 * (a comparison's fault runs exchange thousands). Never handed out: the responder copies from them.
 */
const chainCache = new Map<string, { readonly chain: Uint8Array; readonly digest: Uint8Array }>();

function chainOf(d: PcieDeviceSpec): { readonly chain: Uint8Array; readonly digest: Uint8Array } {
  const key = `${d.spdm.certChainBytes}:${d.spdm.certChainSeed}`;
  let c = chainCache.get(key);
  if (c === undefined) {
    if (chainCache.size >= 64) chainCache.clear(); // bounded: generated platforms may name many seeds
    const chain = certChainOf(d);
    c = { chain, digest: fold48(chain) };
    chainCache.set(key, c);
  }
  return c;
}

/**
 * The device's measurement record as MEASUREMENTS carries it (DSP0274 10.11): per block Index (1),
 * MeasurementSpecification (1, DMTF = 0x01), MeasurementSize (2), then the DMTF measurement: type (1,
 * 0x01 firmware), value size (2), value.
 */
export function measurementRecordOf(d: PcieDeviceSpec): Uint8Array {
  return recordOf(d).slice();
}

/**
 * The responder's read-only copy of a device's measurement record, by the blocks' values (index, length,
 * seed): made once, not per GET_MEASUREMENTS and device-info check. Never handed out: callers copy it.
 */
const recordCache = new Map<string, Uint8Array>();

function recordOf(d: PcieDeviceSpec): Uint8Array {
  let key = "";
  for (const mb of d.spdm.measurements) key += `${mb.index}:${mb.bytes}:${mb.seed.length}:${mb.seed}/`;
  let r = recordCache.get(key);
  if (r === undefined) {
    if (recordCache.size >= 64) recordCache.clear(); // bounded, as the chains
    r = buildMeasurementRecord(d);
    recordCache.set(key, r);
  }
  return r;
}

function buildMeasurementRecord(d: PcieDeviceSpec): Uint8Array {
  const blocks = d.spdm.measurements.map((mb) => {
    const v = seededBytes(mb.seed, mb.bytes);
    const b = new Uint8Array(4 + 3 + v.length);
    b[0] = mb.index;
    b[1] = 0x01;
    put16(b, 2, 3 + v.length);
    b[4] = 0x01;
    put16(b, 5, v.length);
    b.set(v, 7);
    return b;
  });
  return concat(blocks);
}

/**
 * The device information a successful TDH.SPDM.CONNECT writes into the host's buffer, as the model
 * expects it: cert chain length (u32 LE), cert chain, measurement record length (u32 LE), record.
 */
export function deviceInfoOf(d: PcieDeviceSpec): Uint8Array {
  const cert = chainOf(d).chain;
  const meas = recordOf(d);
  const out = new Uint8Array(8 + cert.length + meas.length);
  put32(out, 0, cert.length);
  out.set(cert, 4);
  put32(out, 4 + cert.length, meas.length);
  out.set(meas, 8 + cert.length);
  return out;
}

/** A 48-byte non-cryptographic fold of `data` standing where a SHA-384 digest goes. */
export function fold48(data: Uint8Array): Uint8Array {
  const out = seededBytes(`fold:${data.length}`, 48);
  for (let i = 0; i < data.length; i++) out[i % 48] = (out[i % 48]! * 31 + data[i]!) & 0xff;
  return out;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  put16(b, at, v & 0xffff);
  put16(b, at + 2, v >>> 16);
}

/** Little-endian u16 at `at`. */
export function get16(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

/** Little-endian u32 at `at`. */
export function get32(b: Uint8Array, at: number): number {
  return (get16(b, at) | (get16(b, at + 2) << 16)) >>> 0;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// SPDM 1.2 messages (DSP0274): codes and the responder

/** SPDM versions in byte 0: GET_VERSION/VERSION always use 1.0, everything after the negotiated 1.2. */
export const SPDM_VERSION = Object.freeze({ V10: 0x10, V12: 0x12 });

/** SPDM request codes (DSP0274 table 4); a response code is the request code & 0x7F. */
export const SPDM = Object.freeze({
  GET_DIGESTS: 0x81,
  GET_CERTIFICATE: 0x82,
  CHALLENGE: 0x83,
  GET_VERSION: 0x84,
  GET_MEASUREMENTS: 0xe0,
  GET_CAPABILITIES: 0xe1,
  NEGOTIATE_ALGORITHMS: 0xe3,
  KEY_EXCHANGE: 0xe4,
  FINISH: 0xe5,
  HEARTBEAT: 0xe8,
  KEY_UPDATE: 0xe9,
  END_SESSION: 0xec,
  VENDOR_DEFINED_REQUEST: 0xfe,
  ERROR: 0x7f,
});

/** IDE_KM object ids (PCIe 6.0 6.33.3), carried in VENDOR_DEFINED messages with the PCI-SIG standard id. */
export const IDE_KM = Object.freeze({
  PROTOCOL_ID: 0x00,
  KEY_PROG: 0x02,
  KP_ACK: 0x03,
  K_SET_GO: 0x04,
  K_SET_STOP: 0x05,
  K_GOSTOP_ACK: 0x06,
});

/** The response code that answers request `code`. */
export function responseCode(code: number): number {
  return code & 0x7f;
}

/** Largest GET_CERTIFICATE portion the responder returns (bytes). */
export const CERT_PORTION_MAX = 1024;

/**
 * A new message of `bodyLen` body bytes (zero) with its 4-byte header written, starting at byte `at` of
 * the array: at 0 the array is the message exactly; above 0 (the DOE header's room) the message is
 * padded to whole DWs, as {@link doeWrap} lays a data object out.
 */
function frame(at: number, version: number, code: number, p1: number, p2: number, bodyLen: number) {
  const n = 4 + bodyLen;
  const b = new Uint8Array(at === 0 ? n : at + Math.ceil(n / 4) * 4);
  b[at] = version;
  b[at + 1] = code;
  b[at + 2] = p1;
  b[at + 3] = p2;
  return b;
}

function msg(
  at: number,
  version: number,
  code: number,
  p1: number,
  p2: number,
  body: Uint8Array | number[] = [],
) {
  const b = frame(at, version, code, p1, p2, body.length);
  b.set(body, at + 4);
  return b;
}

function errorMsg(at: number, errorCode: number, data: number): Uint8Array {
  return msg(at, SPDM_VERSION.V12, SPDM.ERROR, errorCode, data);
}

/**
 * The device's SPDM responder: answers one request message from the device's data. Unknown or
 * malformed requests get ERROR (0x7F) with UnsupportedRequest (0x07) or InvalidRequest (0x01).
 */
export function spdmRespond(d: PcieDeviceSpec, req: Uint8Array): Uint8Array {
  return respond(d, req, 0);
}

/**
 * {@link spdmRespond}, the answer written from byte `at` of the array it returns (`at` 8: into a DOE
 * data object whose header the caller writes, so the mailbox copies no message). `req` is only read.
 */
function respond(d: PcieDeviceSpec, req: Uint8Array, at: number): Uint8Array {
  if (req.length < 4) return errorMsg(at, 0x01, 0);
  const ver = req[0]!;
  const code = req[1]!;
  const p1 = req[2]!;
  const p2 = req[3]!;
  const want = code === SPDM.GET_VERSION ? SPDM_VERSION.V10 : SPDM_VERSION.V12;
  if (ver !== want) return errorMsg(at, 0x41, 0); // VersionMismatch
  const rsp = responseCode(code);
  const V = SPDM_VERSION.V12;
  const B = at + 4; // where the body starts
  switch (code) {
    case SPDM.GET_VERSION:
      // Reserved, VersionNumberEntryCount 1, entry 0x1200 (1.2).
      return msg(at, SPDM_VERSION.V10, rsp, 0, 0, [0, 1, 0x00, 0x12]);
    case SPDM.GET_CAPABILITIES: {
      const body = new Uint8Array(16);
      body[1] = 12; // CTExponent
      put32(body, 4, d.spdm.capabilities);
      put32(body, 8, PAGE_SIZE); // DataTransferSize
      put32(body, 12, PAGE_SIZE); // MaxSPDMmsgSize
      return msg(at, V, rsp, 0, 0, body);
    }
    case SPDM.NEGOTIATE_ALGORITHMS: {
      const body = new Uint8Array(32);
      put16(body, 0, 36); // Length
      body[2] = 0x01; // MeasurementSpecificationSel: DMTF
      put32(body, 4, 0x2); // MeasurementHashAlgo: SHA-384 (named, not computed)
      put32(body, 8, 0x80); // BaseAsymSel: ECDSA P-384
      put32(body, 12, 0x2); // BaseHashSel: SHA-384
      return msg(at, V, rsp, 0, 0, body);
    }
    case SPDM.GET_DIGESTS:
      return msg(at, V, rsp, 0, 0x01, chainOf(d).digest);
    case SPDM.GET_CERTIFICATE: {
      if (req.length < 8 || p1 !== 0) return errorMsg(at, 0x01, 0);
      const chain = chainOf(d).chain;
      const off = get16(req, 4);
      if (off >= chain.length) return errorMsg(at, 0x01, 0);
      const len = Math.min(get16(req, 6), CERT_PORTION_MAX, chain.length - off);
      const b = frame(at, V, rsp, 0, 0, 4 + len);
      put16(b, B, len);
      put16(b, B + 2, chain.length - off - len);
      b.set(chain.subarray(off, off + len), B + 4);
      return b;
    }
    case SPDM.CHALLENGE: {
      // CertChainHash (48), Nonce (32), MeasurementSummaryHash (0), OpaqueLength (2), Signature (96).
      const b = frame(at, V, rsp, 0x00, 0x01, 48 + 32 + 2 + 96);
      b.set(chainOf(d).digest, B);
      return b;
    }
    case SPDM.GET_MEASUREMENTS: {
      const record = recordOf(d);
      const b = frame(at, V, rsp, 0, 0, 4 + record.length);
      b[B] = d.spdm.measurements.length;
      b[B + 1] = record.length & 0xff;
      b[B + 2] = (record.length >>> 8) & 0xff;
      b[B + 3] = (record.length >>> 16) & 0xff;
      b.set(record, B + 4);
      return b;
    }
    case SPDM.KEY_EXCHANGE: {
      // RspSessionID (2), MutAuthRequested (1), ReqSlotIDParam (1), RandomData (32), ExchangeData (96)…
      const b = frame(at, V, rsp, 5, 0, 4 + 32 + 96); // Param1: heartbeat period
      put16(b, B, 0xd000 | (d.requesterId & 0x0fff));
      return b;
    }
    case SPDM.FINISH:
      return msg(at, V, rsp, 0, 0);
    case SPDM.HEARTBEAT:
      return msg(at, V, rsp, 0, 0);
    case SPDM.KEY_UPDATE:
      return msg(at, V, rsp, p1, p2);
    case SPDM.END_SESSION:
      return msg(at, V, rsp, 0, 0);
    case SPDM.VENDOR_DEFINED_REQUEST: {
      // StandardID (2) = 3 (PCI-SIG), Len (1), VendorID (Len), ReqLength (2), then IDE_KM payload.
      const object = req[4 + 2 + 1 + (req[6] ?? 0) + 2 + 1];
      const answer =
        object === IDE_KM.KEY_PROG
          ? IDE_KM.KP_ACK
          : object === IDE_KM.K_SET_GO || object === IDE_KM.K_SET_STOP
            ? IDE_KM.K_GOSTOP_ACK
            : -1;
      if (answer < 0) return errorMsg(at, 0x01, 0);
      return msg(at, V, rsp, 0, 0, [0x03, 0x00, 0x00, 0x02, 0x00, IDE_KM.PROTOCOL_ID, answer]);
    }
    default:
      return errorMsg(at, 0x07, code); // UnsupportedRequest
  }
}

// ---------------------------------------------------------------------------------------------------
// DOE data objects (PCIe 6.0 6.30.1)

/** DOE data object types of the PCI-SIG vendor id: CMA/SPDM. */
export const DOE_TYPE_SPDM = 0x01;
/** Largest data object the model's mailbox takes, in bytes (one message page). */
export const DOE_MAX_BYTES = PAGE_SIZE;

/**
 * Wraps an SPDM message in a DOE data object: DW0 Vendor ID 0x0001 (15:0), type (23:16); DW1 length in
 * DWs including the header (17:0); the message padded to a whole DW.
 */
export function doeWrap(spdm: Uint8Array): Uint8Array {
  const dws = 2 + Math.ceil(spdm.length / 4);
  const b = new Uint8Array(dws * 4);
  put32(b, 0, 0x0001 | (DOE_TYPE_SPDM << 16));
  put32(b, 4, dws);
  b.set(spdm, 8);
  return b;
}

/**
 * The SPDM message inside a DOE data object, or null when the header is wrong (vendor, type, length
 * below 3 DWs or beyond `limit` bytes). Padding is kept: SPDM parsers read lengths from the message.
 */
export function doeUnwrap(obj: Uint8Array, limit = DOE_MAX_BYTES): Uint8Array | null {
  return unwrapView(obj, limit)?.slice() ?? null;
}

/** {@link doeUnwrap} as a view into `obj` (no copy), for a reader that keeps nothing of it. */
function unwrapView(obj: Uint8Array, limit: number): Uint8Array | null {
  if (obj.length < 12) return null;
  if (get32(obj, 0) !== (0x0001 | (DOE_TYPE_SPDM << 16))) return null;
  const dws = get32(obj, 4) & 0x3_ffff;
  if (dws < 3 || dws * 4 > limit || dws * 4 > obj.length) return null;
  return obj.subarray(8, dws * 4);
}

/**
 * The device's DOE mailbox: takes a data object, returns the responder's answer as a data object. A
 * malformed object is dropped by the mailbox; the model returns an SPDM ERROR so the exchange still ends.
 * The request is read in place and the answer written straight into the object it returns (the same
 * bytes as {@link doeWrap} of {@link spdmRespond} of {@link doeUnwrap}, with no copy in between).
 */
export function doeExchange(d: PcieDeviceSpec, obj: Uint8Array): Uint8Array {
  const req = unwrapView(obj, DOE_MAX_BYTES);
  const b = req === null ? errorMsg(8, 0x01, 0) : respond(d, req, 8);
  put32(b, 0, 0x0001 | (DOE_TYPE_SPDM << 16));
  put32(b, 4, b.length / 4);
  return b;
}

// ---------------------------------------------------------------------------------------------------
// Platform data: defaults and validation

/** The default platform's root ports: two, four IDE stream slots each. */
export function defaultRootPorts(): RootPortSpec[] {
  return [
    { name: "rp0-socket0-pcie0", streamSlots: 4, devfn: 0x08 },
    { name: "rp1-socket1-pcie0", streamSlots: 4, devfn: 0x10 },
  ];
}

/** The default platform's devices: an NVMe SSD and a NIC behind root port 0, a GPU behind root port 1. */
export function defaultDevices(): PcieDeviceSpec[] {
  const m = (index: number, seed: string, bytes: number): MeasurementSpec => ({ index, seed, bytes });
  return [
    {
      name: "nvme0-ssd",
      requesterId: requesterId(0x17, 0, 0),
      segment: 0,
      rootPort: "rp0-socket0-pcie0",
      spdm: {
        capabilities: 0x0000_b2f6,
        certChainSeed: "nvme0 cert chain",
        certChainBytes: 742,
        measurements: [m(1, "nvme0 rom", 48), m(2, "nvme0 firmware", 48), m(3, "nvme0 config", 32)],
      },
    },
    {
      name: "nic0-100g",
      requesterId: requesterId(0x18, 0, 1),
      segment: 0,
      rootPort: "rp0-socket0-pcie0",
      spdm: {
        capabilities: 0x0000_b2f6,
        certChainSeed: "nic0 cert chain",
        certChainBytes: 1311,
        measurements: [m(1, "nic0 firmware", 48), m(4, "nic0 eeprom", 64)],
      },
    },
    {
      name: "gpu0",
      requesterId: requesterId(0x81, 0, 0),
      segment: 0,
      rootPort: "rp1-socket1-pcie0",
      spdm: {
        capabilities: 0x0002_b2f6,
        certChainSeed: "gpu0 cert chain",
        certChainBytes: 2049,
        measurements: [
          m(1, "gpu0 vbios", 48),
          m(2, "gpu0 firmware", 48),
          m(3, "gpu0 microcode", 48),
          m(5, "gpu0 fuses", 16),
        ],
      },
    },
  ];
}

/**
 * The limits of device and root port fields that depend on no other field: read by validateDevices and
 * by the scenario file's schema (src/scenario/schema-def.ts).
 */
export const DEVICE_LIMITS = Object.freeze({
  requesterId: { min: 0, max: 0xffff },
  segment: { min: 0, max: 0xff },
  capabilities: { min: 0, max: 0xffff_ffff },
  certChainBytes: { min: 16, max: 8192 },
  measurements: { min: 1, max: 16 },
  measurementIndex: { min: 1, max: 0xfe },
  measurementBytes: { min: 1, max: 256 },
  streamSlots: { min: 1, max: 256 },
  devfn: { min: 0, max: 255 },
});

/** What validateDevices' messages say is expected or allowed (the scenario schema's read the same). */
export const DEVICE_ALLOWED = Object.freeze({
  rootPort: "{ name, streamSlots }",
  device: "{ name, requesterId, segment, rootPort, spdm }",
  spdm: "{ capabilities, certChainSeed, certChainBytes, measurements }",
  measurements: `an array of ${DEVICE_LIMITS.measurements.min}..${DEVICE_LIMITS.measurements.max} measurement blocks`,
});

const bounds = (r: { readonly min: number; readonly max: number }) => [r.min, r.max] as const;

function checkInt(path: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw rangeError(path, v, `${min}..${max}`);
  return v;
}

function checkName(path: string, v: unknown): string {
  if (typeof v !== "string" || v === "") throw typeError(path, v, "a non-empty string");
  return v;
}

/**
 * Checks optional `devices` and `rootPorts` of a platform (paths `platform.devices[i]…`): names,
 * requester ids unique per segment, each device behind a named root port, data sizes in range.
 */
export function validateDevices(devices: unknown, rootPorts: unknown): void {
  const ports = new Set<string>();
  if (rootPorts !== undefined) {
    if (!Array.isArray(rootPorts)) throw typeError("platform.rootPorts", rootPorts, "an array");
    rootPorts.forEach((rp: RootPortSpec, i) => {
      if (typeof rp !== "object" || rp === null)
        throw typeError(`platform.rootPorts[${i}]`, rp, DEVICE_ALLOWED.rootPort);
      const name = checkName(`platform.rootPorts[${i}].name`, rp.name);
      if (ports.has(name))
        throw stateError(`platform.rootPorts[${i}].name`, `${name} is used by another port`);
      ports.add(name);
      checkInt(`platform.rootPorts[${i}].streamSlots`, rp.streamSlots, ...bounds(DEVICE_LIMITS.streamSlots));
      if (rp.devfn !== undefined)
        checkInt(`platform.rootPorts[${i}].devfn`, rp.devfn, ...bounds(DEVICE_LIMITS.devfn));
    });
  }
  if (devices === undefined) return;
  if (!Array.isArray(devices)) throw typeError("platform.devices", devices, "an array");
  const ids = new Set<number>();
  devices.forEach((d: PcieDeviceSpec, i) => {
    const path = `platform.devices[${i}]`;
    if (typeof d !== "object" || d === null) throw typeError(path, d, DEVICE_ALLOWED.device);
    checkName(`${path}.name`, d.name);
    const rid = checkInt(`${path}.requesterId`, d.requesterId, ...bounds(DEVICE_LIMITS.requesterId));
    const seg = checkInt(`${path}.segment`, d.segment, ...bounds(DEVICE_LIMITS.segment));
    if (ids.has(seg * 0x1_0000 + rid))
      throw stateError(
        `${path}.requesterId`,
        `0x${rid.toString(16)} is used by another device in segment ${seg}`,
      );
    ids.add(seg * 0x1_0000 + rid);
    if (!ports.has(d.rootPort)) throw rangeError(`${path}.rootPort`, d.rootPort, "the name of a root port");
    const s = d.spdm;
    if (typeof s !== "object" || s === null) throw typeError(`${path}.spdm`, s, DEVICE_ALLOWED.spdm);
    checkInt(`${path}.spdm.capabilities`, s.capabilities, ...bounds(DEVICE_LIMITS.capabilities));
    if (typeof s.certChainSeed !== "string")
      throw typeError(`${path}.spdm.certChainSeed`, s.certChainSeed, "a string");
    checkInt(`${path}.spdm.certChainBytes`, s.certChainBytes, ...bounds(DEVICE_LIMITS.certChainBytes));
    if (
      !Array.isArray(s.measurements) ||
      s.measurements.length < DEVICE_LIMITS.measurements.min ||
      s.measurements.length > DEVICE_LIMITS.measurements.max
    )
      throw rangeError(`${path}.spdm.measurements`, s.measurements, DEVICE_ALLOWED.measurements);
    s.measurements.forEach((mb, j) => {
      checkInt(`${path}.spdm.measurements[${j}].index`, mb?.index, ...bounds(DEVICE_LIMITS.measurementIndex));
      if (typeof mb.seed !== "string")
        throw typeError(`${path}.spdm.measurements[${j}].seed`, mb.seed, "a string");
      checkInt(`${path}.spdm.measurements[${j}].bytes`, mb.bytes, ...bounds(DEVICE_LIMITS.measurementBytes));
    });
  });
}
