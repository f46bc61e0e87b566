/* http.c - the libcurl core behind moonstep.http and http:invoke (see
 * http.h): one easy handle per request, set up the same way for a blocking
 * call and for a transfer on a multi handle; the response's status line,
 * headers and body collected by curl's callbacks; curl's errors sorted into
 * the few kinds callers act on (timeout, DNS, refused, too big, bad URL).
 *
 * Only http and https are allowed, also across redirects. The Lua face
 * (lhttp.c) and the Step Functions face (svc_http.c) build on this file;
 * the engine's scheduler drives the multi handle (task.c, exec.c).
 *
 * libcurl is loaded with dlopen on the first request, not linked: its
 * dependencies (TLS, Kerberos, LDAP, ...) cost every process about 20 ms
 * and 6.5 MB at start-up, measured, and most runs make no request (the
 * README's design notes). curl.h still gives the types and signatures;
 * each function is called through lc, filled from libcurl.so.4.
 */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CURL_DISABLE_TYPECHECK  /* its macros would hide lc's calls */
#include <curl/curl.h>
#include <dlfcn.h>

#define CURL_SONAME "libcurl.so.4"  /* Debian's libcurl4 (any TLS flavour) */

#define CURL_FNS(X) \
  X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup) \
  X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_perform) \
  X(curl_easy_strerror) X(curl_slist_append) X(curl_slist_free_all) \
  X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_add_handle) \
  X(curl_multi_remove_handle) X(curl_multi_perform) \
  X(curl_multi_info_read) X(curl_multi_poll)

static struct {
#define CURL_FIELD(name) __typeof__(&name) name;
  CURL_FNS(CURL_FIELD)
#undef CURL_FIELD
} lc;

struct http_xfer {
  CURL *easy;
  http_multi_t *multi;       /* NULL for a blocking call */
  struct curl_slist *hl;     /* request headers */
  char *url, *method, *body;
  size_t body_len, max_body;
  http_resp_t resp;
  bool done, too_big;
  http_err_t err;
  char *msg;
  char errbuf[CURL_ERROR_SIZE];
  http_done_fn fn;
  void *ud;
  http_xfer_t *prev, *next;  /* the multi's list */
};

struct http_multi {
  CURLM *cm;
  http_xfer_t *head;
  size_t pending;
};

/* Load libcurl once; false with *msg (a copy of why) when it cannot be.
 * The library stays loaded for the process's life. */
