/* SPDX-License-Identifier: MIT */
/*
 * Shim of <asm/tdx.h>: struct tdx_module_args, seamcall(), seamcall_ret() and the TDX constants
 * (statuses, leaf numbers, metadata field ids, operand layouts). The constants are generated from the
 * project's TypeScript tables into <asm/tdx_generated.h> (scripts/gen-c-header.ts); the SEAMCALL goes
 * to the emulator (docs/spec/03-module.md 3.1) after the host's pending page writes (docs/C-HARNESS.md).
 */
#ifndef _TDXPA_ASM_TDX_H
#define _TDXPA_ASM_TDX_H

#include <asm/tdx_generated.h>
#include <linux/types.h>
#include <tdxpa.h>

/** Registers of a SEAMCALL, as the kernel's struct tdx_module_args lays them out. */
struct tdx_module_args {
	u64 rcx, rdx, r8, r9, r10, r11, r12, r13, r14, r15, rbx, rdi, rsi;
};

static inline u64 __tdxpa_seamcall(u64 fn, struct tdx_module_args *args, bool ret)
{
	u64 r[16] = { 0 };
	r[0] = fn;
	r[1] = args->rcx; r[2] = args->rdx; r[3] = args->rbx; r[6] = args->rsi; r[7] = args->rdi;
	r[8] = args->r8; r[9] = args->r9; r[10] = args->r10; r[11] = args->r11;
	r[12] = args->r12; r[13] = args->r13; r[14] = args->r14; r[15] = args->r15;
	u64 status = tdxpa_seamcall_regs(r);
	if (ret) {
		args->rcx = r[1]; args->rdx = r[2]; args->rbx = r[3]; args->rsi = r[6]; args->rdi = r[7];
		args->r8 = r[8]; args->r9 = r[9]; args->r10 = r[10]; args->r11 = r[11];
		args->r12 = r[12]; args->r13 = r[13]; args->r14 = r[14]; args->r15 = r[15];
	}
	return status;
}

/** SEAMCALL leaf `fn` with `args` as inputs; outputs are not copied back. Returns the status. */
static inline u64 seamcall(u64 fn, struct tdx_module_args *args) { return __tdxpa_seamcall(fn, args, false); }
/** SEAMCALL leaf `fn`; the output registers are copied back into `args`. Returns the status. */
static inline u64 seamcall_ret(u64 fn, struct tdx_module_args *args) { return __tdxpa_seamcall(fn, args, true); }
#define seamcall_saved_ret(fn, args) seamcall_ret(fn, args)

/** RAX for leaf `leaf` at `version` (bits 23:16). */
#define TDX_LEAF_VERSION(leaf, version) ((u64)(leaf) | ((u64)(version) << 16))

/** The module's global KeyID (the kernel's tdx_global_keyid). */
static inline u16 tdx_global_keyid_get(void) { return (u16)tdxpa_platform()->global_keyid; }
/** A physical address with `hkid` in its KeyID bits (the kernel's set_hkid_to_hpa). */
static inline u64 set_hkid_to_hpa(u64 pa, u16 hkid) { return pa | ((u64)hkid << tdxpa_platform()->keyid_shift); }

#endif
