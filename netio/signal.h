/* dyco — netio layer: waiting for signals and for child processes inside a
 * coroutine, without blocking the scheduler. */
#ifndef DYCO_NETIO_SIGNAL_H_
#define DYCO_NETIO_SIGNAL_H_

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dyco_signal_init lets the running coroutine receive the signals in mask
 * with dyco_signal_wait: it blocks them in this thread (they stay pending
 * for the coroutine instead of running handlers) and opens a signalfd for
 * them. Signals sent to the process go to any thread that does not block
 * them: block them in your other threads too (dyco's own workers block
 * every signal). Several coroutines may each have their own set; a signal
 * goes to one of the coroutines waiting for it. Never blocks. Returns 0,
 * -EEXIST when the coroutine already did it, -EINVAL for a NULL mask,
 * -EPERM outside a coroutine, -EAGAIN when no coroutine-local key is left,
 * -ENOMEM, or signalfd's error (-EMFILE, -ENFILE, -EINVAL). */
int dyco_signal_init(sigset_t *mask);

/* dyco_signal_destroy closes the running coroutine's signalfd and unblocks
 * the signals its dyco_signal_init blocked (those that were not blocked
 * before, and that no other coroutine of the thread still waits for): the
 * thread's mask is as it was. Also done when the coroutine ends. */
void dyco_signal_destroy(void);

/* dyco_signal_wait waits (yields) until one of the signals given to
 * dyco_signal_init is pending, takes it and describes it in *sinfo, or
 * until timeout ms pass (-1: no limit; 0: just look). Returns
 * sizeof(struct signalfd_siginfo), -ETIMEDOUT, -EINVAL without
 * dyco_signal_init or for a NULL sinfo, -EPERM outside a coroutine,
 * -ENOMEM or -ENOSPC when its wait cannot be registered, or the signalfd
 * read's error (EINTR is not one: the read is tried again). */
int dyco_signal_wait(struct signalfd_siginfo *sinfo, int timeout);

/* dyco_signal_waitchild waits for child process `child` to end (exit or be
 * killed) and reaps it as waitpid(2) does, storing its status in *status
 * (if not NULL). Inside a coroutine it yields while waiting (through a
 * pidfd, so that any number of coroutines wait for their own children at
 * once, with no signal handling at all); outside one it blocks the thread.
 * Returns child's pid; -ETIMEDOUT when timeout ms passed first (-1: no
 * limit; 0: just look) and the child still runs (it is still yours to
 * reap); -ECHILD when it is not a child of this process (or was reaped
 * already); -ENOMEM or -ENOSPC when its wait cannot be registered. A pid
 * of 0 or below means what it means to waitpid(2). */
int dyco_signal_waitchild(const pid_t child, int *status, int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_NETIO_SIGNAL_H_ */