static bool curl_ready(char **msg) {
  static int state;  /* 0 not tried, 1 loaded, -1 failed */
  static char why[256];
  if (!state) {
    void *so = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    if (so) {
#define CURL_LOAD(name) \
      if (!missing && !(*(void **)&lc.name = dlsym(so, #name))) \
        missing = #name;
      CURL_FNS(CURL_LOAD)
#undef CURL_LOAD
    }
    if (!so) {
      snprintf(why, sizeof why, "HTTP needs libcurl (Debian package "
               "libcurl4): %s", dlerror());
    } else if (missing) {
      snprintf(why, sizeof why, "HTTP needs libcurl 7.66 or later: %s "
               "has no %s", CURL_SONAME, missing);
    } else if (lc.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      snprintf(why, sizeof why, "libcurl did not initialize");
    }
    state = why[0] ? -1 : 1;
  }
  if (state < 0 && msg) *msg = ms_strdup(why);
  return state > 0;
}

void http_resp_free(http_resp_t *r) {
  free(r->reason);
  for (size_t i = 0; i < r->nheaders; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->headers);
  buf_free(&r->body);
  free(r->url);
  memset(r, 0, sizeof *r);
}

const char *http_resp_header(const http_resp_t *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
  return NULL;
}

const char *http_err_name(http_err_t e) {
  switch (e) {
  case HTTP_OK: return "OK";
  case HTTP_ETIMEOUT: return "Timeout";
  case HTTP_EDNS: return "DnsFailure";
  case HTTP_ECONNECT: return "ConnectionRefused";
  case HTTP_ETOOBIG: return "BodyTooLarge";
  case HTTP_EURL: return "InvalidUrl";
  default: return "Error";
  }
}

/* ---- curl callbacks ----------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  http_xfer_t *x = ud;
  size_t len = size * n;
  if (x->resp.body.len + len > x->max_body) {
    x->too_big = true;
    return 0;  /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  buf_append(&x->resp.body, p, len);
  return len;
}

static char *trimmed(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  return ms_strndup(s, n);
}

void http_resp_header_line(http_resp_t *r, const char *p, size_t len) {
  if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
    for (size_t i = 0; i < r->nheaders; i++) {
      free(r->headers[i].name);
      free(r->headers[i].value);
    }
    r->nheaders = 0;
    free(r->reason);
    /* "HTTP/1.1 200 OK": the reason is what follows the code */
    const char *sp = memchr(p, ' ', len);
    const char *end = p + len;
    const char *reason = end;
    if (sp) {
      const char *sp2 = memchr(sp + 1, ' ', (size_t)(end - sp - 1));
      if (sp2) reason = sp2 + 1;
    }
    r->reason = trimmed(reason, (size_t)(end - reason));
    return;
  }
  const char *colon = memchr(p, ':', len);
  if (!colon) return;  /* the blank line ending the block */
  r->headers = ms_realloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
  r->headers[r->nheaders].name = trimmed(p, (size_t)(colon - p));
  r->headers[r->nheaders].value =
      trimmed(colon + 1, (size_t)(p + len - colon - 1));
  r->nheaders++;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  http_xfer_t *x = ud;
  http_resp_header_line(&x->resp, p, size * n);
  return size * n;
}

/* ---- set-up and outcome ------------------------------------------------- */

static void xfer_free(http_xfer_t *x) {
  if (!x) return;
  if (x->easy) lc.curl_easy_cleanup(x->easy);
  lc.curl_slist_free_all(x->hl);
  free(x->url);
  free(x->method);
  free(x->body);
  http_resp_free(&x->resp);
  free(x->msg);
  free(x);
}

static bool method_ok(const char *m) {
  if (!*m) return false;
  for (; *m; m++)
    if (!isupper((unsigned char)*m) && *m != '-' && *m != '_') return false;
  return true;
}

/* A new transfer for r, or NULL with *msg. */
static http_xfer_t *xfer_new(const http_req_t *r, char **msg) {
  if (!curl_ready(msg)) return NULL;
  const char *method = r->method ? r->method : "GET";
  if (!method_ok(method)) {
    *msg = ms_asprintf("invalid HTTP method '%s'", method);
    return NULL;
  }
  if (!r->url || !*r->url) {
    *msg = ms_strdup("no URL given");
    return NULL;
  }
  http_xfer_t *x = ms_calloc(1, sizeof *x);
  x->easy = lc.curl_easy_init();
  if (!x->easy) {
    free(x);
    *msg = ms_strdup("libcurl could not make a handle");
    return NULL;
  }
  x->url = ms_strdup(r->url);
  x->method = ms_strdup(method);
  x->max_body = r->max_body ? r->max_body : HTTP_BODY_MAX;
  CURL *e = x->easy;
  lc.curl_easy_setopt(e, CURLOPT_URL, x->url);
  lc.curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  lc.curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  lc.curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  lc.curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  lc.curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  lc.curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  lc.curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  lc.curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  lc.curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  double t = r->timeout > 0 ? r->timeout : HTTP_TIMEOUT_S;
  long ms = (long)(t * 1000);
  lc.curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
  if (r->follow) {
    lc.curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    lc.curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)HTTP_REDIRECTS);
    lc.curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
  }
  if (strcmp(method, "HEAD") == 0) {
    lc.curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") != 0 || r->body) {
    lc.curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
  }
  if (r->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
      strcmp(method, "PATCH") == 0) {
    x->body_len = r->body ? r->body_len : 0;
    x->body = ms_malloc(x->body_len + 1);
    if (x->body_len) memcpy(x->body, r->body, x->body_len);
    x->body[x->body_len] = '\0';
    lc.curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    lc.curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                        (curl_off_t)x->body_len);
  }
  bool has_ct = false;
  for (size_t i = 0; i < r->nheaders; i++) {
    char *line = *r->headers[i].value
        ? ms_asprintf("%s: %s", r->headers[i].name, r->headers[i].value)
        : ms_asprintf("%s;", r->headers[i].name);  /* curl: empty value */
    x->hl = lc.curl_slist_append(x->hl, line);
    free(line);
    if (strcasecmp(r->headers[i].name, "Content-Type") == 0) has_ct = true;
  }
  /* curl would label any body as a form; say nothing unless told */
  if (x->body && !has_ct) x->hl = lc.curl_slist_append(x->hl, "Content-Type:");
  x->hl = lc.curl_slist_append(x->hl, "Expect:");
  lc.curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hl);
  return x;
}

