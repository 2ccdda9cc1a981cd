// dyco — sync layer tests: random operation sequences on channels and the
// semaphore, checked step by step against a plain reference model.
#include <errno.h>
#include <stdio.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::SchedTest;

// A coroutine that finished its one operation: who, what it returned, and
// the value it received (receivers) or -1.
struct Outcome {
  int id;
  int result;
  int value;
  bool operator<(const Outcome &o) const {
    return std::tie(id, result, value) < std::tie(o.id, o.result, o.value);
  }
  bool operator==(const Outcome &o) const {
    return id == o.id && result == o.result && value == o.value;
  }
};

std::string Show(std::vector<Outcome> v) {
  std::sort(v.begin(), v.end());
  std::string s;
  for (const Outcome &o : v) {
    s += "{" + std::to_string(o.id) + "," + std::to_string(o.result) + "," +
         std::to_string(o.value) + "} ";
  }
  return s;
}

// A timed waiter's timeout, and how long the driver then sleeps to let it
// pass: long enough that the few yields of a step (slow under an emulator)
// never see it expire early. Timed waiters are rare, to keep the test short.
constexpr int kTimeoutMs = 20;
constexpr int kTimedOneIn = 25;

// Timed waiters the model saw time out, to show that path was taken.
int timeouts_modelled = 0;

// Runs f when the scope ends, also when an ASSERT returns early: the
// primitive is destroyed, so that no coroutine is left waiting for ever.
struct AtExit {
  std::function<void()> f;
  ~AtExit() { f(); }
};

// --- Channels ----------------------------------------------------------------

// Sends return 0 (sent), -EPIPE (closed), -EIDRM (destroyed while waiting)
// or -ETIMEDOUT; receives 1 (with a value), 0 (closed), -EIDRM or
// -ETIMEDOUT.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual int Send(int v, int timeout) = 0;
  virtual int Recv(int *v, int timeout) = 0;
  // Go-style channels close; the half-duplex one can only be destroyed.
  virtual bool CanClose() const = 0;
  virtual void Close() = 0;
  virtual void Destroy() = 0;
  virtual long Len() = 0;  // -1 when it cannot tell
};

class GoChannel : public Channel {
 public:
  explicit GoChannel(size_t cap) : ch_(dyco_chan_create(sizeof(int), cap, 0)) {}
  ~GoChannel() override { Destroy(); }
  int Send(int v, int timeout) override {
    return dyco_chan_send(ch_, &v, timeout);
  }
  int Recv(int *v, int timeout) override {
    return dyco_chan_recv(ch_, v, timeout);
  }
  bool CanClose() const override { return true; }
  void Close() override { EXPECT_EQ(0, dyco_chan_close(ch_)); }
  void Destroy() override { dyco_chan_destroy(&ch_); }
  long Len() override { return dyco_chan_len(ch_); }

 private:
  dyco_chan *ch_;
};

// Values travel as decimal text: messages of several lengths.
class HalfDuplex : public Channel {
 public:
  HalfDuplex() : ch_(dyco_channel_create(16)) {}
  ~HalfDuplex() override { Destroy(); }
  int Send(int v, int timeout) override {
    std::string s = std::to_string(v);
    ssize_t r = dyco_channel_send(ch_, &s[0], s.size(), timeout);
    if (r == static_cast<ssize_t>(s.size())) {
      return 0;
    }
    // The seed's 0: the channel was destroyed while the send waited.
    return r == 0 ? -EIDRM : static_cast<int>(r);
  }
  int Recv(int *v, int timeout) override {
    char buf[16];
    ssize_t r = dyco_channel_recv(ch_, buf, sizeof buf, timeout);
    if (r > 0) {
      *v = std::stoi(std::string(buf, static_cast<size_t>(r)));
      return 1;
    }
    return r == 0 ? -EIDRM : static_cast<int>(r);  // as Send
  }
  bool CanClose() const override { return false; }
  void Close() override {}
  void Destroy() override { dyco_channel_destroy(&ch_); }
  long Len() override { return -1; }

