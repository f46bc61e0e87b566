/* jsonata_val.c - JSONata values (jv) and their arena: construction,
 * conversion to and from jansson, deep equality, JavaScript number
 * formatting, JSON.stringify as the reference's $string does it, the error
 * catalogue with the reference's messages, and function signatures
 * ("<s-nn?:s>") validated as the reference does, by a regex over the
 * arguments' type letters (PCRE2).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonata_int.h"

/* ---- arena */

struct jarena_blk { jarena_blk *next; size_t size; };

void *ja_alloc(jarena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if ((size_t)(a->end - a->ptr) < n) {
    size_t size = n > 16384 ? n + 64 : 32768;
    jarena_blk *b = malloc(sizeof *b + 16 + size);
    if (!b) abort();
    b->next = a->head;
    b->size = size;
    a->head = b;
    a->ptr = (char *)b + ((sizeof *b + 15) & ~(size_t)15);
    a->end = a->ptr + size;
    a->total += size;
  }
  void *p = a->ptr;
  a->ptr += n;
  memset(p, 0, n);
  return p;
}

char *ja_strndup(jarena *a, const char *s, size_t n) {
  char *d = ja_alloc(a, n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

void ja_on_free(jarena *a, void (*fn)(void *), void *p) {
  jcleanup *c = ja_alloc(a, sizeof *c);
  c->fn = fn;
  c->p = p;
  c->next = a->cleanups;
  a->cleanups = c;
}

void ja_free(jarena *a) {
  for (jcleanup *c = a->cleanups; c; c = c->next) c->fn(c->p);
  jarena_blk *b = a->head;
  while (b) {
    jarena_blk *n = b->next;
    free(b);
    b = n;
  }
  memset(a, 0, sizeof *a);
}

/* ---- values */

static jv NULLV = {.t = JV_NULL};
static jv TRUEV = {.t = JV_BOOL, .u.b = 1};
static jv FALSEV = {.t = JV_BOOL, .u.b = 0};

jv *jv_null(void) { return &NULLV; }
jv *jv_bool(bool b) { return b ? &TRUEV : &FALSEV; }

jv *jv_num(jctx *c, double n) {
  jv *v = ja_alloc(&c->a, sizeof *v);
  v->t = JV_NUM;
  v->u.n = n;
  return v;
}

jv *jv_str(jctx *c, const char *s, size_t len) {
  jv *v = ja_alloc(&c->a, sizeof *v);
  v->t = JV_STR;
  v->u.s.p = ja_strndup(&c->a, s, len);
  v->u.s.len = len;
  return v;
}

jv *jv_cstr(jctx *c, const char *s) { return jv_str(c, s, strlen(s)); }

jv *jv_arr(jctx *c) {
  jv *v = ja_alloc(&c->a, sizeof *v);
  v->t = JV_ARR;
  return v;
}

jv *jv_seq(jctx *c) {
  jv *v = jv_arr(c);
  v->seq = 1;
  return v;
}

void jv_push(jctx *c, jv *arr, jv *v) {
  if (arr->u.a.n == arr->u.a.cap) {
    /* a big array growing makes the next jeval_tick check the limits:
     * the loops that fill arrays do not tick, and an array that doubles
     * at every step would outgrow memory between two checks */
    if (arr->u.a.cap >= 4096) c->ticks |= 1023;
    size_t cap = arr->u.a.cap ? arr->u.a.cap * 2 : 4;
    jv **nv = ja_alloc(&c->a, cap * sizeof *nv);
    if (arr->u.a.n) memcpy(nv, arr->u.a.v, arr->u.a.n * sizeof *nv);
    arr->u.a.v = nv;
    arr->u.a.cap = cap;
  }
  arr->u.a.v[arr->u.a.n++] = v;
}

jv *jv_obj(jctx *c) {
  jv *v = ja_alloc(&c->a, sizeof *v);
  v->t = JV_OBJ;
  return v;
}

static size_t hash(const char *k, size_t kl) {
  size_t h = 1469598103934665603u;
  for (size_t i = 0; i < kl; i++)
    h = (h ^ (unsigned char)k[i]) * 1099511628211u;
  return h;
}

static long find(jv *o, const char *k, size_t kl) {
  if (o->u.o.idx) {
    size_t m = o->u.o.icap - 1, i = hash(k, kl) & m;
    while (o->u.o.idx[i]) {
      size_t j = o->u.o.idx[i] - 1;
      if (o->u.o.kl[j] == kl && !memcmp(o->u.o.k[j], k, kl)) return (long)j;
      i = (i + 1) & m;
    }
    return -1;
  }
  for (size_t j = 0; j < o->u.o.n; j++)
    if (o->u.o.kl[j] == kl && !memcmp(o->u.o.k[j], k, kl)) return (long)j;
  return -1;
}

static void reindex(jctx *c, jv *o) {
  size_t cap = 32;
  while (cap < o->u.o.n * 2 + 2) cap *= 2;
  o->u.o.idx = ja_alloc(&c->a, cap * sizeof(int));
  o->u.o.icap = cap;
  for (size_t j = 0; j < o->u.o.n; j++) {
    size_t i = hash(o->u.o.k[j], o->u.o.kl[j]) & (cap - 1);
    while (o->u.o.idx[i]) i = (i + 1) & (cap - 1);
    o->u.o.idx[i] = (int)j + 1;
  }
}

void jv_set(jctx *c, jv *o, const char *k, size_t kl, jv *v) {
  if (!o || o->t != JV_OBJ) return;
  long j = find(o, k, kl);
  if (j >= 0) {
    o->u.o.v[j] = v;
    return;
  }
  if (o->u.o.n == o->u.o.cap) {
    size_t cap = o->u.o.cap ? o->u.o.cap * 2 : 4;
    char **nk = ja_alloc(&c->a, cap * sizeof *nk);
    size_t *nl = ja_alloc(&c->a, cap * sizeof *nl);
    jv **nv = ja_alloc(&c->a, cap * sizeof *nv);
    if (o->u.o.n) {
      memcpy(nk, o->u.o.k, o->u.o.n * sizeof *nk);
      memcpy(nl, o->u.o.kl, o->u.o.n * sizeof *nl);
      memcpy(nv, o->u.o.v, o->u.o.n * sizeof *nv);
    }
    o->u.o.k = nk;
    o->u.o.kl = nl;
    o->u.o.v = nv;
    o->u.o.cap = cap;
  }
  size_t n = o->u.o.n++;
  o->u.o.k[n] = ja_strndup(&c->a, k, kl);
  o->u.o.kl[n] = kl;
  o->u.o.v[n] = v;
  if (o->u.o.idx && o->u.o.n * 2 < o->u.o.icap) {
    size_t m = o->u.o.icap - 1, i = hash(k, kl) & m;
    while (o->u.o.idx[i]) i = (i + 1) & m;
    o->u.o.idx[i] = (int)n + 1;
  } else if (o->u.o.n > 12) {
    reindex(c, o);
  }
}

jv *jv_get(jv *o, const char *k, size_t kl) {
  if (!o || o->t != JV_OBJ) return NULL;
  long j = find(o, k, kl);
  return j >= 0 ? o->u.o.v[j] : NULL;
}

bool jv_del(jv *o, const char *k, size_t kl) {
  if (!o || o->t != JV_OBJ) return false;
  long j = find(o, k, kl);
  if (j < 0) return false;
  size_t n = o->u.o.n;
  memmove(o->u.o.k + j, o->u.o.k + j + 1, (n - j - 1) * sizeof(char *));
  memmove(o->u.o.kl + j, o->u.o.kl + j + 1, (n - j - 1) * sizeof(size_t));
  memmove(o->u.o.v + j, o->u.o.v + j + 1, (n - j - 1) * sizeof(jv *));
  o->u.o.n--;
  o->u.o.idx = NULL;
  o->u.o.icap = 0;
  return true;
}

jv *jv_fn(jctx *c, jfn *f) {
  jv *v = ja_alloc(&c->a, sizeof *v);
  v->t = JV_FN;
  v->u.f = f;
  return v;
}

bool jv_isfn(jv *v) { return v && v->t == JV_FN; }
bool jv_isarr(jv *v) { return v && v->t == JV_ARR; }

jv *jv_from_json(jctx *c, const json_t *j) {
  if (!j) return NULL;
  switch (json_typeof(j)) {
  case JSON_NULL: return jv_null();
  case JSON_TRUE: return jv_bool(true);
  case JSON_FALSE: return jv_bool(false);
  case JSON_INTEGER: return jv_num(c, (double)json_integer_value(j));
  case JSON_REAL: return jv_num(c, json_real_value(j));
  case JSON_STRING:
    return jv_str(c, json_string_value(j), json_string_length(j));
  case JSON_ARRAY: {
    jv *a = jv_arr(c);
    size_t n = json_array_size(j);
    a->u.a.v = ja_alloc(&c->a, (n ? n : 1) * sizeof(jv *));
    a->u.a.cap = n ? n : 1;
    for (size_t i = 0; i < n; i++)
      a->u.a.v[a->u.a.n++] = jv_from_json(c, json_array_get(j, i));
    return a;
  }
  case JSON_OBJECT: {
    jv *o = jv_obj(c);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
      jv_set(c, o, k, strlen(k), jv_from_json(c, v));
    return o;
  }
  }
  return NULL;
}

json_t *jv_to_json(jv *v) {
  if (!v) return NULL;
  switch (v->t) {
  case JV_NULL: return json_null();
  case JV_BOOL: return json_boolean(v->u.b);
  case JV_NUM: {
    double d = v->u.n;
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
      return json_integer((json_int_t)d);
    if (!isfinite(d)) return json_null();
    return json_real(d);
  }
  case JV_STR: return json_stringn(v->u.s.p, v->u.s.len);
  case JV_ARR: {
    json_t *a = json_array();
    for (size_t i = 0; i < v->u.a.n; i++) {
      json_t *x = jv_to_json(v->u.a.v[i]);
      json_array_append_new(a, x ? x : json_null());
    }
    return a;
  }
  case JV_OBJ: {
    json_t *o = json_object();
    for (size_t i = 0; i < v->u.o.n; i++) {
      jv *x = v->u.o.v[i];
      if (!x || x->t == JV_FN) continue;
      json_object_setn_new(o, v->u.o.k[i], v->u.o.kl[i], jv_to_json(x));
    }
    return o;
  }
  case JV_FN: return json_string("");
  }
  return NULL;
}

bool jv_equal(jv *a, jv *b) {
  if (a == b) return true;
  if (!a || !b || a->t != b->t) return false;
  switch (a->t) {
  case JV_NULL: return true;
  case JV_BOOL: return a->u.b == b->u.b;
  case JV_NUM: return a->u.n == b->u.n;
  case JV_STR:
    return a->u.s.len == b->u.s.len &&
           !memcmp(a->u.s.p, b->u.s.p, a->u.s.len);
  case JV_ARR:
    if (a->u.a.n != b->u.a.n) return false;
    for (size_t i = 0; i < a->u.a.n; i++)
      if (!jv_equal(a->u.a.v[i], b->u.a.v[i])) return false;
    return true;
  case JV_OBJ:
    if (a->u.o.n != b->u.o.n) return false;
    for (size_t i = 0; i < a->u.o.n; i++)
      if (!jv_equal(a->u.o.v[i], jv_get(b, a->u.o.k[i], a->u.o.kl[i])))
        return false;
    return true;
  case JV_FN: return a->u.f == b->u.f;
  }
  return false;
}

jv *jv_append(jctx *c, jv *a, jv *b) {
  if (!a) return b;
  if (!b) return a;
  jv *r = jv_arr(c);
  if (a->t == JV_ARR)
    for (size_t i = 0; i < a->u.a.n; i++) jv_push(c, r, a->u.a.v[i]);
  else
    jv_push(c, r, a);
  if (b->t == JV_ARR)
    for (size_t i = 0; i < b->u.a.n; i++) jv_push(c, r, b->u.a.v[i]);
  else
    jv_push(c, r, b);
  return r;
}

jv *jv_clone(jctx *c, jv *v) {
  if (!v) return NULL;
  if (v->t == JV_ARR) {
    jv *a = jv_arr(c);
    a->seq = v->seq;
    for (size_t i = 0; i < v->u.a.n; i++)
      jv_push(c, a, jv_clone(c, v->u.a.v[i]));
    return a;
  }
  if (v->t == JV_OBJ) {
    jv *o = jv_obj(c);
    for (size_t i = 0; i < v->u.o.n; i++)
      jv_set(c, o, v->u.o.k[i], v->u.o.kl[i], jv_clone(c, v->u.o.v[i]));
    return o;
  }
  if (v->t == JV_NUM) return jv_num(c, v->u.n);
  return v;
}

int jv_arity(jv *f) {
  if (!jv_isfn(f)) return 0;
  return f->u.f->arity;
}

const char *jv_typename(jv *v) {
  if (!v) return NULL;
  switch (v->t) {
  case JV_NULL: return "null";
  case JV_BOOL: return "boolean";
  case JV_NUM: return "number";
  case JV_STR: return "string";
  case JV_ARR: return "array";
  case JV_OBJ: return "object";
  default: return "function";
  }
}

size_t jutf8_len(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
  return c;
}

/* ---- numbers as JavaScript prints them */

void jnum_fmt(double d, char *buf) {
  /* buf holds at least 32 bytes (see jsonata_int.h) */
  if (d != d) { snprintf(buf, 32, "NaN"); return; }
  if (isinf(d)) { snprintf(buf, 32, d > 0 ? "Infinity" : "-Infinity");
                  return; }
  if (d == 0) { snprintf(buf, 32, "0"); return; }
  char tmp[40];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    if (strtod(tmp, NULL) == d) break;
  }
  /* tmp: [-]d.ddde[+-]xx */
  char digits[24];
  int nd = 0, neg = 0;
  const char *q = tmp;
  if (*q == '-') { neg = 1; q++; }
  for (; *q && *q != 'e'; q++)
    if (*q >= '0' && *q <= '9') digits[nd++] = *q;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  int e = (int)strtol(q + 1, NULL, 10);
  int n = e + 1;
  char *o = buf;
  if (neg) *o++ = '-';
  if (nd <= n && n <= 21) {
    memcpy(o, digits, nd);
    o += nd;
    for (int i = 0; i < n - nd; i++) *o++ = '0';
  } else if (0 < n && n <= 21) {
    memcpy(o, digits, n);
    o += n;
    *o++ = '.';
    memcpy(o, digits + n, nd - n);
    o += nd - n;
  } else if (-6 < n && n <= 0) {
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -n; i++) *o++ = '0';
    memcpy(o, digits, nd);
    o += nd;
  } else {
    *o++ = digits[0];
    if (nd > 1) {
      *o++ = '.';
      memcpy(o, digits + 1, nd - 1);
      o += nd - 1;
    }
    o += snprintf(o, 8, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
  }
  *o = 0;
}

/* ---- JSON.stringify with the reference's replacer */

typedef struct sbuf { char *p; size_t n, cap; jctx *c; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = (b->n + n + 1) * 2;
    char *np = ja_alloc(&b->c->a, cap);
    if (b->n) memcpy(np, b->p, b->n);
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s, size_t n) {
  sb_put(b, "\"", 1);
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    const char *esc = NULL;
    char u[8];
    if (ch == '"') esc = "\\\"";
    else if (ch == '\\') esc = "\\\\";
    else if (ch == '\n') esc = "\\n";
    else if (ch == '\r') esc = "\\r";
    else if (ch == '\t') esc = "\\t";
    else if (ch == '\b') esc = "\\b";
    else if (ch == '\f') esc = "\\f";
    else if (ch < 0x20) { snprintf(u, sizeof u, "\\u%04x", ch); esc = u; }
    if (esc) {
      sb_put(b, s + start, i - start);
      sb_put(b, esc, strlen(esc));
      start = i + 1;
    }
  }
  sb_put(b, s + start, n - start);
  sb_put(b, "\"", 1);
}

