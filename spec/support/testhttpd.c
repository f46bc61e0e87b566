/* testhttpd.c - a small HTTP/1.1 server for the http specs: one process,
 * one poll() loop, non-blocking sockets, Connection: close. It listens on
 * 127.0.0.1 on a free port and prints that port on stdout, one line.
 *
 * Routes (GET or any method):
 *   /echo...          200, JSON {method, path, query, headers, body}
 *                     (header names lower-cased; the raw query string)
 *   /status/NNN       status NNN, JSON {"status": NNN}
 *   /slow?ms=N        N ms later (other requests go on meanwhile), 200
 *                     JSON {"slept": N}
 *   /redirect/N       302 to /redirect/N-1; /redirect/0 is /echo
 *   /redirect?to=URL  302 to URL
 *   /big?bytes=N      N bytes of "x", text/plain
 *   /text             "hello", text/plain
 *   /headers          200 with X-Custom: yes and two Set-Cookie lines
 *   /latin1           200 with an ISO-8859-1 header name and value
 *                     (X-Caf\xe9: cr\xe8me) and a UTF-8 one
 *   /flaky?key=K&fail=N  503 for the first N requests with key K, then
 *                     200 JSON {"calls": count}
 *   /token            POST with a client_credentials form and Basic
 *                     auth: 200 {"access_token": "t0k-9"}, else 401
 *   /quit             200, then the server exits
 * The server exits too after IDLE_S seconds without a connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN   256
#define REQ_MAX    (16 << 20)
#define IDLE_S     300
#define FLAKY_MAX  64
#define TOKEN      "{\"access_token\":\"t0k-9\",\"token_type\":\"bearer\"}"

typedef struct conn {
  int fd;               /* -1: free slot */
  char *in;             /* request bytes */
  size_t in_len, in_cap;
  char *out;            /* response bytes */
  size_t out_len, out_at;
  double ready_at;      /* response may be written from then on */
  int state;            /* 0 reading, 1 waiting, 2 writing */
} conn_t;

static conn_t conns[MAX_CONN];
static struct { char key[64]; int calls; } flaky[FLAKY_MAX];
static int nflaky;
static int quitting;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- growable string ---------------------------------------------------- */

typedef struct sb { char *p; size_t n, cap; } sb_t;

