/**
 * `tdxpa decode status` and `decodeStatus` against docs/spec/03-module.md 3.1: every status the kernel's
 * headers name decodes by name, the kernel's software errors by their full value, and bits 31:0 are an
 * operand id only on a module error status (leaf-specific information on a success-class one).
 */
import { describe, expect, it } from "vitest";
import { decodeStatus, statusText } from "../../src/common/status.js";
import { parseU64 } from "../../src/common/u64.js";
import { runCli } from "../support/cli.js";

/** Every status Linux's `tdx_errno.h` (mainline and devsec/tsm) and KVM's copy name, with its value. */
const KERNEL_NAMED: readonly (readonly [string, string])[] = [
  ["TDX_SUCCESS", "0x0000000000000000"],
  ["TDX_NON_RECOVERABLE_VCPU", "0x4000000100000000"],
  ["TDX_NON_RECOVERABLE_TD", "0x4000000200000000"],
  ["TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE", "0x6000000500000000"],
  ["TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE", "0x6000000700000000"],
  ["TDX_INTERRUPTED_RESUMABLE", "0x8000000300000000"],
  ["TDX_INTERRUPTED_RESTARTABLE", "0x8000000400000000"],
  ["TDX_SYS_BUSY", "0x8000020200000000"],
  ["TDX_OPERAND_INVALID", "0xC000010000000000"],
  ["TDX_OPERAND_BUSY", "0x8000020000000000"],
  ["TDX_PREVIOUS_TLB_EPOCH_BUSY", "0x8000020100000000"],
  ["TDX_RND_NO_ENTROPY", "0x8000020300000000"],
  ["TDX_PAGE_METADATA_INCORRECT", "0xC000030000000000"],
  ["TDX_VCPU_NOT_ASSOCIATED", "0x8000070200000000"],
  ["TDX_KEY_GENERATION_FAILED", "0x8000080000000000"],
  ["TDX_KEY_STATE_INCORRECT", "0xC000081100000000"],
  ["TDX_KEY_CONFIGURED", "0x0000081500000000"],
  ["TDX_NO_HKID_READY_TO_WBCACHE", "0x0000082100000000"],
  ["TDX_FLUSHVP_NOT_DONE", "0x8000082400000000"],
  ["TDX_EPT_WALK_FAILED", "0xC0000B0000000000"],
  ["TDX_EPT_ENTRY_STATE_INCORRECT", "0xC0000B0D00000000"],
  ["TDX_METADATA_FIELD_NOT_READABLE", "0xC0000C0200000000"],
  ["TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH", "0xC0000F4500000000"],
  ["TDX_SPDM_REQUEST", "0xC0000F5700000000"],
  ["TDX_SEAMCALL_VMFAILINVALID", "0x8000FF00FFFF0000"],
  ["TDX_SEAMCALL_GP", "0x8000FF000000000D"],
  ["TDX_SEAMCALL_UD", "0x8000FF0000000006"],
];

describe("decodeStatus names every status the kernel names", () => {
  it.each(KERNEL_NAMED)("%s = %s", (name, value) => {
    const v = parseU64(value);
    expect(decodeStatus(v.lo, v.hi).name).toBe(name);
  });

  it("a kernel software error is not read as an operand id", () => {
    const v = parseU64("0x8000FF00FFFF0000");
    const d = decodeStatus(v.lo, v.hi);
    expect(d.operandId).toBeNull();
    expect(d.info).toBe(0xffff_0000);
  });

  it("bits 31:0 are an operand id on an error only", () => {
    const err = parseU64("0xC000010000000002");
    expect(decodeStatus(err.lo, err.hi).operandId).toBe(2);
    const ok = parseU64("0x00000000deadbeef");
    expect(decodeStatus(ok.lo, ok.hi).operandId).toBeNull();
    expect(decodeStatus(ok.lo, ok.hi).info).toBe(0xdeadbeef);
    expect(statusText(ok)).toBe("TDX_SUCCESS(info 0xdeadbeef)");
  });

  it("a resource operand id is named (OPERAND_BUSY on SYS 0xB8)", () => {
    expect(statusText(parseU64("0x80000200000000B8"))).toBe("TDX_OPERAND_BUSY(SYS)");
  });
});

describe("tdxpa decode status", () => {
  it("0x8000020300000000 is TDX_RND_NO_ENTROPY", async () => {
    const r = await runCli(["decode", "status", "0x8000020300000000"]);
    expect(r.code).toBe(0);
    expect(r.out.join("\n")).toContain("TDX_RND_NO_ENTROPY");
    expect(r.out.join("\n")).not.toContain("unknown status");
  });

  it("0xdeadbeef (success class) shows leaf-specific information, not an operand id", async () => {
    const r = await runCli(["decode", "status", "0xdeadbeef"]);
    expect(r.code).toBe(0);
    const text = r.out.join("\n");
    expect(text).not.toMatch(/operand/i);
    expect(text).toMatch(/^ {2}info \(31:0\) +0xdeadbeef$/m);
    const j = await runCli(["decode", "--json", "status", "0xdeadbeef"]);
    const obj = JSON.parse(j.out[0]!) as Record<string, unknown>;
    expect(obj.name).toBe("TDX_SUCCESS");
    expect(obj).not.toHaveProperty("operandId");
    expect(obj.info).toBe(0xdeadbeef);
  });

  it("an error status still names its operand", async () => {
    const r = await runCli(["decode", "status", "0xC000010000000001"]);
    expect(r.out.join("\n")).toMatch(/^ {2}operand id +1 \(RCX\)$/m);
  });
});
