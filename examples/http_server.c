/* dyco example: an HTTP/1.1 server written as plain blocking code. Each
 * connection is a coroutine that calls recv, send and sendfile as if it
 * had a thread of its own; with //netio:hook linked those calls yield to
 * the thread's scheduler instead of blocking it.
 *
 * It keeps connections alive, answers pipelined requests in order (the
 * answers to every complete request in the buffer go out in one send),
 * parses the request line and the headers (Content-Length bodies are read
 * and dropped, chunked bodies are refused with 501), and serves two things:
 *   GET /hello         a fixed "Hello, World!" (text/plain)
 *   GET /static/NAME   a file from the --root directory (sendfile)
 * HEAD works on both. Anything else gets the proper 4xx/5xx.
 *
 *   http_server [--port N] [--root DIR] [--stack BYTES]   serve for ever
 *   http_server --self-test                                serve and check
 *
 * --self-test starts the server on a free loopback port, runs clients in
 * coroutines of the same thread against it (keep-alive, pipelining, HEAD,
 * a file, errors, a request split in small pieces) and prints what it saw.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dyco.h"

/* A connection's buffers live in its coroutine's frame: give each
 * connection a private stack, so that no switch copies them (on the shared
 * stack every suspended connection's frame is copied out and back). */
#define CONN_STACK (64 * 1024)
#define REQ_MAX 8192 /* request line + headers, as nginx's default */
#define OUT_MAX 16384

static const char kHello[] = "Hello, World!";

static const char *root_dir = ".";
static size_t conn_stack = CONN_STACK;

/* --- The Date header, formatted once a second ---------------------------- */

static char date_line[64];
static time_t date_at;

static const char *date_header(void) {
  time_t now = time(NULL);
  if (now != date_at) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date_line, sizeof date_line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n",
             &tm);
    date_at = now;
  }
  return date_line;
}

/* --- Parsing ------------------------------------------------------------- */

typedef struct request {
  char method[8];
  const char *target; /* into the connection's buffer, not terminated */
  size_t target_len;
  int minor; /* HTTP/1.minor */
  int keep_alive;
  long long body_len; /* Content-Length, 0 when none */
  int status;         /* 0 when well formed, else the error to answer */
} request;

/* RFC 9110's tchar: what a method and a header name are made of. */
static unsigned char tchar[256];

