/* ddbval.c - DynamoDB's values (see ddbval.h): AttributeValue checks,
 * equality and order, memcmp-ordered key encodings, exact decimal numbers
 * and the DocumentClient mapping to and from plain JSON.
 *
 * A number is kept as sign, significant digits (no leading or trailing
 * zeros, at most 38 once checked) and a power of ten. Arithmetic works on
 * aligned digit strings, so it is exact; only the result is checked
 * against DynamoDB's limits. Expressions live in ddbexpr*.c.
 *
 * Confirmed: the accepted number syntax (a leading + is fine, spaces are
 * not) and the canonical text AWS reads numbers back in (plain digits,
 * never an exponent), from AWS responses quoted in public issues (boto3
 * 2500 and 4636, dynoxide 109, ExtendDB 7). Messages: the number ones
 * ("Number overflow. ...", "Attempting to store more than 38 significant
 * digits in a Number", "The parameter cannot be converted to a numeric
 * value: x"), the "Supplied AttributeValue ..." ones and the set ones
 * (empty, duplicates) are DynamoDB's wording as dynalite, checked against
 * AWS, has it; the NULL, binary, wrong-JSON-type and nesting messages are
 * best guesses.
 */
#include "ddbval.h"
#include "hash.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_DIGITS   38    /* DynamoDB: significant digits of a Number */
#define NUM_EXP_MAX  125   /* largest magnitude 9.99..E+125 */
#define NUM_EXP_MIN  (-130) /* smallest magnitude 1E-130 */
#define NUM_BUF      512   /* digits an aligned sum can need (< 330) */
#define AV_DEPTH     32    /* DynamoDB: nesting levels of an item */

/* ---- exact decimals --------------------------------------------------- */

typedef struct num {
  bool neg;
  int n;                  /* significant digits; 0 means zero */
  long long e;            /* value = digits * 10^e */
  char d[NUM_BUF];        /* '0'..'9' */
} num_t;

static char *msg_invalid(const char *text) {
  if (!*text)
    return ms_strdup("The parameter cannot be converted to a numeric value");
  return ms_asprintf("The parameter cannot be converted to a numeric "
                     "value: %s", text);
}

/* Check n digits and the exponent against DynamoDB's limits. */
static int num_limits(const num_t *x, char **err) {
  if (x->n == 0) return MS_OK;
  if (x->n > NUM_DIGITS) {
    if (err) *err = ms_strdup("Attempting to store more than 38 significant "
                              "digits in a Number");
    return MS_ERR;
  }
  long long adj = x->e + x->n - 1;
  if (adj > NUM_EXP_MAX) {
    if (err) *err = ms_strdup("Number overflow. Attempting to store a number "
                              "with magnitude larger than supported range");
    return MS_ERR;
  }
  if (adj < NUM_EXP_MIN) {
    if (err) *err = ms_strdup("Number underflow. Attempting to store a number "
                              "with magnitude smaller than supported range");
    return MS_ERR;
  }
  return MS_OK;
}

/* Strip leading and trailing zeros of digits s[0..len) into x. */
static void num_set(num_t *x, const char *s, size_t len, long long e) {
  while (len > 0 && *s == '0') s++, len--;
  while (len > 0 && s[len - 1] == '0') len--, e++;
  if (len == 0) {
    x->n = 0, x->e = 0, x->neg = false;
    return;
  }
  if (len > NUM_BUF) len = NUM_BUF;  /* only for unchecked inputs */
  memcpy(x->d, s, len);
  x->n = (int)len;
  x->e = e;
}

/* Parse DynamoDB number text ([+-]digits[.digits][e[+-]digits], or
 * .digits) and check it. */
