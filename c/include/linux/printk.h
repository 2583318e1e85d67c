/* SPDX-License-Identifier: MIT */
/* Shim of <linux/printk.h>: pr_* print to standard error with their level (docs/C-HARNESS.md). */
#ifndef _TDXPA_LINUX_PRINTK_H
#define _TDXPA_LINUX_PRINTK_H

#include <stdio.h>

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif
#define pr_emerg(fmt, ...) fprintf(stderr, "emerg: " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...) fprintf(stderr, "err: " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) fprintf(stderr, "warn: " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...) fprintf(stderr, "info: " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...) do { if (0) fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__); } while (0)

#endif
