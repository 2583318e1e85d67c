/**
 * The protocol session without a C program (docs/PROTOCOL.md): replies byte for byte, framing that does
 * not depend on how the bytes were split, typed error replies that close the session, findings for
 * allocator misuse, and the property that no byte string makes the session throw.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromDoc } from "../../src/cli/scenario-file.js";
import {
  ALLOC_KIND,
  FREE_KIND,
  FrameSplitter,
  frame,
  HELLO_MAGIC,
  MARK_KIND,
  MAX_PAYLOAD,
  MSG,
  PayloadReader,
  PayloadWriter,
  PROTO_ERROR,
} from "../../src/exec/protocol.js";
import { ExecSession } from "../../src/exec/session.js";
import { DEFAULT_SCENARIO_DOC } from "../../src/scenario/default.js";

const SCENARIO = fromDoc("default", DEFAULT_SCENARIO_DOC);

const hello = () => frame(MSG.HELLO, new PayloadWriter().u32(HELLO_MAGIC).u16(1).u16(0).done());
const alloc = (kind: number, order: number, count: number, zero = false) =>
  frame(
    MSG.ALLOC,
    new PayloadWriter()
      .u8(kind)
      .u8(order)
      .u16(zero ? 1 : 0)
      .u32(count)
      .text("")
      .done(),
  );
const free = (kind: number, pfn: number, order = 0, count = 1) =>
  frame(MSG.FREE, new PayloadWriter().u8(kind).u8(order).u16(0).u32(count).u64n(pfn).done());
const read = (pfn: number) => frame(MSG.READ, new PayloadWriter().u64n(pfn).u32(0).u32(8).done());
const mark = (kind: number, text: string, a = 0, b = 0) =>
  frame(MSG.MARK, new PayloadWriter().u8(kind).u8(0).u16(0).u32(0).u64n(a).u64n(b).text(text).done());
const sysRd = (fieldLo: number, fieldHi: number) => {
  const w = new PayloadWriter().u64(34, 0).u64(0, 0).u64(fieldLo, fieldHi);
  for (let r = 3; r < 16; r++) w.u64(0, 0);
  return frame(MSG.SEAMCALL, w.done());
};

/** Splits a reply stream into frames. */
function replies(bytes: Uint8Array) {
  const s = new FrameSplitter();
  return s.push(bytes);
}

function allocPfn(s: ExecSession, kind: number, order: number, count: number): number {
  const [f] = replies(s.receive(alloc(kind, order, count)));
  const r = new PayloadReader(f!.payload);
  expect(r.i32()).toBe(0);
  expect(r.u32()).toBeGreaterThan(0);
  return r.u32() + r.u32() * 2 ** 32;
}

