/* intrinsic.c - the 18 States.* intrinsic functions of JSONPath-mode ASL:
 * a small recursive-descent parser that turns "States.Name(arg, ...)" into a
 * tree once, and an evaluator with AWS's semantics and quirks.
 *
 * Functions are rows of one table (name, arity, argument kinds, evaluator);
 * arity and literal argument kinds are checked there at compile time, the
 * kinds of evaluated values at run time. Path arguments go through jpath;
 * digests and base64 through hash. Every run-time failure is States.Runtime
 * with AWS's cause "The function '<expression as written>' had the following
 * error: <why>" (the interpreter adds the "An error occurred while executing
 * the state ..." prefix).
 */
#include "intrinsic.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "jpath.h"

#define STR_MAX 10000     /* AWS: Base64Encode/Decode and Hash inputs */
#define RANGE_MAX 1000    /* AWS: States.ArrayRange makes at most 1000 items */
#define EXACT_MAX 9007199254740992.0 /* 2^53: beyond it doubles skip ints */

typedef struct node node_t;

typedef enum { ARG_LIT, ARG_PATH, ARG_CALL } argkind_t;

typedef struct arg {
  argkind_t kind;
  json_t *lit;    /* ARG_LIT: the value */
  char *raw;      /* ARG_LIT string: the text between the quotes, escapes
                     kept (States.Format needs \{ apart from {) */
  jpath_t *path;  /* ARG_PATH */
  node_t *call;   /* ARG_CALL */
} arg_t;

typedef struct ev {
  const intrinsic_t *c;
  const jscope_t *s;
  fault_t *f;
} ev_t;

typedef json_t *(*fn_eval_t)(ev_t *e, const node_t *nd, json_t **v,
                             size_t n);

/* Argument kinds, one letter per position: s string, n number, a array,
 * o object, b boolean, * anything. The last letter repeats for variadic
 * functions. */
typedef struct fn {
  const char *name;   /* without "States." */
  int min, max;       /* arity; max -1: no limit */
  const char *kinds;
  fn_eval_t eval;
} fn_t;

struct node {
  const fn_t *fn;
  arg_t *args;
  size_t nargs;
};

struct intrinsic {
  node_t *root;
  char *text;         /* the expression as written, for causes */
};

/* ---- run-time helpers ------------------------------------------------ */

