/* svc_http.c - arn:aws:states:::http:invoke (see svc_http.h): Parameters
 * to a request, the response to AWS's result, and local connections.
 *
 * Confirmed in AWS's docs ("Call HTTPS APIs in Step Functions workflows"):
 * the Parameters (ApiEndpoint, Method, Headers, QueryParameters,
 * RequestBody, Transform.RequestBodyEncoding NONE|URL_ENCODED with
 * RequestEncodingOptions.ArrayFormat INDICES (default) | REPEAT | COMMAS |
 * BRACKETS, Authentication.ConnectionArn), the result's fields (Headers,
 * ResponseBody, StatusCode, StatusText) with a JSON ResponseBody parsed,
 * the headers a definition may not set, the 60 s limit on a call and its
 * error States.Http.Socket.
 * Not confirmed (no AWS recording here; from other emulators and AWS
 * examples as remembered), each a documented choice:
 *  - StatusCode is a number; each header's value is a list of strings
 *    (names as the server sent them);
 *  - a non-2xx response fails with States.Http.StatusCode.NNN and the
 *    would-be result, as compact JSON, as the Cause;
 *  - refused connections and DNS failures are States.Http.Socket too;
 *  - URL_ENCODED follows the qs library the ArrayFormat names come from:
 *    keys and values percent-encoded (RFC 3986), nested objects as
 *    a[b]=c, INDICES a[0]=x, BRACKETS a[]=x, REPEAT a=x&a=y, COMMAS a=x,y
 *    (the comma encoded as %2C; a list holding objects or lists is
 *    written as INDICES); null is "a=", empty lists and objects are left
 *    out, keys keep their order;
 *  - a string RequestBody is sent as is; anything else as JSON text, with
 *    Content-Type application/json; charset=UTF-8 unless given;
 *  - User-Agent is Amazon|StepFunctions|HttpInvoke|REGION (AWS's, as
 *    reported by users); AWS's Range header is not sent;
 *  - an unknown connection fails with
 *    Events.ConnectionResource.ResourceNotFound, a malformed one with
 *    Events.ConnectionResource.InvalidConnectionState.
 * Deliberate difference: Authentication may be left out (no connection,
 * no auth headers); AWS requires it.
 *
 * Connections: a JSON file ($MOONSTEP_CONNECTIONS, else ./connections.json)
 * whose "Connections" object (or the whole file) maps a ConnectionArn, or
 * the connection's NAME (arn:aws:events:R:A:connection/NAME/ID), to
 * EventBridge's CreateConnection shape: {"AuthorizationType": "API_KEY" |
 * "BASIC" | "OAUTH_CLIENT_CREDENTIALS" | "BEARER" (moonstep's),
 * "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName",
 * "ApiKeyValue"}, "BasicAuthParameters": {"Username", "Password"},
 * "BearerAuthParameters": {"Token"}, "OAuthParameters":
 * {"AuthorizationEndpoint", "HttpMethod", "ClientParameters": {"ClientID",
 * "ClientSecret"}, "OAuthHttpParameters": {...}},
 * "InvocationHttpParameters": {"HeaderParameters", "QueryStringParameters",
 * "BodyParameters": [{"Key", "Value"}]}}}. Connection parameters win over
 * the definition's. Secrets go into the request only: causes name the
 * connection, never its values, and nothing here writes history.
 */
#include "svc_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CALL_TIMEOUT_S  60.0  /* AWS: an HTTP Task call ends after 60 s */
#define CONN_FILE_MAX   (1 << 20)
#define OAUTH_TIMEOUT_S 10.0

struct svc_http_call {
  http_req_t req;
  http_header_t *h;
  size_t nh, hcap;
  char *url, *method;
  buf_t body;
  bool has_body;
  double timeout;        /* the state's, 0 = none */
};

/* ---- small helpers ------------------------------------------------------ */