static int num_parse(const char *text, num_t *x, char **err) {
  const char *p = text;
  bool neg = false;
  if (*p == '+' || *p == '-') neg = (*p++ == '-');
  size_t cap = strlen(p) + 1;
  char *dig = ms_malloc(cap);
  size_t m = 0;
  long long frac = 0;
  bool point = false, any = false;
  for (; *p; p++) {
    if (isdigit((unsigned char)*p)) {
      if (m == 0 && *p == '0' && !point) {
        any = true;
        continue;
      }
      dig[m++] = *p;
      if (point) frac++;
      any = true;
    } else if (*p == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  long long exp = 0;
  bool ok = any;
  if (ok && (*p == 'e' || *p == 'E')) {
    p++;
    bool eneg = false;
    if (*p == '+' || *p == '-') eneg = (*p++ == '-');
    if (!isdigit((unsigned char)*p)) ok = false;
    for (; isdigit((unsigned char)*p); p++)
      if (exp < 1000000000LL) exp = exp * 10 + (*p - '0');
    if (eneg) exp = -exp;
  }
  if (*p) ok = false;
  if (!ok) {
    free(dig);
    if (err) *err = msg_invalid(text);
    return MS_ERR;
  }
  /* leading zeros after the point were kept in dig; num_set strips them */
  size_t len = m;
  const char *s = dig;
  while (len > 0 && *s == '0') s++, len--;
  long long e = exp - frac;
  while (len > 0 && s[len - 1] == '0') len--, e++;
  if (len > NUM_DIGITS) {
    free(dig);
    x->n = NUM_DIGITS + 1;
    x->e = e;
    return num_limits(x, err);
  }
  num_set(x, s, len, e);
  x->neg = neg && x->n > 0;
  free(dig);
  return num_limits(x, err);
}

/* Canonical text: "-"? digits with a point where needed, never an
 * exponent: DynamoDB reads 1e100 back as 1 and 100 zeros (boto3 issues
 * 2500 and 4636 show what AWS returns). */
static char *num_format(const num_t *x) {
  if (x->n == 0) return ms_strdup("0");
  buf_t b;
  buf_init(&b);
  if (x->neg) buf_putc(&b, '-');
  long long intd = x->n + x->e;  /* digits before the point */
  if (x->e >= 0) {
    buf_append(&b, x->d, (size_t)x->n);
    for (long long i = 0; i < x->e; i++) buf_putc(&b, '0');
  } else if (intd > 0) {
    buf_append(&b, x->d, (size_t)intd);
    buf_putc(&b, '.');
    buf_append(&b, x->d + intd, (size_t)(x->n - intd));
  } else {
    buf_puts(&b, "0.");
    for (long long i = 0; i < -intd; i++) buf_putc(&b, '0');
    buf_append(&b, x->d, (size_t)x->n);
  }
  return buf_steal(&b);
}

/* Compare magnitudes. */
static int mag_cmp(const num_t *a, const num_t *b) {
  if (a->n == 0 || b->n == 0) return (a->n != 0) - (b->n != 0);
  long long aa = a->e + a->n - 1, ba = b->e + b->n - 1;
  if (aa != ba) return aa < ba ? -1 : 1;
  int n = a->n < b->n ? a->n : b->n;
  int c = memcmp(a->d, b->d, (size_t)n);
  if (c) return c < 0 ? -1 : 1;
  return (a->n > n) - (b->n > n);
}

static int num_cmp(const num_t *a, const num_t *b) {
  int sa = a->n == 0 ? 0 : a->neg ? -1 : 1;
  int sb = b->n == 0 ? 0 : b->neg ? -1 : 1;
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  int c = mag_cmp(a, b);
  return sa < 0 ? -c : c;
}

/* Write x's digits aligned to power emin into out[0..len), right-aligned
 * (out is zero-filled by the caller). */
static void align(const num_t *x, long long emin, char *out, size_t len) {
  size_t shift = (size_t)(x->e - emin);
  size_t start = len - shift - (size_t)x->n;
  memcpy(out + start, x->d, (size_t)x->n);
}

/* r = a + (neg_b ? -b : b), exact, then checked. */
static int num_addsub(const num_t *a, const num_t *b, bool neg_b, num_t *r,
                      char **err) {
  num_t bb = *b;
  if (neg_b && bb.n) bb.neg = !bb.neg;
  if (a->n == 0) { *r = bb; return num_limits(r, err); }
  if (bb.n == 0) { *r = *a; return num_limits(r, err); }
  long long emin = a->e < bb.e ? a->e : bb.e;
  long long top_a = a->e + a->n, top_b = bb.e + bb.n;
  long long top = top_a > top_b ? top_a : top_b;
  size_t len = (size_t)(top - emin) + 1;  /* one for a carry */
  if (len > NUM_BUF) {  /* cannot happen for checked inputs */
    if (err) *err = ms_strdup("Attempting to store more than 38 significant "
                              "digits in a Number");
    return MS_ERR;
  }
  char x[NUM_BUF], y[NUM_BUF], z[NUM_BUF];
  memset(x, 0, len), memset(y, 0, len);
  align(a, emin, x, len);
  align(&bb, emin, y, len);
  for (size_t i = 0; i < len; i++) {
    x[i] = x[i] ? x[i] - '0' : 0;
    y[i] = y[i] ? y[i] - '0' : 0;
  }
  bool neg;
  if (a->neg == bb.neg) {
    int carry = 0;
    for (size_t i = len; i-- > 0;) {
      int s = x[i] + y[i] + carry;
      z[i] = (char)(s % 10);
      carry = s / 10;
    }
    neg = a->neg;
  } else {
    int c = mag_cmp(a, &bb);
    if (c == 0) {
      r->n = 0, r->e = 0, r->neg = false;
      return MS_OK;
    }
    const char *big = c > 0 ? x : y, *small = c > 0 ? y : x;
    int borrow = 0;
    for (size_t i = len; i-- > 0;) {
      int s = big[i] - small[i] - borrow;
      borrow = s < 0;
      z[i] = (char)(s < 0 ? s + 10 : s);
    }
    neg = c > 0 ? a->neg : bb.neg;
  }
  for (size_t i = 0; i < len; i++) z[i] = (char)(z[i] + '0');
  num_set(r, z, len, emin);
  r->neg = neg && r->n > 0;
  return num_limits(r, err);
}

char *ddbnum_normalize(const char *text, char **err) {
  num_t x;
  if (num_parse(text, &x, err) != MS_OK) return NULL;
  return num_format(&x);
}

static char *addsub(const char *a, const char *b, bool sub, char **err) {
  num_t x, y, r;
  if (num_parse(a, &x, err) != MS_OK) return NULL;
  if (num_parse(b, &y, err) != MS_OK) return NULL;
  if (num_addsub(&x, &y, sub, &r, err) != MS_OK) return NULL;
  return num_format(&r);
}

char *ddbnum_add(const char *a, const char *b, char **err) {
  return addsub(a, b, false, err);
}

char *ddbnum_sub(const char *a, const char *b, char **err) {
  return addsub(a, b, true, err);
}

int ddbnum_cmp(const char *a, const char *b) {
  num_t x, y;
  if (num_parse(a, &x, NULL) != MS_OK || num_parse(b, &y, NULL) != MS_OK)
    return strcmp(a, b);
  return num_cmp(&x, &y);
}

/* ---- base64 (B values) ------------------------------------------------ */

/* Decode standard base64 into out (hash.c's decoder; DynamoDB also wants
 * the '=' padding). -1 when s is not base64. */
static int b64_decode(const char *s, size_t len, buf_t *out) {
  size_t n;
  char *bytes = len % 4 ? NULL : hash_base64_decode(s, len, &n);
  if (!bytes) return MS_ERR;
  buf_append(out, bytes, n);
  free(bytes);
  if (!out->data) buf_append(out, "", 0);
  return MS_OK;
}

/* The bytes of a B value's base64 text (invalid base64: the text itself,
 * so comparisons stay total). */
static void b_bytes(const json_t *s, buf_t *out) {
  const char *t = json_string_value(s);
  size_t n = json_string_length(s);
  if (!t || b64_decode(t, n, out) != MS_OK) {
    out->len = 0;
    buf_append(out, t ? t : "", t ? n : 0);
  }
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c < 0 ? -1 : 1;
  return (an > bn) - (an < bn);
}

/* ---- types, checks, equality, order ----------------------------------- */

static const char *const types[] = {
  "S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS",
};

const char *ddbval_type(const json_t *av) {
  if (!json_is_object(av) || json_object_size(av) != 1) return NULL;
  const char *k = json_object_iter_key(json_object_iter((json_t *)av));
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (strcmp(k, types[i]) == 0) return types[i];
  return NULL;
}

static json_t *peek(const json_t *av) {
  return json_object_iter_value(json_object_iter((json_t *)av));
}

/* Equality of two scalar members of type t (S, N, B). */
static bool scalar_equal(const char *t, const json_t *a, const json_t *b) {
  if (!json_is_string(a) || !json_is_string(b)) return false;
  if (t[0] == 'N') return ddbnum_cmp(json_string_value(a),
                                     json_string_value(b)) == 0;
  if (t[0] == 'B') {
    buf_t x, y;
    buf_init(&x), buf_init(&y);
    b_bytes(a, &x), b_bytes(b, &y);
    bool eq = bytes_cmp(x.data, x.len, y.data, y.len) == 0;
    buf_free(&x), buf_free(&y);
    return eq;
  }
  return json_string_length(a) == json_string_length(b) &&
         memcmp(json_string_value(a), json_string_value(b),
                json_string_length(a)) == 0;
}

static bool set_has(const char *t, const json_t *set, const json_t *m) {
  size_t i;
  json_t *x;
  json_array_foreach(set, i, x)
    if (scalar_equal(t, x, m)) return true;
  return false;
}

static const char *set_scalar(const char *t) {
  return t[1] == 'S' && t[0] != 'S' ? (t[0] == 'N' ? "N" : "B") :
         strcmp(t, "SS") == 0 ? "S" : NULL;
}

/* DynamoDB's words for a set with a duplicate (as dynalite has them):
 * the members for SS and BS, none for NS. */
static char *dup_message(const char *st, const json_t *set) {
  if (st[0] == 'N') return ms_strdup("Input collection contains duplicates");
  buf_t b;
  buf_init(&b);
  buf_puts(&b, "One or more parameter values were invalid: Input "
               "collection [");
  size_t i;
  json_t *x;
  json_array_foreach(set, i, x) {
    if (i) buf_puts(&b, ", ");
    buf_append(&b, json_string_value(x), json_string_length(x));
  }
  buf_puts(&b, st[0] == 'B' ? "]of type BS contains duplicates." :
                              "] contains duplicates.");
  return buf_steal(&b);
}

static int check(const json_t *av, int depth, char **err) {
  if (depth > AV_DEPTH) {
    *err = ms_strdup("Nesting Levels have exceeded supported limits");
    return MS_ERR;
  }
  if (!json_is_object(av) || json_object_size(av) == 0) {
    *err = ms_strdup("Supplied AttributeValue is empty, must contain exactly "
                     "one of the supported datatypes");
    return MS_ERR;
  }
  if (json_object_size(av) > 1) {
    *err = ms_strdup("Supplied AttributeValue has more than one datatypes "
                     "set, must contain exactly one of the supported "
                     "datatypes");
    return MS_ERR;
  }
  const char *t = ddbval_type(av);
  json_t *v = peek(av);
  if (!t) {
    *err = ms_strdup("Supplied AttributeValue is empty, must contain exactly "
                     "one of the supported datatypes");
    return MS_ERR;
  }
  size_t i;
  json_t *x;
  const char *k;
  if (strcmp(t, "S") == 0) {
    if (json_is_string(v)) return MS_OK;
  } else if (strcmp(t, "N") == 0) {
    if (json_is_string(v)) {
      num_t n;
      return num_parse(json_string_value(v), &n, err);
    }
  } else if (strcmp(t, "B") == 0) {
    if (json_is_string(v)) {
      buf_t b;
      buf_init(&b);
      int rc = b64_decode(json_string_value(v), json_string_length(v), &b);
      buf_free(&b);
      if (rc == MS_OK) return MS_OK;
      *err = ms_strdup("One or more parameter values were invalid: Invalid "
                       "binary value: not base64");
      return MS_ERR;
    }
  } else if (strcmp(t, "BOOL") == 0) {
    if (json_is_boolean(v)) return MS_OK;
  } else if (strcmp(t, "NULL") == 0) {
    if (json_is_true(v)) return MS_OK;
    *err = ms_strdup("One or more parameter values were invalid: Null "
                     "attribute value types must have the value of true");
    return MS_ERR;
  } else if (strcmp(t, "L") == 0) {
    if (json_is_array(v)) {
      json_array_foreach(v, i, x)
        if (check(x, depth + 1, err) != MS_OK) return MS_ERR;
      return MS_OK;
    }
  } else if (strcmp(t, "M") == 0) {
    if (json_is_object(v)) {
      json_object_foreach(v, k, x)
        if (check(x, depth + 1, err) != MS_OK) return MS_ERR;
      return MS_OK;
    }
  } else if (json_is_array(v)) {  /* SS NS BS */
    const char *st = set_scalar(t);
    const char *name = st[0] == 'S' ? "string" : st[0] == 'N' ? "number" :
                       "binary";
    if (json_array_size(v) == 0) {
      if (st[0] == 'B')
        *err = ms_strdup("One or more parameter values were invalid: Binary "
                         "sets should not be empty");
      else
        *err = ms_asprintf("One or more parameter values were invalid: An "
                           "%s set  may not be empty", name);
      return MS_ERR;
    }
    json_array_foreach(v, i, x) {
      if (!json_is_string(x)) goto bad;
      json_t *one = json_pack("{sO}", st, x);
      int rc = check(one, depth + 1, err);
      json_decref(one);
      if (rc != MS_OK) return MS_ERR;
      for (size_t j = 0; j < i; j++) {
        if (scalar_equal(st, json_array_get(v, j), x)) {
          *err = dup_message(st, v);
          return MS_ERR;
        }
      }
    }
    return MS_OK;
  }
bad:
  *err = ms_asprintf("One or more parameter values were invalid: the %s "
                     "member has the wrong JSON type", t);
  return MS_ERR;
}

int ddbval_check(const json_t *av, char **err) {
  return check(av, 1, err);
}

bool ddbval_equal(const json_t *a, const json_t *b) {
  const char *ta = ddbval_type(a), *tb = ddbval_type(b);
  if (!ta || !tb || ta != tb) return false;
  json_t *x = peek(a), *y = peek(b);
  if (strcmp(ta, "NULL") == 0) return json_equal(x, y);
  switch (ta[0]) {
  case 'S': case 'N': case 'B':
    if (ta[1] == '\0') return scalar_equal(ta, x, y);
    if (ta[1] == 'O') return json_equal(x, y);  /* BOOL */
    break;
  case 'L': {
    if (json_array_size(x) != json_array_size(y)) return false;
    for (size_t i = 0; i < json_array_size(x); i++)
      if (!ddbval_equal(json_array_get(x, i), json_array_get(y, i)))
        return false;
    return true;
  }
  case 'M': {
    if (json_object_size(x) != json_object_size(y)) return false;
    const char *k;
    json_t *v;
    json_object_foreach(x, k, v) {
      json_t *w = json_object_get(y, k);
      if (!w || !ddbval_equal(v, w)) return false;
    }
    return true;
  }
  default:  /* NULL */
    return json_equal(x, y);
  }
  /* sets: SS NS BS */
  const char *st = set_scalar(ta);
  if (json_array_size(x) != json_array_size(y)) return false;
  size_t i;
  json_t *m;
  json_array_foreach(x, i, m)
    if (!set_has(st, y, m)) return false;
  return true;
}

int ddbval_compare(const json_t *a, const json_t *b) {
  const char *ta = ddbval_type(a), *tb = ddbval_type(b);
  if (!ta || ta != tb || ta[1] != '\0' || ta[0] == 'L' || ta[0] == 'M')
    return 0;
  json_t *x = peek(a), *y = peek(b);
  if (!json_is_string(x) || !json_is_string(y)) return 0;
  if (ta[0] == 'N')
    return ddbnum_cmp(json_string_value(x), json_string_value(y));
  if (ta[0] == 'S')
    return bytes_cmp(json_string_value(x), json_string_length(x),
                     json_string_value(y), json_string_length(y));
  buf_t p, q;
  buf_init(&p), buf_init(&q);
  b_bytes(x, &p), b_bytes(y, &q);
  int c = bytes_cmp(p.data, p.len, q.data, q.len);
  buf_free(&p), buf_free(&q);
  return c;
}

/* N: 0x01 negative | 0x02 zero | 0x03 positive; then the adjusted exponent
 * as one byte (+130, so -130..125 fits 0..255) and the digits, ended by a
 * byte below every digit; for negatives the exponent byte and the digits
 * are complemented and the end byte is above every digit. */
int ddbval_key_bytes(const json_t *av, buf_t *out, char **err) {
  const char *t = ddbval_type(av);
  json_t *v = t ? peek(av) : NULL;
  if (!t || t[1] != '\0' || !json_is_string(v) ||
      (t[0] != 'S' && t[0] != 'N' && t[0] != 'B')) {
    *err = ms_strdup("Invalid attribute value type for a key: must be S, N "
                     "or B");
    return MS_ERR;
  }
  if (t[0] == 'S') {
    buf_append(out, json_string_value(v), json_string_length(v));
    return MS_OK;
  }
  if (t[0] == 'B') {
    if (b64_decode(json_string_value(v), json_string_length(v), out)
        != MS_OK) {
      *err = ms_strdup("One or more parameter values were invalid: Invalid "
                       "binary value: not base64");
      return MS_ERR;
    }
    return MS_OK;
  }
  num_t x;
  if (num_parse(json_string_value(v), &x, err) != MS_OK) return MS_ERR;
  if (x.n == 0) return buf_putc(out, 0x02);
  int adj = (int)(x.e + x.n - 1 - NUM_EXP_MIN);  /* 0..255 */
  buf_putc(out, x.neg ? 0x01 : 0x03);
  buf_putc(out, (char)(unsigned char)(x.neg ? 255 - adj : adj));
  for (int i = 0; i < x.n; i++)
    buf_putc(out, x.neg ? (char)('9' - x.d[i] + '0') : x.d[i]);
  return buf_putc(out, x.neg ? (char)0xff : 0x00);
}

/* ---- the DocumentClient mapping --------------------------------------- */

static json_t *av1(const char *type, json_t *v) {
  json_t *o = json_object();
  json_object_set_new(o, type, v);
  return o;
}

json_t *ddbval_from_plain(const json_t *plain, char **err) {
  switch (json_typeof(plain)) {
  case JSON_STRING:
    return av1("S", json_stringn(json_string_value(plain),
                                 json_string_length(plain)));
  case JSON_INTEGER:
    return av1("N", json_sprintf("%" JSON_INTEGER_FORMAT,
                                 json_integer_value(plain)));
  case JSON_REAL: {
    char *text = jsonx_dump(plain, JSONX_COMPACT);
    char *n = ddbnum_normalize(text, err);
    free(text);
    if (!n) return NULL;
    json_t *av = av1("N", json_string(n));
    free(n);
    return av;
  }
  case JSON_TRUE: return av1("BOOL", json_true());
  case JSON_FALSE: return av1("BOOL", json_false());
  case JSON_NULL: return av1("NULL", json_true());
  case JSON_ARRAY: {
    json_t *l = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(plain, i, x) {
      json_t *y = ddbval_from_plain(x, err);
      if (!y) {
        json_decref(l);
        return NULL;
      }
      json_array_append_new(l, y);
    }
    return av1("L", l);
  }
  case JSON_OBJECT: {
    json_t *m = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)plain, k, x) {
      json_t *y = ddbval_from_plain(x, err);
      if (!y) {
        json_decref(m);
        return NULL;
      }
      json_object_set_new(m, k, y);
    }
    return av1("M", m);
  }
  }
  *err = ms_strdup("value cannot be converted to an AttributeValue");
  return NULL;
}