static void init_tchar(void) {
  for (int c = 0; c < 256; c++) {
    tchar[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') ||
               (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
  }
}

static int is_tchar(int c) { return tchar[(unsigned char)c]; }

/* The end of the header block in [p, p+n): the index just past the empty
 * line, or 0 when it has not all arrived. A bare LF is accepted as a line
 * end, as RFC 9112 allows. */
static size_t head_end(const char *p, size_t n) {
  const char *end = p + n;
  for (const char *lf = memchr(p, '\n', n); lf != NULL;
       lf = memchr(lf + 1, '\n', (size_t)(end - lf - 1))) {
    if (lf + 1 < end && lf[1] == '\n') {
      return (size_t)(lf + 2 - p);
    }
    if (lf + 2 < end && lf[1] == '\r' && lf[2] == '\n') {
      return (size_t)(lf + 3 - p);
    }
  }
  return 0;
}

/* The length of the line at p (up to, not counting, CRLF or LF), with
 * *next just past its end; the block ends with an empty line, so one is
 * always found before `end`. */
static size_t line_len(const char *p, const char *end, const char **next) {
  const char *lf = memchr(p, '\n', (size_t)(end - p));
  *next = lf + 1;
  size_t len = (size_t)(lf - p);
  return len > 0 && p[len - 1] == '\r' ? len - 1 : len;
}

static int value_has_token(const char *v, size_t n, const char *token) {
  size_t t = strlen(token);
  for (size_t i = 0; i + t <= n; i++) {
    if (strncasecmp(v + i, token, t) == 0 &&
        (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
        (i + t == n || v[i + t] == ',' || v[i + t] == ' ')) {
      return 1;
    }
  }
  return 0;
}

/* Parses the head [p, p+n) (n from head_end) into *r. */
static void parse_head(const char *p, size_t n, request *r) {
  memset(r, 0, sizeof *r);
  const char *end = p + n, *next;
  /* Request line: method SP target SP HTTP/1.x */
  size_t len = line_len(p, end, &next);
  const char *sp1 = memchr(p, ' ', len);
  const char *sp2 =
      sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p)) : NULL;
  if (sp1 == NULL || sp2 == NULL || sp1 == p || sp2 == sp1 + 1 ||
      (size_t)(sp1 - p) >= sizeof r->method) {
    r->status = 400;
    return;
  }
  for (const char *c = p; c < sp1; c++) {
    if (!is_tchar((unsigned char)*c)) {
      r->status = 400;
      return;
    }
  }
  memcpy(r->method, p, (size_t)(sp1 - p));
  r->target = sp1 + 1;
  r->target_len = (size_t)(sp2 - r->target);
  const char *ver = sp2 + 1;
  size_t vlen = len - (size_t)(ver - p);
  if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.' ||
      ver[5] < '0' || ver[5] > '9' || ver[7] < '0' || ver[7] > '9') {
    r->status = 400;
    return;
  }
  if (ver[5] != '1') {
    r->status = 505;
    return;
  }
  r->minor = ver[7] - '0';
  r->keep_alive = r->minor >= 1;
  int have_host = 0, have_length = 0;
  /* Header fields: name ":" OWS value OWS */
  for (p = next; p < end;) {
    len = line_len(p, end, &next);
    if (len == 0) {
      break;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL || colon == p) {
      r->status = 400;
      return;
    }
    for (const char *c = p; c < colon; c++) {
      if (!is_tchar((unsigned char)*c)) {
        r->status = 400; /* also: white space before the colon */
        return;
      }
    }
    size_t name_len = (size_t)(colon - p);
    const char *v = colon + 1, *vend = p + len;
    while (v < vend && (*v == ' ' || *v == '\t')) {
      v++;
    }
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) {
      vend--;
    }
    size_t vlen2 = (size_t)(vend - v);
    if (name_len == 4 && strncasecmp(p, "host", 4) == 0) {
      have_host++;
    } else if (name_len == 10 && strncasecmp(p, "connection", 10) == 0) {
      if (value_has_token(v, vlen2, "close")) {
        r->keep_alive = 0;
      } else if (value_has_token(v, vlen2, "keep-alive")) {
        r->keep_alive = 1;
      }
    } else if (name_len == 14 && strncasecmp(p, "content-length", 14) == 0) {
      long long cl = 0;
      if (vlen2 == 0 || vlen2 > 15) {
        r->status = 400;
        return;
      }
      for (size_t i = 0; i < vlen2; i++) {
        if (v[i] < '0' || v[i] > '9') {
          r->status = 400;
          return;
        }
        cl = cl * 10 + (v[i] - '0');
      }
      if (have_length && cl != r->body_len) {
        r->status = 400; /* two different lengths: smuggling, refuse */
        return;
      }
      have_length = 1;
      r->body_len = cl;
    } else if (name_len == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
      r->status = 501; /* chunked request bodies: not in this example */
      return;
    }
    p = next;
  }
  if (r->minor >= 1 && have_host != 1) {
    r->status = 400; /* HTTP/1.1 needs exactly one Host */
  }
}

/* --- Answers ------------------------------------------------------------- */

typedef struct outbuf {
  char data[OUT_MAX];
  size_t len;
} outbuf;

static const char *reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Request Entity Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Internal Server Error";
  }
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int flush(int fd, outbuf *o) {
  int r = send_all(fd, o->data, o->len);
  o->len = 0;
  return r;
}

/* Appends a head (and `body` unless head_only) to o, sending what o holds
 * first when it would not fit. */