static void add_header(svc_http_call_t *c, const char *name,
                       const char *value) {
  for (size_t i = 0; i < c->nh; i++) {
    if (strcasecmp(c->h[i].name, name) == 0) {
      free(c->h[i].value);
      c->h[i].value = ms_strdup(value);
      return;
    }
  }
  if (c->nh == c->hcap) {
    c->hcap = c->hcap ? 2 * c->hcap : 8;
    c->h = ms_realloc(c->h, c->hcap * sizeof *c->h);
  }
  c->h[c->nh].name = ms_strdup(name);
  c->h[c->nh].value = ms_strdup(value);
  c->nh++;
}

static bool has_header(const svc_http_call_t *c, const char *name) {
  for (size_t i = 0; i < c->nh; i++)
    if (strcasecmp(c->h[i].name, name) == 0) return true;
  return false;
}

static void pct(buf_t *b, const char *s, size_t n) {
  static const char hexd[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      buf_putc(b, (char)ch);
    } else {
      char e[3] = {'%', hexd[ch >> 4], hexd[ch & 15]};
      buf_append(b, e, 3);
    }
  }
}

/* A scalar as form text: strings as they are, numbers and booleans as
 * JSON spells them, null as "". malloc'd. */
static char *scalar_text(const json_t *v) {
  if (json_is_string(v)) return ms_strndup(json_string_value(v),
                                           json_string_length(v));
  if (json_is_null(v)) return ms_strdup("");
  return jsonx_dump(v, JSONX_COMPACT);
}

static void pair(buf_t *b, const char *key, const json_t *v) {
  if (b->len) buf_putc(b, '&');
  pct(b, key, strlen(key));
  buf_putc(b, '=');
  char *t = scalar_text(v);
  pct(b, t, strlen(t));
  free(t);
}

enum { AF_INDICES, AF_REPEAT, AF_COMMAS, AF_BRACKETS };

static void encode(buf_t *b, const char *prefix, const json_t *v, int af) {
  if (json_is_object(v)) {
    const char *k;
    json_t *item;
    json_object_foreach((json_t *)v, k, item) {
      char *key = prefix ? ms_asprintf("%s[%s]", prefix, k) : ms_strdup(k);
      encode(b, key, item, af);
      free(key);
    }
  } else if (json_is_array(v) && prefix) {
    size_t i;
    json_t *item;
    if (af == AF_COMMAS) {
      bool flat = true;
      json_array_foreach(v, i, item)
        if (json_is_object(item) || json_is_array(item)) flat = false;
      if (flat) {
        if (!json_array_size(v)) return;
        buf_t joined;
        buf_init(&joined);
        json_array_foreach(v, i, item) {
          char *t = scalar_text(item);
          if (i) buf_putc(&joined, ',');
          buf_puts(&joined, t);
          free(t);
        }
        json_t *s = json_string(joined.data ? joined.data : "");
        pair(b, prefix, s);
        json_decref(s);
        buf_free(&joined);
        return;
      }
    }
    json_array_foreach(v, i, item) {
      char *key = af == AF_REPEAT ? ms_strdup(prefix)
                : af == AF_BRACKETS ? ms_asprintf("%s[]", prefix)
                : ms_asprintf("%s[%zu]", prefix, i);
      encode(b, key, item, af);
      free(key);
    }
  } else if (prefix) {
    pair(b, prefix, v);
  }
}

char *svc_http_urlencode(const json_t *body, const char *array_format) {
  int af;
  if (!array_format || !strcmp(array_format, "INDICES")) af = AF_INDICES;
  else if (!strcmp(array_format, "REPEAT")) af = AF_REPEAT;
  else if (!strcmp(array_format, "COMMAS")) af = AF_COMMAS;
  else if (!strcmp(array_format, "BRACKETS")) af = AF_BRACKETS;
  else return NULL;
  buf_t b;
  buf_init(&b);
  encode(&b, NULL, body, af);
  return buf_steal(&b);
}

/* ---- connections -------------------------------------------------------- */

