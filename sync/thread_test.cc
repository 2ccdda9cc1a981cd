// dyco — sync layer tests across threads: shared primitives, lost-wake-up
// stress with timeouts, destroy while others wait; watchdogs, not hangs.
#include <errno.h>
#include <pthread.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_sync_test::Watchdog;
using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

// Starts n threads; each runs setup(t) (which creates its scheduler and
// coroutines), then its scheduler until no coroutine is left; joins them
// all. No thread starts running (and so none can finish and free its
// scheduler) before every scheduler exists: sched closes its epoll and
// eventfd descriptors with raw system calls that ThreadSanitizer does not
// see, so a descriptor number reused at once by another thread's new
// scheduler would look like a race on it.
void RunThreads(int n, const std::function<void(int)> &setup) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&setup, &ready, n, t] {
      setup(t);
      dyco_schedule_schedID();  // the scheduler exists even without coroutines
      ready++;
      while (ready.load() < n) {
        std::this_thread::yield();
      }
      EXPECT_EQ(0, dyco_schedule_run());
    });
  }
  for (auto &th : threads) {
    th.join();
  }
}

double Limit() { return dyco_test::Slow() ? 120000 : 30000; }

TEST_F(SchedTest, ALocalPrimitiveBelongsToTheFirstThreadThatUsesIt) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 2, 0);
  dyco_semaphore *sem = dyco_semaphore_create(1);
  dyco_mutex *m = dyco_mutex_create(0);
  dyco_channel *hd = dyco_channel_create(8);
  int v = 1;
  // Unbound until used: the first user here binds them to this thread.
  ASSERT_EQ(0, dyco_chan_send(ch, &v, 0));
  ASSERT_EQ(0, dyco_semaphore_signal(sem));
  ASSERT_EQ(0, dyco_mutex_lock(m, 0));
  ASSERT_EQ(0, dyco_mutex_unlock(m));
  ASSERT_EQ(1, dyco_channel_send(hd, &v, 1, 0));
  std::thread other([&] {
    int x = 0;
    EXPECT_EQ(-EXDEV, dyco_chan_send(ch, &x, 0));
    EXPECT_EQ(-EXDEV, dyco_chan_recv(ch, &x, 0));
    EXPECT_EQ(-EXDEV, dyco_chan_len(ch));
    EXPECT_EQ(-EXDEV, dyco_chan_close(ch));
    dyco_select_case cs[] = {{ch, DYCO_SELECT_RECV, &x, 0}};
    EXPECT_EQ(-EXDEV, dyco_select(cs, 1, 0));
    EXPECT_EQ(-EXDEV, dyco_semaphore_wait(sem, 0));
    EXPECT_EQ(-EXDEV, dyco_semaphore_signal(sem));
    EXPECT_EQ(-EXDEV, dyco_mutex_lock(m, 0));
    char buf[8];
    EXPECT_EQ(-EXDEV, dyco_channel_recv(hd, buf, sizeof buf, 0));
    // A destroy from here is reported and refused; the pointer stays.
    dyco_chan *mine = ch;
    dyco_chan_destroy(&mine);
    EXPECT_EQ(ch, mine);
    dyco_semaphore *s = sem;
    dyco_semaphore_destroy(&s);
    EXPECT_EQ(sem, s);
    // A primitive nobody used yet is this thread's to bind.
    dyco_semaphore *fresh = dyco_semaphore_create(0);
    EXPECT_EQ(0, dyco_semaphore_signal(fresh));
    dyco_semaphore_destroy(&fresh);
    EXPECT_EQ(nullptr, fresh);
  });
  other.join();
  EXPECT_EQ(1, dyco_chan_len(ch));  // untouched
  EXPECT_EQ(2, dyco_semaphore_value(sem));
  dyco_chan_destroy(&ch);
  dyco_semaphore_destroy(&sem);
  dyco_mutex_destroy(&m);
  dyco_channel_destroy(&hd);
  EXPECT_EQ(nullptr, ch);
  EXPECT_EQ(nullptr, sem);
}

