/* SPDX-License-Identifier: MIT */
/* Shim of <linux/kernel.h>: the usual helpers (docs/C-HARNESS.md). */
#ifndef _TDXPA_LINUX_KERNEL_H
#define _TDXPA_LINUX_KERNEL_H

#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/printk.h>
#include <linux/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define ALIGN(x, a) (((x) + (a) - 1) & ~((typeof(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((typeof(x))(a) - 1)) == 0)
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define min(a, b) ({ __auto_type _a = (a); __auto_type _b = (b); _a < _b ? _a : _b; })
#define max(a, b) ({ __auto_type _a = (a); __auto_type _b = (b); _a > _b ? _a : _b; })
#define min_t(t, a, b) min((t)(a), (t)(b))
#define max_t(t, a, b) max((t)(a), (t)(b))
#define swap(a, b) do { __auto_type _t = (a); (a) = (b); (b) = _t; } while (0)

#endif
