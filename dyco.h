/* dyco — the umbrella header: every public header of every layer.
 * #include "dyco.h" and depend on //:dyco to get all of dyco at once. The
 * libc hooks (netio/hook.h, //netio:hook) are not in it: they change what
 * plain read, write, poll... do in the whole program, so you ask for them. */
#ifndef DYCO_DYCO_H_
#define DYCO_DYCO_H_

#include "asym/asymcoro.h"
#include "context/context.h"
#include "netio/blocking.h"
#include "netio/epoll.h"
#include "netio/file.h"
#include "netio/signal.h"
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/poller.h"
#include "sched/pool.h"
#include "sched/schedule.h"
#include "sched/wait.h"
#include "sync/chan.h"
#include "sync/channel.h"
#include "sync/cond.h"
#include "sync/flags.h"
#include "sync/mutex.h"
#include "sync/pubsub.h"
#include "sync/select.h"
#include "sync/semaphore.h"
#include "sync/waitgroup.h"
#if defined(DYCO_HAVE_TLS)
#include "tls/ssl.h"
#endif

#endif /* DYCO_DYCO_H_ */