static const char *str_at(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* The connection for arn (by ARN, then by name), new reference; NULL with
 * f set. */
static json_t *connection(const char *arn, fault_t *f) {
  const char *path = getenv(SVC_HTTP_CONNECTIONS_ENV);
  if (!path || !*path) path = SVC_HTTP_CONNECTIONS_FILE;
  size_t len;
  char *text = ms_read_file(path, CONN_FILE_MAX, &len);
  if (!text) {
    fault_set(f, "Events.ConnectionResource.ResourceNotFound",
              "moonstep: connection '%s' not found: %s: %s (connections are "
              "read from $%s, else ./%s)", arn, path, strerror(errno),
              SVC_HTTP_CONNECTIONS_ENV, SVC_HTTP_CONNECTIONS_FILE);
    return NULL;
  }
  char *err = NULL;
  json_t *doc = jsonx_parse(text, len, &err);
  free(text);
  if (!doc) {
    fault_set(f, "Events.ConnectionResource.InvalidConnectionState",
              "moonstep: %s is not JSON: %s", path, err ? err : "");
    free(err);
    return NULL;
  }
  json_t *all = json_object_get(doc, "Connections");
  if (!json_is_object(all)) all = doc;
  json_t *c = json_object_get(all, arn);
  if (!c) {
    /* arn:aws:events:REGION:ACCOUNT:connection/NAME/ID -> NAME */
    const char *p = strstr(arn, ":connection/");
    if (p) {
      p += strlen(":connection/");
      const char *end = strchr(p, '/');
      char *name = end ? ms_strndup(p, (size_t)(end - p)) : ms_strdup(p);
      c = json_object_get(all, name);
      free(name);
    }
  }
  if (!json_is_object(c)) {
    fault_set(f, "Events.ConnectionResource.ResourceNotFound",
              "moonstep: no connection '%s' in %s", arn, path);
    json_decref(doc);
    return NULL;
  }
  json_incref(c);
  json_decref(doc);
  return c;
}

static bool bad_conn(fault_t *f, const char *arn, const char *what) {
  fault_set(f, "Events.ConnectionResource.InvalidConnectionState",
            "moonstep: connection '%s': %s", arn, what);
  return false;
}

/* [{"Key", "Value"}] -> fn(c, key, value). */
static bool each_kv(const json_t *list, const char *arn, fault_t *f,
                    void (*fn)(svc_http_call_t *, json_t *, const char *,
                               const char *),
                    svc_http_call_t *c, json_t *aux) {
  if (!list) return true;
  if (!json_is_array(list)) return bad_conn(f, arn, "parameters must be "
                                            "lists of {Key, Value}");
  size_t i;
  json_t *kv;
  json_array_foreach(list, i, kv) {
    const char *k = str_at(kv, "Key"), *v = str_at(kv, "Value");
    if (!k || !v) return bad_conn(f, arn, "a parameter without Key or "
                                  "Value (strings)");
    fn(c, aux, k, v);
  }
  return true;
}

static void kv_header(svc_http_call_t *c, json_t *aux, const char *k,
                      const char *v) {
  (void)aux;
  add_header(c, k, v);
}

static void kv_object(svc_http_call_t *c, json_t *aux, const char *k,
                      const char *v) {
  (void)c;
  json_object_set_new(aux, k, json_string(v));
}

static char *basic(const char *user, const char *pass) {
  static const char tbl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *plain = ms_asprintf("%s:%s", user, pass);
  size_t n = strlen(plain);
  buf_t b;
  buf_init(&b);
  buf_puts(&b, "Basic ");
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)plain[i] << 16;
    if (i + 1 < n) v |= (unsigned char)plain[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)plain[i + 2];
    char q[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                 i + 1 < n ? tbl[(v >> 6) & 63] : '=',
                 i + 2 < n ? tbl[v & 63] : '='};
    buf_append(&b, q, 4);
  }
  memset(plain, 0, n);
  free(plain);
  return buf_steal(&b);
}

/* OAuth client credentials: fetch a token (blocking; tokens are not
 * cached). Returns the "Bearer ..." value or NULL with f set. */