/* N text -> an integer when it is one and fits 64 bits, else a real. */
static json_t *plain_number(const char *text) {
  num_t x;
  if (num_parse(text, &x, NULL) != MS_OK) return json_string(text);
  if (x.e >= 0 && x.n + x.e <= 19) {
    char *s = num_format(&x);
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    bool ok = errno == 0 && *end == '\0';
    free(s);
    if (ok) return json_integer(v);
  }
  return json_real(strtod(text, NULL));
}

json_t *ddbval_to_plain(const json_t *av) {
  const char *t = ddbval_type(av);
  if (!t) return json_null();
  json_t *v = peek(av);
  size_t i;
  json_t *x;
  if (strcmp(t, "N") == 0)
    return json_is_string(v) ? plain_number(json_string_value(v)) :
                               json_null();
  if (strcmp(t, "S") == 0 || strcmp(t, "B") == 0 ||
      strcmp(t, "BOOL") == 0)
    return json_incref(v);
  if (strcmp(t, "NULL") == 0) return json_null();
  json_t *out;
  if (strcmp(t, "M") == 0) {
    out = json_object();
    const char *k;
    json_object_foreach(v, k, x)
      json_object_set_new(out, k, ddbval_to_plain(x));
    return out;
  }
  out = json_array();
  json_array_foreach(v, i, x) {
    if (strcmp(t, "L") == 0)
      json_array_append_new(out, ddbval_to_plain(x));
    else if (strcmp(t, "NS") == 0)
      json_array_append_new(out, json_is_string(x) ?
                            plain_number(json_string_value(x)) : json_null());
    else
      json_array_append(out, x);
  }
  return out;
}
