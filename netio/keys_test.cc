// dyco — netio layer tests: the calls that keep per-coroutine state under a
// coroutine-local key say -EAGAIN, alike, when no key is left. A binary of
// its own: each call takes its key once per process, on first use.
#include <errno.h>
#include <signal.h>

#include <vector>

#include "tools/testing/fixture.h"

extern "C" {
#include "netio/epoll.h"
#include "netio/hook.h"
#include "netio/signal.h"
}

namespace {

using dyco_test::Go;
using dyco_test::SchedTest;

TEST_F(SchedTest, NoCoroutineLocalKeyLeftIsEagainForEveryCall) {
  std::vector<int> keys;
  int key;
  while (dyco_coroutine_keyCreate(&key, nullptr) == 0) {
    keys.push_back(key);
  }
  ASSERT_EQ(static_cast<size_t>(DYCO_COROUTINE_KEYS_MAX), keys.size());
  Go([] {
    EXPECT_EQ(-EAGAIN, dyco_epoll_init());
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    EXPECT_EQ(-EAGAIN, dyco_signal_init(&mask));
    // Was -ENOMEM, unlike its two siblings.
    EXPECT_EQ(-EAGAIN, dyco_hook_disable());
    EXPECT_EQ(1, dyco_hook_isEnabled());
  });
  ASSERT_EQ(0, dyco_schedule_run());
  for (int k : keys) {
    EXPECT_EQ(0, dyco_coroutine_keyDelete(k));
  }
}

}  // namespace
