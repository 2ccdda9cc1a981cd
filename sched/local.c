/* dyco — sched layer: coroutine-local storage. Keys shared by all threads,
 * values per coroutine in its ext record, destructors when it ends. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sched/internal/sched.h"

/* Each key's word: generation << 1 | in use. A value stored under an older
 * generation of a key reads as NULL. */
static uint32_t key_word[DYCO_COROUTINE_KEYS_MAX];
static void (*key_dtor[DYCO_COROUTINE_KEYS_MAX])(void *);
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;

static inline uint32_t word_of(int key) {
  return __atomic_load_n(&key_word[key], __ATOMIC_ACQUIRE);
}

int dyco_coroutine_keyCreate(int *key, void (*destructor)(void *)) {
  if (key == NULL) {
    return -EINVAL;
  }
  pthread_mutex_lock(&keys_lock);
  for (int i = 0; i < DYCO_COROUTINE_KEYS_MAX; i++) {
    uint32_t w = key_word[i];
    if (w & 1u) {
      continue;
    }
    key_dtor[i] = destructor;
    __atomic_store_n(&key_word[i], (w + 2) | 1u, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&keys_lock);
    *key = i;
    return 0;
  }
  pthread_mutex_unlock(&keys_lock);
  return -EAGAIN;
}

int dyco_coroutine_keyDelete(int key) {
  if (key < 0 || key >= DYCO_COROUTINE_KEYS_MAX) {
    return -EINVAL;
  }
  pthread_mutex_lock(&keys_lock);
  uint32_t w = key_word[key];
  if (!(w & 1u)) {
    pthread_mutex_unlock(&keys_lock);
    return -EINVAL;
  }
  __atomic_store_n(&key_word[key], w & ~1u, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&keys_lock);
  return 0;
}

int dyco_coroutine_setLocal(int key, const void *value) {
  if (key < 0 || key >= DYCO_COROUTINE_KEYS_MAX) {
    return -EINVAL;
  }
  uint32_t w = word_of(key);
  if (!(w & 1u)) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  dyco__ext *e = dyco__ext_get(s, s->running, 1);
  if (e == NULL) {
    return -ENOMEM;
  }
  if ((uint32_t)key >= e->nlocals) {
    uint32_t n = e->nlocals != 0 ? e->nlocals : 4;
    while (n <= (uint32_t)key) {
      n *= 2;
    }
    dyco__local *l = (dyco__local *)realloc(e->locals, n * sizeof *l);
    if (l == NULL) {
      return -ENOMEM;
    }
    memset(l + e->nlocals, 0, (n - e->nlocals) * sizeof *l);
    e->locals = l;
    e->nlocals = n;
  }
  e->locals[key].value = (void *)value;
  e->locals[key].key_gen = w;
  return 0;
}

void *dyco_coroutine_getLocal(int key) {
  if (key < 0 || key >= DYCO_COROUTINE_KEYS_MAX) {
    return NULL;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return NULL;
  }
  dyco__ext *e = dyco__ext_get(s, s->running, 0);
  if (e == NULL || (uint32_t)key >= e->nlocals) {
    return NULL;
  }
  uint32_t w = word_of(key);
  if (!(w & 1u) || e->locals[key].key_gen != w) {
    return NULL;
  }
  return e->locals[key].value;
}

void dyco__locals_destroy(dyco__ext *ext) {
  /* As pthreads: destructors may set values again; a few rounds at most. */
  for (int round = 0; round < 4; round++) {
    int again = 0;
    for (uint32_t i = 0; i < ext->nlocals; i++) {
      void *v = ext->locals[i].value;
      if (v == NULL) {
        continue;
      }
      uint32_t w = word_of((int)i);
      ext->locals[i].value = NULL;
      if (!(w & 1u) || ext->locals[i].key_gen != w) {
        continue;
      }
      void (*dtor)(void *) = key_dtor[i];
      if (dtor != NULL) {
        dtor(v);
        again = 1;
      }
    }
    if (!again) {
      break;
    }
  }
  free(ext->locals);
  ext->locals = NULL;
  ext->nlocals = 0;
}
