/* dyco — base layer: branch hints. The one definition of likely/unlikely for
 * every layer's C sources. */
#ifndef DYCO_BASE_HINTS_H_
#define DYCO_BASE_HINTS_H_

/* DYCO__LIKELY(x) and DYCO__UNLIKELY(x) are x (as 0 or 1), telling the
 * compiler which way a test almost always goes. */
#define DYCO__LIKELY(x) __builtin_expect(!!(x), 1)
#define DYCO__UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* DYCO_BASE_HINTS_H_ */
