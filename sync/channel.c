/* dyco — sync layer: the seed's half-duplex channel, a channel core with a
 * one-message buffer and messages of any length up to its size. */
#include "sync/channel.h"

#include <errno.h>

#include "sync/internal/chan.h"

#define DEFAULT_SIZE 1024

struct dyco_channel {
  dyco__chan core;
};

static dyco_channel *create(size_t size, int flags) {
  if (size == 0) {
    size = DEFAULT_SIZE;
  }
  return (dyco_channel *)dyco__chan_new(sizeof(dyco_channel), size, 1, 0,
                                        flags);
}

dyco_channel *dyco_channel_create(size_t size) { return create(size, 0); }

dyco_channel *dyco_channel_createShared(size_t size) {
  return create(size, DYCO_SYNC_SHARED);
}

void dyco_channel_destroy(dyco_channel **chan) {
  if (chan == NULL || *chan == NULL) {
    return;
  }
  dyco_channel *ch = *chan;
  if (dyco__chan_destroy(&ch->core, "dyco_channel_destroy") == 0) {
    *chan = NULL;
  }
}

ssize_t dyco_channel_send(dyco_channel *chan, void *buf, size_t size,
                          int timeout) {
  if (chan == NULL || buf == NULL || size == 0) {
    return -EINVAL;
  }
  if (size > chan->core.msgmax) {
    return -EMSGSIZE;
  }
  int r = dyco__chan_send(&chan->core, buf, size, timeout);
  if (r == 1) {
    return (ssize_t)size;
  }
  return r == -EPIPE ? 0 : r;
}

ssize_t dyco_channel_recv(dyco_channel *chan, void *buf, size_t maxsize,
                          int timeout) {
  if (chan == NULL || buf == NULL || maxsize < chan->core.msgmax) {
    return -EINVAL;
  }
  size_t len = 0;
  int r = dyco__chan_recv(&chan->core, buf, &len, timeout);
  if (r == 1) {
    return (ssize_t)len;
  }
  return r == -EPIPE ? 0 : r;
}