 private:
  dyco_channel *ch_;
};

// What the channel should do.
struct ChannelModel {
  size_t cap;
  std::deque<int> buf;
  std::deque<std::pair<int, int>> senders;  // id, value
  std::deque<int> receivers;
  bool closed = false;
  std::vector<Outcome> finished;  // by waiters, in this step

  static constexpr int kWaits = 1000;

  // The result of a send by `id` (-1: the driver), or kWaits.
  int Send(int id, int v) {
    if (closed) {
      return -EPIPE;
    }
    if (!receivers.empty()) {
      finished.push_back({receivers.front(), 1, v});
      receivers.pop_front();
      return 0;
    }
    if (buf.size() < cap) {
      buf.push_back(v);
      return 0;
    }
    if (id >= 0) {
      senders.emplace_back(id, v);
    }
    return kWaits;
  }
  int Recv(int id, int *v) {
    if (!buf.empty()) {
      *v = buf.front();
      buf.pop_front();
      if (!senders.empty()) {
        buf.push_back(senders.front().second);
        finished.push_back({senders.front().first, 0, -1});
        senders.pop_front();
      }
      return 1;
    }
    if (!senders.empty()) {
      *v = senders.front().second;
      finished.push_back({senders.front().first, 0, -1});
      senders.pop_front();
      return 1;
    }
    if (closed) {
      return 0;
    }
    if (id >= 0) {
      receivers.push_back(id);
    }
    return kWaits;
  }
  void TimeOut(int id) {
    for (auto it = senders.begin(); it != senders.end(); ++it) {
      if (it->first == id) {
        senders.erase(it);
        finished.push_back({id, -ETIMEDOUT, -1});
        return;
      }
    }
    for (auto it = receivers.begin(); it != receivers.end(); ++it) {
      if (*it == id) {
        receivers.erase(it);
        finished.push_back({id, -ETIMEDOUT, -1});
        return;
      }
    }
  }
  void Close() {
    closed = true;
    for (int id : receivers) {
      finished.push_back({id, 0, -1});
    }
    for (auto &s : senders) {
      finished.push_back({s.first, -EPIPE, -1});
    }
    receivers.clear();
    senders.clear();
  }
  void Destroy() {
    for (int id : receivers) {
      finished.push_back({id, -EIDRM, -1});
    }
    for (auto &s : senders) {
      finished.push_back({s.first, -EIDRM, -1});
    }
    receivers.clear();
    senders.clear();
  }
};

struct ChannelRun {
  std::unique_ptr<Channel> ch;
  ChannelModel model;
  std::vector<Outcome> seen;  // by waiters, in this step
  int next_id = 0;
};

// Runs whatever became ready (woken waiters, a new coroutine), then checks
// that exactly the predicted outcomes happened.
void Settle(ChannelRun &run, const std::string &what) {
  for (int i = 0; i < 3; ++i) {
    dyco_coroutine_yield();
  }
  ASSERT_EQ(Show(run.model.finished), Show(run.seen)) << what;
  run.model.finished.clear();
  run.seen.clear();
}

