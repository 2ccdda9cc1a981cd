/* dyco — sync layer, private: the channel core under dyco_channel,
 * dyco_chan and dyco_select. */
#ifndef DYCO_SYNC_INTERNAL_CHAN_H_
#define DYCO_SYNC_INTERNAL_CHAN_H_

#include <stddef.h>
#include <stdint.h>

#include "sched/wait.h"
#include "sync/internal/common.h"

/* A waiting operation. A coroutine that must wait takes a cell from the
 * channel, queues it on the channel's senders or receivers, and sleeps on
 * the cell's own wait queue. A cell is memory the channel owns: a waker
 * copies messages into it or out of it, never into a waiter's own buffer
 * (a waiter on the shared stack has its stack bytes copied away while it
 * sleeps, and their address belongs to another coroutine meanwhile). A
 * waker that pops a cell claims its coroutine with dyco_waitq_wakeOne on the
 * cell's queue: if that fails the waiter timed out (or its select was won
 * elsewhere) and the cell is skipped. The waiter always frees its own cell. */
typedef struct dyco__cell dyco__cell;

typedef struct dyco__cellq {
  dyco__cell *head;
  dyco__cell *tail;
} dyco__cellq;

struct dyco__cell {
  dyco__cell *next;
  dyco__cell *prev;
  dyco__cellq *list; /* the channel list it is on, NULL when off */
  dyco_waitq q;      /* its waiter sleeps here */
  size_t len;        /* bytes in data */
  union {
    max_align_t align;
    char bytes[1];
  } data; /* the channel's msgmax bytes (the struct is sized to fit) */
};

typedef struct dyco__chan {
  dyco__sync_base base;
  size_t msgmax; /* largest message; the element size when fixed */
  size_t cap;    /* messages the buffer holds */
  size_t count;  /* messages in it now */
  size_t head;   /* slot of the oldest */
  char *ring;    /* cap slots of msgmax bytes */
  size_t *lens;  /* each slot's length; NULL when fixed */
  dyco__cellq recvq;
  dyco__cellq sendq;
  dyco__cell *spare; /* cells to reuse, linked by next */
  uint32_t nspare;
  size_t cell_size;
  uint32_t refs; /* cells out (their waiters have not left yet) */
  uint8_t closed;
  uint8_t dead; /* destroyed: the last cell back frees the channel */
  uint8_t fixed;
} dyco__chan;

/* The public channel types wrap the core. */
struct dyco_chan {
  dyco__chan core;
};

/* Makes a channel inside a zeroed block of outer bytes (>= sizeof
 * dyco__chan) whose first member is the core. NULL (errno set) on error. */
dyco__chan *dyco__chan_new(size_t outer, size_t msgmax, size_t cap, int fixed,
                           int flags);

/* The operations, lock held (dyco__sync_enter) and the thread checked. Try:
 * 1 done, 0 would wait, -EPIPE closed (a receive drains the buffer first).
 * recv's buf may be NULL to drop the message. */
int dyco__chan_try_send(dyco__chan *ch, const void *buf, size_t len);
int dyco__chan_try_recv(dyco__chan *ch, void *buf, size_t *len);

/* The whole of a send or receive: enters, tries, waits up to timeout.
 * 1 done, -EPIPE closed, -EIDRM destroyed while it waited, -ETIMEDOUT,
 * -EPERM (would wait outside a coroutine), -ENOMEM, -EXDEV. */
int dyco__chan_send(dyco__chan *ch, const void *buf, size_t len, int timeout);
int dyco__chan_recv(dyco__chan *ch, void *buf, size_t *len, int timeout);

/* Closes: every waiter wakes with "closed". 0, or -EALREADY. Lock held. */
int dyco__chan_close_locked(dyco__chan *ch);

/* Destroys (every waiter wakes with "destroyed", the buffer is dropped, the
 * channel freed once the last waiter left).
 * `what` names the caller in a misuse report. 0, or -EXDEV (reported, not
 * destroyed). */
int dyco__chan_destroy(dyco__chan *ch, const char *what);

/* For select: a cell for ch (NULL when out of memory), queued as a sender
 * with buf's message or as a receiver; its removal, once its waiter is back.
 * Lock held. Returns, for the removal, 1 when ch must now be released
 * (dyco__chan_release, after unlocking). */
dyco__cell *dyco__chan_enqueue(dyco__chan *ch, int send, const void *buf,
                               size_t len);
int dyco__chan_dequeue(dyco__chan *ch, dyco__cell *c);

/* Frees a channel (its buffer and spare cells). */
void dyco__chan_release(dyco__chan *ch);

#endif /* DYCO_SYNC_INTERNAL_CHAN_H_ */
