/* dyco — sync layer: the seed's half-duplex channel. One message slot that
 * carries messages of up to `size` bytes one at a time, either way. */
#ifndef DYCO_SYNC_CHANNEL_H_
#define DYCO_SYNC_CHANNEL_H_

#include <stddef.h>
#include <sys/types.h>

#include "sync/flags.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Half-duplex: the channel holds one message at a time, like a walkie-talkie
 * that carries one utterance: a sender finds the slot free, or waits until
 * the message in it was taken. Any coroutine may send and any may receive,
 * so two coroutines can talk both ways over one channel by taking turns —
 * but a coroutine that sends and then receives on the same channel before
 * its peer has taken the message gets its own message back. Many senders
 * and many receivers may wait; each message goes to exactly one receiver,
 * in the order sent, and waiters are served first come, first served. */
typedef struct dyco_channel dyco_channel;

/* dyco_channel_create makes a local channel for messages of 1 to size bytes
 * (0: 1024). Does not block. NULL (errno ENOMEM) on error. */
dyco_channel *dyco_channel_create(size_t size);

/* dyco_channel_createShared is dyco_channel_create for a channel that
 * coroutines of several threads may use (see sync/flags.h). */
dyco_channel *dyco_channel_createShared(size_t size);

/* dyco_channel_destroy frees *chan once no coroutine waits on it any more and
 * sets *chan to NULL; every waiting sender and receiver returns 0, the
 * seed's documented "channel closed" (where every other primitive's waiters
 * return -EIDRM, docs/errors.md); a message still in the slot is dropped.
 * NULL and *chan NULL are ignored. Does not block. */
void dyco_channel_destroy(dyco_channel **chan);

/* dyco_channel_send copies size bytes from buf into the channel and returns
 * at once when the slot is free (or a receiver waits: it gets the message);
 * otherwise it waits at most timeout ms (-1: no limit, 0: does not wait)
 * until a receiver has taken the message in the slot, then puts its own
 * there. Returns size when sent; 0 when the channel was destroyed while it
 * waited; -EMSGSIZE when size is larger than the channel's size; -EINVAL for
 * a NULL chan or buf or a size of 0; -ETIMEDOUT; -EPERM when it would wait
 * outside a coroutine; -ENOMEM; -EXDEV for a local channel of another
 * thread. */
ssize_t dyco_channel_send(dyco_channel *chan, void *buf, size_t size,
                          int timeout);

/* dyco_channel_recv takes the message in the channel into buf, waiting at
 * most timeout ms for one. maxsize must be at least the channel's size.
 * Returns the message's length (> 0); 0 when the channel was destroyed
 * while it waited; -EINVAL for a NULL chan or buf or a maxsize under the
 * channel's size; -ETIMEDOUT; -EPERM when it would wait outside a coroutine;
 * -ENOMEM; -EXDEV. */
ssize_t dyco_channel_recv(dyco_channel *chan, void *buf, size_t maxsize,
                          int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_CHANNEL_H_ */
