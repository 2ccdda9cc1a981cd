/* dyco — sync layer: publish-subscribe. Subscribers sleep on one wait queue;
 * a publish hands them all one counted copy and waits until all took it. */
#include "sync/pubsub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync/internal/common.h"

#define DEFAULT_SIZE 1024

typedef struct message {
  size_t refs; /* subscribers handed it that have not copied it yet */
  size_t len;
  int waited;      /* its publisher waits on `done` and recycles it */
  dyco_waitq done; /* its publisher, until refs is 0 */
  union {
    max_align_t align;
    char bytes[1];
  } data;
} message;

struct dyco_pubsubchannel {
  dyco__sync_base base;
  dyco_waitq q; /* subscribers */
  size_t msgmax;
  message *spare; /* a buffer to reuse */
  int publishers; /* publishers waiting for their message to be taken */
  int dead;
};

static dyco_pubsubchannel *create(size_t size, int flags) {
  if (size == 0) {
    size = DEFAULT_SIZE;
  }
  if (size > SIZE_MAX / 2) {
    errno = ENOMEM;
    return NULL;
  }
  dyco_pubsubchannel *ps = (dyco_pubsubchannel *)calloc(1, sizeof *ps);
  if (ps == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  dyco__sync_base_init(&ps->base, flags);
  dyco_waitq_init(&ps->q, ps->base.lock);
  ps->msgmax = size;
  return ps;
}

dyco_pubsubchannel *dyco_pubsub_create(size_t size) { return create(size, 0); }

dyco_pubsubchannel *dyco_pubsub_createShared(size_t size) {
  return create(size, DYCO_SYNC_SHARED);
}

static void release(dyco_pubsubchannel *ps) {
  free(ps->spare);
  free(ps);
}

/* Ends an operation; the last one to leave a destroyed channel frees it. */
static inline void finish(dyco_pubsubchannel *ps) {
  int gone = ps->dead && ps->q.refs == 0 && ps->publishers == 0;
  dyco__sync_leave(&ps->base);
  if (gone) {
    release(ps);
  }
}

/* A message buffer nobody needs any more. */
static void recycle(dyco_pubsubchannel *ps, message *m) {
  if (ps->spare == NULL) {
    ps->spare = m;
  } else {
    free(m);
  }
}

void dyco_pubsub_destroy(dyco_pubsubchannel **pps) {
  if (pps == NULL || *pps == NULL) {
    return;
  }
  dyco_pubsubchannel *ps = *pps;
  if (dyco__sync_enter_destroy(&ps->base, "dyco_pubsub_destroy") != 0) {
    return;
  }
  *pps = NULL;
  ps->dead = 1;
  /* Waiting subscribers are told it was destroyed. A publisher waiting for
   * its message to be taken keeps waiting: the subscribers it reached
   * before still take it. */
  dyco_waitq_wakeAll(&ps->q, DYCO__SYNC_DESTROYED);
  finish(ps);
}

ssize_t dyco_pubsub_publish(dyco_pubsubchannel *ps, void *buf, size_t size) {
  if (ps == NULL || buf == NULL || size == 0) {
    return -EINVAL;
  }
  if (size > ps->msgmax) {
    return -EMSGSIZE;
  }
  int r = dyco__sync_enter(&ps->base);
  if (r != 0) {
    return r;
  }
  if (!dyco_waitq_hasWaiter(&ps->q)) {
    dyco__sync_leave(&ps->base);
    return 0;
  }
  message *m = ps->spare;
  if (m != NULL) {
    ps->spare = NULL;
  } else {
    m = (message *)malloc(offsetof(message, data) + ps->msgmax);
    if (m == NULL) {
      dyco__sync_leave(&ps->base);
      return -ENOMEM;
    }
  }
  memcpy(m->data.bytes, buf, size);
  m->len = size;
  /* Outside a coroutine nobody can wait: the subscribers take it when they
   * next run, and the last one recycles it. */
  m->waited = dyco__sync_in_coroutine();
  dyco_waitq_init(&m->done, ps->base.lock);
  /* Subscribers look at m only once they hold the lock again (or, on one
   * thread, once this coroutine gives up the CPU): refs is set by then. */
  size_t n = (size_t)dyco_waitq_wakeAll(&ps->q, (intptr_t)m);
  m->refs = n;
  if (n == 0) {
    recycle(ps, m); /* they had all timed out just now */
    dyco__sync_leave(&ps->base);
    return 0;
  }
  if (!m->waited) {
    dyco__sync_leave(&ps->base);
    return (ssize_t)size;
  }
  /* As the seed: back only once every subscriber it reached has taken it,
   * and so has had the chance to subscribe again for the next one. */
  ps->publishers++;
  while (m->refs != 0) {
    if (dyco_waitq_wait(&m->done, -1, NULL) != 0) {
      m->waited = 0; /* cannot wait (no memory): the last one recycles it */
      break;
    }
  }
  if (m->refs == 0) {
    recycle(ps, m);
  }
  ps->publishers--;
  finish(ps);
  return (ssize_t)size;
}

ssize_t dyco_pubsub_subscribe(dyco_pubsubchannel *ps, void *buf, size_t maxsize,
                              int timeout) {
  if (ps == NULL || buf == NULL || maxsize < ps->msgmax) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&ps->base);
  if (r != 0) {
    return r;
  }
  if (timeout == 0) {
    dyco__sync_leave(&ps->base);
    return -ETIMEDOUT;
  }
  intptr_t v = 0;
  ssize_t got = dyco_waitq_wait(&ps->q, timeout, &v);
  if (got == 0) {
    if (v == DYCO__SYNC_DESTROYED) {
      got = DYCO__SYNC_EDESTROYED;
    } else {
      message *m = (message *)v;
      memcpy(buf, m->data.bytes, m->len);
      got = (ssize_t)m->len;
      /* The last to take it hands it back to its publisher, or recycles it
       * when there is none (any more: killed while it waited). */
      if (--m->refs == 0 &&
          (!m->waited || !dyco_waitq_wakeOne(&m->done, DYCO__SYNC_OK))) {
        recycle(ps, m);
      }
    }
  }
  finish(ps);
  return got;
}
