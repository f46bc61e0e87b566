/* jsonx.c - jansson conventions: parsing with the engine's limits, a
 * deterministic printer (shortest round-trip reals, optional key sorting and
 * the spaced style Lambda uses), equality where 1 == 1.0, and payload size.
 *
 * Paths, templates and states live elsewhere; this file only knows JSON.
 */
#include "jsonx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *jsonx_parse(const char *text, size_t len, char **err) {
  json_error_t e;
  json_t *v = json_loadb(text, len,
                         JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                             JSON_ALLOW_NUL,
                         &e);
  if (!v && err)
    *err = ms_asprintf("line %d column %d: %s", e.line, e.column, e.text);
  return v;
}

/* ---- printing -------------------------------------------------------- */

static void put_string(buf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_putc(b, '"');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[7];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    default:
      if (c < 0x20) {
        u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
        u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
        esc = u;
      }
    }
    if (esc) {
      buf_append(b, s + i - run, run);
      run = 0;
      buf_puts(b, esc);
    } else {
      run++;
    }
  }
  buf_append(b, s + n - run, run);
  buf_putc(b, '"');
}

/* Shortest text that strtod reads back as the same double. */
static void put_real(buf_t *b, double d) {
  char tmp[40];
  if (!isfinite(d)) { buf_puts(b, "null"); return; }
  if (d == floor(d) && fabs(d) < 1e16) {
    snprintf(tmp, sizeof tmp, "%.1f", d);
    buf_puts(b, tmp);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  buf_puts(b, tmp);
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void newline(buf_t *b, int flags, int depth) {
  if (!(flags & JSONX_PRETTY)) return;
  buf_putc(b, '\n');
  for (int i = 0; i < depth; i++) buf_puts(b, "  ");
}

/* An integer's decimal digits without printf (a history is mostly
 * integers: ids, timestamps; printf was an eighth of a recorded run). */
static void put_integer(buf_t *b, json_int_t i) {
  char tmp[24], *p = tmp + sizeof tmp;
  unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i
                               : (unsigned long long)i;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (i < 0) *--p = '-';
  buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

static void dump(buf_t *b, const json_t *v, int flags, int depth) {
  const char *comma = (flags & JSONX_SPACED) && !(flags & JSONX_PRETTY)
                          ? ", " : ",";
  const char *colon = (flags & (JSONX_SPACED | JSONX_PRETTY)) ? ": " : ":";
  switch (json_typeof(v)) {
  case JSON_NULL: buf_puts(b, "null"); break;
  case JSON_TRUE: buf_puts(b, "true"); break;
  case JSON_FALSE: buf_puts(b, "false"); break;
  case JSON_INTEGER:
    put_integer(b, json_integer_value(v));
    break;
  case JSON_REAL: put_real(b, json_real_value(v)); break;
  case JSON_STRING:
    put_string(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
      if (i) buf_puts(b, comma);
      newline(b, flags, depth + 1);
      dump(b, json_array_get(v, i), flags, depth + 1);
    }
    if (n) newline(b, flags, depth);
    buf_putc(b, ']');
    break;
  }
  case JSON_OBJECT: {
    size_t n = json_object_size(v);
    const char *stack[16];
    const char **keys = n <= 16 ? stack : ms_malloc(n * sizeof *keys);
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) keys[i++] = k;
    if (flags & JSONX_SORT) qsort(keys, n, sizeof *keys, key_cmp);
    buf_putc(b, '{');
    for (i = 0; i < n; i++) {
      if (i) buf_puts(b, comma);
      newline(b, flags, depth + 1);
      put_string(b, keys[i], strlen(keys[i]));
      buf_puts(b, colon);
      dump(b, json_object_get(v, keys[i]), flags, depth + 1);
    }
    if (n) newline(b, flags, depth);
    buf_putc(b, '}');
    if (keys != stack) free(keys);
    break;
  }
  }
}

int jsonx_dump_buf(buf_t *b, const json_t *v, int flags) {
  dump(b, v, flags, 0);
  return MS_OK;
}

char *jsonx_dump(const json_t *v, int flags) {
  buf_t b;
  buf_init(&b);
  dump(&b, v, flags, 0);
  return buf_steal(&b);
}

size_t jsonx_size(const json_t *v) {
  buf_t b;
  buf_init(&b);
  dump(&b, v, JSONX_COMPACT, 0);
  size_t n = b.len;
  buf_free(&b);
  return n;
}

/* ---- values ---------------------------------------------------------- */

bool jsonx_number(const json_t *v, double *out) {
  if (json_is_integer(v)) { *out = (double)json_integer_value(v); return true; }
  if (json_is_real(v)) { *out = json_real_value(v); return true; }
  return false;
}

bool jsonx_equal(const json_t *a, const json_t *b) {
  if (a == b) return true;
  if (!a || !b) return false;
  if (json_is_number(a) && json_is_number(b)) {
    if (json_is_integer(a) && json_is_integer(b))
      return json_integer_value(a) == json_integer_value(b);
    double x, y;
    jsonx_number(a, &x);
    jsonx_number(b, &y);
    return x == y;
  }
  if (json_typeof(a) != json_typeof(b)) return false;
  switch (json_typeof(a)) {
  case JSON_ARRAY: {
    size_t n = json_array_size(a);
    if (n != json_array_size(b)) return false;
    for (size_t i = 0; i < n; i++)
      if (!jsonx_equal(json_array_get(a, i), json_array_get(b, i)))
        return false;
    return true;
  }
  case JSON_OBJECT: {
    if (json_object_size(a) != json_object_size(b)) return false;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)a, k, x) {
      if (!jsonx_equal(x, json_object_get(b, k))) return false;
    }
    return true;
  }
  default:
    return json_equal((json_t *)a, (json_t *)b);
  }
}