static char *put(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* Writes a head into p (room for 512 bytes); returns its end. */
static char *put_head(char *p, int status, const char *type, size_t body_len,
                      int keep_alive) {
  char num[24];
  size_t n = 0;
  p = PUT_LIT(p, "HTTP/1.1 ");
  p += snprintf(p, 8, "%d ", status);
  p = put(p, reason(status), strlen(reason(status)));
  p = PUT_LIT(p, "\r\nServer: dyco\r\n");
  p = put(p, date_header(), strlen(date_line));
  p = PUT_LIT(p, "Content-Type: ");
  p = put(p, type, strlen(type));
  p = PUT_LIT(p, "\r\nContent-Length: ");
  do {
    num[n++] = (char)('0' + body_len % 10);
    body_len /= 10;
  } while (body_len != 0);
  while (n > 0) {
    *p++ = num[--n];
  }
  p = PUT_LIT(p, "\r\n");
  if (!keep_alive) {
    p = PUT_LIT(p, "Connection: close\r\n");
  }
  return PUT_LIT(p, "\r\n");
}

/* The answers to GET and HEAD /hello, kept alive or not, made again when
 * the Date changes: a hello costs one copy. */
static struct {
  char bytes[256];
  size_t len;
} hello[2][2]; /* [keep_alive][head_only] */
static time_t hello_at = -1;

static const char *hello_answer(int keep_alive, int head_only, size_t *len) {
  date_header();
  if (hello_at != date_at) {
    for (int k = 0; k < 2; k++) {
      for (int h = 0; h < 2; h++) {
        char *p = put_head(hello[k][h].bytes, 200, "text/plain",
                           sizeof kHello - 1, k);
        if (!h) {
          p = put(p, kHello, sizeof kHello - 1);
        }
        hello[k][h].len = (size_t)(p - hello[k][h].bytes);
      }
    }
    hello_at = date_at;
  }
  *len = hello[keep_alive][head_only].len;
  return hello[keep_alive][head_only].bytes;
}

/* Appends a head (and `body` unless head_only) to o, sending what o holds
 * first when it would not fit. */
static int answer(int fd, outbuf *o, int status, const char *type,
                  size_t body_len, const char *body, int keep_alive,
                  int head_only) {
  if (o->len + 512 + (head_only ? 0 : body_len) > sizeof o->data &&
      flush(fd, o) != 0) {
    return -1;
  }
  char *p = put_head(o->data + o->len, status, type, body_len, keep_alive);
  if (!head_only && body != NULL) {
    p = put(p, body, body_len);
  }
  o->len = (size_t)(p - o->data);
  return 0;
}

static int answer_hello(int fd, outbuf *o, int keep_alive, int head_only) {
  size_t n;
  const char *a = hello_answer(keep_alive, head_only, &n);
  if (o->len + n > sizeof o->data && flush(fd, o) != 0) {
    return -1;
  }
  memcpy(o->data + o->len, a, n);
  o->len += n;
  return 0;
}

static int answer_error(int fd, outbuf *o, int status, int keep_alive) {
  char body[64];
  int n = snprintf(body, sizeof body, "%d %s\n", status, reason(status));
  return answer(fd, o, status, "text/plain", (size_t)n, body, keep_alive, 0);
}

/* Serves /static/NAME from root_dir: only plain names (no '/', no leading
 * dot), only regular files. */
static int answer_file(int fd, outbuf *o, const char *name, size_t name_len,
                       int keep_alive, int head_only) {
  char path[4096];
  if (name_len == 0 || name[0] == '.' || memchr(name, '/', name_len) ||
      memchr(name, '\0', name_len) ||
      snprintf(path, sizeof path, "%s/%.*s", root_dir, (int)name_len, name) >=
          (int)sizeof path) {
    return answer_error(fd, o, 404, keep_alive);
  }
  int file = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (file < 0 || fstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (file >= 0) {
      close(file);
    }
    return answer_error(fd, o, 404, keep_alive);
  }
  int r = answer(fd, o, 200, "application/octet-stream", (size_t)st.st_size,
                 NULL, keep_alive, 1);
  if (r == 0 && !head_only) {
    r = flush(fd, o); /* the head, then the file after it */
    off_t off = 0;
    while (r == 0 && off < st.st_size) {
      ssize_t w = sendfile(fd, file, &off, (size_t)(st.st_size - off));
      if (w <= 0 && !(w < 0 && errno == EINTR)) {
        r = -1;
      }
    }
  }
  close(file);
  return r;
}

/* Answers one parsed request; returns 0 to go on, -1 to close. */
static int respond(int fd, outbuf *o, const request *rq) {
  if (rq->status != 0) {
    answer_error(fd, o, rq->status, 0);
    return -1;
  }
  int head_only = strcmp(rq->method, "HEAD") == 0;
  if (!head_only && strcmp(rq->method, "GET") != 0) {
    return answer_error(fd, o, 405, rq->keep_alive);
  }
  const char *t = rq->target;
  size_t n = rq->target_len;
  const char *q = memchr(t, '?', n); /* the query plays no part */
  if (q != NULL) {
    n = (size_t)(q - t);
  }
  if (n == 6 && memcmp(t, "/hello", 6) == 0) {
    return answer_hello(fd, o, rq->keep_alive != 0, head_only);
  }
  if (n > 8 && memcmp(t, "/static/", 8) == 0) {
    return answer_file(fd, o, t + 8, n - 8, rq->keep_alive, head_only);
  }
  return answer_error(fd, o, 404, rq->keep_alive);
}

/* --- A connection ----------------------------------------------------------
 */

/* The server closes while the client may still be sending (after an error,
 * or pipelined requests after "Connection: close"): closing with unread
 * bytes would send a reset that can destroy the answer before the client
 * reads it. Send the FIN first and drop what still comes, for a while. */
static void linger_close(int fd) {
  shutdown(fd, SHUT_WR);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  char sink[4096];
  for (int total = 0; total < (1 << 20);) {
    if (poll(&p, 1, 2000) <= 0) {
      return;
    }
    ssize_t r = recv(fd, sink, sizeof sink, 0);
    if (r <= 0) {
      return;
    }
    total += (int)r;
  }
}

static void connection(void *arg) {
  int fd = (int)(long)arg;
  char in[REQ_MAX];
  outbuf out;
  out.len = 0;
  size_t have = 0;
  long long skip = 0; /* body bytes still to drop */
  int open_ok = 1;
  while (open_ok) {
    ssize_t got = recv(fd, in + have, sizeof in - have, 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) {
        continue;
      }
      break;
    }
    have += (size_t)got;
    size_t at = 0;
    /* Every complete request in the buffer, in order. */
    while (open_ok) {
      if (skip > 0) {
        size_t drop = (size_t)skip < have - at ? (size_t)skip : have - at;
        at += drop;
        skip -= (long long)drop;
        if (skip > 0) {
          break;
        }
      }
      size_t end = head_end(in + at, have - at);
      if (end == 0) {
        if (have - at == sizeof in) {
          answer_error(fd, &out, 431, 0); /* a head larger than REQ_MAX */
          open_ok = 0;
        }
        break;
      }
      request rq;
      parse_head(in + at, end, &rq);
      at += end;
      if (respond(fd, &out, &rq) != 0 || !rq.keep_alive) {
        open_ok = 0;
      }
      skip = rq.body_len;
    }
    if (out.len > 0 && flush(fd, &out) != 0) {
      break;
    }
    memmove(in, in + at, have - at);
    have -= at;
  }
  if (out.len > 0) {
    flush(fd, &out);
  }
  if (!open_ok) {
    linger_close(fd);
  }
  close(fd);
}