static void indent(sbuf *b, int level) {
  sb_put(b, "\n", 1);
  for (int i = 0; i < level; i++) sb_put(b, "  ", 2);
}

static void stringify(sbuf *b, jv *v, bool pretty, int level) {
  char num[40];
  if (!v) { sb_put(b, "null", 4); return; }
  switch (v->t) {
  case JV_NULL: sb_put(b, "null", 4); break;
  case JV_BOOL: v->u.b ? sb_put(b, "true", 4) : sb_put(b, "false", 5);
    break;
  case JV_NUM: {
    double d = v->u.n;
    if (!isfinite(d)) { sb_put(b, "null", 4); break; }
    char p15[40];
    snprintf(p15, sizeof p15, "%.14e", d);
    jnum_fmt(strtod(p15, NULL), num);
    sb_put(b, num, strlen(num));
    break;
  }
  case JV_STR: sb_str(b, v->u.s.p, v->u.s.len); break;
  case JV_FN: sb_put(b, "\"\"", 2); break;
  case JV_ARR:
    if (v->u.a.n == 0) { sb_put(b, "[]", 2); break; }
    sb_put(b, "[", 1);
    for (size_t i = 0; i < v->u.a.n; i++) {
      if (i) sb_put(b, ",", 1);
      if (pretty) indent(b, level + 1);
      stringify(b, v->u.a.v[i], pretty, level + 1);
    }
    if (pretty) indent(b, level);
    sb_put(b, "]", 1);
    break;
  case JV_OBJ: {
    bool any = false;
    sb_put(b, "{", 1);
    for (size_t i = 0; i < v->u.o.n; i++) {
      if (!v->u.o.v[i]) continue;
      if (any) sb_put(b, ",", 1);
      any = true;
      if (pretty) indent(b, level + 1);
      sb_str(b, v->u.o.k[i], v->u.o.kl[i]);
      sb_put(b, pretty ? ": " : ":", pretty ? 2 : 1);
      stringify(b, v->u.o.v[i], pretty, level + 1);
    }
    if (pretty && any) indent(b, level);
    sb_put(b, "}", 1);
    break;
  }
  }
}