static char *oauth_token(const json_t *o, const char *arn, fault_t *f) {
  const char *ep = str_at(o, "AuthorizationEndpoint");
  const json_t *cp = json_object_get(o, "ClientParameters");
  const char *id = str_at(cp, "ClientID");
  const char *secret = str_at(cp, "ClientSecret");
  if (!ep || !id || !secret) {
    bad_conn(f, arn, "OAuthParameters needs AuthorizationEndpoint and "
             "ClientParameters {ClientID, ClientSecret}");
    return NULL;
  }
  svc_http_call_t t = {0};
  json_t *form = json_pack("{ss}", "grant_type", "client_credentials");
  const json_t *hp = json_object_get(o, "OAuthHttpParameters");
  json_t *query = json_object();
  bool ok = each_kv(json_object_get(hp, "HeaderParameters"), arn, f,
                    kv_header, &t, NULL) &&
            each_kv(json_object_get(hp, "BodyParameters"), arn, f,
                    kv_object, &t, form) &&
            each_kv(json_object_get(hp, "QueryStringParameters"), arn, f,
                    kv_object, &t, query);
  char *token = NULL;
  if (ok) {
    char *auth = basic(id, secret);
    add_header(&t, "Authorization", auth);
    free(auth);
    add_header(&t, "Content-Type", "application/x-www-form-urlencoded");
    char *body = svc_http_urlencode(form, NULL);
    char *qs = svc_http_urlencode(query, "REPEAT");
    char *url = *qs ? ms_asprintf("%s%s%s", ep, strchr(ep, '?') ? "&" : "?",
                                  qs)
                    : ms_strdup(ep);
    const char *m = str_at(o, "HttpMethod");
    http_req_t r = {m ? m : "POST", url, t.h, t.nh, body, strlen(body),
                    OAUTH_TIMEOUT_S, true, 0};
    http_resp_t resp;
    char *msg = NULL;
    http_err_t e = http_perform(&r, &resp, &msg);
    json_t *doc = NULL;
    if (e == HTTP_OK && resp.status >= 200 && resp.status < 300)
      doc = jsonx_parse(resp.body.data ? resp.body.data : "", resp.body.len,
                        NULL);
    const char *at = str_at(doc, "access_token");
    if (at) token = ms_asprintf("Bearer %s", at);
    else
      fault_set(f, "Events.ConnectionResource.InvalidConnectionState",
                "moonstep: connection '%s': the OAuth token request to %s "
                "failed (%s)", arn, ep,
                e != HTTP_OK ? http_err_name(e) : "no access_token");
    json_decref(doc);
    http_resp_free(&resp);
    free(msg);
    free(body);
    free(qs);
    free(url);
  }
  json_decref(form);
  json_decref(query);
  for (size_t i = 0; i < t.nh; i++) {
    free(t.h[i].name);
    free(t.h[i].value);
  }
  free(t.h);
  return token;
}

/* Apply connection conn to c: auth header, extra headers, query (into
 * query), body parameters (into body_extra). */
