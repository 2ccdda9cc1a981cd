/* dyco — sync layer: the channel core (ring buffer, FIFO cells of waiting
 * senders and receivers, hand-offs), dyco_chan and dyco_channel over it. */
#include "sync/chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hints.h"
#include "base/list.h"
#include "sync/channel.h"
#include "sync/internal/chan.h"

/* --- Cells --------------------------------------------------------------- */

/* A channel's lists of waiting cells (base/list.h): cell_list_push and
 * cell_list_unlink, which cellq_push and cellq_remove wrap, each cell
 * knowing its list. cells_free_all frees a chain of spare cells. */
DYCO__DLIST(cell_list, dyco__cellq, dyco__cell, head, tail, next, prev)
DYCO__SCHAIN(cells, dyco__cell, next)

static inline void cellq_push(dyco__cellq *l, dyco__cell *c) {
  cell_list_push(l, c);
  c->list = l;
}

static inline void cellq_remove(dyco__cell *c) {
  cell_list_unlink(c->list, c);
  c->list = NULL;
}

/* Spare cells kept for reuse, at most: a burst of waiters does not keep its
 * memory for the channel's whole life. */
#define SPARE_MAX 64

static dyco__cell *cell_get(dyco__chan *ch) {
  dyco__cell *c = ch->spare;
  if (DYCO__LIKELY(c != NULL)) {
    ch->spare = c->next;
    ch->nspare--;
  } else {
    c = (dyco__cell *)malloc(ch->cell_size);
    if (c == NULL) {
      return NULL;
    }
    dyco_waitq_init(&c->q, ch->base.lock);
    c->list = NULL;
  }
  ch->refs++;
  return c;
}

/* A cell back from a waiter that has left its queue (which is empty again,
 * ready for the next use). */
static inline void cell_put(dyco__chan *ch, dyco__cell *c) {
  ch->refs--;
  if (DYCO__UNLIKELY(ch->nspare >= SPARE_MAX)) {
    free(c);
    return;
  }
  c->next = ch->spare;
  ch->spare = c;
  ch->nspare++;
}

/* Message copies: most messages are one machine word or two. */
static inline void copy_msg(void *to, const void *from, size_t n) {
  switch (n) {
    case 8:
      memcpy(to, from, 8);
      break;
    case 4:
      memcpy(to, from, 4);
      break;
    case 16:
      memcpy(to, from, 16);
      break;
    case 0:
      break; /* a channel of signals: buffers may be NULL */
    default:
      memcpy(to, from, n);
  }
}

/* --- The buffer ------------------------------------------------------ */

static inline void ring_push(dyco__chan *ch, const void *buf, size_t len) {
  size_t i = ch->head + ch->count;
  if (i >= ch->cap) {
    i -= ch->cap;
  }
  copy_msg(ch->ring + i * ch->msgmax, buf, len);
  if (ch->lens != NULL) {
    ch->lens[i] = len;
  }
  ch->count++;
}

static inline void ring_pop(dyco__chan *ch, void *buf, size_t *len) {
  size_t i = ch->head;
  size_t n = ch->lens != NULL ? ch->lens[i] : ch->msgmax;
  if (buf != NULL) {
    copy_msg(buf, ch->ring + i * ch->msgmax, n);
  }
  *len = n;
  ch->head = i + 1 == ch->cap ? 0 : i + 1;
  ch->count--;
}

/* --- Creating and freeing --------------------------------------------- */

