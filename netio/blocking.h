/* dyco — netio layer: running a blocking function on a worker thread while
 * the calling coroutine waits and the rest of its thread keeps running. */
#ifndef DYCO_NETIO_BLOCKING_H_
#define DYCO_NETIO_BLOCKING_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A function that may block its thread (a DNS lookup, a disk read, a
 * library without a non-blocking API). Its errno is handed back. */
typedef intptr_t (*dyco_blocking_fn)(void *arg);

/* dyco_blocking_call runs fn(arg) and returns its result, with errno as fn
 * left it: it passes fn's values through, whatever fn's convention, and has
 * one error of its own, a NULL fn: -1 with errno EINVAL, as a libc call would
 * say it. Inside a coroutine fn runs on one of dyco's worker threads (a small
 * pool shared by the process, started on first use, each thread with every
 * signal blocked) while the coroutine waits; the other coroutines of its
 * thread keep running. Outside a coroutine, fn runs on the calling thread,
 * which it blocks as it would without dyco.
 *
 * fn runs on another thread: whatever it touches must be safe to use from
 * there. In particular a coroutine on its scheduler's shared stack (the
 * default, see dyco_coroutine_setStack) leaves that stack to other coroutines
 * while it waits, so fn must not touch the caller's local variables: pass
 * heap or static memory, or give the coroutine a private stack. When arg
 * itself points into the shared stack, fn runs on the calling thread instead
 * (blocking it) rather than corrupt memory; so it does when no worker can be
 * had (no memory for the call's record, no thread can be started). fn cannot
 * be cancelled: a coroutine killed while it waits leaves fn to finish on its
 * own (and leaks the few bytes of the call's record). */
intptr_t dyco_blocking_call(dyco_blocking_fn fn, void *arg);

/* dyco_blocking_setWorkers sets the most worker threads the pool may run at
 * once (default 8; idle ones end after 10 s). Returns the previous limit, or
 * -EINVAL for max < 1. */
int dyco_blocking_setWorkers(int max);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_NETIO_BLOCKING_H_ */
