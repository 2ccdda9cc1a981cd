/* dyco — install test: a blocking client library standing in for libpq or
 * libcurl, built as a shared library of its own. */
#ifndef DYCO_TOOLS_INSTALL_TEST_STANDIN_H_
#define DYCO_TOOLS_INSTALL_TEST_STANDIN_H_

/* standin_request connects to 127.0.0.1:port, sends one line, waits (in
 * poll) for the answer and reads it into answer (size bytes at most), all
 * with plain blocking libc calls, as a database or HTTP client does.
 * Returns the bytes read, or -1 with errno set. */
int standin_request(int port, char *answer, int size);

#endif /* DYCO_TOOLS_INSTALL_TEST_STANDIN_H_ */
