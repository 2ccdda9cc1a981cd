// dyco — sync layer, tests only: every sync header, and a watchdog that
// fails a test instead of letting it hang.
#ifndef DYCO_SYNC_INTERNAL_SYNC_TESTING_H_
#define DYCO_SYNC_INTERNAL_SYNC_TESTING_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "tools/testing/fixture.h"

extern "C" {
#include "sync/chan.h"
#include "sync/channel.h"
#include "sync/cond.h"
#include "sync/mutex.h"
#include "sync/pubsub.h"
#include "sync/select.h"
#include "sync/semaphore.h"
#include "sync/waitgroup.h"
}

namespace dyco_sync_test {

// Calls rescue() (which must make every waiter finish) if done is not set
// within limit_ms, and records that it had to.
class Watchdog {
 public:
  Watchdog(std::function<void()> rescue, double limit_ms)
      : thread_([this, rescue, limit_ms] {
          const double start = dyco_test::NowMs();
          while (!done_.load()) {
            if (dyco_test::NowMs() - start > limit_ms) {
              fired_ = true;
              rescue();
              return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~Watchdog() { Stop(); }
  // Stops watching; true when the watchdog had to step in.
  bool Stop() {
    done_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    return fired_.load();
  }

 private:
  std::atomic<bool> done_{false};
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

}  // namespace dyco_sync_test

#endif  // DYCO_SYNC_INTERNAL_SYNC_TESTING_H_
