/* dyco — base layer: the coroutine id space, defined once. Every coroutine
 * of a thread, symmetric (sched/) or asymmetric (asym/), has an id of it. */
#ifndef DYCO_BASE_IDS_H_
#define DYCO_BASE_IDS_H_

/* A coroutine id (cid) is a positive int: generation << 24 | slot.
 *
 *   bit 31       0 (cids are > 0)
 *   bits 24..30  the generation of its slot, bumped each time the slot is
 *                freed, so that a stale cid is refused until the slot has
 *                been handed out 127 more times (base/slots.h)
 *   bits 0..23   the slot, in two ranges that never meet:
 *                [1, DYCO__CID_ASYM_FIRST)      a scheduler's coroutines
 *                [DYCO__CID_ASYM_FIRST, 2^24)   asymmetric coroutines
 *
 * So a symmetric and an asymmetric cid are never equal, whatever the
 * generations, and the range of a cid tells its kind. Slot 0 of each range
 * is never handed out (cid 0 means "none"; an asymmetric slot's offset 0
 * keeps the sizes round). */
#define DYCO__CID_SLOT_BITS 24
#define DYCO__CID_SLOT_MASK ((1u << DYCO__CID_SLOT_BITS) - 1)
#define DYCO__CID_GEN_SHIFT DYCO__CID_SLOT_BITS
#define DYCO__CID_GEN_MASK 0x7fu

/* The first slot of the asymmetric range: its bits are the top bits of the
 * slot field, so `(cid & (DYCO__CID_ASYM_FIRST | 1u << 31)) ==
 * DYCO__CID_ASYM_FIRST` tests "a positive asymmetric cid" in one step. */
#define DYCO__CID_ASYM_FIRST 0xF00000u

/* How many coroutines each range holds at once. */
#define DYCO__CID_SCHED_MAX (DYCO__CID_ASYM_FIRST - 1)
#define DYCO__CID_ASYM_MAX (DYCO__CID_SLOT_MASK - DYCO__CID_ASYM_FIRST)

_Static_assert((DYCO__CID_ASYM_FIRST &
                (DYCO__CID_SLOT_MASK - DYCO__CID_ASYM_FIRST)) == 0 &&
                   (DYCO__CID_ASYM_FIRST | DYCO__CID_ASYM_MAX) ==
                       DYCO__CID_SLOT_MASK,
               "the asymmetric range is a run of top bits of the slot field");
_Static_assert(DYCO__CID_GEN_MASK << DYCO__CID_GEN_SHIFT <= 0x7fffffffu,
               "cids are positive ints");

#endif /* DYCO_BASE_IDS_H_ */
