/* SPDX-License-Identifier: MIT */
/* Shim of <linux/errno.h>: libc's errno values plus the kernel-only ones (docs/C-HARNESS.md). */
#ifndef _TDXPA_LINUX_ERRNO_H
#define _TDXPA_LINUX_ERRNO_H

/* glibc's <errno.h> reaches the system's <linux/errno.h> for the numbers: chain to it. */
#if __has_include_next(<linux/errno.h>)
#include_next <linux/errno.h>
#endif
#include <errno.h>

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

#endif