char *jv_stringify(jctx *c, jv *v, bool pretty, size_t *len) {
  sbuf b = {NULL, 0, 0, c};
  sb_put(&b, "", 0);
  stringify(&b, v, pretty, 0);
  if (len) *len = b.n;
  return b.p;
}

/* ---- errors */

static const struct { const char *code, *msg; } MSGS[] = {
  {"S0101", "String literal must be terminated by a matching quote"},
  {"S0102", "Number out of range: {{token}}"},
  {"S0103", "Unsupported escape sequence: \\{{token}}"},
  {"S0104", "The escape sequence \\u must be followed by 4 hex digits"},
  {"S0105", "Quoted property name must be terminated with a backquote (`)"},
  {"S0106", "Comment has no closing tag"},
  {"S0201", "Syntax error: {{token}}"},
  {"S0202", "Expected {{value}}, got {{token}}"},
  {"S0203", "Expected {{value}} before end of expression"},
  {"S0204", "Unknown operator: {{token}}"},
  {"S0205", "Unexpected token: {{token}}"},
  {"S0206", "Unknown expression type: {{token}}"},
  {"S0207", "Unexpected end of expression"},
  {"S0208", "Parameter {{value}} of function definition must be a variable "
            "name (start with $)"},
  {"S0209", "A predicate cannot follow a grouping expression in a step"},
  {"S0210", "Each step can only have one grouping expression"},
  {"S0211", "The symbol {{token}} cannot be used as a unary operator"},
  {"S0212", "The left side of := must be a variable name (start with $)"},
  {"S0213", "The literal value {{value}} cannot be used as a step within a "
            "path expression"},
  {"S0214", "The right side of {{token}} must be a variable name (start "
            "with $)"},
  {"S0215", "A context variable binding must precede any predicates on a "
            "step"},
  {"S0216", "A context variable binding must precede the 'order-by' clause "
            "on a step"},
  {"S0217", "The object representing the 'parent' cannot be derived from "
            "this expression"},
  {"S0301", "Empty regular expressions are not allowed"},
  {"S0302", "No terminating / in regular expression"},
  {"S0303", "Invalid regular expression: {{token}}"},
  {"S0402", "Choice groups containing parameterized types are not "
            "supported"},
  {"S0401", "Type parameters can only be applied to functions and arrays"},
  {"S0500", "Attempted to evaluate an expression containing syntax "
            "error(s)"},
  {"T0410", "Argument {{index}} of function {{token}} does not match "
            "function signature"},
  {"T0411", "Context value is not a compatible type with argument "
            "{{index}} of function {{token}}"},
  {"T0412", "Argument {{index}} of function {{token}} must be an array of "
            "{{type}}"},
  {"D1001", "Number out of range: {{value}}"},
  {"D1002", "Cannot negate a non-numeric value: {{value}}"},
  {"T1003", "Key in object structure must evaluate to a string; got: "
            "{{value}}"},
  {"D1004", "Regular expression matches zero length string"},
  {"T1005", "Attempted to invoke a non-function. Did you mean ${{{token}}}?"},
  {"T1006", "Attempted to invoke a non-function"},
  {"T1007", "Attempted to partially apply a non-function. Did you mean "
            "${{{token}}}?"},
  {"T1008", "Attempted to partially apply a non-function"},
  {"D1009", "Multiple key definitions evaluate to same key: {{value}}"},
  {"T1010", "The matcher function argument passed to function {{token}} "
            "does not return the correct object structure"},
  {"T2001", "The left side of the {{token}} operator must evaluate to a "
            "number"},
  {"T2002", "The right side of the {{token}} operator must evaluate to a "
            "number"},
  {"T2003", "The left side of the range operator (..) must evaluate to an "
            "integer"},
  {"T2004", "The right side of the range operator (..) must evaluate to an "
            "integer"},
  {"T2006", "The right side of the function application operator ~> must "
            "be a function"},
  {"T2007", "Type mismatch when comparing values {{value}} and {{value2}} "
            "in order-by clause"},
  {"T2008", "The expressions within an order-by clause must evaluate to "
            "numeric or string values"},
  {"T2009", "The values {{value}} and {{value2}} either side of operator "
            "{{token}} must be of the same data type"},
  {"T2010", "The expressions either side of operator {{token}} must "
            "evaluate to numeric or string values"},
  {"T2011", "The insert/update clause of the transform expression must "
            "evaluate to an object: {{value}}"},
  {"T2012", "The delete clause of the transform expression must evaluate "
            "to a string or array of strings: {{value}}"},
  {"T2013", "The transform expression clones the input object using the "
            "$clone() function.  This has been overridden in the current "
            "scope by a non-function."},
  {"D2014", "The size of the sequence allocated by the range operator (..) "
            "must not exceed 1e7.  Attempted to allocate {{value}}."},
  {"D3001", "Attempting to invoke string function on Infinity or NaN"},
  {"D3010", "Second argument of replace function cannot be an empty "
            "string"},
  {"D3011", "Fourth argument of replace function must evaluate to a "
            "positive number"},
  {"D3012", "Attempted to replace a matched string with a non-string "
            "value"},
  {"D3020", "Third argument of split function must evaluate to a positive "
            "number"},
  {"D3030", "Unable to cast value to a number: {{value}}"},
  {"D3040", "Third argument of match function must evaluate to a positive "
            "number"},
  {"D3050", "The second argument of reduce function must be a function "
            "with at least two arguments"},
  {"D3060", "The sqrt function cannot be applied to a negative number: "
            "{{value}}"},
  {"D3061", "The power function has resulted in a value that cannot be "
            "represented as a JSON number: base={{value}}, "
            "exponent={{value2}}"},
  {"D3070", "The single argument form of the sort function can only be "
            "applied to an array of strings or an array of numbers.  Use "
            "the second argument to specify a comparison function"},
  {"D3100", "The radix of the formatBase function must be between 2 and "
            "36.  It was given {{value}}"},
  {"D3110", "The argument of the toMillis function must be an ISO 8601 "
            "formatted timestamp. Given {{value}}"},
  {"D3120", "Syntax error in expression passed to function eval: "
            "{{value}}"},
  {"D3121", "Dynamic error evaluating the expression passed to function "
            "eval: {{value}}"},
  {"D3137", "{{{value}}}"},
  {"D3138", "The $single() function expected exactly 1 matching result.  "
            "Instead it matched more."},
  {"D3139", "The $single() function expected exactly 1 matching result.  "
            "Instead it matched 0."},
  {"D3140", "Malformed URL passed to ${{{token}}}(): {{value}}"},
  {"D3141", "{{{value}}}"},
  {"D1005", "Evaluation used more memory than allowed"},
  {"U1001", "Stack overflow error: Check for non-terminating recursive "
            "function.  Consider rewriting as tail-recursive."},
  {"U1002", "Expression evaluation timeout: Check for infinite loop"},
  {NULL, NULL}
};

