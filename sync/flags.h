/* dyco — sync layer: the flags every primitive's constructor takes, and what
 * "local" and "shared" mean for a primitive. */
#ifndef DYCO_SYNC_FLAGS_H_
#define DYCO_SYNC_FLAGS_H_

/* A primitive is local unless created shared.
 *
 * A local primitive serves the coroutines of one thread: it takes no lock and
 * makes no system call. It belongs to the first thread that operates on it
 * (creating it does not count); an operation from any other thread is
 * refused with -EXDEV (a destroy from another thread is reported on stderr
 * and ignored).
 *
 * A shared primitive (DYCO_SYNC_SHARED, or a seed primitive's
 * ..._createShared) may be used by the coroutines of every thread, and by
 * threads without a scheduler for the calls that do not wait. Its state sits
 * behind a spin lock held for a few instructions; a coroutine woken from
 * another thread is handed back to its own scheduler, which runs it. */
#define DYCO_SYNC_SHARED 1

#endif /* DYCO_SYNC_FLAGS_H_ */
