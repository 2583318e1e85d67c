/**
 * `tdxpa decode` and `tdxpa encode` take their kinds from the format table: every kind is listed in
 * help, decodes, and (for encode) round-trips through decode. The list-entry kind is the one the
 * table added to both commands.
 */
import { describe, expect, it } from "vitest";
import { FORMAT_KINDS } from "../../src/common/format-table.js";
import { runCli } from "../support/cli.js";

describe("decode and encode kinds come from the format table", () => {
  it("lists every format kind in both helps", async () => {
    const dec = await runCli(["decode", "--help"]);
    const enc = await runCli(["encode", "--help"]);
    for (const k of FORMAT_KINDS) {
      expect(dec.out.join("\n")).toMatch(new RegExp(`^  ${k} `, "m"));
      expect(enc.out.join("\n")).toContain(`tdxpa encode ${k} `);
    }
  });

  it("encodes and decodes a list entry; reserved bits make it invalid", async () => {
    const e = await runCli(["encode", "list-entry", "--hpa", "0x76543000"]);
    expect(e.code).toBe(0);
    expect(e.out.join("\n").trim()).toBe("0x0000000076543000");
    const d = await runCli(["decode", "list-entry", "--json", "0x0000000076543000", "0x0000000076543002"]);
    expect(d.code).toBe(1);
    const [ok, bad] = d.out.map((l) => JSON.parse(l));
    expect(ok).toEqual({
      schemaVersion: 1,
      raw: "0x0000000076543000",
      valid: true,
      hpa: "0x0000000076543000",
      numPages: 0,
    });
    expect(bad.valid).toBe(false);
    expect(bad.rule).toBe("entry-reserved-bits");
    const unaligned = await runCli(["encode", "list-entry", "--hpa", "0x76543001"]);
    expect(unaligned.code).toBe(2);
    expect(unaligned.err.join("\n")).toMatch(/entry\.hpa: 0x76543001 is out of range/);
  });
});