/* JSON text of a string: "..." with the usual escapes */
static char *quote(const char *s) {
  size_t n = strlen(s);
  char *q = malloc(n * 6 + 3), *o = q;
  if (!q) abort();
  *o++ = '"';
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') { *o++ = '\\'; *o++ = (char)ch; }
    else if (ch == '\n') { *o++ = '\\'; *o++ = 'n'; }
    else if (ch < 0x20) o += snprintf(o, 7, "\\u%04x", ch);
    else *o++ = (char)ch;
  }
  *o++ = '"';
  *o = 0;
  return q;
}

/* The reference's message for code: {{{x}}} inserts x as is, {{x}} as
 * JSON (token and type are quoted here; value and value2 arrive as JSON
 * text already). */
char *jerr_message(const char *code, const char *token, const char *value,
                   const char *value2, int index, const char *type) {
  const char *t = NULL;
  for (int i = 0; MSGS[i].code; i++)
    if (!strcmp(MSGS[i].code, code)) t = MSGS[i].msg;
  if (!t) return strdup(code);
  char *qtoken = token ? quote(token) : NULL;
  char *qtype = type ? quote(type) : NULL;
  size_t cap = strlen(t) + 64 + (qtoken ? strlen(qtoken) : 0) +
               (value ? strlen(value) : 0) + (value2 ? strlen(value2) : 0) +
               (qtype ? strlen(qtype) : 0);
  char *out = malloc(cap), *o = out;
  if (!out) abort();
  while (*t) {
    if (t[0] == '{' && t[1] == '{') {
      bool raw = t[2] == '{';
      const char *k = t + (raw ? 3 : 2);
      const char *end = strstr(k, "}}");
      size_t kl = end - k;
      const char *rep = "";
      char ib[16];
      if (kl == 5 && !memcmp(k, "token", 5))
        rep = raw ? (token ? token : "") : (qtoken ? qtoken : "");
      else if (kl == 5 && !memcmp(k, "value", 5)) rep = value ? value : "";
      else if (kl == 6 && !memcmp(k, "value2", 6))
        rep = value2 ? value2 : "";
      else if (kl == 5 && !memcmp(k, "index", 5)) {
        snprintf(ib, sizeof ib, "%d", index);
        rep = ib;
      } else if (kl == 4 && !memcmp(k, "type", 4))
        rep = raw ? (type ? type : "") : (qtype ? qtype : "");
      size_t rl = strlen(rep);
      memcpy(o, rep, rl);
      o += rl;
      t = end + (raw ? 3 : 2);
    } else {
      *o++ = *t++;
    }
  }
  *o = 0;
  free(qtoken);
  free(qtype);
  return out;
}

