/* SPDX-License-Identifier: MIT */
/*
 * Shim of <linux/bug.h>. WARN_ON and friends print the kernel's "WARNING: at" line and report the
 * warning to the emulator, where it is a finding of the run (exit 1); BUG_ON aborts (docs/C-HARNESS.md).
 */
#ifndef _TDXPA_LINUX_BUG_H
#define _TDXPA_LINUX_BUG_H

#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <tdxpa.h>

#define WARN_ON(condition) ({ \
	int __ret_warn_on = !!(condition); \
	if (unlikely(__ret_warn_on)) \
		tdxpa_warn(__func__, __FILE__, __LINE__, "WARN_ON(" #condition ")"); \
	unlikely(__ret_warn_on); \
})

#define WARN_ON_ONCE(condition) ({ \
	static bool __warned; \
	int __ret_warn_once = !!(condition); \
	if (unlikely(__ret_warn_once && !__warned)) { \
		__warned = true; \
		tdxpa_warn(__func__, __FILE__, __LINE__, "WARN_ON_ONCE(" #condition ")"); \
	} \
	unlikely(__ret_warn_once); \
})

#define WARN(condition, fmt, ...) ({ \
	int __ret_warn = !!(condition); \
	if (unlikely(__ret_warn)) { \
		char __warn_msg[200]; \
		snprintf(__warn_msg, sizeof(__warn_msg), fmt, ##__VA_ARGS__); \
		tdxpa_warn(__func__, __FILE__, __LINE__, __warn_msg); \
	} \
	unlikely(__ret_warn); \
})

#define WARN_ONCE(condition, fmt, ...) ({ \
	static bool __warned_once; \
	int __ret_w1 = !!(condition); \
	if (unlikely(__ret_w1 && !__warned_once)) { \
		__warned_once = true; \
		WARN(1, fmt, ##__VA_ARGS__); \
	} \
	unlikely(__ret_w1); \
})

#define BUG() abort()
#define BUG_ON(condition) do { if (unlikely(condition)) abort(); } while (0)
#define BUILD_BUG_ON(condition) _Static_assert(!(condition), "BUILD_BUG_ON(" #condition ")")

#endif