describe("protocol session", () => {
  it("HELLO states the version and the platform", () => {
    const s = new ExecSession(SCENARIO);
    const [f] = replies(s.receive(hello()));
    expect(f!.type).toBe(MSG.HELLO | MSG.REPLY);
    const r = new PayloadReader(f!.payload);
    expect(r.i32()).toBe(0);
    expect(r.u16()).toBe(1);
    const nIommus = r.u16();
    expect(nIommus).toBe(SCENARIO.platform.iommus.length);
    expect(r.u32()).toBe(SCENARIO.platform.keyIds.shift);
    expect(r.u32()).toBe(SCENARIO.platform.keyIds.global);
    expect(r.u32()).toBe(1);
    r.u32();
    r.u64();
    for (let i = 0; i < nIommus; i++) expect(r.u64().lo).toBe(SCENARIO.platform.iommus[i]!.regBase);
    expect(r.text()).toBe(SCENARIO.platform.name);
  });

  it("the same bytes give the same replies whether they arrive whole or one byte at a time", () => {
    const stream = [hello(), alloc(ALLOC_KIND.PAGES, 1, 1, true), sysRd(0x00000008, 0x0a000003)];
    const all = new Uint8Array(stream.reduce((n, f) => n + f.length, 0));
    let off = 0;
    for (const f of stream) {
      all.set(f, off);
      off += f.length;
    }
    const whole = new ExecSession(SCENARIO).receive(all);
    const s = new ExecSession(SCENARIO);
    const parts: number[] = [];
    for (const b of all) parts.push(...s.receive(Uint8Array.of(b)));
    expect(Uint8Array.from(parts)).toEqual(whole);
    expect(replies(whole).map((f) => f.type)).toEqual([0x81, 0x82, 0x87]);
  });

  it.each([
    [
      "a length above the limit",
      () => Uint8Array.of(0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0),
      PROTO_ERROR.OVERSIZED,
    ],
    ["flags set", () => Uint8Array.of(0, 0, 0, 0, 9, 0, 1, 0), PROTO_ERROR.MALFORMED],
    ["an unknown type", () => frame(0x42, new Uint8Array(0)), PROTO_ERROR.UNKNOWN_TYPE],
    ["no HELLO first", () => frame(MSG.PING, new Uint8Array(0)), PROTO_ERROR.NO_HELLO],
    [
      "a wrong magic",
      () => frame(MSG.HELLO, new PayloadWriter().u32(1).u16(1).u16(0).done()),
      PROTO_ERROR.BAD_VERSION,
    ],
    ["a short payload", () => frame(MSG.HELLO, Uint8Array.of(1, 2)), PROTO_ERROR.MALFORMED],
  ])("%s: an error reply with its code, then the session is closed", (_, bytes, code) => {
    const s = new ExecSession(SCENARIO);
    const out = replies(s.receive(bytes()));
    const err = out.at(-1)!;
    expect(err.type).toBe(MSG.ERROR);
    expect(new PayloadReader(err.payload).i32()).toBe(code);
    expect(s.closed).toBe(true);
    expect(s.receive(hello())).toHaveLength(0);
    expect(s.finish().protocolError?.code).toBe(code);
  });

  describe("framing", () => {
    const sizes = [0, 1, 8, 136, 4100, 3, 0, MAX_PAYLOAD, 16];
    const payloads = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, k) => (k * 7 + i * 31) & 0xff));
    const frames = payloads.map((p, i) => frame(1 + (i % 10), p));
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      stream.set(f, at);
      at += f.length;
    }
    test.prop([fc.array(fc.nat(), { maxLength: 24 })])(
      "any split of a stream gives its frames, each payload still its own bytes after the pushes that follow",
      (cuts) => {
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const s = new FrameSplitter();
        const got = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          got.push(...s.push(stream.slice(prev, p)));
          prev = p;
        }
        expect(s.error).toBeNull();
        expect(s.pending).toBe(0);
        expect(got.map((f) => f.type)).toEqual(frames.map((_, i) => 1 + (i % 10)));
        for (let i = 0; i < got.length; i++)
          expect(Buffer.from(got[i]!.payload).equals(payloads[i]!), `payload of frame ${i}`).toBe(true);
      },
    );
  });

  it("a frame of exactly the limit is read; trailing bytes after a payload are malformed", () => {
    const s = new ExecSession(SCENARIO);
    s.receive(hello());
    const big = frame(MSG.PING, new Uint8Array(MAX_PAYLOAD));
    const out = replies(s.receive(big));
    // PING payloads are limited to 256 bytes: malformed, not oversized.
    expect(new PayloadReader(out[0]!.payload).i32()).toBe(PROTO_ERROR.MALFORMED);
    const t = new ExecSession(SCENARIO);
    t.receive(hello());
    const extra = frame(MSG.READ, new PayloadWriter().u64n(0x100000).u32(0).u32(8).u32(0).done());
    expect(new PayloadReader(replies(t.receive(extra))[0]!.payload).i32()).toBe(PROTO_ERROR.MALFORMED);
  });

  it("a truncated frame at the end of the stream is a protocol error", () => {
    const s = new ExecSession(SCENARIO);
    s.receive(hello());
    s.receive(sysRd(0, 0).subarray(0, 20));
    s.end();
    expect(s.finish().protocolError?.name).toBe("truncated");
  });

  it("allocator misuse is a finding naming the function, not a crash", () => {
    const s = new ExecSession(SCENARIO);
    s.receive(hello());
    s.receive(mark(MARK_KIND.ENTER, "my_teardown"));
    const pfn = allocPfn(s, ALLOC_KIND.PAGES, 0, 1);
    s.receive(free(FREE_KIND.FREE_PAGES, pfn));
    s.receive(free(FREE_KIND.FREE_PAGES, pfn));
    const [r] = replies(s.receive(read(pfn)));
    expect(new PayloadReader(r!.payload).i32()).toBe(-22);
    s.receive(mark(MARK_KIND.STRAND, "x", pfn, 1));
    s.receive(mark(MARK_KIND.EXIT, "my_teardown"));
    const rep = s.finish();
    expect(rep.unexpected[0]).toMatch(/^in my_teardown: __free_pages\(pfn 0x[0-9a-f]+\): /);
    expect(rep.unexpected[1]).toMatch(
      /^in my_teardown: read: pfn 0x[0-9a-f]+ is free in the allocator \(use after free\)$/,
    );
    expect(rep.unexpected[2]).toMatch(/^in my_teardown: strand: pfn 0x[0-9a-f]+ is not allocated$/);
    expect(rep.phases.map((p) => p.label)).toEqual(["my_teardown"]);
  });

  it("stranded pages are counted as stranded, not leaked", () => {
    const s = new ExecSession(SCENARIO);
    s.receive(hello());
    const pfn = allocPfn(s, ALLOC_KIND.CONTIG, 0, 16);
    s.receive(mark(MARK_KIND.STRAND, "fatal", pfn, 16));
    const rep = s.finish();
    expect(rep.conservation.totals.stranded).toBe(16);
    expect(rep.conservation.totals.hostHeld).toBe(0);
    expect(rep.ok).toBe(true);
  });

  test.prop([fc.boolean(), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 })], { numRuns: 300 })(
    "no byte string makes the session throw",
    (greet, chunks) => {
      const s = new ExecSession(SCENARIO);
      if (greet) s.receive(hello());
      for (const c of chunks) s.receive(c);
      s.end();
      const r = s.finish();
      expect(typeof r.ok).toBe("boolean");
    },
  );

  test.prop(
    [
      fc.array(
        fc.record({
          type: fc.integer({ min: 1, max: 10 }),
          body: fc.uint8Array({ maxLength: 64 }),
        }),
        { maxLength: 12 },
      ),
    ],
    { numRuns: 300 },
  )("well-framed requests with random payloads never make the session throw", (reqs) => {
    const s = new ExecSession(SCENARIO);
    s.receive(hello());
    for (const q of reqs) s.receive(frame(q.type, q.body));
    expect(() => s.finish()).not.toThrow();
  });
});