static void fill(jctx *c, const char *code, int pos, const char *token,
                 jv *value, jv *value2, int index, const char *type) {
  jsonata_err_t *e = c->err;
  snprintf(e->code, sizeof e->code, "%s", code);
  e->position = pos >= 0 ? pos : c->pos;
  free(e->token);
  e->token = token ? strdup(token) : NULL;
  const char *vs = NULL, *v2 = NULL;
  if (value) vs = (!strcmp(code, "D3137") || !strcmp(code, "D3141") ||
                   !strcmp(code, "D3120") || !strcmp(code, "D3121")) &&
                  value->t == JV_STR ? value->u.s.p
                  : jv_stringify(c, value, false, NULL);
  if (value2) v2 = jv_stringify(c, value2, false, NULL);
  free(e->message);
  e->message = jerr_message(code, token, vs, v2, index, type);
}

void jerr(jctx *c, const char *code, int pos, const char *token, jv *value,
          jv *value2) {
  fill(c, code, pos, token, value, value2, 0, NULL);
  longjmp(*c->jb, 1);
}

/* An error whose message is already worded (the picture-string
 * functions word their own). */
void jerr_text(jctx *c, const char *code, int pos, const char *message) {
  fill(c, code, pos, NULL, NULL, NULL, 0, NULL);
  free(c->err->message);
  c->err->message = strdup(message);
  longjmp(*c->jb, 1);
}

