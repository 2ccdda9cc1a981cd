/* dyco — sync layer: Go-style channels (dyco_chan) over the channel core:
 * fixed-size elements, a capacity, close, len and cap. */
#include "sync/chan.h"

#include <errno.h>

#include "sync/internal/chan.h"

dyco_chan *dyco_chan_create(size_t elem_size, size_t capacity, int flags) {
  return (dyco_chan *)dyco__chan_new(sizeof(dyco_chan), elem_size, capacity, 1,
                                     flags);
}

void dyco_chan_destroy(dyco_chan **chan) {
  if (chan == NULL || *chan == NULL) {
    return;
  }
  dyco_chan *ch = *chan;
  if (dyco__chan_destroy(&ch->core, "dyco_chan_destroy") == 0) {
    *chan = NULL;
  }
}

int dyco_chan_send(dyco_chan *chan, const void *elem, int timeout) {
  if (DYCO__SYNC_UNLIKELY(chan == NULL ||
                          (elem == NULL && chan->core.msgmax != 0))) {
    return -EINVAL;
  }
  int r = dyco__chan_send(&chan->core, elem, chan->core.msgmax, timeout);
  return r == 1 ? 0 : r;
}

int dyco_chan_recv(dyco_chan *chan, void *elem, int timeout) {
  if (DYCO__SYNC_UNLIKELY(chan == NULL)) {
    return -EINVAL;
  }
  size_t len;
  int r = dyco__chan_recv(&chan->core, elem, &len, timeout);
  return r == -EPIPE ? 0 : r;
}

int dyco_chan_close(dyco_chan *chan) {
  if (chan == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&chan->core.base);
  if (r != 0) {
    return r;
  }
  r = dyco__chan_close_locked(&chan->core);
  dyco__sync_leave(&chan->core.base);
  return r;
}

ssize_t dyco_chan_len(dyco_chan *chan) {
  if (chan == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&chan->core.base);
  if (r != 0) {
    return r;
  }
  ssize_t n = (ssize_t)chan->core.count;
  dyco__sync_leave(&chan->core.base);
  return n;
}

ssize_t dyco_chan_cap(dyco_chan *chan) {
  if (chan == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&chan->core.base);
  if (r != 0) {
    return r;
  }
  dyco__sync_leave(&chan->core.base);
  return (ssize_t)chan->core.cap;
}