static void sb_add(sb_t *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void sb_printf(sb_t *b, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_json_str(sb_t *b, const char *s, size_t n) {
  sb_add(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sb_add(b, e, 2);
    } else if (c < 0x20) {
      sb_printf(b, "\\u%04x", c);
    } else {
      sb_add(b, (const char *)&c, 1);
    }
  }
  sb_add(b, "\"", 1);
}

/* ---- requests ----------------------------------------------------------- */

/* The value of query parameter name in q (a copy, undecoded), or NULL. */
static char *param(const char *q, const char *name) {
  size_t nl = strlen(name);
  while (q && *q) {
    const char *amp = strchr(q, '&');
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=')
      return strndup(q + nl + 1, len - nl - 1);
    q = amp ? amp + 1 : NULL;
  }
  return NULL;
}

static void respond(conn_t *c, int status, const char *reason,
                    const char *ctype, const char *extra, const char *body,
                    size_t blen) {
  sb_t b = {0};
  sb_printf(&b, "HTTP/1.1 %d %s\r\nConnection: close\r\n"
            "Content-Length: %zu\r\n", status, reason, blen);
  if (ctype) sb_printf(&b, "Content-Type: %s\r\n", ctype);
  if (extra) sb_add(&b, extra, strlen(extra));
  sb_add(&b, "\r\n", 2);
  if (blen) sb_add(&b, body, blen);
  c->out = b.p;
  c->out_len = b.n;
  c->out_at = 0;
  c->state = 2;
}

static const char *reason_of(int s) {
  switch (s) {
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 302: return "Found";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

/* The request in c->in is complete (head ends at head_len, body follows):
 * build the response. */
static void handle(conn_t *c, size_t head_len, size_t body_len) {
  char *head = c->in;
  char method[16] = "", target[8192] = "";
  sscanf(head, "%15s %8191s", method, target);
  char *query = strchr(target, '?');
  if (query) *query++ = '\0';
  const char *path = target;
  sb_t b = {0};
  if (strncmp(path, "/echo", 5) == 0 ||
      strcmp(path, "/redirect/0") == 0) {
    sb_add(&b, "{\"method\":", 10);
    sb_json_str(&b, method, strlen(method));
    sb_add(&b, ",\"path\":", 8);
    sb_json_str(&b, path, strlen(path));
    sb_add(&b, ",\"query\":", 9);
    sb_json_str(&b, query ? query : "", query ? strlen(query) : 0);
    sb_add(&b, ",\"headers\":{", 12);
    char *line = strstr(head, "\r\n");
    int first = 1;
    while (line && line + 2 < head + head_len) {
      line += 2;
      char *end = strstr(line, "\r\n");
      if (!end || end == line) break;
      char *colon = memchr(line, ':', (size_t)(end - line));
      if (colon) {
        char name[256];
        size_t nl = (size_t)(colon - line);
        if (nl >= sizeof name) nl = sizeof name - 1;
        for (size_t i = 0; i < nl; i++)
          name[i] = (char)tolower((unsigned char)line[i]);
        name[nl] = '\0';
        const char *v = colon + 1;
        while (*v == ' ') v++;
        if (!first) sb_add(&b, ",", 1);
        first = 0;
        sb_json_str(&b, name, nl);
        sb_add(&b, ":", 1);
        sb_json_str(&b, v, (size_t)(end - v));
      }
      line = end;
    }
    sb_add(&b, "},\"body\":", 9);
    sb_json_str(&b, head + head_len, body_len);
    sb_add(&b, "}", 1);
    respond(c, 200, "OK", "application/json", NULL, b.p, b.n);
  } else if (strncmp(path, "/status/", 8) == 0) {
    int s = atoi(path + 8);
    if (s < 100 || s > 599) s = 400;
    sb_printf(&b, "{\"status\":%d}", s);
    respond(c, s, reason_of(s), "application/json", NULL, b.p, b.n);
  } else if (strcmp(path, "/slow") == 0) {
    char *ms = param(query, "ms");
    int n = ms ? atoi(ms) : 100;
    free(ms);
    sb_printf(&b, "{\"slept\":%d}", n);
    respond(c, 200, "OK", "application/json", NULL, b.p, b.n);
    c->ready_at = now() + n / 1000.0;
    c->state = 1;
  } else if (strncmp(path, "/redirect/", 10) == 0) {
    char loc[64];
    snprintf(loc, sizeof loc, "Location: /redirect/%d\r\n",
             atoi(path + 10) - 1);
    respond(c, 302, "Found", NULL, loc, NULL, 0);
  } else if (strcmp(path, "/redirect") == 0) {
    char *to = param(query, "to");
    sb_printf(&b, "Location: %s\r\n", to ? to : "/echo");
    free(to);
    respond(c, 302, "Found", NULL, b.p, NULL, 0);
  } else if (strcmp(path, "/big") == 0) {
    char *nb = param(query, "bytes");
    size_t n = nb ? strtoul(nb, NULL, 10) : 1000000;
    free(nb);
    char *body = malloc(n + 1);
    if (!body) abort();
    memset(body, 'x', n);
    respond(c, 200, "OK", "text/plain", NULL, body, n);
    free(body);
  } else if (strcmp(path, "/text") == 0) {
    respond(c, 200, "OK", "text/plain; charset=utf-8", NULL, "hello", 5);
  } else if (strcmp(path, "/headers") == 0) {
    respond(c, 200, "OK", "application/json",
            "X-Custom: yes\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n",
            "{}", 2);
  } else if (strcmp(path, "/latin1") == 0) {
    respond(c, 200, "OK", "application/json",
            "X-Caf\xe9: cr\xe8me\r\nX-Ok: caf\xc3\xa9\r\n", "{}", 2);
  } else if (strcmp(path, "/flaky") == 0) {
    char *key = param(query, "key"), *fail = param(query, "fail");
    int i;
    for (i = 0; i < nflaky; i++)
      if (strcmp(flaky[i].key, key ? key : "") == 0) break;
    if (i == nflaky && nflaky < FLAKY_MAX) {
      snprintf(flaky[i].key, sizeof flaky[i].key, "%s", key ? key : "");
      flaky[i].calls = 0;
      nflaky++;
    }
    int calls = i < FLAKY_MAX ? ++flaky[i].calls : 0;
    int nfail = fail ? atoi(fail) : 1;
    free(key);
    free(fail);
    sb_printf(&b, "{\"calls\":%d}", calls);
    if (calls <= nfail)
      respond(c, 503, "Service Unavailable", "application/json", NULL, b.p,
              b.n);
    else
      respond(c, 200, "OK", "application/json", NULL, b.p, b.n);
  } else if (strcmp(path, "/token") == 0) {
    /* OAuth client credentials: a form body asking for them */
    const char *body = head + head_len;
    if (strcmp(method, "POST") == 0 && body_len &&
        strstr(body, "grant_type=client_credentials") &&
        strstr(head, "\nAuthorization: Basic "))
      respond(c, 200, "OK", "application/json", NULL, TOKEN, strlen(TOKEN));
    else
      respond(c, 401, "Unauthorized", "application/json", NULL, "{}", 2);
  } else if (strcmp(path, "/quit") == 0) {
    respond(c, 200, "OK", "text/plain", NULL, "bye", 3);
    quitting = 1;
  } else {
    respond(c, 404, "Not Found", "application/json", NULL,
            "{\"status\":404}", 14);
  }
  free(b.p);
}

/* Is the request in c complete? Then handle it. */
static void try_request(conn_t *c) {
  char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) return;
  size_t head_len = (size_t)(end - c->in) + 4;
  size_t body_len = 0;
  for (char *p = c->in; p < end; p++) {
    if ((p == c->in || p[-1] == '\n') &&
        strncasecmp(p, "Content-Length:", 15) == 0)
      body_len = strtoul(p + 15, NULL, 10);
  }
  if (c->in_len < head_len + body_len) return;
  c->in[head_len - 2] = '\0';  /* the head is a string (keeps one CRLF) */
  handle(c, head_len, body_len);
}

static void conn_close(conn_t *c) {
  close(c->fd);
  free(c->in);
  free(c->out);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < MAX_CONN; i++) conns[i].fd = -1;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 128)) {
    perror("testhttpd");
    return 1;
  }
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  fcntl(ls, F_SETFL, O_NONBLOCK);
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  double last = now();
  for (;;) {
    struct pollfd pf[MAX_CONN + 1];
    int idx[MAX_CONN + 1], n = 0;
    double t = now(), wake = t + 1.0;
    pf[n].fd = ls;
    pf[n].events = POLLIN;
    idx[n++] = -1;
    int open = 0;
    for (int i = 0; i < MAX_CONN; i++) {
      conn_t *c = &conns[i];
      if (c->fd < 0) continue;
      open++;
      if (c->state == 1) {
        if (c->ready_at <= t) c->state = 2;
        else if (c->ready_at < wake) wake = c->ready_at;
      }
      if (c->state == 1) continue;
      pf[n].fd = c->fd;
      pf[n].events = c->state == 0 ? POLLIN : POLLOUT;
      idx[n++] = i;
    }
    if (quitting && open == 0) break;
    if (open == 0 && t - last > IDLE_S) break;
    int ms = (int)((wake - t) * 1000) + 1;
    if (poll(pf, (nfds_t)n, ms) < 0 && errno != EINTR) break;
    for (int k = 0; k < n; k++) {
      if (!pf[k].revents) continue;
      if (idx[k] < 0) {
        int fd;
        while ((fd = accept(ls, NULL, NULL)) >= 0) {
          int i;
          for (i = 0; i < MAX_CONN && conns[i].fd >= 0; i++)
            ;
          if (i == MAX_CONN) {
            close(fd);
            continue;
          }
          fcntl(fd, F_SETFL, O_NONBLOCK);
          conns[i].fd = fd;
          last = now();
        }
        continue;
      }
      conn_t *c = &conns[idx[k]];
      if (c->state == 0) {
        char tmp[65536];
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r <= 0) {
          if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          conn_close(c);
          continue;
        }
        if (c->in_len + (size_t)r + 1 > c->in_cap) {
          c->in_cap = (c->in_len + (size_t)r + 1) * 2;
          c->in = realloc(c->in, c->in_cap);
          if (!c->in) abort();
        }
        memcpy(c->in + c->in_len, tmp, (size_t)r);
        c->in_len += (size_t)r;
        c->in[c->in_len] = '\0';
        if (c->in_len > REQ_MAX) conn_close(c);
        else try_request(c);
      } else if (c->state == 2) {
        ssize_t w = write(c->fd, c->out + c->out_at, c->out_len - c->out_at);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (w <= 0) {
          conn_close(c);
          continue;
        }
        c->out_at += (size_t)w;
        if (c->out_at == c->out_len) {
          shutdown(c->fd, SHUT_WR);
          conn_close(c);
        }
      }
    }
  }
  return 0;
}