dyco__chan *dyco__chan_new(size_t outer, size_t msgmax, size_t cap, int fixed,
                           int flags) {
  if ((flags & ~DYCO_SYNC_SHARED) != 0 || outer < sizeof(dyco__chan)) {
    errno = EINVAL;
    return NULL;
  }
  /* Sizes that overflow: the ring, or a cell. */
  if ((msgmax != 0 && cap > SIZE_MAX / 2 / msgmax) ||
      msgmax > SIZE_MAX / 2 - sizeof(dyco__cell)) {
    errno = ENOMEM;
    return NULL;
  }
  dyco__chan *ch = (dyco__chan *)calloc(1, outer);
  if (ch == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  dyco__sync_base_init(&ch->base, flags);
  ch->msgmax = msgmax;
  ch->cap = cap;
  ch->fixed = (uint8_t)(fixed != 0);
  size_t align = sizeof(max_align_t);
  ch->cell_size =
      (offsetof(dyco__cell, data) + msgmax + align - 1) & ~(align - 1);
  if (ch->cell_size < sizeof(dyco__cell)) {
    ch->cell_size = sizeof(dyco__cell);
  }
  if (cap != 0) {
    ch->ring = (char *)malloc(cap * msgmax != 0 ? cap * msgmax : 1);
    if (!fixed) {
      ch->lens = (size_t *)malloc(cap * sizeof(size_t));
    }
    if (ch->ring == NULL || (!fixed && ch->lens == NULL)) {
      dyco__chan_release(ch);
      errno = ENOMEM;
      return NULL;
    }
  }
  return ch;
}

void dyco__chan_release(dyco__chan *ch) {
  cells_free_all(ch->spare);
  free(ch->ring);
  free(ch->lens);
  free(ch);
}

/* --- Operations, lock held ------------------------------------------ */

static inline __attribute__((always_inline)) int try_send(dyco__chan *ch,
                                                          const void *buf,
                                                          size_t len) {
  if (DYCO__UNLIKELY(ch->closed)) {
    return -EPIPE;
  }
  dyco__cell *c;
  /* A receiver waits only while the buffer is empty: hand it over. */
  while ((c = ch->recvq.head) != NULL) {
    cellq_remove(c);
    if (dyco_waitq_wakeOne(&c->q, DYCO__SYNC_OK)) {
      /* It cannot look before we let go of the lock (or, on one thread,
       * before we give up the CPU). */
      copy_msg(c->data.bytes, buf, len);
      c->len = len;
      return 1;
    }
    /* It timed out, or its select took another case: its cell is its. */
  }
  if (ch->count < ch->cap) {
    ring_push(ch, buf, len);
    return 1;
  }
  return 0;
}

static inline __attribute__((always_inline)) int try_recv(dyco__chan *ch,
                                                          void *buf,
                                                          size_t *len) {
  dyco__cell *c;
  if (ch->count > 0) {
    ring_pop(ch, buf, len);
    /* A slot is free: the first waiting sender's message takes it. */
    while ((c = ch->sendq.head) != NULL) {
      cellq_remove(c);
      if (dyco_waitq_wakeOne(&c->q, DYCO__SYNC_OK)) {
        ring_push(ch, c->data.bytes, c->len);
        break;
      }
    }
    return 1;
  }
  while ((c = ch->sendq.head) != NULL) {
    cellq_remove(c);
    if (dyco_waitq_wakeOne(&c->q, DYCO__SYNC_OK)) {
      if (buf != NULL) {
        copy_msg(buf, c->data.bytes, c->len);
      }
      *len = c->len;
      return 1;
    }
  }
  return ch->closed ? -EPIPE : 0;
}

static inline dyco__cell *enqueue(dyco__chan *ch, int send, const void *buf,
                                  size_t len) {
  dyco__cell *c = cell_get(ch);
  if (c == NULL) {
    return NULL;
  }
  if (send) {
    copy_msg(c->data.bytes, buf, len);
    c->len = len;
    cellq_push(&ch->sendq, c);
  } else {
    cellq_push(&ch->recvq, c);
  }
  return c;
}

/* For select: the exported forms of the above. */
int dyco__chan_try_send(dyco__chan *ch, const void *buf, size_t len) {
  return try_send(ch, buf, len);
}

int dyco__chan_try_recv(dyco__chan *ch, void *buf, size_t *len) {
  return try_recv(ch, buf, len);
}

dyco__cell *dyco__chan_enqueue(dyco__chan *ch, int send, const void *buf,
                               size_t len) {
  return enqueue(ch, send, buf, len);
}

int dyco__chan_dequeue(dyco__chan *ch, dyco__cell *c) {
  if (c->list != NULL) {
    cellq_remove(c);
  }
  cell_put(ch, c);
  return ch->dead && ch->refs == 0;
}

/* Waits on a fresh cell; the lock is held on entry and on return. 1 done,
 * -EPIPE closed, -EIDRM destroyed, -ETIMEDOUT, -EPERM, -ENOMEM. */
static __attribute__((noinline)) int wait_cell(dyco__chan *ch, int send,
                                               void *buf, size_t *len,
                                               int timeout) {
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  dyco__cell *c = enqueue(ch, send, buf, *len);
  if (c == NULL) {
    return -ENOMEM;
  }
  intptr_t v = 0;
  int r = dyco_waitq_wait(&c->q, timeout, &v);
  if (r == 0) {
    if (v == DYCO__SYNC_OK) {
      if (!send) {
        if (buf != NULL) {
          copy_msg(buf, c->data.bytes, c->len);
        }
        *len = c->len;
      }
      r = 1;
    } else {
      r = v == DYCO__SYNC_CLOSED ? -EPIPE : DYCO__SYNC_EDESTROYED;
    }
  }
  if (c->list != NULL) {
    cellq_remove(c);
  }
  cell_put(ch, c);
  return r;
}

/* Ends an operation: lets go of the lock, and frees a destroyed channel
 * whose last waiter this was. */
static inline void finish(dyco__chan *ch) {
  int gone = ch->dead && ch->refs == 0;
  dyco__sync_leave(&ch->base);
  if (DYCO__UNLIKELY(gone)) {
    dyco__chan_release(ch);
  }
}

/* Enters ch's lock and sends or receives if nothing needs to wait: the
 * result (1, or an error), the lock left; 0 must wait, the lock entered. */
static inline __attribute__((always_inline)) int send_now(dyco__chan *ch,
                                                          const void *buf,
                                                          size_t len) {
  int r = dyco__sync_enter(&ch->base);
  if (DYCO__UNLIKELY(r != 0)) {
    return r;
  }
  r = try_send(ch, buf, len);
  if (DYCO__LIKELY(r != 0)) {
    dyco__sync_leave(&ch->base);
  }
  return r;
}

static inline __attribute__((always_inline)) int recv_now(dyco__chan *ch,
                                                          void *buf,
                                                          size_t *len) {
  int r = dyco__sync_enter(&ch->base);
  if (DYCO__UNLIKELY(r != 0)) {
    return r;
  }
  r = try_recv(ch, buf, len);
  if (DYCO__LIKELY(r != 0)) {
    dyco__sync_leave(&ch->base);
  }
  return r;
}

static inline __attribute__((always_inline)) int chan_send(dyco__chan *ch,
                                                           const void *buf,
                                                           size_t len,
                                                           int timeout) {
  int r = send_now(ch, buf, len);
  if (DYCO__LIKELY(r != 0)) {
    return r;
  }
  r = wait_cell(ch, 1, (void *)buf, &len, timeout);
  finish(ch);
  return r;
}

static inline __attribute__((always_inline)) int chan_recv(dyco__chan *ch,
                                                           void *buf,
                                                           size_t *len,
                                                           int timeout) {
  int r = recv_now(ch, buf, len);
  if (DYCO__LIKELY(r != 0)) {
    return r;
  }
  r = wait_cell(ch, 0, buf, len, timeout);
  finish(ch);
  return r;
}

int dyco__chan_send(dyco__chan *ch, const void *buf, size_t len, int timeout) {
  return chan_send(ch, buf, len, timeout);
}

int dyco__chan_recv(dyco__chan *ch, void *buf, size_t *len, int timeout) {
  return chan_recv(ch, buf, len, timeout);
}

static void wake_all(dyco__cellq *l, intptr_t value) {
  dyco__cell *c;
  while ((c = l->head) != NULL) {
    cellq_remove(c);
    dyco_waitq_wakeOne(&c->q, value);
  }
}

int dyco__chan_close_locked(dyco__chan *ch) {
  if (ch->closed) {
    return -EALREADY;
  }
  ch->closed = 1;
  wake_all(&ch->recvq, DYCO__SYNC_CLOSED);
  wake_all(&ch->sendq, DYCO__SYNC_CLOSED);
  return 0;
}

int dyco__chan_destroy(dyco__chan *ch, const char *what) {
  if (dyco__sync_enter_destroy(&ch->base, what) != 0) {
    return -EXDEV;
  }
  /* Waiters learn it was destroyed, not closed (a closed channel has none
   * left: they were woken by the close). */
  ch->closed = 1;
  wake_all(&ch->recvq, DYCO__SYNC_DESTROYED);
  wake_all(&ch->sendq, DYCO__SYNC_DESTROYED);
  ch->dead = 1;
  ch->count = 0;
  finish(ch);
  return 0;
}

/* --- dyco_chan ------------------------------------------------------- */

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

/* The sends and receives of the two channel kinds: what needs no wait
 * inline, then by a tail call the wait (the channel's lock entered), which
 * returns to the caller by a jump when that pays (base/hints.h). */

DYCO__RETURN_BY_JUMP(int, dyco__chan_send_wait,
                     (dyco_chan * chan, const void *elem, int timeout)) {
  size_t len = chan->core.msgmax;
  int r = wait_cell(&chan->core, 1, (void *)elem, &len, timeout);
  finish(&chan->core);
  return r == 1 ? 0 : r;
}

int dyco_chan_send(dyco_chan *chan, const void *elem, int timeout) {
  if (DYCO__UNLIKELY(chan == NULL ||
                     (elem == NULL && chan->core.msgmax != 0))) {
    return -EINVAL;
  }
  int r = send_now(&chan->core, elem, chan->core.msgmax);
  if (DYCO__LIKELY(r != 0)) {
    return r == 1 ? 0 : r;
  }
  return dyco__chan_send_wait(chan, elem, timeout);
}

DYCO__RETURN_BY_JUMP(int, dyco__chan_recv_wait,
                     (dyco_chan * chan, void *elem, int timeout)) {
  size_t len;
  int r = wait_cell(&chan->core, 0, elem, &len, timeout);
  finish(&chan->core);
  return r == -EPIPE ? 0 : r;
}

int dyco_chan_recv(dyco_chan *chan, void *elem, int timeout) {
  if (DYCO__UNLIKELY(chan == NULL)) {
    return -EINVAL;
  }
  size_t len;
  int r = recv_now(&chan->core, elem, &len);
  if (DYCO__LIKELY(r != 0)) {
    return r == -EPIPE ? 0 : r;
  }
  return dyco__chan_recv_wait(chan, elem, timeout);
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

/* --- dyco_channel: the seed's half-duplex channel, a core with a
 * one-message buffer and messages of any length up to its size --------- */

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

/* The seed's results: the size sent or received, 0 for a channel
 * destroyed while it waited (its documented 0), or the error. */
static inline ssize_t seed_result(int r, size_t n) {
  if (r == 1) {
    return (ssize_t)n;
  }
  return r == DYCO__SYNC_EDESTROYED ? 0 : r;
}

DYCO__RETURN_BY_JUMP(ssize_t, dyco__channel_send_wait,
                     (dyco_channel * chan, void *buf, size_t size,
                      int timeout)) {
  size_t len = size;
  int r = wait_cell(&chan->core, 1, buf, &len, timeout);
  finish(&chan->core);
  return seed_result(r, size);
}

ssize_t dyco_channel_send(dyco_channel *chan, void *buf, size_t size,
                          int timeout) {
  if (chan == NULL || buf == NULL || size == 0) {
    return -EINVAL;
  }
  if (size > chan->core.msgmax) {
    return -EMSGSIZE;
  }
  int r = send_now(&chan->core, buf, size);
  if (DYCO__LIKELY(r != 0)) {
    return seed_result(r, size);
  }
  return dyco__channel_send_wait(chan, buf, size, timeout);
}

DYCO__RETURN_BY_JUMP(ssize_t, dyco__channel_recv_wait,
                     (dyco_channel * chan, void *buf, int timeout)) {
  size_t len = 0;
  int r = wait_cell(&chan->core, 0, buf, &len, timeout);
  finish(&chan->core);
  return seed_result(r, len);
}

ssize_t dyco_channel_recv(dyco_channel *chan, void *buf, size_t maxsize,
                          int timeout) {
  if (chan == NULL || buf == NULL || maxsize < chan->core.msgmax) {
    return -EINVAL;
  }
  size_t len = 0;
  int r = recv_now(&chan->core, buf, &len);
  if (DYCO__LIKELY(r != 0)) {
    return seed_result(r, len);
  }
  return dyco__channel_recv_wait(chan, buf, timeout);
}