static bool apply_connection(svc_http_call_t *c, const json_t *conn,
                             const char *arn, json_t *query,
                             json_t *body_extra, fault_t *f) {
  const char *type = str_at(conn, "AuthorizationType");
  const json_t *ap = json_object_get(conn, "AuthParameters");
  if (!type) return bad_conn(f, arn, "no AuthorizationType");
  if (!strcmp(type, "API_KEY")) {
    const json_t *k = json_object_get(ap, "ApiKeyAuthParameters");
    const char *name = str_at(k, "ApiKeyName"), *value = str_at(k,
                                                               "ApiKeyValue");
    if (!name || !value)
      return bad_conn(f, arn, "API_KEY needs ApiKeyAuthParameters "
                      "{ApiKeyName, ApiKeyValue}");
    add_header(c, name, value);
  } else if (!strcmp(type, "BASIC")) {
    const json_t *k = json_object_get(ap, "BasicAuthParameters");
    const char *u = str_at(k, "Username"), *p = str_at(k, "Password");
    if (!u || !p)
      return bad_conn(f, arn, "BASIC needs BasicAuthParameters "
                      "{Username, Password}");
    char *v = basic(u, p);
    add_header(c, "Authorization", v);
    free(v);
  } else if (!strcmp(type, "BEARER")) {
    const char *t = str_at(json_object_get(ap, "BearerAuthParameters"),
                           "Token");
    if (!t) return bad_conn(f, arn, "BEARER needs BearerAuthParameters "
                            "{Token}");
    char *v = ms_asprintf("Bearer %s", t);
    add_header(c, "Authorization", v);
    free(v);
  } else if (!strcmp(type, "OAUTH_CLIENT_CREDENTIALS")) {
    char *v = oauth_token(json_object_get(ap, "OAuthParameters"), arn, f);
    if (!v) return false;
    add_header(c, "Authorization", v);
    free(v);
  } else {
    return bad_conn(f, arn, "unknown AuthorizationType");
  }
  const json_t *ip = json_object_get(ap, "InvocationHttpParameters");
  return each_kv(json_object_get(ip, "HeaderParameters"), arn, f, kv_header,
                 c, NULL) &&
         each_kv(json_object_get(ip, "QueryStringParameters"), arn, f,
                 kv_object, c, query) &&
         each_kv(json_object_get(ip, "BodyParameters"), arn, f, kv_object, c,
                 body_extra);
}

/* ---- the request -------------------------------------------------------- */

/* Headers a definition may not set (AWS's list). */
static bool forbidden(const char *name) {
  static const char *const no[] = {
    "a-im", "accept-charset", "accept-datetime", "accept-encoding",
    "authorization", "cache-control", "connection", "content-encoding",
    "content-md5", "date", "expect", "forwarded", "from", "host",
    "http2-settings", "if-match", "if-modified-since", "if-none-match",
    "if-range", "if-unmodified-since", "max-forwards", "origin", "pragma",
    "proxy-authorization", "referer", "server", "te", "trailer",
    "transfer-encoding", "upgrade", "via", "warning",
  };
  if (!strncasecmp(name, "x-forwarded-", 12) ||
      !strncasecmp(name, "x-amz-", 6) || !strncasecmp(name, "x-amzn-", 7))
    return true;
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    if (!strcasecmp(name, no[i])) return true;
  return false;
}

static bool method_ok(const char *m) {
  static const char *const ok[] = {"GET", "POST", "PUT", "DELETE", "PATCH",
                                   "OPTIONS", "HEAD"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!strcmp(m, ok[i])) return true;
  return false;
}

void svc_http_free(svc_http_call_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nh; i++) {
    free(c->h[i].name);
    free(c->h[i].value);
  }
  free(c->h);
  free(c->url);
  free(c->method);
  buf_free(&c->body);
  free(c);
}

static svc_http_call_t *fail(svc_http_call_t *c) {
  svc_http_free(c);
  return NULL;
}