static int listen_on(int port) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(lfd, 4096) != 0) {
    perror("http_server: bind/listen");
    exit(1);
  }
  return lfd;
}

static int listener_fd = -1;

static void listener(void *arg) {
  (void)arg;
  for (;;) {
    int fd = accept4(listener_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EBADF || errno == EINVAL) {
        return; /* closed: the self-test is over */
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int cid = dyco_coroutine_create(connection, (void *)(long)fd);
    if (cid < 0) {
      close(fd);
      continue;
    }
    dyco_coroutine_setStack(cid, NULL, conn_stack);
  }
}

/* --- The self-test ----------------------------------------------------------
 */

static int test_port;
static int failures;
static int busy_ok, busy_done; /* of the 100 busy clients */
static char test_root[64];

static int connect_test(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)test_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends `req` in pieces of `piece` bytes (0: at once), reads until the
 * server closes or `want` bytes came, into out (NUL-terminated). */
static size_t exchange(int fd, const char *req, size_t piece, char *out,
                       size_t cap, size_t want) {
  size_t n = strlen(req);
  for (size_t at = 0; at < n;) {
    size_t k = piece == 0 || piece > n - at ? n - at : piece;
    if (send_all(fd, req + at, k) != 0) {
      break;
    }
    at += k;
    if (piece != 0) {
      dyco_coroutine_sleep(1); /* let the server see a partial request */
    }
  }
  size_t have = 0;
  while (have < cap - 1 && (want == 0 || have < want)) {
    ssize_t r = recv(fd, out + have, cap - 1 - have, 0);
    if (r <= 0) {
      break;
    }
    have += (size_t)r;
  }
  out[have] = '\0';
  return have;
}

static int count(const char *hay, const char *needle) {
  int c = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
    c++;
  }
  return c;
}

