// dyco — sync layer tests: a coroutine cancelled, or past its deadline,
// while it waits on each primitive (a table) returns -ECANCELED or
// -ETIMEDOUT at once, and leaves the primitive as a timed-out waiter would.
#include <errno.h>
#include <time.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

bool Suspended(int cid) {
  dyco_coroutine_info info;
  return dyco_coroutine_getInfo(cid, &info) == 0 &&
         info.state == DYCO_COROUTINE_WAITING;
}

double Slack() { return dyco_test::Slow() ? 200 : 20; }

uint64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

struct Prims {
  dyco_chan *chan = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *full = dyco_chan_create(sizeof(int), 1, 0);
  dyco_channel *hd = dyco_channel_create(16);
  dyco_semaphore *sem = dyco_semaphore_create(0);
  dyco_semaphore *shared_sem = dyco_semaphore_createShared(0);
  dyco_mutex *mutex = dyco_mutex_create(0);
  dyco_mutex *cv_mutex = dyco_mutex_create(0);
  dyco_cond *cond = dyco_cond_create(0);
  dyco_waitgroup *wg = dyco_waitgroup_create(4);
  dyco_pubsubchannel *ps = dyco_pubsub_create(16);
  int holder = 0;  // the member the waitgroup waits for, and the mutex owner
  dyco_waitq release;
  Prims() { dyco_waitq_init(&release, nullptr); }
  ~Prims() {
    dyco_chan_destroy(&chan);
    dyco_chan_destroy(&full);
    dyco_channel_destroy(&hd);
    dyco_semaphore_destroy(&sem);
    dyco_semaphore_destroy(&shared_sem);
    dyco_mutex_destroy(&mutex);
    dyco_mutex_destroy(&cv_mutex);
    dyco_cond_destroy(&cond);
    dyco_waitgroup_destroy(&wg);
    dyco_pubsub_destroy(&ps);
  }
};

struct Point {
  std::string name;
  std::function<int()> block;
};

std::vector<Point> Points(Prims *p) {
  const int kLong = 10000;
  return {
      {"chan_recv",
       [p] {
         int v;
         return dyco_chan_recv(p->chan, &v, kLong);
       }},
      {"chan_send_full",
       [p] {
         int v = 1;
         dyco_chan_send(p->full, &v, 0);  // fills it (once)
         return dyco_chan_send(p->full, &v, kLong);
       }},
      {"channel_recv",
       [p] {
         char buf[16];
         return static_cast<int>(dyco_channel_recv(p->hd, buf, 16, kLong));
       }},
      {"select",
       [p] {
         int v = 1;
         dyco_select_case c[2] = {{p->chan, DYCO_SELECT_RECV, &v, 0},
                                  {p->full, DYCO_SELECT_SEND, &v, 0}};
         dyco_chan_send(p->full, &v, 0);
         return dyco_select(c, 2, kLong);
       }},
      {"semaphore", [p] { return dyco_semaphore_wait(p->sem, kLong); }},
      {"semaphore_shared",
       [p] { return dyco_semaphore_wait(p->shared_sem, kLong); }},
      {"mutex", [p] { return dyco_mutex_lock(p->mutex, kLong); }},
      {"cond",
       [p] {
         EXPECT_EQ(0, dyco_mutex_lock(p->cv_mutex, -1));
         int r = dyco_cond_wait(p->cond, p->cv_mutex, kLong);
         // Held again, whatever the outcome.
         EXPECT_EQ(0, dyco_mutex_unlock(p->cv_mutex));
         return r;
       }},
      {"waitgroup", [p] { return dyco_waitgroup_wait(p->wg, -1, kLong); }},
      {"pubsub_subscribe",
       [p] {
         char buf[16];
         return static_cast<int>(dyco_pubsub_subscribe(p->ps, buf, 16, kLong));
       }},
  };
}

class SyncCancelTest : public SchedTest {};

