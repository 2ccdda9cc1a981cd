// dyco — benchmarks and the demo only: the echo workload's baseline servers,
// a program of their own that links no dyco code (no hooks, no scheduler):
// a hand-written edge-triggered epoll loop (one buffer for all connections,
// or a buffer per connection) and a thread per connection, all on libc.
//
//   echo_baseline_server epoll|epoll_own|threads CONNECTIONS
//
// It listens on a free loopback port, prints the port on a line of its own,
// pins itself to CPU 0, serves CONNECTIONS connections and exits when all
// of them have closed.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <string>
#include <vector>

#if __has_include(<liburing.h>)
#include <liburing.h>
#include <sys/mman.h>
#define ECHO_HAVE_URING 1
#endif

#include "tools/testing/loopback.h"

namespace {

using dyco_bench::EchoUntilClosed;
using dyco_bench::kEchoServerBuffer;
using dyco_bench::NoDelay;

void Die(const char *what) {
  perror(what);
  exit(1);
}

// The epoll loop the way the epoll(7) manual says, with the syscall policy
// of dyco's own path: every fd registered once (EPOLLIN | EPOLLOUT |
// EPOLLRDHUP | EPOLLET); a read that fills less than the buffer has taken
// all there was, so the loop does not read again to hear EAGAIN (the next
// bytes raise a new edge); what cannot be written at once waits for
// EPOLLOUT. With own_buffers each connection reads into a buffer of its
// own, as blocking-style code does (one on each coroutine's or thread's
// stack): that variant shows what a buffer per connection costs.
struct Conn {
  int fd;
  std::string pending;
  char *own;  // own_buffers: kEchoServerBuffer bytes
};

bool FlushPending(Conn *c) {
  while (!c->pending.empty()) {
    ssize_t w = write(c->fd, c->pending.data(), c->pending.size());
    if (w < 0) {
      return errno == EAGAIN;
    }
    c->pending.erase(0, static_cast<size_t>(w));
  }
  return true;
}

// Reads what fd has and echoes it; false when the connection is over.
bool Echo(Conn *c, char *buf) {
  for (;;) {
    ssize_t r = read(c->fd, buf, kEchoServerBuffer);
    if (r <= 0) {
      return r < 0 && errno == EAGAIN;  // 0: end of stream
    }
    if (!c->pending.empty()) {
      c->pending.append(buf, static_cast<size_t>(r));
    } else {
      ssize_t w = write(c->fd, buf, static_cast<size_t>(r));
      if (w < 0 && errno != EAGAIN) {
        return false;
      }
      if (w < r) {
        const size_t sent = w > 0 ? static_cast<size_t>(w) : 0;
        c->pending.assign(buf + sent, static_cast<size_t>(r) - sent);
      }
    }
    if (static_cast<size_t>(r) < kEchoServerBuffer) {
      return true;  // short read: drained, wait for the next edge
    }
  }
}

void RunEpoll(int listener, int connections, bool own_buffers) {
  int ep = epoll_create1(0);
  fcntl(listener, F_SETFL, O_NONBLOCK);
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  int accepted = 0, open = 0;
  std::vector<epoll_event> events(1024);
  static char shared[kEchoServerBuffer];
  while (accepted < connections || open > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      Conn *c = static_cast<Conn *>(events[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          NoDelay(fd);
          Conn *nc = new Conn{
              fd, {}, own_buffers ? new char[kEchoServerBuffer] : nullptr};
          epoll_event cev = {};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.ptr = nc;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          ++accepted;
          ++open;
        }
        continue;
      }
      bool alive = true;
      if (events[i].events & EPOLLOUT) {
        alive = FlushPending(c);
      }
      if (alive && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
        alive = Echo(c, own_buffers ? c->own : shared);
      }
      if (!alive) {
        close(c->fd);  // also leaves the epoll set
        delete[] c->own;
        delete c;
        --open;
      }
    }
  }
  close(ep);
}

#ifdef ECHO_HAVE_URING
// The same echo as a hand-written io_uring loop, the way liburing's
// examples and io_uring's authors advise for a network server: one
// multishot accept; per connection one multishot receive that the kernel
// fills from a ring of provided buffers (one poll armed for the
// connection's life); sends submitted through the ring with everything else
// a round queued, one io_uring_enter per round (it submits, runs the
// receives' work and collects the completions:
// IORING_SETUP_DEFER_TASKRUN). A buffer goes back to the kernel once its
// bytes are sent; a connection's sends go one at a time, in order.
constexpr unsigned kRingEntries = 4096;
// Provided buffers: a power of two. The kernel hands them out in the order
// they were given back, so every one of them cycles through the cache:
// 2,048 (32 MiB) made the 4 KiB echo 0.74x the epoll loop; 64 ran out
// (ENOBUFS ends the multishot receive, armed again) at 0.65x; 256 is level
// with the loop at both sizes (Intel Xeon, 2026-12-01).
constexpr unsigned kBuffers = 256;
constexpr uint64_t kAccept = 1, kRecv = 2, kSend = 3;

