/* dyco — install test: the stand-in client library. Nothing here knows of
 * dyco: its connect, send, poll and recv block, unless the program it is
 * loaded into has dyco's hooks. */
#include "standin.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int standin_request(int port, char *answer, int size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return -1;
  }
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int got = -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      send(fd, "query\n", 6, 0) == 6) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) == 1) {
      got = (int)recv(fd, answer, (size_t)size, 0);
    } else {
      errno = ETIMEDOUT;
    }
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return got;
}
