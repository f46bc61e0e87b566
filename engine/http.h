/* http.h - HTTP requests over libcurl: one request/response shape, run
 * either blocking (http_perform) or as a transfer on a multi handle that
 * the engine's scheduler drives (http_multi_*), so a request never blocks
 * other frames while it waits on the network.
 *
 * libcurl stays in http.c; callers see only these types. curl_global_init
 * runs once, on the first use of either API. The Lua face is lhttp.c and
 * lua/moonstep/http.lua; arn:aws:states:::http:invoke is svc_http.c.
 */
#ifndef MS_HTTP_H
#define MS_HTTP_H

#include "base.h"

/* Named limits (see base.h for the rule). */
#define HTTP_TIMEOUT_S    60.0      /* default whole-request timeout; AWS's
                                       HTTP Task has a 60 s hard limit */
#define HTTP_BODY_MAX     ((size_t)64 << 20)  /* response bytes kept: a
                                       guard against endless bodies */
#define HTTP_REDIRECTS    10        /* redirects followed at most */

/* Why a request got no response (a response with any status is HTTP_OK). */
typedef enum {
  HTTP_OK = 0,
  HTTP_ETIMEOUT,    /* the timeout passed */
  HTTP_EDNS,        /* the host name did not resolve */
  HTTP_ECONNECT,    /* the connection was refused or failed */
  HTTP_ETOOBIG,     /* the body was over the request's max_body */
  HTTP_EURL,        /* the URL is malformed or its scheme unsupported */
  HTTP_EOTHER,      /* anything else libcurl reports (TLS, protocol, ...) */
} http_err_t;

typedef struct http_header {
  char *name;       /* as sent or received */
  char *value;
} http_header_t;

typedef struct http_req {
  const char *method;        /* "GET" when NULL */
  const char *url;           /* full URL, query included */
  const http_header_t *headers;  /* borrowed, nheaders of them */
  size_t nheaders;
  const char *body;          /* NULL: no body */
  size_t body_len;
  double timeout;            /* seconds for the whole request; 0: default */
  bool follow;               /* follow redirects (up to HTTP_REDIRECTS) */
  size_t max_body;           /* 0: HTTP_BODY_MAX */
} http_req_t;

typedef struct http_resp {
  long status;               /* 200, 404, ... */
  char *reason;              /* "OK", "Not Found", ... ("" if none) */
  http_header_t *headers;    /* of the last response, in received order */
  size_t nheaders;
  buf_t body;                /* body.data may be NULL for an empty body */
  char *url;                 /* the effective URL (after redirects) */
} http_resp_t;

void http_resp_free(http_resp_t *r);
/* Add one received header line (CRLF included or not) to r, as libcurl
 * hands them over: a status line ("HTTP/1.1 200 OK") starts a new
 * response (redirects, 100 Continue) so only the last one's headers are
 * kept and its reason phrase is set; "Name: value" adds a header; other
 * lines (the blank one ending the block) are ignored. */
void http_resp_header_line(http_resp_t *r, const char *line, size_t len);

/* The first header named name (case-insensitive), or NULL. */
const char *http_resp_header(const http_resp_t *r, const char *name);

/* Short name of an error: "Timeout", "DnsFailure", "ConnectionRefused",
 * "BodyTooLarge", "InvalidUrl", "Error". */
const char *http_err_name(http_err_t e);

/* Run r to the end, blocking. HTTP_OK with *out filled (free it with
 * http_resp_free), else an error with *msg (malloc'd) and *out empty. */
http_err_t http_perform(const http_req_t *r, http_resp_t *out, char **msg);

/* ---- non-blocking transfers -------------------------------------------- */

typedef struct http_multi http_multi_t;
typedef struct http_xfer http_xfer_t;

/* Called once when a transfer ends (from http_multi_run/_wait). */
typedef void (*http_done_fn)(void *ud, http_xfer_t *x);

http_multi_t *http_multi_new(void);
/* Free the handle and every transfer still on it (no callbacks run). */
void http_multi_free(http_multi_t *m);

/* Start r on m (everything r points to is copied). NULL with *msg when it
 * cannot start (an unusable URL or method). */
http_xfer_t *http_start(http_multi_t *m, const http_req_t *r, char **msg);
/* Who hears of the end; may be set (or changed) any time before it. */
void http_xfer_on_done(http_xfer_t *x, http_done_fn fn, void *ud);
bool http_xfer_done(const http_xfer_t *x);
/* A finished transfer's outcome, as http_perform returns it; *out and
 * *msg are moved out (a second call gets an empty response). */
http_err_t http_xfer_result(http_xfer_t *x, http_resp_t *out, char **msg);
/* Remove a transfer (finished or not; an unfinished one is abandoned). */
void http_xfer_free(http_xfer_t *x);

/* Transfers on m that have not finished. */
size_t http_multi_pending(const http_multi_t *m);
/* Move transfers on without waiting; finished ones call their callbacks.
 * Returns how many finished. */
int http_multi_run(http_multi_t *m);
/* Wait up to seconds for network activity (at once if nothing is
 * pending), then as http_multi_run. */
int http_multi_wait(http_multi_t *m, double seconds);

#endif