static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAILED", what);
  failures += !ok;
}

#define HOST "Host: t\r\n"

static void test_client(void *arg) {
  (void)arg;
  char buf[65536];
  int fd = connect_test();
  /* Three requests pipelined in one send on a kept-alive connection, the
   * last one closing it. */
  exchange(fd,
           "GET /hello HTTP/1.1\r\n" HOST
           "\r\n"
           "HEAD /hello HTTP/1.1\r\n" HOST
           "\r\n"
           "GET /hello?x=1 HTTP/1.1\r\n" HOST "Connection: close\r\n\r\n",
           0, buf, sizeof buf, 0);
  check(count(buf, "HTTP/1.1 200 OK\r\n") == 3 &&
            count(buf, "Content-Length: 13\r\n") == 3 &&
            count(buf, kHello) == 2 && count(buf, "Connection: close") == 1,
        "3 pipelined requests (GET, HEAD, GET) answered in order, then close");
  close(fd);

  /* A request in 7-byte pieces, a body to skip, then one more request. */
  fd = connect_test();
  exchange(fd,
           "GET /hello HTTP/1.1\r\n" HOST
           "Content-Length: 5\r\n\r\nabcdeGET /nothing HTTP/1.1\r\n" HOST
           "Connection: close\r\n\r\n",
           7, buf, sizeof buf, 0);
  check(count(buf, "HTTP/1.1 200 OK") == 1 &&
            count(buf, "HTTP/1.1 404 Not Found") == 1,
        "a request in 7-byte pieces with a body, then a 404");
  close(fd);

  /* A static file, whole, and a name that tries to leave the root. */
  fd = connect_test();
  size_t n = exchange(
      fd, "GET /static/file.bin HTTP/1.1\r\n" HOST "Connection: close\r\n\r\n",
      0, buf, sizeof buf, 0);
  const char *body = strstr(buf, "\r\n\r\n");
  int file_ok = body != NULL && strstr(buf, "Content-Length: 40000\r\n") &&
                n - (size_t)(body + 4 - buf) == 40000;
  for (size_t i = 0; file_ok && i < 40000; i++) {
    file_ok = (unsigned char)body[4 + i] == (unsigned char)(i * 7);
  }
  check(file_ok, "a 40000-byte static file, byte-exact, through sendfile");
  close(fd);
  fd = connect_test();
  exchange(fd,
           "GET /static/..%2fetc HTTP/1.1\r\n" HOST "Connection: close\r\n\r\n",
           0, buf, sizeof buf, 0);
  check(count(buf, "404") >= 1, "a name with a leading dot: 404");
  close(fd);

  /* Errors: no Host in 1.1, a bad method, HTTP/2.0, a POST, chunked. */
  static const struct {
    const char *req, *want;
  } bad[] = {
      {"GET /hello HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"G(T /hello HTTP/1.1\r\n" HOST "\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET /hello HTTP/2.0\r\n" HOST "\r\n", "HTTP/1.1 505"},
      {"POST /hello HTTP/1.1\r\n" HOST "Content-Length: 2\r\n"
       "Connection: close\r\n\r\nhi",
       "HTTP/1.1 405"},
      {"POST /hello HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n",
       "HTTP/1.1 501"},
      {"GET /hello HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK"},
  };
  int bad_ok = 1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fd = connect_test();
    exchange(fd, bad[i].req, 0, buf, sizeof buf, 0);
    if (strstr(buf, bad[i].want) == NULL) {
      printf("  %s -> %.40s\n", bad[i].want, buf);
      bad_ok = 0;
    }
    close(fd);
  }
  check(bad_ok, "400 (no Host, bad method), 505, 405, 501; 1.0 closes");

  /* A head larger than 8 KiB. */
  fd = connect_test();
  char big[REQ_MAX + 64];
  memset(big, 'a', sizeof big);
  memcpy(big, "GET /hello HTTP/1.1\r\nX: ", 24);
  big[sizeof big - 1] = '\0';
  exchange(fd, big, 0, buf, sizeof buf, 0);
  check(strstr(buf, "HTTP/1.1 431") != NULL, "a 9 KiB head: 431");
  close(fd);

  /* The busy clients are done when each has had its 50 answers: then the
   * listener can go (its coroutine ends on EBADF). */
  while (busy_done < 100) {
    dyco_coroutine_sleep(1);
  }
  close(listener_fd);
}

static void busy_client(void *arg) {
  int *ok = (int *)arg;
  int fd = connect_test();
  char buf[256];
  int good = fd >= 0;
  for (int i = 0; i < 50 && good; i++) {
    size_t n = exchange(fd, "GET /hello HTTP/1.1\r\n" HOST "\r\n", 0, buf,
                        sizeof buf, 1);
    /* One answer is about 130 bytes: read it whole. */
    while (n > 0 && strstr(buf, kHello) == NULL && n < sizeof buf - 1) {
      ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
      if (r <= 0) {
        break;
      }
      n += (size_t)r;
      buf[n] = '\0';
    }
    good = strstr(buf, "200 OK") != NULL && strstr(buf, kHello) != NULL;
  }
  if (fd >= 0) {
    close(fd);
  }
  *ok += good;
  busy_done++;
}

static void busy_clients(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) {
    dyco_coroutine_create(busy_client, &busy_ok);
  }
}

