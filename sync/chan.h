/* dyco — sync layer: Go-style channels of fixed-size elements, unbuffered
 * (a send waits for a receiver) or buffered (a send waits only when full). */
#ifndef DYCO_SYNC_CHAN_H_
#define DYCO_SYNC_CHAN_H_

#include <stddef.h>
#include <sys/types.h>

#include "sync/flags.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dyco_chan dyco_chan;

/* dyco_chan_create makes a channel of elements of elem_size bytes (0 is
 * allowed: a channel of signals) that buffers up to capacity of them;
 * capacity 0 makes it unbuffered. flags: 0 (local) or DYCO_SYNC_SHARED (see
 * sync/flags.h). The buffer is allocated here, once. Does not block. Returns
 * NULL with errno EINVAL (bad flags) or ENOMEM. */
dyco_chan *dyco_chan_create(size_t elem_size, size_t capacity, int flags);

/* dyco_chan_destroy frees *chan once no coroutine waits on it any more and
 * sets *chan to NULL. Every waiting sender and receiver (and select) returns
 * -EIDRM, the code of every destroyed primitive (docs/errors.md); buffered
 * elements are dropped. To let receivers drain the buffer and see the end,
 * dyco_chan_close first. NULL and *chan NULL are ignored. Does not block. */
void dyco_chan_destroy(dyco_chan **chan);

/* dyco_chan_send copies the element at elem into the channel. It hands it
 * straight to the longest-waiting receiver if there is one, otherwise puts
 * it in the buffer if there is room, otherwise waits (FIFO among senders)
 * until a receiver takes it, for at most timeout ms (-1: no limit, 0: does
 * not wait). Returns 0 when sent; -EPIPE when the channel is closed (before
 * or while waiting: the element was not sent); -EIDRM when it was destroyed
 * while waiting (not sent either); -ETIMEDOUT; -EINVAL for a NULL chan (or
 * NULL elem with a non-zero element size); -EPERM when it would wait
 * outside a coroutine; -ENOMEM; -EXDEV for a local channel of another
 * thread. */
int dyco_chan_send(dyco_chan *chan, const void *elem, int timeout);

/* dyco_chan_recv takes the oldest element into elem (NULL: drop it). It
 * takes it from the buffer (and moves the longest-waiting sender's element
 * into the buffer), or straight from the longest-waiting sender, otherwise
 * waits (FIFO among receivers) for at most timeout ms (-1: no limit, 0:
 * does not wait). Returns 1 when it received an element; 0 when the channel
 * is closed and its buffer is empty; -EIDRM when it was destroyed while
 * waiting; -ETIMEDOUT; -EINVAL for a NULL chan; -EPERM when it would wait
 * outside a coroutine; -ENOMEM; -EXDEV for a local channel of another
 * thread. */
int dyco_chan_recv(dyco_chan *chan, void *elem, int timeout);

/* dyco_chan_close closes the channel: sends fail with -EPIPE from now on
 * (waiting senders wake with it), receivers take what is buffered, then get
 * 0 (waiting receivers wake with 0). Does not block. Returns 0, -EALREADY
 * when already closed, -EINVAL for NULL, -EXDEV. */
int dyco_chan_close(dyco_chan *chan);

/* dyco_chan_len returns the number of elements in the buffer now (always 0
 * for an unbuffered channel); dyco_chan_cap the capacity. -EINVAL for NULL,
 * -EXDEV. */
ssize_t dyco_chan_len(dyco_chan *chan);
ssize_t dyco_chan_cap(dyco_chan *chan);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_CHAN_H_ */