struct UConn {
  int fd;
  bool sending;
  bool closing;                  // the receive ended: close after sends
  std::deque<uint32_t> queue;    // buffers received, not yet sent
  std::deque<uint32_t> lengths;  // their bytes
  uint32_t offset;               // of the front buffer, sent already
};

struct ULoop {
  io_uring ring;
  io_uring_buf_ring *br;
  char *bufs;
  std::vector<UConn *> conns;  // by slot
  std::vector<int> free_slots;
  int listener;
  int accepted = 0, open = 0;
};

uint64_t Tag(uint64_t kind, uint64_t slot, uint64_t bid) {
  return kind | slot << 8 | bid << 32;
}

io_uring_sqe *Sqe(ULoop *l) {
  io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
  if (sqe == nullptr) {
    io_uring_submit(&l->ring);
    sqe = io_uring_get_sqe(&l->ring);
  }
  if (sqe == nullptr) {
    Die("io_uring_get_sqe");
  }
  return sqe;
}

void ArmAccept(ULoop *l) {
  io_uring_sqe *sqe = Sqe(l);
  io_uring_prep_multishot_accept(sqe, l->listener, nullptr, nullptr, 0);
  io_uring_sqe_set_data64(sqe, Tag(kAccept, 0, 0));
}

void ArmRecv(ULoop *l, int slot) {
  io_uring_sqe *sqe = Sqe(l);
  io_uring_prep_recv_multishot(sqe, l->conns[slot]->fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  io_uring_sqe_set_data64(sqe, Tag(kRecv, slot, 0));
}

void GiveBack(ULoop *l, uint32_t bid) {
  io_uring_buf_ring_add(l->br, l->bufs + bid * kEchoServerBuffer,
                        kEchoServerBuffer, static_cast<unsigned short>(bid),
                        io_uring_buf_ring_mask(kBuffers), 0);
  io_uring_buf_ring_advance(l->br, 1);
}

void SendFront(ULoop *l, int slot) {
  UConn *c = l->conns[slot];
  const uint32_t bid = c->queue.front();
  io_uring_sqe *sqe = Sqe(l);
  io_uring_prep_send(sqe, c->fd, l->bufs + bid * kEchoServerBuffer + c->offset,
                     c->lengths.front() - c->offset, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Tag(kSend, slot, bid));
  c->sending = true;
}

void CloseConn(ULoop *l, int slot) {
  UConn *c = l->conns[slot];
  close(c->fd);
  for (uint32_t bid : c->queue) {
    GiveBack(l, bid);
  }
  delete c;
  l->conns[slot] = nullptr;
  l->free_slots.push_back(slot);
  --l->open;
}

void RunUring(int listener, int connections) {
  ULoop l;
  l.listener = listener;
  io_uring_params p = {};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (io_uring_queue_init_params(kRingEntries, &l.ring, &p) != 0) {
    Die("io_uring_queue_init_params");
  }
  const size_t ring_bytes = kBuffers * sizeof(io_uring_buf);
  l.br = static_cast<io_uring_buf_ring *>(
      mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  l.bufs = static_cast<char *>(malloc(kBuffers * kEchoServerBuffer));
  if (l.br == MAP_FAILED || l.bufs == nullptr) {
    Die("buffers");
  }
  io_uring_buf_ring_init(l.br);
  io_uring_buf_reg reg = {};
  reg.ring_addr = reinterpret_cast<uint64_t>(l.br);
  reg.ring_entries = kBuffers;
  reg.bgid = 0;
  if (io_uring_register_buf_ring(&l.ring, &reg, 0) != 0) {
    Die("io_uring_register_buf_ring");
  }
  for (uint32_t b = 0; b < kBuffers; ++b) {
    GiveBack(&l, b);
  }
  ArmAccept(&l);
  while (l.accepted < connections || l.open > 0) {
    const int r = io_uring_submit_and_wait(&l.ring, 1);
    if (r < 0 && r != -EINTR) {
      Die("io_uring_submit_and_wait");
    }
    io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&l.ring, head, cqe) {
      ++seen;
      const uint64_t kind = cqe->user_data & 0xff;
      const int slot = static_cast<int>((cqe->user_data >> 8) & 0xffffff);
      const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
      if (kind == kAccept) {
        if (cqe->res >= 0) {
          NoDelay(cqe->res);
          int s;
          if (!l.free_slots.empty()) {
            s = l.free_slots.back();
            l.free_slots.pop_back();
          } else {
            s = static_cast<int>(l.conns.size());
            l.conns.push_back(nullptr);
          }
          l.conns[s] = new UConn{cqe->res, false, false, {}, {}, 0};
          ++l.accepted;
          ++l.open;
          ArmRecv(&l, s);
        }
        if (!more && l.accepted < connections) {
          ArmAccept(&l);
        }
      } else if (kind == kRecv) {
        UConn *c = l.conns[slot];
        if (cqe->res > 0) {
          c->queue.push_back(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
          c->lengths.push_back(static_cast<uint32_t>(cqe->res));
          if (!c->sending) {
            SendFront(&l, slot);
          }
        }
        if (!more) {
          if (cqe->res > 0 || cqe->res == -ENOBUFS) {
            ArmRecv(&l, slot);  // ended for want of buffers: again
          } else if (c->sending) {
            c->closing = true;
          } else {
            CloseConn(&l, slot);
          }
        }
      } else {  // kSend
        UConn *c = l.conns[slot];
        c->sending = false;
        if (cqe->res < 0) {
          // The peer has gone: drop what is queued; the receive ends on
          // its own, and the connection with it.
          for (uint32_t bid : c->queue) {
            GiveBack(&l, bid);
          }
          c->queue.clear();
          c->lengths.clear();
          c->offset = 0;
        } else {
          c->offset += static_cast<uint32_t>(cqe->res);
          if (c->offset == c->lengths.front()) {
            GiveBack(&l, c->queue.front());
            c->queue.pop_front();
            c->lengths.pop_front();
            c->offset = 0;
          }
          if (!c->queue.empty()) {
            SendFront(&l, slot);
          }
        }
        if (!c->sending && c->closing) {
          CloseConn(&l, slot);
        }
      }
    }
    io_uring_cq_advance(&l.ring, seen);
  }
  io_uring_queue_exit(&l.ring);
  munmap(l.br, ring_bytes);
  free(l.bufs);
}
#endif  // ECHO_HAVE_URING

void *ThreadBody(void *arg) {
  EchoUntilClosed<recv, send, close>(
      static_cast<int>(reinterpret_cast<intptr_t>(arg)));
  return nullptr;
}

// A thread per connection, plain blocking calls.
void RunThreads(int listener, int connections) {
  std::vector<pthread_t> threads;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (int i = 0; i < connections; ++i) {
    int c = accept(listener, nullptr, nullptr);
    if (c < 0) {
      Die("accept");
    }
    NoDelay(c);
    pthread_t t;
    int err = pthread_create(&t, &attr, ThreadBody,
                             reinterpret_cast<void *>(intptr_t{c}));
    if (err != 0) {
      errno = err;
      Die("pthread_create");
    }
    threads.push_back(t);
  }
  pthread_attr_destroy(&attr);
  for (pthread_t t : threads) {
    pthread_join(t, nullptr);
  }
}

}  // namespace

int main(int argc, char **argv) {
  const char *variant = argc == 3 ? argv[1] : "";
  const int connections = argc == 3 ? atoi(argv[2]) : 0;
  const bool epoll = strcmp(variant, "epoll") == 0;
  const bool epoll_own = strcmp(variant, "epoll_own") == 0;
  const bool threads = strcmp(variant, "threads") == 0;
#ifdef ECHO_HAVE_URING
  const bool uring = strcmp(variant, "uring_loop") == 0;
#else
  const bool uring = false;
#endif
  if (connections <= 0 || !(epoll || epoll_own || threads || uring)) {
    fprintf(stderr,
            "usage: echo_baseline_server epoll|epoll_own|threads|uring_loop "
            "CONNECTIONS\n");
    return 2;
  }
  dyco_bench::RaiseFdLimit();
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(listener, 4096) != 0) {
    Die("bind/listen");
  }
  socklen_t len = sizeof a;
  getsockname(listener, reinterpret_cast<sockaddr *>(&a), &len);
  dyco_bench::PinTo(0);
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  if (threads) {
    RunThreads(listener, connections);
#ifdef ECHO_HAVE_URING
  } else if (uring) {
    RunUring(listener, connections);
#endif
  } else {
    RunEpoll(listener, connections, epoll_own);
  }
  close(listener);
  return 0;
}