// Producers on every thread send distinct values, with short timeouts and
// retries; consumers on every thread receive with short timeouts. Every
// value arrives exactly once.
void ChannelAcrossThreads(size_t cap) {
  const int kThreads = 3, kProducers = 4, kConsumers = 3;
  const int kEach = dyco_test::Slow() ? 60 : 300;
  const int kTotal = kThreads * kProducers * kEach;
  dyco_chan *ch = dyco_chan_create(sizeof(int), cap, DYCO_SYNC_SHARED);
  ASSERT_NE(nullptr, ch);
  std::unique_ptr<std::atomic<int>[]> seen(new std::atomic<int>[kTotal]);
  for (int i = 0; i < kTotal; ++i) {
    seen[i] = 0;
  }
  std::atomic<int> received{0}, send_timeouts{0}, recv_timeouts{0};
  std::atomic<bool> give_up{false};
  Watchdog dog([&] { give_up = true; }, Limit());
  RunThreads(kThreads, [&](int t) {
    for (int p = 0; p < kProducers; ++p) {
      Go([&, t, p] {
        for (int i = 0; i < kEach; ++i) {
          int v = (t * kProducers + p) * kEach + i;
          int r;
          while ((r = dyco_chan_send(ch, &v, 1 + (i + p) % 3)) == -ETIMEDOUT &&
                 !give_up) {
            send_timeouts++;
          }
          if (r != 0) {
            return;
          }
          if (i % 16 == 0) {
            dyco_coroutine_yield();
          }
        }
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      Go([&, c] {
        while (received.load() < kTotal && !give_up) {
          int v;
          int r = dyco_chan_recv(ch, &v, 1 + c % 2);
          if (r == 1) {
            seen[v]++;
            received++;
          } else {
            recv_timeouts++;
          }
        }
      });
    }
  });
  EXPECT_FALSE(dog.Stop()) << "stuck: " << received.load() << " of " << kTotal;
  EXPECT_EQ(kTotal, received.load());
  for (int i = 0; i < kTotal; ++i) {
    ASSERT_EQ(1, seen[i].load()) << "value " << i;
  }
  EXPECT_EQ(0, dyco_chan_len(ch));
  dyco_chan_destroy(&ch);
}

TEST_F(SchedTest, AnUnbufferedChannelSharedByThreadsLosesNothing) {
  ChannelAcrossThreads(0);
}

TEST_F(SchedTest, ABufferedChannelSharedByThreadsLosesNothing) {
  ChannelAcrossThreads(1);
  ChannelAcrossThreads(16);
}

TEST_F(SchedTest, AHalfDuplexChannelBetweenTwoThreads) {
  dyco_channel *ping = dyco_channel_createShared(32);
  dyco_channel *pong = dyco_channel_createShared(32);
  const int kRounds = dyco_test::Slow() ? 200 : 2000;
  std::atomic<int> ok{0};
  Watchdog dog(
      [&] {
        // Wake both sides: the destroy makes every waiter return 0.
        ok = -1000000;
      },
      Limit());
  RunThreads(2, [&](int t) {
    Go([&, t] {
      char buf[32];
      for (int i = 0; i < kRounds; ++i) {
        std::string m = "round " + std::to_string(i);
        if (t == 0) {
          ASSERT_EQ(static_cast<ssize_t>(m.size()),
                    dyco_channel_send(ping, &m[0], m.size(), -1));
          ssize_t n = dyco_channel_recv(pong, buf, sizeof buf, -1);
          ASSERT_EQ("back " + std::to_string(i),
                    std::string(buf, n > 0 ? static_cast<size_t>(n) : 0));
          ok++;
        } else {
          ssize_t n = dyco_channel_recv(ping, buf, sizeof buf, -1);
          ASSERT_EQ(m, std::string(buf, n > 0 ? static_cast<size_t>(n) : 0));
          std::string b = "back " + std::to_string(i);
          ASSERT_EQ(static_cast<ssize_t>(b.size()),
                    dyco_channel_send(pong, &b[0], b.size(), -1));
        }
      }
    });
  });
  EXPECT_FALSE(dog.Stop());
  EXPECT_EQ(kRounds, ok.load());
  dyco_channel_destroy(&ping);
  dyco_channel_destroy(&pong);
}

TEST_F(SchedTest, SelectAcrossThreadsTakesEachValueOnce) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, DYCO_SYNC_SHARED);
  dyco_chan *b = dyco_chan_create(sizeof(int), 2, DYCO_SYNC_SHARED);
  const int kEach = dyco_test::Slow() ? 200 : 1000;
  std::unique_ptr<std::atomic<int>[]> seen(new std::atomic<int>[2 * kEach]);
  for (int i = 0; i < 2 * kEach; ++i) {
    seen[i] = 0;
  }
  std::atomic<int> received{0};
  std::atomic<bool> give_up{false};
  Watchdog dog([&] { give_up = true; }, Limit());
  RunThreads(4, [&](int t) {
    if (t < 2) {  // a producer for each channel
      Go([&, t] {
        for (int i = 0; i < kEach && !give_up; ++i) {
          int v = t * kEach + i;
          while (dyco_chan_send(t == 0 ? a : b, &v, 2) == -ETIMEDOUT &&
                 !give_up) {
          }
        }
      });
    } else {  // selecting consumers, with timeouts
      for (int c = 0; c < 2; ++c) {
        Go([&] {
          while (received.load() < 2 * kEach && !give_up) {
            int x = -1, y = -1;
            dyco_select_case cs[] = {{a, DYCO_SELECT_RECV, &x, 0},
                                     {b, DYCO_SELECT_RECV, &y, 0}};
            int i = dyco_select(cs, 2, 3);
            if (i >= 0) {
              ASSERT_EQ(1, cs[i].result);
              seen[i == 0 ? x : y]++;
              received++;
            } else {
              ASSERT_EQ(-ETIMEDOUT, i);
            }
          }
        });
      }
    }
  });
  EXPECT_FALSE(dog.Stop());
  for (int i = 0; i < 2 * kEach; ++i) {
    ASSERT_EQ(1, seen[i].load()) << "value " << i;
  }
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
}

