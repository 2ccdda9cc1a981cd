// dyco — sched layer tests: a spawn accepted is never dropped. The target
// scheduler that cannot create the coroutine yet (here, told by the test
// hook that memory ran out) tries again until it can, in the order spawned.
#include <errno.h>
#include <pthread.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

// The test hook of sched/internal/sched.h (whose C the tests do not include).
extern "C" {
extern __thread int dyco__test_spawn_failures;
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

struct Record {
  std::vector<int> order;  // only the target's thread touches it
  std::atomic<int> ran{0};
};

struct Job {
  Record *record;
  int id;
};

void Spawned(void *arg) {
  auto *job = static_cast<Job *>(arg);
  job->record->order.push_back(job->id);
  job->record->ran++;
}

TEST_F(SchedTest, ASpawnThatCannotBeCreatedYetIsCreatedLaterInOrder) {
  // The three spawns' first four creations fail. Before, each failure was a
  // line on stderr and a coroutine that never ran.
  Record record;
  Job jobs[3] = {{&record, 1}, {&record, 2}, {&record, 3}};
  dyco__test_spawn_failures = 4;
  Go([&] {
    for (Job &job : jobs) {
      ASSERT_EQ(0, dyco_schedule_spawn(dyco_schedule_self(), Spawned, &job));
    }
    // The spawner ends at once: while the spawns wait, the scheduler holds
    // no coroutine at all, and run must not return.
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, dyco__test_spawn_failures);  // every failure was met
  EXPECT_EQ(3, record.ran.load());
  EXPECT_EQ((std::vector<int>{1, 2, 3}), record.order);
}

TEST_F(SchedTest, ASpawnFromAnotherThreadIsNeverDropped) {
  const int kSpawns = 50;
  Record record;
  std::vector<Job> jobs;
  for (int i = 0; i < kSpawns; ++i) {
    jobs.push_back({&record, i});
  }
  std::atomic<int> their_id{0};
  std::atomic<bool> keeper_saw_all{false};
  std::thread worker([&] {
    // The first ten creations for spawns on this thread fail.
    dyco__test_spawn_failures = kSpawns / 5;
    Go([&] {
      // Keeps the scheduler running until every spawn has run (or the
      // limit: a dropped spawn never runs).
      const double until = NowMs() + 10000;
      while (record.ran.load() < kSpawns && NowMs() < until) {
        dyco_coroutine_sleep(1);
      }
      keeper_saw_all = record.ran.load() == kSpawns;
    });
    their_id = dyco_schedule_schedID();
    EXPECT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(0, dyco__test_spawn_failures);
  });
  while (their_id.load() == 0) {
    std::this_thread::yield();
  }
  for (Job &job : jobs) {
    ASSERT_EQ(0, dyco_schedule_spawnById(their_id, Spawned, &job));
  }
  worker.join();
  EXPECT_TRUE(keeper_saw_all.load());
  ASSERT_EQ(kSpawns, record.ran.load());
  for (int i = 0; i < kSpawns; ++i) {
    EXPECT_EQ(i, record.order[static_cast<size_t>(i)]);
  }
}

TEST_F(SchedTest, SpawnsNotCreatedYetGoWithTheirScheduler) {
  // Freed while its spawns wait to be created: they go as its coroutines
  // go (and the memory with them: asan's leak check says so).
  Record record;
  Job job{&record, 1};
  ASSERT_GT(dyco_schedule_schedID(), 0);
  dyco_schedule *me = dyco_schedule_self();
  dyco__test_spawn_failures = 1000000;
  ASSERT_EQ(0, dyco_schedule_spawn(me, Spawned, &job));
  Go([] { dyco_schedcall_stop(); });
  ASSERT_EQ(1, dyco_schedule_run());  // the spawn waits: not created
  EXPECT_LT(dyco__test_spawn_failures, 1000000);
  dyco__test_spawn_failures = 0;
  dyco_schedule_free(me);
  EXPECT_EQ(0, record.ran.load());
}

}  // namespace
