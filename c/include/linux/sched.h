/* SPDX-License-Identifier: MIT */
/* Shim of <linux/sched.h>: cond_resched and might_sleep do nothing in a single thread (docs/C-HARNESS.md). */
#ifndef _TDXPA_LINUX_SCHED_H
#define _TDXPA_LINUX_SCHED_H

static inline int cond_resched(void) { return 0; }
static inline void might_sleep(void) {}

#endif