static json_t *fail(ev_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *fail(ev_t *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *why = ms_vasprintf(fmt, ap);
  va_end(ap);
  fault_runtime(e->f, "The function '%s' had the following error: %s",
                e->c->text, why);
  free(why);
  return NULL;
}

/* Integral value of a number, also from a real such as 3.0. */
/* Both helpers keep results within +-2^53 so sums and spans cannot
 * overflow. */
static bool small_int(const json_t *v, long long *out) {
  if (!json_is_integer(v)) return false;
  json_int_t x = json_integer_value(v);
  if (x > (json_int_t)EXACT_MAX || x < -(json_int_t)EXACT_MAX) return false;
  *out = (long long)x;
  return true;
}

static bool as_int(const json_t *v, long long *out) {
  if (json_is_integer(v)) return small_int(v, out);
  if (!json_is_real(v)) return false;
  double d = json_real_value(v);
  if (d != floor(d) || fabs(d) > EXACT_MAX) return false;
  *out = (long long)d;
  return true;
}

/* AWS's rounding for MathAdd and MathRandom: half up, toward +inf. */
static bool rounded(const json_t *v, long long *out) {
  double d;
  if (json_is_integer(v)) return small_int(v, out);
  if (!jsonx_number(v, &d) || !(fabs(d) <= EXACT_MAX)) return false;
  *out = (long long)floor(d + 0.5);
  return true;
}

static json_t *str_take(ev_t *e, char *s, size_t n) {
  json_t *v = json_stringn(s, n);
  free(s);
  if (!v) return fail(e, "The result is not valid UTF-8 text");
  return v;
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* ---- States.Format --------------------------------------------------- */

/* A value as Java's toString prints it: strings raw, {k=v, ...}, [a, b]. */
static void java_str(buf_t *b, const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_STRING:
    buf_append(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_ARRAY: {
    buf_putc(b, '[');
    for (size_t i = 0; i < json_array_size(v); i++) {
      if (i) buf_puts(b, ", ");
      java_str(b, json_array_get(v, i));
    }
    buf_putc(b, ']');
    break;
  }
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    bool first = true;
    buf_putc(b, '{');
    json_object_foreach((json_t *)v, k, x) {
      if (!first) buf_puts(b, ", ");
      first = false;
      buf_puts(b, k);
      buf_putc(b, '=');
      java_str(b, x);
    }
    buf_putc(b, '}');
    break;
  }
  default:
    jsonx_dump_buf(b, v, JSONX_COMPACT);
  }
}

/* A template literal keeps its escapes: \{ \} \' \\ are literal characters,
 * an unescaped {} is a placeholder. A template read from a path has no
 * escapes; every {} in it is a placeholder. */
static json_t *f_format(ev_t *e, const node_t *nd, json_t **v, size_t n) {
  const char *t;
  size_t tn;
  bool escapes = nd->args[0].kind == ARG_LIT;
  if (escapes) {
    t = nd->args[0].raw;
    tn = strlen(t);
  } else {
    t = json_string_value(v[0]);
    tn = json_string_length(v[0]);
  }
  buf_t b;
  buf_init(&b);
  buf_append(&b, "", 0);
  size_t used = 0, holes = 0;
  for (size_t i = 0; i < tn; i++) {
    if (escapes && t[i] == '\\' && i + 1 < tn &&
        strchr("'\\{}", t[i + 1])) {
      buf_putc(&b, t[++i]);
    } else if (t[i] == '{' && i + 1 < tn && t[i + 1] == '}') {
      holes++;
      if (used + 1 < n) java_str(&b, v[++used]);
      i++;
    } else {
      buf_putc(&b, t[i]);
    }
  }
  if (holes != n - 1) {
    buf_free(&b);
    return fail(e, "The number of arguments (%zu) does not match the number "
                "of placeholders (%zu) in the template", n - 1, holes);
  }
  size_t len = b.len;
  return str_take(e, buf_steal(&b), len);
}

/* ---- JSON ------------------------------------------------------------ */

static json_t *f_string_to_json(ev_t *e, const node_t *nd, json_t **v,
                                size_t n) {
  (void)nd; (void)n;
  const char *s = json_string_value(v[0]);
  size_t len = json_string_length(v[0]), i = 0;
  while (i < len && isspace((unsigned char)s[i])) i++;
  if (i == len) return json_null();  /* AWS: "" and blanks give null */
  char *err = NULL;
  json_t *r = jsonx_parse(s, len, &err);
  if (!r) {
    json_t *x = fail(e, "The argument is not valid JSON text (%s)", err);
    free(err);
    return x;
  }
  return r;
}

static json_t *f_json_to_string(ev_t *e, const node_t *nd, json_t **v,
                                size_t n) {
  (void)nd; (void)n;
  char *s = jsonx_dump(v[0], JSONX_COMPACT);
  return str_take(e, s, strlen(s));
}

static json_t *f_json_merge(ev_t *e, const node_t *nd, json_t **v,
                            size_t n) {
  (void)nd; (void)n;
  if (json_is_true(v[2]))
    return fail(e, "Deep merge is not supported; the third argument must be "
                "false");
  json_t *r = json_copy(v[0]);  /* members shared, copied on write */
  json_object_update(r, v[1]);  /* shallow: b's keys replace a's */
  return r;
}

/* ---- arrays ---------------------------------------------------------- */

static json_t *f_array(ev_t *e, const node_t *nd, json_t **v, size_t n) {
  (void)e; (void)nd;
  json_t *r = json_array();
  for (size_t i = 0; i < n; i++) json_array_append(r, v[i]);
  return r;
}

static json_t *f_array_partition(ev_t *e, const node_t *nd, json_t **v,
                                 size_t n) {
  (void)nd; (void)n;
  long long k;
  if (!as_int(v[1], &k) || k <= 0)
    return fail(e, "The chunk size must be an integer greater than 0");
  json_t *r = json_array(), *chunk = NULL;
  for (size_t i = 0; i < json_array_size(v[0]); i++) {
    if (i % (size_t)k == 0) {
      chunk = json_array();
      json_array_append_new(r, chunk);
    }
    json_array_append(chunk, json_array_get(v[0], i));
  }
  return r;
}

static json_t *f_array_contains(ev_t *e, const node_t *nd, json_t **v,
                                size_t n) {
  (void)e; (void)nd; (void)n;
  for (size_t i = 0; i < json_array_size(v[0]); i++)
    if (jsonx_equal(json_array_get(v[0], i), v[1])) return json_true();
  return json_false();
}

static json_t *f_array_range(ev_t *e, const node_t *nd, json_t **v,
                             size_t n) {
  (void)nd; (void)n;
  long long a, z, step;
  if (!as_int(v[0], &a) || !as_int(v[1], &z) || !as_int(v[2], &step))
    return fail(e, "The start, end and step arguments must be integers");
  if (step == 0) return fail(e, "The step argument must not be 0");
  long long count = 0;
  if (step > 0 && a <= z) count = (z - a) / step + 1;
  if (step < 0 && a >= z) count = (a - z) / -step + 1;
  if (count > RANGE_MAX)
    return fail(e, "The array would have %lld items; the limit is %d",
                count, RANGE_MAX);
  json_t *r = json_array();
  for (long long i = 0; i < count; i++)
    json_array_append_new(r, json_integer(a + i * step));
  return r;
}

static json_t *f_array_get_item(ev_t *e, const node_t *nd, json_t **v,
                                size_t n) {
  (void)nd; (void)n;
  long long i;
  if (!as_int(v[1], &i)) return fail(e, "The index must be an integer");
  size_t len = json_array_size(v[0]);
  if (i < 0 || (unsigned long long)i >= len)
    return fail(e, "The index %lld is out of bounds for an array of length "
                "%zu", i, len);
  return json_incref(json_array_get(v[0], (size_t)i));
}

static json_t *f_array_length(ev_t *e, const node_t *nd, json_t **v,
                              size_t n) {
  (void)e; (void)nd; (void)n;
  return json_integer((json_int_t)json_array_size(v[0]));
}

static uint64_t fnv(const char *s, size_t n) {  /* FNV-1a */
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

/* A hash that agrees with jsonx_equal: equal values hash alike (numbers
 * by their double value, members of objects in any order). */
static uint64_t vhash(const json_t *v) {
  uint64_t h = 0x9e3779b97f4a7c15ULL * (uint64_t)(json_typeof(v) + 1);
  double d;
  switch (json_typeof(v)) {
  case JSON_INTEGER:
  case JSON_REAL:
    jsonx_number(v, &d);
    if (d == 0) d = 0;  /* -0.0 == 0.0 */
    memcpy(&h, &d, sizeof h);
    return splitmix(&h);
  case JSON_STRING:
    return fnv(json_string_value(v), json_string_length(v));
  case JSON_ARRAY:
    for (size_t i = 0; i < json_array_size(v); i++) {
      uint64_t x = h ^ vhash(json_array_get(v, i));
      h = splitmix(&x);
    }
    return h;
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    uint64_t sum = 0;
    json_object_foreach((json_t *)v, k, x) {
      uint64_t m = fnv(k, strlen(k)) ^ vhash(x);
      sum += splitmix(&m);
    }
    return h ^ sum;
  }
  default:
    return h;
  }
}

/* First occurrences in order; a hash table of indexes into the result
 * keeps it linear (a nested loop took seconds on a 256 KiB array). */
static json_t *f_array_unique(ev_t *e, const node_t *nd, json_t **v,
                              size_t n) {
  (void)e; (void)nd; (void)n;
  size_t len = json_array_size(v[0]), cap = 16;
  while (cap < 2 * len) cap *= 2;
  size_t *slot = ms_malloc(cap * sizeof *slot);  /* 0: empty; else j + 1 */
  memset(slot, 0, cap * sizeof *slot);
  json_t *r = json_array();
  for (size_t i = 0; i < len; i++) {
    json_t *x = json_array_get(v[0], i);
    size_t k = (size_t)vhash(x) & (cap - 1);
    bool seen = false;
    for (; slot[k] && !seen; k = (k + 1) & (cap - 1))
      seen = jsonx_equal(json_array_get(r, slot[k] - 1), x);
    if (seen) continue;
    json_array_append(r, x);
    slot[k] = json_array_size(r);
  }
  free(slot);
  return r;
}

/* ---- encoding and hashing -------------------------------------------- */

/* Length in Java chars (UTF-16 code units), what AWS's "characters" most
 * likely counts (a guess; its docs say 10,000 characters, not bytes). */
static size_t java_length(const json_t *v) {
  const unsigned char *s = (const unsigned char *)json_string_value(v);
  size_t n = 0, len = json_string_length(v);
  for (size_t i = 0; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) n += s[i] >= 0xF0 ? 2 : 1;
  return n;
}

static json_t *f_base64_encode(ev_t *e, const node_t *nd, json_t **v,
                               size_t n) {
  (void)nd; (void)n;
  size_t len = json_string_length(v[0]);
  if (java_length(v[0]) > STR_MAX)
    return fail(e, "The input is longer than %d characters", STR_MAX);
  char *s = hash_base64_encode(json_string_value(v[0]), len);
  return str_take(e, s, strlen(s));
}

static json_t *f_base64_decode(ev_t *e, const node_t *nd, json_t **v,
                               size_t n) {
  (void)nd; (void)n;
  size_t len = json_string_length(v[0]), out;
  if (len > STR_MAX)
    return fail(e, "The input is longer than %d characters", STR_MAX);
  char *s = hash_base64_decode(json_string_value(v[0]), len, &out);
  if (!s) return fail(e, "The input is not valid base64 text");
  return str_take(e, s, out);
}

static json_t *f_hash(ev_t *e, const node_t *nd, json_t **v, size_t n) {
  (void)nd; (void)n;
  size_t len = json_string_length(v[0]);
  if (java_length(v[0]) > STR_MAX)
    return fail(e, "The input is longer than %d characters", STR_MAX);
  const char *alg = json_string_value(v[1]);
  char *h = hash_hex(alg, json_string_value(v[0]), len);
  if (!h)
    return fail(e, "The hash algorithm '%s' is not supported; use MD5, "
                "SHA-1, SHA-256, SHA-384 or SHA-512", alg);
  return str_take(e, h, strlen(h));
}

/* ---- math ------------------------------------------------------------ */

static json_t *f_math_random(ev_t *e, const node_t *nd, json_t **v,
                             size_t n) {
  (void)nd;
  long long a, z, seed = 0;
  if (!rounded(v[0], &a) || !rounded(v[1], &z) ||
      (n > 2 && !rounded(v[2], &seed)))
    return fail(e, "The arguments must be numbers between -2^53 and 2^53");
  if (a >= z)
    return fail(e, "The start %lld must be less than the end %lld", a, z);
  uint64_t x, span = (uint64_t)(z - a);
  if (n > 2) {
    uint64_t st = (uint64_t)seed;
    x = splitmix(&st);
  } else {
    ms_random_bytes(&x, sizeof x);
  }
  return json_integer((json_int_t)(a + (long long)(x % span)));
}

static json_t *f_math_add(ev_t *e, const node_t *nd, json_t **v, size_t n) {
  (void)nd; (void)n;
  long long a, b;
  if (!rounded(v[0], &a) || !rounded(v[1], &b))
    return fail(e, "The arguments must be numbers between -2^53 and 2^53");
  return json_integer((json_int_t)(a + b));
}

/* ---- strings and ids ------------------------------------------------- */

/* Length of the UTF-8 sequence starting at s (1 for stray bytes). */
static size_t u8len(const char *s, size_t left) {
  unsigned char c = (unsigned char)*s;
  size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  return k <= left ? k : left;
}

static bool in_set(const char *set, size_t setn, const char *ch, size_t k) {
  for (size_t i = 0; i < setn;) {
    size_t m = u8len(set + i, setn - i);
    if (m == k && memcmp(set + i, ch, k) == 0) return true;
    i += m;
  }
  return false;
}

/* AWS: the delimiter is a set of characters; empty pieces are dropped. */
static json_t *f_string_split(ev_t *e, const node_t *nd, json_t **v,
                              size_t n) {
  (void)e; (void)nd; (void)n;
  const char *s = json_string_value(v[0]), *d = json_string_value(v[1]);
  size_t len = json_string_length(v[0]), dn = json_string_length(v[1]);
  json_t *r = json_array();
  size_t start = 0;
  for (size_t i = 0; i <= len;) {
    size_t k = i < len ? u8len(s + i, len - i) : 0;
    if (i == len || in_set(d, dn, s + i, k)) {
      if (i > start) json_array_append_new(r, json_stringn(s + start,
                                                           i - start));
      if (i == len) break;
      start = i + k;
    }
    i += k;
  }
  return r;
}

static json_t *f_uuid(ev_t *e, const node_t *nd, json_t **v, size_t n) {
  (void)e; (void)nd; (void)v; (void)n;
  char s[37];
  ms_uuid4(s);
  return json_string(s);
}

/* ---- the table ------------------------------------------------------- */

static const fn_t fns[] = {
  {"Format", 1, -1, "s*", f_format},
  {"StringToJson", 1, 1, "s", f_string_to_json},
  {"JsonToString", 1, 1, "*", f_json_to_string},
  {"Array", 0, -1, "*", f_array},
  {"ArrayPartition", 2, 2, "an", f_array_partition},
  {"ArrayContains", 2, 2, "a*", f_array_contains},
  {"ArrayRange", 3, 3, "nnn", f_array_range},
  {"ArrayGetItem", 2, 2, "an", f_array_get_item},
  {"ArrayLength", 1, 1, "a", f_array_length},
  {"ArrayUnique", 1, 1, "a", f_array_unique},
  {"Base64Encode", 1, 1, "s", f_base64_encode},
  {"Base64Decode", 1, 1, "s", f_base64_decode},
  {"Hash", 2, 2, "ss", f_hash},
  {"JsonMerge", 3, 3, "oob", f_json_merge},
  {"MathRandom", 2, 3, "nnn", f_math_random},
  {"MathAdd", 2, 2, "nn", f_math_add},
  {"StringSplit", 2, 2, "ss", f_string_split},
  {"UUID", 0, 0, "", f_uuid},
};

static const fn_t *fn_find(const char *name, size_t n) {
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (strlen(fns[i].name) == n && memcmp(fns[i].name, name, n) == 0)
      return &fns[i];
  return NULL;
}

static char kind_at(const fn_t *fn, size_t i) {
  size_t k = strlen(fn->kinds);
  if (k == 0) return '*';
  return fn->kinds[i < k ? i : k - 1];
}

static const char *kind_name(char k) {
  switch (k) {
  case 's': return "a string";
  case 'n': return "a number";
  case 'a': return "an array";
  case 'o': return "an object";
  case 'b': return "a boolean";
  }
  return "a value";
}

static bool kind_ok(char k, const json_t *v) {
  switch (k) {
  case 's': return json_is_string(v);
  case 'n': return json_is_number(v);
  case 'a': return json_is_array(v);
  case 'o': return json_is_object(v);
  case 'b': return json_is_boolean(v);
  }
  return true;
}

/* ---- evaluation ------------------------------------------------------ */

static json_t *eval_node(ev_t *e, const node_t *nd);

static json_t *eval_path(ev_t *e, const jpath_t *p) {
  json_t *v = jpath_eval(p, e->s, NULL);
  if (v) return v;
  /* AWS names a $$ path rewritten against "$" and shows the state input. */
  const char *t = jpath_text(p);
  if (jpath_root(p) == JPATH_CONTEXT) t++;
  char *in = e->s->input ? jsonx_dump(e->s->input, JSONX_COMPACT)
                         : ms_strdup("null");
  fail(e, "The JsonPath argument for the field '%s' could not be found in "
       "the input '%s'", t, in);
  free(in);
  return NULL;
}

static json_t *eval_node(ev_t *e, const node_t *nd) {
  json_t *few[4] = {NULL};  /* most calls: no allocation for arguments */
  json_t **v = nd->nargs <= 4 ? few : ms_calloc(nd->nargs, sizeof *v);
  json_t *r = NULL;
  size_t i;
  for (i = 0; i < nd->nargs; i++) {
    const arg_t *a = &nd->args[i];
    if (a->kind == ARG_LIT) v[i] = json_incref(a->lit);
    else if (a->kind == ARG_PATH) v[i] = eval_path(e, a->path);
    else v[i] = eval_node(e, a->call);
    if (!v[i]) goto done;
    char k = kind_at(nd->fn, i);
    if (!kind_ok(k, v[i])) {
      fail(e, "Argument %zu of States.%s must be %s, but it is %s %s", i + 1,
           nd->fn->name, kind_name(k),
           json_is_array(v[i]) || json_is_integer(v[i]) ? "an" : "a",
           jsonx_type_name(v[i]));
      goto done;
    }
  }
  r = nd->fn->eval(e, nd, v, nd->nargs);
done:
  for (size_t j = 0; j < nd->nargs; j++) json_decref(v[j]);
  if (v != few) free(v);
  return r;
}

json_t *intrinsic_eval(const intrinsic_t *c, const jscope_t *s, fault_t *f) {
  ev_t e = {c, s, f};
  return eval_node(&e, c->root);
}

/* ---- parsing --------------------------------------------------------- */

typedef struct ps {
  const char *s;
  size_t i;
  char *err;
} ps_t;

static bool perr(ps_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool perr(ps_t *p, const char *fmt, ...) {
  if (p->err) return false;
  va_list ap;
  va_start(ap, fmt);
  char *why = ms_vasprintf(fmt, ap);
  va_end(ap);
  p->err = ms_asprintf("%s (at offset %zu of \"%s\")", why, p->i, p->s);
  free(why);
  return false;
}

static void skip_ws(ps_t *p) {
  while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
         p->s[p->i] == '\r')
    p->i++;
}

static void node_free(node_t *nd);

static void arg_clear(arg_t *a) {
  json_decref(a->lit);
  free(a->raw);
  if (a->path) jpath_free(a->path);
  if (a->call) node_free(a->call);
}

static void node_free(node_t *nd) {
  if (!nd) return;
  for (size_t i = 0; i < nd->nargs; i++) arg_clear(&nd->args[i]);
  free(nd->args);
  free(nd);
}

/* 'text' with \' \\ \{ \} escapes; other backslashes stay as written. */
static bool parse_string(ps_t *p, arg_t *a) {
  size_t start = ++p->i;
  buf_t b;
  buf_init(&b);
  buf_append(&b, "", 0);
  for (;;) {
    char c = p->s[p->i];
    if (c == '\0') {
      buf_free(&b);
      return perr(p, "unterminated string literal");
    }
    if (c == '\'') break;
    if (c == '\\' && strchr("'\\{}", p->s[p->i + 1]) && p->s[p->i + 1]) {
      buf_putc(&b, p->s[p->i + 1]);
      p->i += 2;
      continue;
    }
    buf_putc(&b, c);
    p->i++;
  }
  a->raw = ms_strndup(p->s + start, p->i - start);
  p->i++;
  a->kind = ARG_LIT;
  a->lit = json_stringn(b.data, b.len);
  buf_free(&b);
  if (!a->lit) return perr(p, "string literal is not valid UTF-8");
  return true;
}

static bool parse_number(ps_t *p, arg_t *a) {
  const char *s = p->s + p->i;
  size_t k = 0;
  bool real = false;
  if (s[k] == '-') k++;
  if (!isdigit((unsigned char)s[k])) return perr(p, "bad number");
  while (isdigit((unsigned char)s[k])) k++;
  if (s[k] == '.') {
    real = true;
    k++;
    if (!isdigit((unsigned char)s[k])) return perr(p, "bad number");
    while (isdigit((unsigned char)s[k])) k++;
  }
  if (s[k] == 'e' || s[k] == 'E') {
    real = true;
    k++;
    if (s[k] == '+' || s[k] == '-') k++;
    if (!isdigit((unsigned char)s[k])) return perr(p, "bad number");
    while (isdigit((unsigned char)s[k])) k++;
  }
  char *num = ms_strndup(s, k);
  a->kind = ARG_LIT;
  if (!real) {
    errno = 0;
    long long x = strtoll(num, NULL, 10);
    if (errno == 0) a->lit = json_integer((json_int_t)x);
  }
  if (!a->lit) a->lit = json_real(strtod(num, NULL));
  free(num);
  if (!a->lit)  /* beyond a double (jansson refuses inf): a guess at AWS */
    return perr(p, "number out of range");
  p->i += k;
  return true;
}

/* A path runs to the next ',' or ')' outside brackets, parentheses and
 * quotes; trailing blanks are not part of it. */
static bool parse_path(ps_t *p, arg_t *a) {
  size_t start = p->i, end;
  int depth = 0;
  char q = 0;
  for (; p->s[p->i]; p->i++) {
    char c = p->s[p->i];
    if (q) {
      if (c == '\\' && p->s[p->i + 1]) p->i++;
      else if (c == q) q = 0;
    } else if (c == '\'' || c == '"') {
      q = c;
    } else if (c == '[' || c == '(') {
      depth++;
    } else if ((c == ']' || c == ')') && depth > 0) {
      depth--;
    } else if ((c == ',' || c == ')') && depth == 0) {
      break;
    }
  }
  end = p->i;
  while (end > start && isspace((unsigned char)p->s[end - 1])) end--;
  char *text = ms_strndup(p->s + start, end - start), *err = NULL;
  a->kind = ARG_PATH;
  a->path = jpath_compile(text, &err);
  if (!a->path) {
    p->i = start;
    perr(p, "invalid JSONPath argument '%s': %s", text,
         err ? err : "syntax error");
  }
  free(err);
  free(text);
  return a->path != NULL;
}

static node_t *parse_call(ps_t *p, int depth);

static bool word(ps_t *p, const char *w) {
  size_t n = strlen(w);
  if (strncmp(p->s + p->i, w, n) != 0) return false;
  char c = p->s[p->i + n];
  if (isalnum((unsigned char)c) || c == '_' || c == '.') return false;
  p->i += n;
  return true;
}

static bool parse_arg(ps_t *p, arg_t *a, int depth) {
  char c = p->s[p->i];
  if (c == '\'') return parse_string(p, a);
  if (c == '-' || isdigit((unsigned char)c)) return parse_number(p, a);
  if (c == '$') return parse_path(p, a);
  if (strncmp(p->s + p->i, "States.", 7) == 0) {
    a->kind = ARG_CALL;
    a->call = parse_call(p, depth + 1);
    return a->call != NULL;
  }
  a->kind = ARG_LIT;
  if (word(p, "true")) a->lit = json_true();
  else if (word(p, "false")) a->lit = json_false();
  else if (word(p, "null")) a->lit = json_null();
  else return perr(p, "expected an argument");
  return true;
}

/* Literal arguments are checked against the function's kinds here. */
static bool check_call(ps_t *p, node_t *nd) {
  const fn_t *fn = nd->fn;
  int n = (int)nd->nargs;
  if (n < fn->min || (fn->max >= 0 && n > fn->max)) {
    if (fn->min == fn->max)
      return perr(p, "States.%s takes %d argument%s, not %d", fn->name,
                  fn->min, fn->min == 1 ? "" : "s", n);
    if (fn->max < 0)
      return perr(p, "States.%s takes at least %d argument%s, not %d",
                  fn->name, fn->min, fn->min == 1 ? "" : "s", n);
    return perr(p, "States.%s takes %d to %d arguments, not %d", fn->name,
                fn->min, fn->max, n);
  }
  for (size_t i = 0; i < nd->nargs; i++) {
    const arg_t *a = &nd->args[i];
    char k = kind_at(fn, i);
    if (a->kind == ARG_LIT && !kind_ok(k, a->lit))
      return perr(p, "argument %zu of States.%s must be %s, not %s", i + 1,
                  fn->name, kind_name(k), jsonx_type_name(a->lit));
  }
  if (fn->eval == f_json_merge && nd->args[2].kind == ARG_LIT &&
      json_is_true(nd->args[2].lit))
    return perr(p, "States.JsonMerge supports only a shallow merge; its "
                "third argument must be false");
  return true;
}

static node_t *parse_call(ps_t *p, int depth) {
  if (depth > MS_INTRINSIC_DEPTH) {
    perr(p, "intrinsic functions nest deeper than %d", MS_INTRINSIC_DEPTH);
    return NULL;
  }
  size_t at = p->i;
  p->i += 7;  /* "States." */
  size_t start = p->i;
  while (isalnum((unsigned char)p->s[p->i])) p->i++;
  const fn_t *fn = fn_find(p->s + start, p->i - start);
  if (!fn) {
    size_t len = p->i - start;
    p->i = at;
    perr(p, "unknown intrinsic function 'States.%.*s'", (int)len,
         p->s + start);
    return NULL;
  }
  skip_ws(p);
  if (p->s[p->i] != '(') {
    perr(p, "expected '(' after States.%s", fn->name);
    return NULL;
  }
  p->i++;
  node_t *nd = ms_calloc(1, sizeof *nd);
  nd->fn = fn;
  size_t cap = 0;
  skip_ws(p);
  if (p->s[p->i] == ')') {
    p->i++;
  } else {
    for (;;) {
      skip_ws(p);
      if (nd->nargs == cap) {
        cap = cap ? 2 * cap : 4;
        nd->args = ms_realloc(nd->args, cap * sizeof *nd->args);
      }
      arg_t *a = &nd->args[nd->nargs++];
      memset(a, 0, sizeof *a);
      if (!parse_arg(p, a, depth)) goto bad;
      skip_ws(p);
      if (p->s[p->i] == ',') { p->i++; continue; }
      if (p->s[p->i] == ')') { p->i++; break; }
      perr(p, "expected ',' or ')' in the arguments of States.%s",
           fn->name);
      goto bad;
    }
  }
  if (!check_call(p, nd)) goto bad;
  return nd;
bad:
  node_free(nd);
  return NULL;
}

bool intrinsic_is_call(const char *text) {
  if (strncmp(text, "States.", 7) != 0) return false;
  const char *s = text + 7;
  if (!isalpha((unsigned char)*s)) return false;
  while (isalnum((unsigned char)*s)) s++;
  while (*s == ' ' || *s == '\t') s++;
  return *s == '(';
}

intrinsic_t *intrinsic_compile(const char *text, char **err) {
  ps_t p = {text, 0, NULL};
  if (!intrinsic_is_call(text)) {
    perr(&p, "not an intrinsic function call");
    if (err) *err = p.err;
    else free(p.err);
    return NULL;
  }
  node_t *root = parse_call(&p, 1);
  if (root) {
    skip_ws(&p);
    if (p.s[p.i] != '\0') {
      perr(&p, "unexpected text after the closing ')'");
      node_free(root);
      root = NULL;
    }
  }
  if (!root) {
    if (err) *err = p.err;
    else free(p.err);
    return NULL;
  }
  intrinsic_t *c = ms_malloc(sizeof *c);
  c->root = root;
  c->text = ms_strdup(text);
  return c;
}

void intrinsic_free(intrinsic_t *c) {
  if (!c) return;
  node_free(c->root);
  free(c->text);
  free(c);
}