void ChannelSteps(std::function<Channel *()> make, size_t cap, unsigned seed,
                  int steps, int *checked) {
  std::mt19937 rng(seed);
  auto roll = [&](int n) { return static_cast<int>(rng() % n); };
  // On the heap: the driver runs on the shared stack, where the other
  // coroutines must not write into its frame.
  std::unique_ptr<ChannelRun> owned(new ChannelRun);
  ChannelRun &run = *owned;
  AtExit cleanup{[&] {
    if (run.ch != nullptr) {
      run.ch->Destroy();
      for (int i = 0; i < 3; ++i) {
        dyco_coroutine_yield();
      }
    }
  }};
  int value = 0;
  auto fresh = [&] {
    run.ch.reset(make());
    run.model = ChannelModel{};
    run.model.cap = cap;
  };
  fresh();
  for (int step = 0; step < steps; ++step) {
    const int op = roll(100);
    const std::string what = "seed " + std::to_string(seed) + " step " +
                             std::to_string(step) + " op " + std::to_string(op);
    if (op < 20) {  // the driver sends without waiting
      int v = value++;
      int want = run.model.Send(-1, v);
      ASSERT_EQ(want == ChannelModel::kWaits ? -ETIMEDOUT : want,
                run.ch->Send(v, 0))
          << what;
    } else if (op < 40) {  // the driver receives without waiting
      int want_v = -1, got_v = -1;
      int want = run.model.Recv(-1, &want_v);
      int got = run.ch->Recv(&got_v, 0);
      ASSERT_EQ(want == ChannelModel::kWaits ? -ETIMEDOUT : want, got) << what;
      if (got == 1) {
        ASSERT_EQ(want_v, got_v) << what;
      }
    } else if (op < 88) {  // a coroutine sends or receives, maybe waiting
      const bool send = op < 64;
      const bool timed = roll(kTimedOneIn) == 0;
      const int id = run.next_id++;
      const int v = value++;
      ChannelRun *shared = &run;
      Go([shared, send, timed, id, v] {
        ChannelRun &run = *shared;
        int r, got = -1;
        if (send) {
          r = run.ch->Send(v, timed ? kTimeoutMs : -1);
        } else {
          r = run.ch->Recv(&got, timed ? kTimeoutMs : -1);
        }
        run.seen.push_back({id, r, r == 1 ? got : -1});
      });
      int mv = -1;
      int want = send ? run.model.Send(id, v) : run.model.Recv(id, &mv);
      if (want != ChannelModel::kWaits) {
        run.model.finished.push_back({id, want, want == 1 ? mv : -1});
      }
      Settle(run, what);
      if (timed && want == ChannelModel::kWaits) {
        dyco_coroutine_sleep(2 * kTimeoutMs);  // nothing else happens meanwhile
        run.model.TimeOut(id);
        timeouts_modelled++;
        Settle(run, what + " (timeout)");
      }
    } else if (op < 92 && run.ch->CanClose() && !run.model.closed) {
      run.ch->Close();
      run.model.Close();
      Settle(run, what + " (close)");
    } else if (op < 95 || (op < 97 && run.model.closed)) {
      // Destroy with whoever waits, and start over.
      run.ch->Destroy();
      run.model.Destroy();
      Settle(run, what + " (destroy)");
      fresh();
    }
    Settle(run, what);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
    const long len = run.ch->Len();
    if (len >= 0) {
      ASSERT_EQ(static_cast<long>(run.model.buf.size()), len) << what;
    }
    (*checked)++;
  }
  run.ch->Destroy();
  run.model.Destroy();
  Settle(run, "the end");
}

TEST_F(SchedTest, ChannelsBehaveLikeTheirModel) {
  const int kSteps = dyco_test::Slow() ? 400 : 1000;
  int checked = 0;
  timeouts_modelled = 0;
  struct Kind {
    const char *name;
    size_t cap;
    std::function<Channel *()> make;
  };
  std::vector<Kind> kinds = {
      {"unbuffered", 0, [] { return new GoChannel(0); }},
      {"capacity 1", 1, [] { return new GoChannel(1); }},
      {"capacity 3", 3, [] { return new GoChannel(3); }},
      {"half-duplex", 1, [] { return new HalfDuplex(); }},
  };
  for (unsigned seed = 1; seed <= 2; ++seed) {
    for (const Kind &k : kinds) {
      SCOPED_TRACE(k.name);
      Go([&] { ChannelSteps(k.make, k.cap, seed, kSteps, &checked); });
      ASSERT_EQ(0, dyco_schedule_run());
    }
  }
  EXPECT_EQ(2 * 4 * kSteps, checked);
  EXPECT_GT(timeouts_modelled, 0);
}

// --- The semaphore
// -------------------------------------------------------------

struct SemaphoreModel {
  long count = 0;
  std::deque<int> waiters;
  std::vector<Outcome> finished;
};

