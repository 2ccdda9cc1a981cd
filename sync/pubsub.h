/* dyco — sync layer: the seed's publish-subscribe channel. One message
 * published reaches every coroutine subscribed at that moment (1 to N). */
#ifndef DYCO_SYNC_PUBSUB_H_
#define DYCO_SYNC_PUBSUB_H_

#include <stddef.h>
#include <sys/types.h>

#include "sync/flags.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dyco_pubsubchannel dyco_pubsubchannel;

/* dyco_pubsub_create makes a local publish-subscribe channel for messages of
 * 1 to size bytes (0: 1024). Does not block. NULL (errno ENOMEM) on error. */
dyco_pubsubchannel *dyco_pubsub_create(size_t size);

/* dyco_pubsub_createShared is dyco_pubsub_create for a channel that
 * coroutines of several threads may use (see sync/flags.h). */
dyco_pubsubchannel *dyco_pubsub_createShared(size_t size);

/* dyco_pubsub_destroy frees *pschan once no coroutine waits on it and sets
 * *pschan to NULL; every waiting subscriber returns -EIDRM (docs/errors.md;
 * the seed's returned -1). A publisher still waiting for its message to be
 * taken goes on waiting for the subscribers it reached. NULL and *pschan
 * NULL are ignored. Does not block. */
void dyco_pubsub_destroy(dyco_pubsubchannel **pschan);

/* dyco_pubsub_publish hands size bytes from buf to every coroutine waiting
 * in dyco_pubsub_subscribe now and wakes them; nothing is kept for later
 * subscribers. Inside a coroutine it then waits, as the seed did, until
 * every one of them has taken the message (with no timeout: they are awake
 * and take it when they next run), so a subscriber that subscribes again
 * right away gets the next message published back to back. The wait goes
 * on if the channel is destroyed meanwhile. Outside a coroutine it does
 * not wait. Returns size when at least one subscriber got it; 0 when
 * nobody was subscribed; -EMSGSIZE when size is larger than the channel's
 * size; -EINVAL for a NULL pschan or buf or a size of 0; -ENOMEM; -EXDEV. A
 * shared channel's subscriber on another thread that is killed (its
 * scheduler aborted or freed) after it was handed a message and before it
 * ran leaves the publisher waiting. */
ssize_t dyco_pubsub_publish(dyco_pubsubchannel *pschan, void *buf, size_t size);

/* dyco_pubsub_subscribe waits at most timeout ms (-1: no limit; 0: returns
 * -ETIMEDOUT, as nothing is ever waiting to be taken) for the next message
 * published and copies it into buf. One subscription receives one message:
 * subscribe again for the next. maxsize must be at least the channel's size.
 * Returns the message's length (> 0); -EIDRM when the channel was destroyed
 * while it waited; -ETIMEDOUT; -EINVAL for a NULL pschan or buf or a small
 * maxsize; -EPERM outside a coroutine; -ENOMEM (a timed wait); -EXDEV. */
ssize_t dyco_pubsub_subscribe(dyco_pubsubchannel *pschan, void *buf,
                              size_t maxsize, int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_PUBSUB_H_ */