/* A timeout: the harness's code U1001 with its timeout message. */
void jerr_timeout(jctx *c) {
  fill(c, "U1002", -1, NULL, NULL, NULL, 0, NULL);
  snprintf(c->err->code, sizeof c->err->code, "U1001");
  longjmp(*c->jb, 1);
}

void jerr_idx(jctx *c, const char *code, int pos, const char *token,
              jv *value, int index, const char *type) {
  fill(c, code, pos, token, value, NULL, index, type);
  longjmp(*c->jb, 1);
}

/* ---- signatures */

typedef struct sparam {
  char regex[64];
  char type;           /* s n b l o a f j x, or '(' for a choice */
  char subtype[16];
  bool context;
  char ctxre[64];
} sparam;

struct jsig {
  sparam *p;
  int n;
  pcre2_code *re;
  pcre2_code **ctx;    /* per param: the context-type regex or NULL */
};

static void free_code(void *p) { pcre2_code_free(p); }

static pcre2_code *rx(jarena *a, const char *s) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0,
                                 &ec, &eo, NULL);
  if (re) ja_on_free(a, free_code, re);
  return re;
}

jsig *jsig_parse(jarena *a, const char *text, int pos, int *errpos,
                 char *code) {
  (void)pos;
  int len = (int)strlen(text), cap = 8, n = 0;
  sparam *ps = ja_alloc(a, cap * sizeof *ps);
  sparam cur;
  memset(&cur, 0, sizeof cur);
  sparam *prev = &cur;
  for (int i = 1; i < len; i++) {
    char s = text[i];
    if (s == ':') break;
    if (n + 1 >= cap) {
      sparam *np = ja_alloc(a, cap * 2 * sizeof *np);
      memcpy(np, ps, n * sizeof *np);
      if (prev != &cur) prev = np + (prev - ps);
      ps = np;
      cap *= 2;
    }
#define NEXT() do { ps[n] = cur; prev = &ps[n]; n++; \
                    memset(&cur, 0, sizeof cur); } while (0)
    switch (s) {
    case 's': case 'n': case 'b': case 'l': case 'o':
      snprintf(cur.regex, sizeof cur.regex, "[%cm]", s);
      cur.type = s;
      NEXT();
      break;
    case 'a':
      snprintf(cur.regex, sizeof cur.regex, "[asnblfom]");
      cur.type = 'a';
      NEXT();
      break;
    case 'f':
      snprintf(cur.regex, sizeof cur.regex, "f");
      cur.type = 'f';
      NEXT();
      break;
    case 'j':
      snprintf(cur.regex, sizeof cur.regex, "[asnblom]");
      cur.type = 'j';
      NEXT();
      break;
    case 'x':
      snprintf(cur.regex, sizeof cur.regex, "[asnblfom]");
      cur.type = 'x';
      NEXT();
      break;
    case '-':
      prev->context = true;
      snprintf(prev->ctxre, sizeof prev->ctxre, "%s", prev->regex);
      size_t rl = strlen(prev->regex);
      if (rl + 1 < sizeof prev->regex) {
        prev->regex[rl] = '?';
        prev->regex[rl + 1] = 0;
      }
      break;
    case '?': case '+': {
      size_t l = strlen(prev->regex);
      if (l + 1 < sizeof prev->regex) {   /* the fuzzer's "<n++++...>" */
        prev->regex[l] = s;
        prev->regex[l + 1] = 0;
      }
      break;
    }
    case '(': {
      int end = i, depth = 1;
      while (end < len) {
        end++;
        if (text[end] == ')') { if (--depth == 0) break; }
        else if (text[end] == '(') depth++;
      }
      if (memchr(text + i + 1, '<', end - i - 1)) {
        *errpos = i;
        memcpy(code, "S0402", 6);
        return NULL;
      }
      snprintf(cur.regex, sizeof cur.regex, "[%.*sm]", end - i - 1,
               text + i + 1);
      cur.type = '(';
      i = end;
      NEXT();
      break;
    }
    case '<': {
      if (prev->type == 'a' || prev->type == 'f') {
        int end = i, depth = 1;
        while (end < len) {
          end++;
          if (text[end] == '>') { if (--depth == 0) break; }
          else if (text[end] == '<') depth++;
        }
        snprintf(prev->subtype, sizeof prev->subtype, "%.*s", end - i - 1,
                 text + i + 1);
        i = end;
      } else {
        *errpos = i;
        memcpy(code, "S0401", 6);
        return NULL;
      }
      break;
    }
    }
#undef NEXT
  }
  jsig *sg = ja_alloc(a, sizeof *sg);
  sg->p = ps;
  sg->n = n;
  size_t rl = 3;
  for (int i = 0; i < n; i++) rl += strlen(ps[i].regex) + 2;
  char *re = ja_alloc(a, rl);
  size_t at = (size_t)snprintf(re, rl, "^");
  for (int i = 0; i < n; i++)
    at += (size_t)snprintf(re + at, rl - at, "(%s)", ps[i].regex);
  snprintf(re + at, rl - at, "$");
  sg->re = rx(a, re);
  if (!sg->re) {     /* e.g. a modifier with nothing to modify: "<+>" */
    *errpos = 1;
    memcpy(code, "S0401", 6);
    return NULL;
  }
  sg->ctx = ja_alloc(a, (n + 1) * sizeof *sg->ctx);
  for (int i = 0; i < n; i++)
    if (ps[i].context) sg->ctx[i] = rx(a, ps[i].ctxre);
  return sg;
}

