/* SPDX-License-Identifier: MIT */
/*
 * Shim of <linux/mutex.h> for a single-threaded harness: a mutex records whether it is held; taking a
 * held mutex would deadlock in the kernel, so it is reported as a warning (a finding) instead of
 * hanging; unlocking a free one too. guard(mutex)(&m) works (docs/C-HARNESS.md).
 */
#ifndef _TDXPA_LINUX_MUTEX_H
#define _TDXPA_LINUX_MUTEX_H

#include <linux/bug.h>
#include <linux/cleanup.h>
#include <linux/types.h>

struct mutex {
	bool locked;
};

#define DEFINE_MUTEX(name) struct mutex name = { .locked = false }
static inline void mutex_init(struct mutex *m) { m->locked = false; }
static inline void mutex_lock(struct mutex *m)
{
	WARN(m->locked, "mutex_lock: already held (a deadlock in the kernel)");
	m->locked = true;
}
static inline int mutex_lock_interruptible(struct mutex *m) { mutex_lock(m); return 0; }
static inline int mutex_trylock(struct mutex *m)
{
	if (m->locked)
		return 0;
	m->locked = true;
	return 1;
}
static inline void mutex_unlock(struct mutex *m)
{
	WARN(!m->locked, "mutex_unlock: not held");
	m->locked = false;
}
static inline bool mutex_is_locked(const struct mutex *m) { return m->locked; }
#define lockdep_assert_held(m) WARN_ON(!(m)->locked)

DEFINE_GUARD(mutex, struct mutex *, mutex_lock(_T), mutex_unlock(_T))

#endif
