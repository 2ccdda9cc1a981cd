/* dyco — install test: what a user sees of coroutines that wait or compute
 * inside a library that knows nothing of dyco (observe_lib.c), with the
 * installed library. One coroutine blocks in the library's read() of a
 * pipe (a wait, under the hooks); another walks it with
 * dyco_coroutine_backtrace and dyco_schedule_dump, then computes inside the
 * library without giving up the CPU until the stall watchdog reports it.
 * Prints "observe_app: passed", or what went wrong and exits 1. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <dyco/dyco_coroutine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe_lib.h"

static int pipefd[2];
static int waiter_cid;
static int cruncher_cid;
static int waiter_got = -2;
static volatile int reported;
static dyco_stall stall;
static int failures;

#define CHECK(cond, ...)                            \
  do {                                              \
    if (!(cond)) {                                  \
      fprintf(stderr, "observe_app: " __VA_ARGS__); \
      fprintf(stderr, " (line %d)\n", __LINE__);    \
      failures++;                                   \
    }                                               \
  } while (0)

static const char *name_of(const void *pc) {
  Dl_info d;
  return dladdr(pc, &d) != 0 && d.dli_sname != NULL ? d.dli_sname : "?";
}

static int has_frame(void *const *frames, int n, const char *name) {
  for (int i = 0; i < n; i++) {
    if (strcmp(name_of(frames[i]), name) == 0) {
      return 1;
    }
  }
  return 0;
}

/* On dyco's reporting thread. */
static void on_stall(const dyco_stall *s, void *arg) {
  (void)arg;
  if (!__atomic_load_n(&reported, __ATOMIC_ACQUIRE)) {
    stall = *s;
    __atomic_store_n(&reported, 1, __ATOMIC_RELEASE);
  }
}

void app_waiter(void *arg) {
  (void)arg;
  waiter_got = observe_lib_wait(pipefd[0]);
}

void app_cruncher(void *arg) {
  (void)arg;
  /* The waiter waits inside the library: its frames, down to its
   * function. */
  void *frames[64];
  int n = dyco_coroutine_backtrace(waiter_cid, frames, 64);
  CHECK(n > 0, "dyco_coroutine_backtrace of the waiter: %d", n);
  if (n > 0) {
    CHECK(has_frame(frames, n, "observe_lib_wait"),
          "the waiter's frames have none in observe_lib_wait");
    CHECK(strcmp(name_of(frames[n - 1]), "app_waiter") == 0,
          "the waiter's last frame is in %s, not app_waiter",
          name_of(frames[n - 1]));
  }
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  int listed = dyco_schedule_dump(out);
  fclose(out);
  CHECK(listed == 2, "dyco_schedule_dump listed %d coroutines", listed);
  CHECK(text != NULL && strstr(text, "observe_lib_wait") != NULL &&
            strstr(text, "app_waiter") != NULL &&
            strstr(text, "app_cruncher") != NULL,
        "the dump does not name the functions:\n%s", text);
  free(text);
  /* Compute in the library, without giving up the CPU, until the watchdog
   * reports it (10 s of CPU time at most). */
  observe_lib_crunch(10000, &reported);
  CHECK(reported, "no stall reported after 10 s of CPU time");
  CHECK(write(pipefd[1], "k", 1) == 1, "write to the pipe failed");
}

int main(void) {
  CHECK(pipe(pipefd) == 0, "pipe failed");
  int rc = dyco_schedule_setWatchdog(100, on_stall, NULL);
  CHECK(rc == 0, "dyco_schedule_setWatchdog: %d", rc);
  waiter_cid = dyco_coroutine_create(app_waiter, NULL);
  cruncher_cid = dyco_coroutine_create(app_cruncher, NULL);
  CHECK(waiter_cid > 0 && cruncher_cid > 0, "create: %d %d", waiter_cid,
        cruncher_cid);
  CHECK(dyco_schedule_run() == 0, "dyco_schedule_run failed");
  CHECK(dyco_schedule_setWatchdog(0, NULL, NULL) == 0, "watchdog off");
  CHECK(waiter_got == 'k', "the waiter read %d", waiter_got);
  if (__atomic_load_n(&reported, __ATOMIC_ACQUIRE)) {
    CHECK(stall.cid == cruncher_cid, "the stall names coroutine %d, not %d",
          stall.cid, cruncher_cid);
    CHECK(stall.func == (const void *)app_cruncher,
          "the stall's function is %s, not app_cruncher", name_of(stall.func));
    CHECK(stall.ran_ms >= 100, "the stall ran %llu ms",
          (unsigned long long)stall.ran_ms);
    CHECK(stall.nframes > 1 &&
              has_frame(stall.frames, stall.nframes, "observe_lib_crunch"),
          "the stall's %d frames have none in observe_lib_crunch",
          stall.nframes);
    CHECK(stall.nframes > 0 && strcmp(name_of(stall.frames[stall.nframes - 1]),
                                      "app_cruncher") == 0,
          "the stall's last frame is not app_cruncher");
  }
  if (failures == 0) {
    printf("observe_app: passed\n");
  }
  return failures != 0;
}