svc_http_call_t *svc_http_prepare(const json_t *params, const char *region,
                                  double timeout, fault_t *f) {
  svc_http_call_t *c = ms_calloc(1, sizeof *c);
  buf_init(&c->body);
  c->timeout = timeout;
  const char *ep = str_at(params, "ApiEndpoint");
  const char *method = str_at(params, "Method");
  if (!json_is_object(params) || !ep || !*ep) {
    fault_runtime(f, "The HTTP Task's Parameters need ApiEndpoint, a "
                  "string URL");
    return fail(c);
  }
  if (strncmp(ep, "https://", 8) && strncmp(ep, "http://", 7)) {
    fault_runtime(f, "ApiEndpoint '%s' is not an http(s) URL", ep);
    return fail(c);
  }
  if (!method || !method_ok(method)) {
    fault_runtime(f, "The HTTP Task's Method must be one of GET, POST, PUT, "
                  "DELETE, PATCH, OPTIONS or HEAD");
    return fail(c);
  }
  c->method = ms_strdup(method);
  /* the definition's headers */
  json_t *hs = json_object_get(params, "Headers");
  if (hs && !json_is_object(hs)) {
    fault_runtime(f, "The HTTP Task's Headers must be an object");
    return fail(c);
  }
  const char *k;
  json_t *v;
  json_object_foreach(hs, k, v) {
    if (forbidden(k)) {
      fault_runtime(f, "The HTTP Task may not set the header '%s'", k);
      return fail(c);
    }
    if (json_is_object(v) || json_is_array(v)) {
      fault_runtime(f, "The HTTP Task's header '%s' must be a string", k);
      return fail(c);
    }
    char *t = scalar_text(v);
    add_header(c, k, t);
    free(t);
  }
  /* query: the definition's, then the connection's */
  json_t *query = json_object();
  json_t *qp = json_object_get(params, "QueryParameters");
  if (qp && !json_is_object(qp)) {
    json_decref(query);
    fault_runtime(f, "The HTTP Task's QueryParameters must be an object");
    return fail(c);
  }
  json_object_update(query, qp);
  json_t *extra = json_object();
  const json_t *auth = json_object_get(params, "Authentication");
  const char *arn = str_at(auth, "ConnectionArn");
  if (arn) {
    json_t *conn = connection(arn, f);
    bool ok = conn && apply_connection(c, conn, arn, query, extra, f);
    json_decref(conn);
    if (!ok) {
      json_decref(query);
      json_decref(extra);
      return fail(c);
    }
  }
  char *qs = svc_http_urlencode(query, "REPEAT");
  json_decref(query);
  c->url = *qs ? ms_asprintf("%s%s%s", ep, strchr(ep, '?') ? "&" : "?", qs)
               : ms_strdup(ep);
  free(qs);
  /* body */
  json_t *body = json_object_get(params, "RequestBody");
  if (json_object_size(extra)) {
    if (!body || json_is_object(body)) {
      json_t *merged = body ? json_copy(body) : json_object();
      json_object_update(merged, extra);
      json_decref(extra);
      extra = merged;  /* now the body to send */
      body = merged;
    }
  }
  const json_t *tr = json_object_get(params, "Transform");
  const char *enc = str_at(tr, "RequestBodyEncoding");
  const char *af = str_at(json_object_get(tr, "RequestEncodingOptions"),
                          "ArrayFormat");
  bool form = enc && !strcmp(enc, "URL_ENCODED");
  if (enc && !form && strcmp(enc, "NONE")) {
    json_decref(extra);
    fault_runtime(f, "RequestBodyEncoding must be NONE or URL_ENCODED, not "
                  "'%s'", enc);
    return fail(c);
  }
  if (body) {
    c->has_body = true;
    if (form && json_is_object(body)) {
      char *t = svc_http_urlencode(body, af);
      if (!t) {
        json_decref(extra);
        fault_runtime(f, "ArrayFormat must be INDICES, REPEAT, COMMAS or "
                      "BRACKETS, not '%s'", af);
        return fail(c);
      }
      buf_puts(&c->body, t);
      free(t);
      if (!has_header(c, "Content-Type"))
        add_header(c, "Content-Type", "application/x-www-form-urlencoded");
    } else if (json_is_string(body)) {
      buf_append(&c->body, json_string_value(body), json_string_length(body));
    } else {
      jsonx_dump_buf(&c->body, body, JSONX_COMPACT);
      if (!has_header(c, "Content-Type"))
        add_header(c, "Content-Type", "application/json; charset=UTF-8");
    }
  }
  json_decref(extra);
  char *ua = ms_asprintf("Amazon|StepFunctions|HttpInvoke|%s",
                         region ? region : "us-east-1");
  add_header(c, "User-Agent", ua);
  free(ua);
  double t = CALL_TIMEOUT_S;
  if (timeout > 0 && timeout < t) t = timeout;
  c->req = (http_req_t){c->method, c->url, c->h, c->nh,
                        c->has_body ? (c->body.data ? c->body.data : "")
                                    : NULL,
                        c->body.len, t, true, 0};
  return c;
}

