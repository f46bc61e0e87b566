/* http.c - libFuzzer target: what moonstep makes of an HTTP response it
 * did not choose (engine/http.h's header lines, svc_http.h's result of
 * arn:aws:states:::http:invoke). The first two bytes pick the status
 * code (100..599); then header lines as the server sends them, up to an
 * empty line, each handed over as libcurl does; the rest is the body.
 * The result (or the States.Http.StatusCode.* fault's cause) must be
 * valid JSON that prints and parses back.
 */
#include "fuzz.h"
#include "http.h"
#include "svc_http.h"

static void check(const json_t *v) {
  char *text = jsonx_dump(v, JSONX_COMPACT);
  json_t *back = jsonx_parse(text, strlen(text), NULL);
  if (!back || !json_equal(back, v)) {
    fprintf(stderr, "the response's JSON does not read back: %s\n", text);
    abort();
  }
  json_decref(back);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > FZ_MAX) return 0;
  http_resp_t r;
  memset(&r, 0, sizeof r);
  buf_init(&r.body);
  r.status = 100 + (long)((data[0] << 8 | data[1]) % 500);
  const char *p = (const char *)data + 2, *end = (const char *)data + size;
  http_resp_header_line(&r, "HTTP/1.1 200 OK\r\n", 17);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    http_resp_header_line(&r, p, len);
    p += len;
    if (len <= 2 && (len == 1 || p[-2] == '\r')) break;  /* blank line */
  }
  buf_append(&r.body, p, (size_t)(end - p));
  (void)http_resp_header(&r, "content-type");
  fault_t f = {0};
  json_t *v = svc_http_response(&r, &f);
  if (v) {
    check(v);
    json_decref(v);
  } else {
    if (!f.error || strncmp(f.error, "States.Http.StatusCode.", 23) != 0) {
      fprintf(stderr, "a response failed as %s\n", f.error ? f.error : "?");
      abort();
    }
    json_t *cause = jsonx_parse(f.cause, strlen(f.cause), NULL);
    if (!cause) {
      fprintf(stderr, "the cause is not JSON: %s\n", f.cause);
      abort();
    }
    json_decref(cause);
  }
  fault_clear(&f);
  return 0;
}
