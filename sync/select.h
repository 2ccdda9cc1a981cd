/* dyco — sync layer: select. Wait on several channel operations at once and
 * take exactly one of them. */
#ifndef DYCO_SYNC_SELECT_H_
#define DYCO_SYNC_SELECT_H_

#include "sync/chan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a case does. */
#define DYCO_SELECT_RECV 1
#define DYCO_SELECT_SEND 2

/* The most cases one select takes. */
#define DYCO_SELECT_MAX 64

typedef struct dyco_select_case {
  dyco_chan *chan; /* NULL: the case is left out (as a nil channel in Go) */
  int op;          /* DYCO_SELECT_RECV or DYCO_SELECT_SEND */
  void *elem;      /* SEND: the element to send; RECV: where the received
                      element goes (NULL: drop it) */
  int result;      /* set for the case taken: SEND 0 sent, -EPIPE closed;
                      RECV 1 received, 0 closed and empty; either -EIDRM
                      when the channel was destroyed while select waited */
} dyco_select_case;

/* dyco_select takes exactly one of the n cases (1 <= n <= DYCO_SELECT_MAX):
 * one that can go ahead now — chosen at random among those that can, so none
 * starves — or else the first that becomes possible within timeout ms (-1:
 * no limit, 0: does not wait). A send on a closed channel and a receive on a
 * closed, empty channel count as possible (see result). The same channel may
 * appear in several cases. Returns the index of the case taken, with its
 * result set; -ETIMEDOUT; -EINVAL for bad arguments or no case with a
 * channel; -EPERM when it would wait outside a coroutine; -ENOMEM; -EXDEV
 * when a case names a local channel of another thread. */
int dyco_select(dyco_select_case *cases, int n, int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_SELECT_H_ */