static int self_test(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(test_root, sizeof test_root, "/tmp/dyco_http_XXXXXX");
  if (mkdtemp(test_root) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  root_dir = test_root;
  char path[128];
  snprintf(path, sizeof path, "%s/file.bin", test_root);
  FILE *f = fopen(path, "wb");
  for (int i = 0; i < 40000; i++) {
    fputc((unsigned char)(i * 7), f);
  }
  fclose(f);

  listener_fd = listen_on(0);
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(listener_fd, (struct sockaddr *)&a, &len);
  test_port = ntohs(a.sin_port);
  dyco_coroutine_create(listener, NULL);
  dyco_coroutine_create(busy_clients, NULL);
  dyco_coroutine_create(test_client, NULL);
  dyco_schedule_run();
  check(busy_ok == 100, "100 clients at once, 50 kept-alive requests each");
  unlink(path);
  rmdir(test_root);
  printf("self-test: %d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  int port = 8080;
  init_tchar();
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--self-test") == 0) {
      return self_test();
    } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
      root_dir = argv[++i];
    } else if (strcmp(argv[i], "--stack") == 0 && i + 1 < argc) {
      conn_stack = (size_t)strtoul(argv[++i], NULL, 0);
    } else {
      fprintf(stderr,
              "usage: %s [--port N] [--root DIR] [--stack BYTES] | "
              "--self-test\n",
              argv[0]);
      return 2;
    }
  }
  listener_fd = listen_on(port);
  printf("http_server: serving http://0.0.0.0:%d/hello and /static/ from %s\n",
         port, root_dir);
  fflush(stdout);
  dyco_coroutine_create(listener, NULL);
  return dyco_schedule_run() < 0 ? 1 : 0;
}