static void free_md(void *md) { pcre2_match_data_free(md); }

static char symbol(jv *v) {
  if (!v) return 'm';
  switch (v->t) {
  case JV_FN: return 'f';
  case JV_STR: return 's';
  case JV_NUM: return 'n';
  case JV_BOOL: return 'b';
  case JV_NULL: return 'l';
  case JV_ARR: return 'a';
  default: return 'o';
  }
}

static bool rmatch(pcre2_code *re, const char *s, size_t n,
                   pcre2_match_data *md) {
  return pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, NULL) >= 0;
}

static const char *plural(const char *sub) {
  switch (sub[0]) {
  case 'a': return "arrays";
  case 'b': return "booleans";
  case 'f': return "functions";
  case 'n': return "numbers";
  case 'o': return "objects";
  case 's': return "strings";
  }
  return NULL;
}

jv **jsig_validate(jctx *c, jsig *s, jv **args, int n, jv *context,
                   int *nout, const char *fname) {
  char *sup = ja_alloc(&c->a, n + 1);
  for (int i = 0; i < n; i++) sup[i] = symbol(args[i]);
  if (!c->md) {
    c->md = pcre2_match_data_create(64, NULL);
    if (!c->md) abort();
    ja_on_free(&c->a, free_md, c->md);
  }
  pcre2_match_data *md = c->md;
  int rc = pcre2_match(s->re, (PCRE2_SPTR)sup, n, 0, 0, md, NULL);
  if (rc < 0) {
    /* find the first argument that fails */
    size_t pl = 2;
    for (int i = 0; i < s->n; i++) pl += strlen(s->p[i].regex);
    char *part = ja_alloc(&c->a, pl + 1);
    size_t at = (size_t)snprintf(part, pl + 1, "^");
    int good = 0;
    for (int i = 0; i < s->n; i++) {
      at += (size_t)snprintf(part + at, pl + 1 - at, "%s", s->p[i].regex);
      int ec;
      PCRE2_SIZE eo;
      pcre2_code *pre = pcre2_compile((PCRE2_SPTR)part, PCRE2_ZERO_TERMINATED,
                                      0, &ec, &eo, NULL);
      if (!pre) break;
      pcre2_match_data *pm = pcre2_match_data_create_from_pattern(pre, NULL);
      int r = pcre2_match(pre, (PCRE2_SPTR)sup, n, 0, 0, pm, NULL);
      if (r >= 0) good = (int)pcre2_get_ovector_pointer(pm)[1];
      pcre2_match_data_free(pm);
      pcre2_code_free(pre);
      if (r < 0) break;
    }
    jerr_idx(c, "T0410", -1, fname, good < n ? args[good] : NULL, good + 1,
             NULL);
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  size_t *spans = ja_alloc(&c->a, (s->n + 1) * 2 * sizeof *spans);
  for (int i = 0; i < s->n; i++) {
    spans[2 * i] = ov[2 * (i + 1)];
    spans[2 * i + 1] = ov[2 * (i + 1) + 1];
  }
  jv **out = ja_alloc(&c->a, (s->n + n + 1) * sizeof *out);
  int no = 0, ai = 0;
  for (int i = 0; i < s->n; i++) {
    sparam *p = &s->p[i];
    size_t ml = spans[2 * i + 1] - spans[2 * i];
    const char *m = sup + spans[2 * i];
    if (ml == 0) {
      if (p->context && s->ctx[i]) {
        char cs = symbol(context);
        pcre2_match_data *cm =
            pcre2_match_data_create_from_pattern(s->ctx[i], NULL);
        bool ok = rmatch(s->ctx[i], &cs, 1, cm);
        pcre2_match_data_free(cm);
        if (!ok) jerr_idx(c, "T0411", -1, fname, context, ai + 1, NULL);
        out[no++] = context;
      } else {
        out[no++] = ai < n ? args[ai] : NULL;
        ai++;
      }
      continue;
    }
    for (size_t k = 0; k < ml; k++) {
      char single = m[k];
      jv *arg = ai < n ? args[ai] : NULL;
      if (p->type == 'a') {
        if (single == 'm') {
          arg = NULL;
        } else {
          bool ok = true;
          if (p->subtype[0]) {
            if (single != 'a' && !(ml == 1 && m[0] == p->subtype[0] &&
                                   !p->subtype[1]))
              ok = false;
            else if (single == 'a' && arg->u.a.n > 0) {
              char it = symbol(arg->u.a.v[0]);
              if (it != p->subtype[0]) ok = false;
              else
                for (size_t q = 0; q < arg->u.a.n; q++)
                  if (symbol(arg->u.a.v[q]) != it) ok = false;
            }
          }
          if (!ok)
            jerr_idx(c, "T0412", -1, fname, arg, ai + 1,
                     plural(p->subtype));
          if (single != 'a') {
            jv *w = jv_arr(c);
            jv_push(c, w, arg);
            arg = w;
          }
        }
      }
      out[no++] = arg;
      ai++;
    }
  }
  *nout = no;
  return out;
}