// The lost-wake-up stress: takers on every thread wait with short timeouts,
// signallers on every thread (and a thread without a scheduler) signal.
// Every permit a timed-out waiter cannot take must go to another waiter or
// to the count: supply equals demand at the end.
TEST_F(SchedTest, NoSemaphoreSignalIsLostAcrossThreads) {
  const int kThreads = 3;
  const int kTakers = 30;
  const int kTakesEach = dyco_test::Slow() ? 20 : 100;
  const int kTotal = kThreads * kTakers * kTakesEach;
  const int kFromPlainThread = kTotal / 10;
  dyco_semaphore *sem = dyco_semaphore_createShared(0);
  std::atomic<long> taken{0}, timeouts{0};
  Watchdog dog(
      [&] {
        for (int i = 0; i < kTotal; ++i) {
          dyco_semaphore_signal(sem);
        }
      },
      Limit());
  std::thread plain([&] {
    for (int i = 0; i < kFromPlainThread; ++i) {
      ASSERT_EQ(0, dyco_semaphore_signal(sem));
      if (i % 32 == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  });
  RunThreads(kThreads, [&](int t) {
    for (int i = 0; i < kTakers; ++i) {
      Go([&, i, t] {
        for (int n = 0; n < kTakesEach;) {
          int r = dyco_semaphore_wait(sem, 1 + (i + t) % 3);
          if (r == 0) {
            n++;
            taken++;
          } else {
            ASSERT_EQ(-ETIMEDOUT, r);
            timeouts++;
          }
        }
      });
    }
    Go([&, t] {
      const int mine = (kTotal - kFromPlainThread) / kThreads +
                       (t == 0 ? (kTotal - kFromPlainThread) % kThreads : 0);
      for (int n = 0; n < mine; ++n) {
        ASSERT_EQ(0, dyco_semaphore_signal(sem));
        if (n % 8 == 0) {
          dyco_coroutine_sleep(1 + n % 3);
        }
      }
    });
  });
  plain.join();
  EXPECT_FALSE(dog.Stop()) << "permits were lost: " << taken.load() << " of "
                           << kTotal;
  EXPECT_EQ(kTotal, taken.load());
  EXPECT_EQ(0, dyco_semaphore_value(sem));
  EXPECT_GT(timeouts.load(), 0) << "the race was not exercised";
  dyco_semaphore_destroy(&sem);
}

TEST_F(SchedTest, AMutexSharedByThreadsExcludesAndCountsRight) {
  dyco_mutex *m = dyco_mutex_create(DYCO_SYNC_SHARED);
  const int kThreads = 3, kPerThread = 4;
  const int kEach = dyco_test::Slow() ? 50 : 300;
  std::atomic<int> inside{0}, overlaps{0}, timeouts{0};
  long counter = 0;  // guarded by m only
  Watchdog dog([&] {}, Limit());
  RunThreads(kThreads, [&](int) {
    for (int c = 0; c < kPerThread; ++c) {
      Go([&, c] {
        for (int i = 0; i < kEach;) {
          int r = dyco_mutex_lock(m, c == 0 ? 1 : -1);
          if (r == -ETIMEDOUT) {
            timeouts++;
            continue;
          }
          ASSERT_EQ(0, r);
          if (inside.fetch_add(1) != 0) {
            overlaps++;
          }
          long seen = counter;
          if (i % 3 == 0) {
            dyco_coroutine_yield();  // held across a yield
          }
          counter = seen + 1;
          inside--;
          ASSERT_EQ(0, dyco_mutex_unlock(m));
          i++;
        }
      });
    }
  });
  EXPECT_FALSE(dog.Stop());
  EXPECT_EQ(0, overlaps.load());
  EXPECT_EQ(kThreads * kPerThread * kEach, counter);
  dyco_mutex_destroy(&m);
}

TEST_F(SchedTest, AConditionVariableSharedByThreads) {
  dyco_mutex *m = dyco_mutex_create(DYCO_SYNC_SHARED);
  dyco_cond *cv = dyco_cond_create(DYCO_SYNC_SHARED);
  const int kItems = dyco_test::Slow() ? 300 : 3000;
  std::vector<int> queue;  // guarded by m
  bool done = false;       // guarded by m
  std::atomic<long> sum{0};
  std::atomic<int> consumed{0};
  Watchdog dog(
      [&] {
        dyco_mutex_lock(m, -1);
        done = true;
        dyco_mutex_unlock(m);
        dyco_cond_broadcast(cv);
      },
      Limit());
  RunThreads(3, [&](int t) {
    if (t == 0) {
      Go([&] {
        for (int i = 1; i <= kItems; ++i) {
          ASSERT_EQ(0, dyco_mutex_lock(m, -1));
          queue.push_back(i);
          ASSERT_EQ(0, dyco_mutex_unlock(m));
          dyco_cond_signal(cv);
          if (i % 50 == 0) {
            dyco_coroutine_sleep(1);
          }
        }
        ASSERT_EQ(0, dyco_mutex_lock(m, -1));
        done = true;
        ASSERT_EQ(0, dyco_mutex_unlock(m));
        dyco_cond_broadcast(cv);
      });
      return;
    }
    for (int c = 0; c < 3; ++c) {
      Go([&, c] {
        ASSERT_EQ(0, dyco_mutex_lock(m, -1));
        for (;;) {
          while (queue.empty() && !done) {
            int r = dyco_cond_wait(cv, m, c == 0 ? 2 : -1);
            ASSERT_TRUE(r == 0 || r == -ETIMEDOUT) << r;
          }
          if (queue.empty()) {
            break;
          }
          sum += queue.back();
          queue.pop_back();
          consumed++;
        }
        ASSERT_EQ(0, dyco_mutex_unlock(m));
      });
    }
  });
  EXPECT_FALSE(dog.Stop());
  EXPECT_EQ(kItems, consumed.load());
  EXPECT_EQ(static_cast<long>(kItems) * (kItems + 1) / 2, sum.load());
  dyco_cond_destroy(&cv);
  dyco_mutex_destroy(&m);
}

TEST_F(SchedTest, AWaitgroupWithMembersOnSeveralThreads) {
  dyco_waitgroup *wg = dyco_waitgroup_createShared(16);
  const int kThreads = 3, kMembers = 10;
  std::atomic<int> finished{0}, result_target{0}, result_all{0};
  Watchdog dog([&] {}, Limit());
  RunThreads(kThreads + 1, [&](int t) {
    if (t == kThreads) {  // the waiter
      Go([&] {
        result_target = dyco_waitgroup_wait(wg, kThreads * kMembers, -1);
        result_all = dyco_waitgroup_wait(wg, -1, -1);
      });
      return;
    }
    for (int i = 0; i < kMembers; ++i) {
      int cid = Go([&, i] {
        dyco_coroutine_sleep(1 + i % 4);
        finished++;
        EXPECT_EQ(1, dyco_waitgroup_done(wg));
        EXPECT_EQ(-EALREADY, dyco_waitgroup_done(wg));
      });
      // cids repeat from thread to thread: members are told apart by their
      // scheduler too.
      ASSERT_EQ(1, dyco_waitgroup_add(wg, cid));
    }
  });
  EXPECT_FALSE(dog.Stop());
  EXPECT_EQ(kThreads * kMembers, finished.load());
  EXPECT_EQ(kThreads * kMembers, result_target.load());
  EXPECT_EQ(kThreads * kMembers, result_all.load());
  dyco_waitgroup_destroy(&wg);
}

TEST_F(SchedTest, PubsubAcrossThreadsDeliversInOrderWithoutDuplicates) {
  dyco_pubsubchannel *ps = dyco_pubsub_createShared(16);
  const int kSubscribers = 4;
  const int kMessages = dyco_test::Slow() ? 100 : 500;
  std::atomic<int> out_of_order{0}, got{0}, stopped{0};
  Watchdog dog([&] {}, Limit());
  RunThreads(3, [&](int t) {
    if (t == 0) {  // the publisher
      Go([&] {
        for (int i = 0; i < kMessages; ++i) {
          std::string m = std::to_string(i);
          dyco_pubsub_publish(ps, &m[0], m.size());
          if (i % 10 == 0) {
            dyco_coroutine_sleep(1);
          }
        }
        while (stopped.load() < kSubscribers) {
          char stop[] = "stop";
          dyco_pubsub_publish(ps, stop, 4);
          dyco_coroutine_sleep(1);
        }
      });
      return;
    }
    for (int s = 0; s < kSubscribers / 2; ++s) {
      Go([&] {
        int last = -1;
        char buf[16];
        for (;;) {
          ssize_t n = dyco_pubsub_subscribe(ps, buf, sizeof buf, 100);
          if (n == -ETIMEDOUT) {
            continue;
          }
          ASSERT_GT(n, 0);
          std::string m(buf, static_cast<size_t>(n));
          if (m == "stop") {
            stopped++;
            return;
          }
          int v = std::stoi(m);
          if (v <= last) {
            out_of_order++;
          }
          last = v;
          got++;
        }
      });
    }
  });
  EXPECT_FALSE(dog.Stop());
  EXPECT_EQ(0, out_of_order.load());
  EXPECT_GT(got.load(), 0);
  dyco_pubsub_destroy(&ps);
}

TEST_F(SchedTest, DestroyFromAnotherThreadWakesEveryWaiter) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 0, DYCO_SYNC_SHARED);
  dyco_semaphore *sem = dyco_semaphore_createShared(0);
  dyco_mutex *m = dyco_mutex_create(DYCO_SYNC_SHARED);
  const int kThreads = 2, kEach = 5;
  std::atomic<int> waiting{0}, woke{0}, blocked_threads{0};
  std::atomic<bool> locked{false};
  std::thread destroyer([&] {
    // No scheduler on this thread: destroying does not need one. Each
    // waiter thread says when every waiter of its own is blocked (its
    // scheduler sees them all in WAITING), not after some sleep.
    while (blocked_threads.load() < kThreads) {
      std::this_thread::yield();
    }
    EXPECT_EQ(kThreads * kEach * 3, waiting.load());
    EXPECT_TRUE(locked.load());
    dyco_chan_destroy(&ch);
    dyco_semaphore_destroy(&sem);
    dyco_mutex_destroy(&m);
  });
  Watchdog dog([&] {}, Limit());
  RunThreads(kThreads + 1, [&](int t) {
    if (t == kThreads) {
      Go([&] {
        ASSERT_EQ(0, dyco_mutex_lock(m, -1));
        locked = true;  // and never unlocks: it is destroyed under it
      });
      return;
    }
    for (int i = 0; i < kEach; ++i) {
      Go([&] {
        waiting++;
        int v;
        woke += dyco_chan_recv(ch, &v, -1) == -EIDRM;
      });
      Go([&] {
        waiting++;
        woke += dyco_semaphore_wait(sem, -1) == -EIDRM;
      });
      Go([&] {
        while (!locked.load()) {
          dyco_coroutine_sleep(1);
        }
        waiting++;
        woke += dyco_mutex_lock(m, -1) == -EIDRM;
      });
    }
    // Yields until this thread's kEach * 3 waiters are all blocked.
    Go([&] {
      dyco_schedule_stats st;
      do {
        dyco_coroutine_yield();
        ASSERT_EQ(0, dyco_schedule_getStats(&st));
      } while (st.by_state[DYCO_COROUTINE_WAITING] <
               static_cast<uint64_t>(kEach * 3));
      blocked_threads++;
    });
  });
  destroyer.join();
  EXPECT_FALSE(dog.Stop());
  EXPECT_EQ(kThreads * kEach * 3, woke.load());
}

TEST_F(SchedTest, ThreadsWithoutASchedulerUseSharedPrimitivesWithoutWaiting) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 4, DYCO_SYNC_SHARED);
  std::atomic<int> got{0};
  std::thread plain([&] {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(0, dyco_chan_send(ch, &i, -1));  // room: no wait needed
    }
    int v = 9;
    EXPECT_EQ(-EPERM, dyco_chan_send(ch, &v, -1));  // full: it would wait
    EXPECT_EQ(-ETIMEDOUT, dyco_chan_send(ch, &v, 0));
    EXPECT_EQ(nullptr, dyco_schedule_self());  // none was created
  });
  plain.join();
  RunThreads(1, [&](int) {
    Go([&] {
      int v;
      while (dyco_chan_recv(ch, &v, 0) == 1) {
        got++;
      }
    });
  });
  EXPECT_EQ(4, got.load());
  dyco_chan_destroy(&ch);
}

}  // namespace
