/* dyco — base layer: slot tables with generations. cid -> record in O(1);
 * a freed slot is reused as late as possible, so a stale cid is refused. */
#ifndef DYCO_BASE_SLOTS_H_
#define DYCO_BASE_SLOTS_H_

#include <stddef.h>
#include <stdint.h>

#include "base/ids.h"

/* The table of one range of cids (base/ids.h) of one owner (a scheduler,
 * a thread's asymmetric coroutines). Each entry holds a record pointer, or
 * a free entry (odd): the next free slot << 8 | the slot's generation << 1
 * | 1. Free slots form a FIFO: freed ones go to its tail. Not thread-safe.
 * Zero it, then dyco__slots_init. */
typedef struct dyco__slots {
  uintptr_t *table;
  uint32_t n;         /* entries, slot 0 included */
  uint32_t free_head; /* 0: none */
  uint32_t free_tail;
  uint32_t first;   /* the first slot of the range, OR'ed into every cid */
  uint32_t max;     /* the most records at once */
  uint32_t initial; /* entries of the first table */
} dyco__slots;

/* dyco__slots_init sets up an empty table for cids whose slots start at
 * `first` (0 or DYCO__CID_ASYM_FIRST), holding at most `max` records; the
 * first allocation makes `initial` entries. */
void dyco__slots_init(dyco__slots *t, uint32_t first, uint32_t max,
                      uint32_t initial);

/* dyco__slots_destroy frees the table (not the records). */
void dyco__slots_destroy(dyco__slots *t);

static inline uintptr_t dyco__slots_free_entry(uint32_t next, uint32_t gen) {
  return ((uintptr_t)next << 8) | ((uintptr_t)gen << 1) | 1u;
}

static inline uint32_t dyco__slots_entry_gen(uintptr_t e) {
  return (uint32_t)((e >> 1) & DYCO__CID_GEN_MASK);
}

/* Appends free slots (the table doubles). 0, -EAGAIN at `max`, -ENOMEM. */
int dyco__slots_grow(dyco__slots *t);

/* dyco__slots_take gives record p a slot and returns its cid (> 0), or
 * -EAGAIN when the table holds `max` records, -ENOMEM. Inline: every
 * coroutine's creation takes one. */
static inline int32_t dyco__slots_take(dyco__slots *t, void *p) {
  if (t->free_head == 0) {
    int err = dyco__slots_grow(t);
    if (err != 0) {
      return err;
    }
  }
  uint32_t slot = t->free_head;
  uintptr_t e = t->table[slot];
  t->free_head = (uint32_t)(e >> 8);
  if (t->free_head == 0) {
    t->free_tail = 0;
  }
  t->table[slot] = (uintptr_t)p;
  return (int32_t)((dyco__slots_entry_gen(e) << DYCO__CID_GEN_SHIFT) |
                   t->first | slot);
}

/* dyco__slots_give_back frees the slot of cid (which must be taken) and
 * bumps its generation. Freed slots go to the tail of the free list: a slot
 * is reused as late as possible, so a stale cid is refused by its
 * generation for as long as possible. */
static inline void dyco__slots_give_back(dyco__slots *t, int32_t cid) {
  uint32_t slot = ((uint32_t)cid & DYCO__CID_SLOT_MASK) - t->first;
  uint32_t gen =
      (((uint32_t)cid >> DYCO__CID_GEN_SHIFT) + 1) & DYCO__CID_GEN_MASK;
  t->table[slot] = dyco__slots_free_entry(0, gen);
  if (t->free_tail != 0) {
    t->table[t->free_tail] = dyco__slots_free_entry(
        slot, dyco__slots_entry_gen(t->table[t->free_tail]));
  } else {
    t->free_head = slot;
  }
  t->free_tail = slot;
}

/* dyco__slots_at returns the record in slot i (an index into the table, 1
 * to n - 1), NULL when the slot is free. For walking every record. */
static inline void *dyco__slots_at(const dyco__slots *t, uint32_t i) {
  uintptr_t e = t->table[i];
  return (e & 1u) ? NULL : (void *)e;
}

/* dyco__slots_get returns the record whose slot cid names, NULL when that
 * slot is free or outside the table. The record may be a newer one in the
 * same slot: the caller compares its cid with the one asked for. */
static inline void *dyco__slots_get(const dyco__slots *t, int32_t cid) {
  uint32_t i = ((uint32_t)cid & DYCO__CID_SLOT_MASK) - t->first;
  if (i >= t->n) {
    return NULL;
  }
  return dyco__slots_at(t, i);
}

#endif /* DYCO_BASE_SLOTS_H_ */