const http_req_t *svc_http_request(const svc_http_call_t *c) {
  return &c->req;
}

static bool is_json_type(const char *ct) {
  if (!ct) return false;
  size_t n = strcspn(ct, ";");
  while (n && isspace((unsigned char)ct[n - 1])) n--;
  if (n == 16 && !strncasecmp(ct, "application/json", 16)) return true;
  return n > 5 && !strncasecmp(ct + n - 5, "+json", 5);
}

/* Header text as JSON: UTF-8 as it is; anything else read as ISO-8859-1,
 * the charset HTTP's header fields historically carry (RFC 9110 5.5), so
 * no byte is dropped. */
static json_t *header_text(const char *s) {
  json_t *v = json_string(s);
  if (v) return v;
  buf_t b;
  buf_init(&b);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x80) {
      buf_putc(&b, (char)*p);
    } else {
      buf_putc(&b, (char)(0xC0 | (*p >> 6)));
      buf_putc(&b, (char)(0x80 | (*p & 0x3F)));
    }
  }
  v = json_stringn(b.data ? b.data : "", b.len);
  buf_free(&b);
  return v;
}

json_t *svc_http_response(http_resp_t *resp, fault_t *f) {
  json_t *headers = json_object();
  for (size_t i = 0; i < resp->nheaders; i++) {
    json_t *name = header_text(resp->headers[i].name);
    const char *key = json_string_value(name);
    json_t *list = json_object_get(headers, key);
    if (!list) {
      list = json_array();
      json_object_set_new(headers, key, list);
    }
    json_array_append_new(list, header_text(resp->headers[i].value));
    json_decref(name);
  }
  const char *text = resp->body.data ? resp->body.data : "";
  json_t *body = NULL;
  if (is_json_type(http_resp_header(resp, "Content-Type")) && resp->body.len)
    body = jsonx_parse(text, resp->body.len, NULL);
  if (!body) body = json_stringn(text, resp->body.len);
  if (!body) body = json_string("");  /* not UTF-8: AWS would refuse too */
  json_t *r = json_object();
  json_object_set_new(r, "Headers", headers);
  json_object_set_new(r, "ResponseBody", body);
  json_object_set_new(r, "StatusCode", json_integer(resp->status));
  json_object_set_new(r, "StatusText",
                      header_text(resp->reason ? resp->reason : ""));
  long status = resp->status;
  http_resp_free(resp);
  if (status >= 200 && status < 300) return r;
  char *cause = jsonx_dump(r, JSONX_COMPACT);
  char err[40];
  snprintf(err, sizeof err, "States.Http.StatusCode.%ld", status);
  fault_set(f, err, "%s", cause);
  free(cause);
  json_decref(r);
  return NULL;
}

json_t *svc_http_finish(svc_http_call_t *c, http_err_t e, http_resp_t *resp,
                        const char *msg, fault_t *f) {
  if (e == HTTP_OK) return svc_http_response(resp, f);
  if (e == HTTP_ETIMEOUT && c->timeout > 0 && c->timeout < CALL_TIMEOUT_S)
    fault_set(f, "States.Timeout", NULL);  /* the state's own limit */
  else
    fault_set(f, "States.Http.Socket", "%s", msg ? msg : http_err_name(e));
  http_resp_free(resp);
  return NULL;
}

json_t *svc_http_invoke(const json_t *params, const char *region,
                        double timeout, fault_t *f) {
  svc_http_call_t *c = svc_http_prepare(params, region, timeout, f);
  if (!c) return NULL;
  http_resp_t resp;
  char *msg = NULL;
  http_err_t e = http_perform(&c->req, &resp, &msg);
  json_t *r = svc_http_finish(c, e, &resp, msg, f);
  free(msg);
  svc_http_free(c);
  return r;
}
