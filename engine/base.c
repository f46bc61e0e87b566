/* base.c - the growable buffer, allocation wrappers, the fault value and
 * validation diagnostics declared in base.h.
 *
 * Out-of-memory is fatal here, by design: every caller above can then treat
 * allocation as infallible and keep its error paths for real failures.
 */
#include "base.h"

#include <errno.h>
#ifdef __linux__
#include <sys/random.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void) {
  fputs("moonstep: out of memory\n", stderr);
  abort();
}

void *ms_malloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom();
  return p;
}

void *ms_calloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom();
  return p;
}

void *ms_realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) oom();
  return q;
}

char *ms_strdup(const char *s) { return ms_strndup(s, strlen(s)); }

char *ms_strndup(const char *s, size_t n) {
  char *p = ms_malloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *ms_vasprintf(const char *fmt, va_list ap) {
  buf_t b;
  buf_init(&b);
  buf_vprintf(&b, fmt, ap);
  return buf_steal(&b);
}

char *ms_asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = ms_vasprintf(fmt, ap);
  va_end(ap);
  return s;
}

char *ms_read_file(const char *path, size_t max, size_t *len) {
  FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!fp) return NULL;
  buf_t b;
  buf_init(&b);
  char chunk[65536];
  size_t n;
  errno = 0;
  while (b.len <= max && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
    buf_append(&b, chunk, n);
  int bad = ferror(fp) ? (errno ? errno : EIO)
            : b.len > max ? EFBIG : 0;
  if (fp != stdin) fclose(fp);
  if (bad) {
    buf_free(&b);
    errno = bad;
    return NULL;
  }
  *len = b.len;
  return buf_steal(&b);
}

/* ---- buffer ---------------------------------------------------------- */

void buf_init(buf_t *b) { b->data = NULL; b->len = b->cap = 0; }

void buf_free(buf_t *b) { free(b->data); buf_init(b); }

static void reserve(buf_t *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  b->data = ms_realloc(b->data, cap);
  b->cap = cap;
}

int buf_append(buf_t *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return MS_OK;
}

int buf_puts(buf_t *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_putc(buf_t *b, char c) {
  reserve(b, 1);
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
  return MS_OK;
}

int buf_vprintf(buf_t *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return MS_ERR;
  reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return MS_OK;
}

int buf_printf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

char *buf_steal(buf_t *b) {
  char *s = b->data ? b->data : ms_strdup("");
  buf_init(b);
  return s;
}

/* ---- fault ----------------------------------------------------------- */

void fault_clear(fault_t *f) {
  free(f->error);
  free(f->cause);
  f->error = f->cause = NULL;
  f->in_state = false;
}

static void fault_vset(fault_t *f, const char *error, const char *fmt,
                       va_list ap) {
  fault_clear(f);
  f->error = ms_strdup(error);
  if (fmt) {
    buf_t b;
    buf_init(&b);
    buf_vprintf(&b, fmt, ap);
    f->cause = buf_steal(&b);
  }
}

void fault_set(fault_t *f, const char *error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fault_vset(f, error, fmt, ap);
  va_end(ap);
}

void fault_runtime(fault_t *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fault_vset(f, "States.Runtime", fmt, ap);
  va_end(ap);
  f->in_state = true;
}

void fault_move(fault_t *dst, fault_t *src) {
  fault_clear(dst);
  *dst = *src;
  src->error = src->cause = NULL;
  src->in_state = false;
}

/* ---- diagnostics ----------------------------------------------------- */

void diags_init(diags_t *d) { memset(d, 0, sizeof *d); }

void diags_free(diags_t *d) {
  for (size_t i = 0; i < d->n; i++) {
    free(d->v[i].ptr);
    free(d->v[i].msg);
  }
  free(d->v);
  diags_init(d);
}

void diags_add(diags_t *d, bool warning, const char *ptr, const char *fmt,
               ...) {
  if (d->n == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 8;
    d->v = ms_realloc(d->v, d->cap * sizeof *d->v);
  }
  diag_t *g = &d->v[d->n++];
  va_list ap;
  va_start(ap, fmt);
  g->msg = ms_vasprintf(fmt, ap);
  va_end(ap);
  g->ptr = ms_strdup(ptr ? ptr : "");
  g->warning = warning;
  g->line = g->col = 0;
  if (!warning) d->nerrors++;
}

char *ptr_join(const char *base, const char *name) {
  buf_t b;
  buf_init(&b);
  buf_puts(&b, base);
  buf_putc(&b, '/');
  for (const char *p = name; *p; p++) {
    if (*p == '~') buf_puts(&b, "~0");
    else if (*p == '/') buf_puts(&b, "~1");
    else buf_putc(&b, *p);
  }
  return buf_steal(&b);
}

char *ptr_index(const char *base, size_t i) {
  return ms_asprintf("%s/%zu", base, i);
}

void ms_random_bytes(void *p, size_t n) {
#ifdef __linux__
  if (getrandom(p, n, 0) == (ssize_t)n) return;
#endif
  FILE *fp = fopen("/dev/urandom", "rb");
  bool ok = fp && fread(p, 1, n, fp) == n;
  if (fp) fclose(fp);
  if (ok) return;
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)rand();
}

void ms_uuid4(char out[37]) {
  unsigned char u[16];
  ms_random_bytes(u, sizeof u);
  u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);  /* version 4 */
  u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
  snprintf(out, 37,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
           u[10], u[11], u[12], u[13], u[14], u[15]);
}
