/* dyco — base layer: the report of a state dyco cannot go on from (misuse
 * that would corrupt memory, a broken invariant): a line on stderr, then
 * abort. Recoverable errors are returned, never reported here. */
#ifndef DYCO_BASE_FATAL_H_
#define DYCO_BASE_FATAL_H_

/* dyco__fatal prints "dyco: " and the printf-style message on stderr, with a
 * newline, and aborts the process. Never returns. */
void dyco__fatal(const char *fmt, ...)
    __attribute__((noreturn, cold, format(printf, 1, 2)));

#endif /* DYCO_BASE_FATAL_H_ */