// The primitives' other parties: a coroutine that holds the mutex and is a
// member of the waitgroup until the table is done.
void StartHolder(Prims *p) {
  p->holder = Go([p] {
    EXPECT_EQ(0, dyco_mutex_lock(p->mutex, -1));
    dyco_waitq_wait(&p->release, -1, nullptr);
    EXPECT_EQ(0, dyco_mutex_unlock(p->mutex));
    EXPECT_EQ(1, dyco_waitgroup_done(p->wg));
  });
  ASSERT_EQ(1, dyco_waitgroup_add(p->wg, p->holder));
}

// Runs the table from one driver coroutine, cell after cell. Coroutines
// run on the shared stack here: whatever two of them share lives on the
// heap (a coroutine's locals are somewhere else while another one runs).
void Drive(Prims *p, const std::function<void(const Point &)> &cell) {
  StartHolder(p);
  auto points = std::make_shared<std::vector<Point>>(Points(p));
  Go([p, cell, points] {
    for (const Point &pt : *points) {
      SCOPED_TRACE(pt.name);
      cell(pt);
    }
    dyco_waitq_wakeAll(&p->release, 0);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

// What a cell's victim reports to the driver.
struct Outcome {
  int first = 1;
  int again = 1;
  bool done = false;
  double woke_at = 0;
  double took = 0;
  double again_ms = 1e9;
};

TEST_F(SyncCancelTest, EveryPrimitiveWakesWithECANCELED) {
  Prims p;
  Drive(&p, [&p](const Point &pt) {
    auto o = std::make_shared<Outcome>();
    int cid = Go([o, &pt] {
      o->first = pt.block();
      o->woke_at = NowMs();
      double t0 = NowMs();
      o->again = pt.block();
      o->again_ms = NowMs() - t0;
      EXPECT_EQ(1, dyco_coroutine_uncancel());
      o->done = true;
    });
    while (!Suspended(cid)) {
      dyco_coroutine_yield();
    }
    double cancelled_at;
    if (pt.name == "cond") {
      // It must take the mutex back before it returns: hold it a while.
      EXPECT_EQ(0, dyco_mutex_lock(p.cv_mutex, -1));
      EXPECT_EQ(0, dyco_coroutine_cancel(cid));
      dyco_coroutine_sleep(5);
      EXPECT_TRUE(Suspended(cid));  // on the mutex now, masked
      cancelled_at = NowMs();
      EXPECT_EQ(0, dyco_mutex_unlock(p.cv_mutex));
    } else {
      cancelled_at = NowMs();
      EXPECT_EQ(0, dyco_coroutine_cancel(cid));
    }
    while (!o->done) {
      dyco_coroutine_yield();
    }
    EXPECT_EQ(-ECANCELED, o->first);
    EXPECT_LT(o->woke_at - cancelled_at, Slack());
    EXPECT_EQ(-ECANCELED, o->again);
    EXPECT_LT(o->again_ms, Slack());
  });
  // Each primitive works after its waiter left: nothing of it was kept.
  Go([&] {
    int v = 5;
    EXPECT_EQ(0, dyco_semaphore_signal(p.sem));
    EXPECT_EQ(0, dyco_semaphore_wait(p.sem, 0));
    EXPECT_EQ(0, dyco_mutex_lock(p.mutex, 0));
    EXPECT_EQ(0, dyco_mutex_unlock(p.mutex));
    EXPECT_EQ(1, dyco_chan_recv(p.full, &v, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SyncCancelTest, EveryPrimitiveEndsAtTheDeadline) {
  Prims p;
  Drive(&p, [](const Point &pt) {
    auto o = std::make_shared<Outcome>();
    Go([o, &pt] {
      double t0 = NowMs();
      ASSERT_EQ(0, dyco_coroutine_setDeadline(MonoNs() + 20 * 1000000u));
      o->first = pt.block();
      o->took = NowMs() - t0;
      t0 = NowMs();
      o->again = pt.block();
      o->again_ms = NowMs() - t0;
      o->done = true;
    });
    while (!o->done) {
      dyco_coroutine_sleep(1);
    }
    EXPECT_EQ(-ETIMEDOUT, o->first);
    EXPECT_GE(o->took, 19);
    EXPECT_LT(o->took, 20 + 10 * Slack());
    EXPECT_EQ(-ETIMEDOUT, o->again);
    EXPECT_LT(o->again_ms, Slack());
  });
}

}  // namespace