struct SemaphoreRun {
  dyco_semaphore *sem = nullptr;
  SemaphoreModel model;
  std::vector<Outcome> seen;
};

void SemaphoreSteps(unsigned seed, int steps, int *checked) {
  std::mt19937 rng(seed);
  auto roll = [&](int n) { return static_cast<int>(rng() % n); };
  // On the heap, as ChannelSteps' state.
  std::unique_ptr<SemaphoreRun> run(new SemaphoreRun);
  run->sem = dyco_semaphore_create(0);
  AtExit cleanup{[&] {
    dyco_semaphore_destroy(&run->sem);
    for (int i = 0; i < 3; ++i) {
      dyco_coroutine_yield();
    }
  }};
  SemaphoreModel &model = run->model;
  int next_id = 0;
  auto settle = [&](const std::string &what) {
    for (int i = 0; i < 3; ++i) {
      dyco_coroutine_yield();
    }
    ASSERT_EQ(Show(model.finished), Show(run->seen)) << what;
    model.finished.clear();
    run->seen.clear();
  };
  for (int step = 0; step < steps; ++step) {
    const int op = roll(100);
    const std::string what = "seed " + std::to_string(seed) + " step " +
                             std::to_string(step) + " op " + std::to_string(op);
    if (op < 35) {  // signal
      ASSERT_EQ(0, dyco_semaphore_signal(run->sem)) << what;
      if (!model.waiters.empty()) {
        model.finished.push_back({model.waiters.front(), 0, -1});
        model.waiters.pop_front();
      } else {
        model.count++;
      }
    } else if (op < 50) {  // the driver tries
      int want = model.count > 0 ? 0 : -ETIMEDOUT;
      if (want == 0) {
        model.count--;
      }
      ASSERT_EQ(want, dyco_semaphore_wait(run->sem, 0)) << what;
    } else if (op < 97) {  // a coroutine waits
      const bool timed = roll(kTimedOneIn) == 0;
      const int id = next_id++;
      SemaphoreRun *shared = run.get();
      Go([shared, id, timed] {
        int r = dyco_semaphore_wait(shared->sem, timed ? kTimeoutMs : -1);
        shared->seen.push_back({id, r, -1});
      });
      bool waits = model.count == 0;
      if (waits) {
        model.waiters.push_back(id);
      } else {
        model.count--;
        model.finished.push_back({id, 0, -1});
      }
      settle(what);
      if (timed && waits) {
        dyco_coroutine_sleep(2 * kTimeoutMs);
        model.waiters.erase(
            std::find(model.waiters.begin(), model.waiters.end(), id));
        model.finished.push_back({id, -ETIMEDOUT, -1});
        timeouts_modelled++;
      }
    } else {  // destroy and start over
      dyco_semaphore_destroy(&run->sem);
      for (int id : model.waiters) {
        model.finished.push_back({id, -EIDRM, -1});
      }
      model.waiters.clear();
      model.count = 0;
      settle(what + " (destroy)");
      run->sem = dyco_semaphore_create(0);
    }
    settle(what);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
    ASSERT_EQ(model.count, dyco_semaphore_value(run->sem)) << what;
    (*checked)++;
  }
  dyco_semaphore_destroy(&run->sem);
  for (int id : model.waiters) {
    model.finished.push_back({id, -EIDRM, -1});
  }
  settle("the end");
}

TEST_F(SchedTest, TheSemaphoreBehavesLikeItsModel) {
  const int kSteps = dyco_test::Slow() ? 500 : 1500;
  int checked = 0;
  timeouts_modelled = 0;
  for (unsigned seed = 1; seed <= 3; ++seed) {
    Go([&] { SemaphoreSteps(seed, kSteps, &checked); });
    ASSERT_EQ(0, dyco_schedule_run());
  }
  EXPECT_EQ(3 * kSteps, checked);
  EXPECT_GT(timeouts_modelled, 0);
}

}  // namespace