const char *jsonx_type_name(const json_t *v) {
  if (!v) return "missing";
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "null";
  }
  return "unknown";
}

/* Bytes of s as a compact JSON string, quotes included (as put_string). */
static size_t string_size(const char *s, size_t n) {
  size_t size = n + 2;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ||
        c == '\b' || c == '\f')
      size += 1;
    else if (c < 0x20)
      size += 5;
  }
  return size;
}

/* Add v's compact size to *size; false as soon as it passes limit, or
 * when v nests deeper than MS_JSON_DEPTH (depth: the arrays and objects
 * v is in, v included when it is one). */
static bool size_walk(const json_t *v, size_t limit, size_t *size,
                      int depth) {
  if (depth > MS_JSON_DEPTH && (json_is_array(v) || json_is_object(v)))
    return false;
  switch (json_typeof(v)) {
  case JSON_NULL: *size += 4; break;
  case JSON_TRUE: *size += 4; break;
  case JSON_FALSE: *size += 5; break;
  case JSON_INTEGER: {
    json_int_t i = json_integer_value(v);
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    size_t digits = 1;
    while (u >= 10) {
      u /= 10;
      digits++;
    }
    *size += digits + (i < 0);
    break;
  }
  case JSON_REAL: {
    buf_t b;
    buf_init(&b);
    put_real(&b, json_real_value(v));
    *size += b.len;
    buf_free(&b);
    break;
  }
  case JSON_STRING:
    *size += string_size(json_string_value(v), json_string_length(v));
    break;
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    *size += 2 + (n ? n - 1 : 0);
    for (size_t i = 0; i < n; i++)
      if (!size_walk(json_array_get(v, i), limit, size, depth + 1))
        return false;
    break;
  }
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    size_t n = json_object_size(v);
    *size += 2 + (n ? n - 1 : 0);
    json_object_foreach((json_t *)v, k, x) {
      *size += string_size(k, strlen(k)) + 1;
      if (*size > limit || !size_walk(x, limit, size, depth + 1))
        return false;
    }
    break;
  }
  }
  return *size <= limit;
}

bool jsonx_size_within(const json_t *v, size_t limit) {
  size_t size = 0;
  return size_walk(v, limit, &size, 1);
}

/* depth: as size_walk counts it. */
static bool depth_walk(const json_t *v, int max, int depth) {
  if (depth > max && (json_is_array(v) || json_is_object(v))) return false;
  size_t i;
  const char *k;
  json_t *x;
  if (json_is_array(v)) {
    json_array_foreach(v, i, x)
      if (!depth_walk(x, max, depth + 1)) return false;
  } else if (json_is_object(v)) {
    json_object_foreach((json_t *)v, k, x)
      if (!depth_walk(x, max, depth + 1)) return false;
  }
  return true;
}

bool jsonx_depth_within(const json_t *v, int max) {
  return depth_walk(v, max, 1);
}