/* Record how the transfer ended. */
static void finish(http_xfer_t *x, CURLcode rc) {
  x->done = true;
  if (rc == CURLE_OK) {
    x->err = HTTP_OK;
    long status = 0;
    char *eff = NULL;
    lc.curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    lc.curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff);
    x->resp.status = status;
    x->resp.url = ms_strdup(eff ? eff : x->url);
    if (!x->resp.reason) x->resp.reason = ms_strdup("");
    return;
  }
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT: x->err = HTTP_ETIMEOUT; break;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: x->err = HTTP_EDNS; break;
  case CURLE_COULDNT_CONNECT: x->err = HTTP_ECONNECT; break;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL: x->err = HTTP_EURL; break;
  case CURLE_WRITE_ERROR:
    x->err = x->too_big ? HTTP_ETOOBIG : HTTP_EOTHER;
    break;
  default: x->err = HTTP_EOTHER; break;
  }
  if (x->err == HTTP_ETOOBIG)
    x->msg = ms_asprintf("%s %s: the response body is over %zu bytes",
                         x->method, x->url, x->max_body);
  else
    x->msg = ms_asprintf("%s %s: %s", x->method, x->url,
                         x->errbuf[0] ? x->errbuf : lc.curl_easy_strerror(rc));
  http_resp_free(&x->resp);
}

static http_err_t take(http_xfer_t *x, http_resp_t *out, char **msg) {
  *out = x->resp;
  memset(&x->resp, 0, sizeof x->resp);
  *msg = x->msg;
  x->msg = NULL;
  return x->err;
}

http_err_t http_perform(const http_req_t *r, http_resp_t *out, char **msg) {
  memset(out, 0, sizeof *out);
  *msg = NULL;
  http_xfer_t *x = xfer_new(r, msg);
  if (!x) return HTTP_EURL;
  finish(x, lc.curl_easy_perform(x->easy));
  http_err_t e = take(x, out, msg);
  xfer_free(x);
  return e;
}

/* ---- the multi handle --------------------------------------------------- */

/* The curl multi handle is made with the first transfer: a host that
 * never makes a request never loads libcurl. */
http_multi_t *http_multi_new(void) {
  return ms_calloc(1, sizeof(http_multi_t));
}

void http_multi_free(http_multi_t *m) {
  if (!m) return;
  while (m->head) http_xfer_free(m->head);
  if (m->cm) lc.curl_multi_cleanup(m->cm);
  free(m);
}

http_xfer_t *http_start(http_multi_t *m, const http_req_t *r, char **msg) {
  *msg = NULL;
  http_xfer_t *x = xfer_new(r, msg);
  if (!x) return NULL;
  if (!m->cm) m->cm = lc.curl_multi_init();
  if (!m->cm || lc.curl_multi_add_handle(m->cm, x->easy) != CURLM_OK) {
    xfer_free(x);
    *msg = ms_strdup("libcurl could not start the transfer");
    return NULL;
  }
  x->multi = m;
  x->next = m->head;
  if (m->head) m->head->prev = x;
  m->head = x;
  m->pending++;
  return x;
}

void http_xfer_on_done(http_xfer_t *x, http_done_fn fn, void *ud) {
  x->fn = fn;
  x->ud = ud;
}

bool http_xfer_done(const http_xfer_t *x) { return x->done; }

http_err_t http_xfer_result(http_xfer_t *x, http_resp_t *out, char **msg) {
  return take(x, out, msg);
}

void http_xfer_free(http_xfer_t *x) {
  if (!x) return;
  http_multi_t *m = x->multi;
  if (m) {
    if (!x->done) {
      lc.curl_multi_remove_handle(m->cm, x->easy);
      m->pending--;
    }
    if (x->prev) x->prev->next = x->next; else m->head = x->next;
    if (x->next) x->next->prev = x->prev;
  }
  xfer_free(x);
}

size_t http_multi_pending(const http_multi_t *m) { return m->pending; }

int http_multi_run(http_multi_t *m) {
  int running = 0, nfinished = 0, left;
  if (!m->cm) return 0;
  lc.curl_multi_perform(m->cm, &running);
  CURLMsg *cmsg;
  while ((cmsg = lc.curl_multi_info_read(m->cm, &left))) {
    if (cmsg->msg != CURLMSG_DONE) continue;
    http_xfer_t *x = NULL;
    lc.curl_easy_getinfo(cmsg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    CURLcode rc = cmsg->data.result;
    lc.curl_multi_remove_handle(m->cm, cmsg->easy_handle);
    if (!x) continue;
    m->pending--;
    finish(x, rc);
    nfinished++;
    if (x->fn) x->fn(x->ud, x);
  }
  return nfinished;
}

int http_multi_wait(http_multi_t *m, double seconds) {
  if (!m->pending) return 0;
  int n = http_multi_run(m);
  if (n || !m->pending) return n;
  long ms = seconds > 0 ? (long)(seconds * 1000) : 0;
  if (ms > 0) {
    int numfds = 0;
    lc.curl_multi_poll(m->cm, NULL, 0, (int)(ms > 1000000 ? 1000000 : ms),
                    &numfds);
  }
  return http_multi_run(m);
}
