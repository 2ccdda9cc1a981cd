/* dyco — base layer: intrusive lists, written once for every layer's records
 * (wait queues, run queues, channel cells, pools): the links live in them. */
#ifndef DYCO_BASE_LIST_H_
#define DYCO_BASE_LIST_H_

#include <stddef.h>
#include <stdlib.h>

/* Each macro below defines a family of static inline functions for one pair
 * of types, through the fields it is told to use: a record keeps its own
 * `next` / `prev` fields (a public struct among them, dyco_waitq, whose
 * layout base may not change), with no link type to embed and no cast, and
 * the compiler sees exactly the code it would see written out by hand. Put
 * the line at file scope, after both types are complete:
 *
 *   DYCO__DLIST(cellq, dyco__cellq, dyco__cell, head, tail, next, prev)
 *
 * defines cellq_push and cellq_unlink. Nothing takes a lock or checks that
 * a node is on the list it is given: the caller knows. */

/* DYCO__DLIST: a doubly-linked list L with both ends (`head`, `tail`) of
 * nodes N (`next`, `prev`):
 *   void name_push(L *l, N *n)    appends n at the tail;
 *   void name_unlink(L *l, N *n)  takes n off l, its links left NULL. */
#define DYCO__DLIST(name, L, N, head, tail, next, prev)                  \
  static inline __attribute__((unused)) void name##_push(L *l, N *n) {   \
    n->next = NULL;                                                      \
    n->prev = l->tail;                                                   \
    if (l->tail != NULL) {                                               \
      l->tail->next = n;                                                 \
    } else {                                                             \
      l->head = n;                                                       \
    }                                                                    \
    l->tail = n;                                                         \
  }                                                                      \
  static inline __attribute__((unused)) void name##_unlink(L *l, N *n) { \
    if (n->prev != NULL) {                                               \
      n->prev->next = n->next;                                           \
    } else {                                                             \
      l->head = n->next;                                                 \
    }                                                                    \
    if (n->next != NULL) {                                               \
      n->next->prev = n->prev;                                           \
    } else {                                                             \
      l->tail = n->prev;                                                 \
    }                                                                    \
    n->next = n->prev = NULL;                                            \
  }

/* DYCO__HLIST: a doubly-linked list known by its `head` alone, in record
 * O (a scheduler, a thread), of nodes N (`next`, `prev`), newest first:
 *   void name_push(O *o, N *n)    puts n first;
 *   void name_unlink(O *o, N *n)  takes n off, its links left NULL. */
#define DYCO__HLIST(name, O, N, head, next, prev)                        \
  static inline __attribute__((unused)) void name##_push(O *o, N *n) {   \
    n->prev = NULL;                                                      \
    n->next = o->head;                                                   \
    if (o->head != NULL) {                                               \
      o->head->prev = n;                                                 \
    }                                                                    \
    o->head = n;                                                         \
  }                                                                      \
  static inline __attribute__((unused)) void name##_unlink(O *o, N *n) { \
    if (n->prev != NULL) {                                               \
      n->prev->next = n->next;                                           \
    } else {                                                             \
      o->head = n->next;                                                 \
    }                                                                    \
    if (n->next != NULL) {                                               \
      n->next->prev = n->prev;                                           \
    }                                                                    \
    n->next = n->prev = NULL;                                            \
  }

/* DYCO__SQUEUE: a singly-linked FIFO with both ends (`head`, `tail`), in
 * record Q, of nodes N (`next`):
 *   void name_push(Q *q, N *n)  appends n at the tail;
 *   N *name_pop(Q *q)           takes the first off, NULL when empty (its
 *                               `next` is left as it is: a push sets it). */
#define DYCO__SQUEUE(name, Q, N, head, tail, next)                     \
  static inline __attribute__((unused)) void name##_push(Q *q, N *n) { \
    n->next = NULL;                                                    \
    if (q->tail != NULL) {                                             \
      q->tail->next = n;                                               \
    } else {                                                           \
      q->head = n;                                                     \
    }                                                                  \
    q->tail = n;                                                       \
  }                                                                    \
  static inline __attribute__((unused)) N *name##_pop(Q *q) {          \
    N *n = q->head;                                                    \
    if (n == NULL) {                                                   \
      return NULL;                                                     \
    }                                                                  \
    q->head = n->next;                                                 \
    if (q->head == NULL) {                                             \
      q->tail = NULL;                                                  \
    }                                                                  \
    return n;                                                          \
  }

/* DYCO__SCHAIN: a chain of malloc'd nodes N linked through `next`:
 *   void name_free_all(N *first)  frees first and every node after it. */
#define DYCO__SCHAIN(name, N, next)                                      \
  static inline __attribute__((unused)) void name##_free_all(N *first) { \
    while (first != NULL) {                                              \
      N *after = first->next;                                            \
      free(first);                                                       \
      first = after;                                                     \
    }                                                                    \
  }

#endif /* DYCO_BASE_LIST_H_ */
