/* dyco — the umbrella header: every public header of every layer.
 * #include "dyco.h" and depend on //:dyco to get all of dyco at once. */
#ifndef DYCO_DYCO_H_
#define DYCO_DYCO_H_

#include "context/context.h"
#include "sched/coroutine.h"
#include "sched/pool.h"
#include "sched/schedule.h"
#include "sched/wait.h"

#endif /* DYCO_DYCO_H_ */
