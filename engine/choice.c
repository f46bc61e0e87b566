/* choice.c - Choice state rules (JSONPath mode): compile a rule object into
 * a small tree once, with every problem reported at its JSON pointer, and
 * evaluate the tree against a scope without allocating.
 *
 * Owns the 42 operators (And, Or, Not and the 39 comparisons in the table
 * below), their value types, StringMatches patterns, and the RFC 3339
 * timestamp parser shared with the Wait state. Next, Comment and Assign of a
 * top-level rule are checked by machine.c; paths are jpath.c's business.
 */
#include "choice.h"

#include <stdlib.h>
#include <string.h>

#include "jpath.h"

/* What a comparison looks at. */
typedef enum {
  F_STRING,     /* String*: strings by UTF-16 code unit, as Java does */
  F_MATCH,      /* StringMatches: a glob with * and the escapes \* \\ */
  F_NUMERIC,    /* Numeric*: numbers by value, 1 == 1.0 */
  F_BOOLEAN,    /* BooleanEquals */
  F_TIMESTAMP,  /* Timestamp*: RFC 3339 instants */
  F_IS,         /* Is*: a type test; the literal is a boolean */
} family_t;

typedef enum { R_EQ, R_LT, R_GT, R_LE, R_GE } rel_t;

typedef enum {
  T_NONE, T_NULL, T_PRESENT, T_NUMERIC, T_STRING, T_BOOLEAN, T_TIMESTAMP
} test_t;

typedef struct oprow {
  const char *name;
  family_t fam;
  rel_t rel;     /* for the ordered families */
  test_t test;   /* for F_IS */
  bool path;     /* the value is a path to the operand, not the operand */
} oprow_t;

#define CMP(n, f, r) {n, f, r, T_NONE, false}, {n "Path", f, r, T_NONE, true}
static const oprow_t ops[] = {
  CMP("StringEquals", F_STRING, R_EQ),
  CMP("StringLessThan", F_STRING, R_LT),
  CMP("StringGreaterThan", F_STRING, R_GT),
  CMP("StringLessThanEquals", F_STRING, R_LE),
  CMP("StringGreaterThanEquals", F_STRING, R_GE),
  {"StringMatches", F_MATCH, R_EQ, T_NONE, false},
  CMP("NumericEquals", F_NUMERIC, R_EQ),
  CMP("NumericLessThan", F_NUMERIC, R_LT),
  CMP("NumericGreaterThan", F_NUMERIC, R_GT),
  CMP("NumericLessThanEquals", F_NUMERIC, R_LE),
  CMP("NumericGreaterThanEquals", F_NUMERIC, R_GE),
  CMP("BooleanEquals", F_BOOLEAN, R_EQ),
  CMP("TimestampEquals", F_TIMESTAMP, R_EQ),
  CMP("TimestampLessThan", F_TIMESTAMP, R_LT),
  CMP("TimestampGreaterThan", F_TIMESTAMP, R_GT),
  CMP("TimestampLessThanEquals", F_TIMESTAMP, R_LE),
  CMP("TimestampGreaterThanEquals", F_TIMESTAMP, R_GE),
  {"IsNull", F_IS, R_EQ, T_NULL, false},
  {"IsPresent", F_IS, R_EQ, T_PRESENT, false},
  {"IsNumeric", F_IS, R_EQ, T_NUMERIC, false},
  {"IsString", F_IS, R_EQ, T_STRING, false},
  {"IsBoolean", F_IS, R_EQ, T_BOOLEAN, false},
  {"IsTimestamp", F_IS, R_EQ, T_TIMESTAMP, false},
};
#undef CMP
#define NOPS (sizeof ops / sizeof ops[0])

typedef enum { K_CMP, K_AND, K_OR, K_NOT } kind_t;

struct choice {
  kind_t kind;
  /* K_CMP */
  const oprow_t *op;
  jpath_t *var;       /* Variable */
  jpath_t *path;      /* the operand's path (op->path) */
  json_t *lit;        /* the literal operand (!op->path), owned */
  double ts;          /* F_TIMESTAMP literal as epoch seconds */
  char *pat;          /* F_MATCH: the pattern, unescaped */
  unsigned char *star; /* F_MATCH: star[i] != 0 when pat[i] is a star */
  size_t plen;
  /* K_AND, K_OR, K_NOT */
  choice_t **kids;
  size_t nkids;
};

static const oprow_t *find_op(const char *name) {
  for (size_t i = 0; i < NOPS; i++)
    if (strcmp(ops[i].name, name) == 0) return &ops[i];
  return NULL;
}

/* ---- timestamps ------------------------------------------------------- */

static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int month_days(int y, int m) {
  static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : md[m - 1];
}

/* YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|-hh:mm): the RFC 3339 profile of the
 * ASL spec (uppercase T and Z). Offsets are limited to 18 hours as Java's
 * ZoneOffset is; seconds stop at 59 (no leap second). */
bool choice_parse_timestamp(const char *s, double *epoch) {
  if (!s || strlen(s) < 20) return false;
  int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
  int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':')
    return false;
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 ||
      mi > 59 || se < 0 || se > 59 || d > month_days(y, mo))
    return false;
  const char *p = s + 19;
  double frac = 0, scale = 0.1;
  if (*p == '.') {
    int n = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, n++) {
      frac += (*p - '0') * scale;
      scale /= 10;
    }
    if (n < 1 || n > 9) return false;
  }
  long long off = 0;
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh = digits(p + 1, 2), om = -1;
    if (oh >= 0 && p[3] == ':') om = digits(p + 4, 2);
    if (oh < 0 || om < 0 || om > 59 || oh * 60 + om > 18 * 60) return false;
    off = (oh * 60LL + om) * 60 * (*p == '+' ? 1 : -1);
    p += 6;
  } else {
    return false;
  }
  if (*p) return false;
  long long secs = days_from_civil(y, mo, d) * 86400 + h * 3600LL +
                   mi * 60LL + se - off;
  if (epoch) *epoch = (double)secs + frac;
  return true;
}

/* ---- comparing ------------------------------------------------------- */

/* Decode the UTF-8 code point at s[i] (jansson strings are valid UTF-8). */
static unsigned long decode(const unsigned char *s, size_t n, size_t i) {
  unsigned char c = s[i];
  size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  unsigned long cp = len == 1 ? c : c & (0x3Fu >> (len - 1));
  for (size_t k = 1; k < len && i + k < n; k++)
    cp = (cp << 6) | (s[i + k] & 0x3Fu);
  return cp;
}

/* The first UTF-16 code unit of a code point: what Java compares. */
static unsigned long unit16(unsigned long cp) {
  return cp < 0x10000 ? cp : 0xD800 + ((cp - 0x10000) >> 10);
}

/* Java's String.compareTo over UTF-8 text: byte order is code point order,
 * which differs from UTF-16 order only between a supplementary character
 * (a surrogate pair, D800..DBFF first) and U+E000..U+FFFF. */
static int strcmp16(const char *a, size_t an, const char *b, size_t bn) {
  const unsigned char *x = (const unsigned char *)a;
  const unsigned char *y = (const unsigned char *)b;
  size_t n = an < bn ? an : bn, i = 0;
  while (i < n && x[i] == y[i]) i++;
  if (i == n) return an < bn ? -1 : an > bn;
  while (i > 0 && (x[i] & 0xC0) == 0x80) i--;  /* start of the character */
  unsigned long ca = decode(x, an, i), cb = decode(y, bn, i);
  unsigned long ua = unit16(ca), ub = unit16(cb);
  if (ua != ub) return ua < ub ? -1 : 1;
  return ca < cb ? -1 : 1;
}

static bool ordered(int c, rel_t r) {
  switch (r) {
  case R_EQ: return c == 0;
  case R_LT: return c < 0;
  case R_GT: return c > 0;
  case R_LE: return c <= 0;
  case R_GE: return c >= 0;
  }
  return false;
}

static int numcmp(const json_t *a, const json_t *b) {
  if (json_is_integer(a) && json_is_integer(b)) {
    json_int_t x = json_integer_value(a), y = json_integer_value(b);
    return x < y ? -1 : x > y;
  }
  /* long double holds every int64 exactly on the usual targets */
  long double x = json_is_integer(a) ? (long double)json_integer_value(a)
                                     : (long double)json_real_value(a);
  long double y = json_is_integer(b) ? (long double)json_integer_value(b)
                                     : (long double)json_real_value(b);
  return x < y ? -1 : x > y;
}

/* Glob match: pat[i] with star[i] set matches any run of bytes. Classic
 * linear-space backtracking to the last star. */
static bool glob(const char *pat, const unsigned char *star, size_t pn,
                 const char *s, size_t sn) {
  size_t p = 0, i = 0, sp = (size_t)-1, si = 0;
  while (i < sn) {
    if (p < pn && star[p]) {
      sp = p++;
      si = i;
    } else if (p < pn && pat[p] == s[i]) {
      p++;
      i++;
    } else if (sp != (size_t)-1) {
      p = sp + 1;
      i = ++si;
    } else {
      return false;
    }
  }
  while (p < pn && star[p]) p++;
  return p == pn;
}

/* Compare v (the Variable's value) with the operand: false on a type
 * mismatch. For a literal timestamp, ts is the pre-parsed operand. */
static bool compare(const choice_t *c, const json_t *v, const json_t *o) {
  const oprow_t *op = c->op;
  switch (op->fam) {
  case F_STRING:
    if (!json_is_string(v) || !json_is_string(o)) return false;
    if (op->rel == R_EQ)
      return json_string_length(v) == json_string_length(o) &&
             memcmp(json_string_value(v), json_string_value(o),
                    json_string_length(v)) == 0;
    return ordered(strcmp16(json_string_value(v), json_string_length(v),
                            json_string_value(o), json_string_length(o)),
                   op->rel);
  case F_MATCH:
    return json_is_string(v) &&
           glob(c->pat, c->star, c->plen, json_string_value(v),
                json_string_length(v));
  case F_NUMERIC:
    if (!json_is_number(v) || !json_is_number(o)) return false;
    return ordered(numcmp(v, o), op->rel);
  case F_BOOLEAN:
    return json_is_boolean(v) && json_is_boolean(o) &&
           json_is_true(v) == json_is_true(o);
  case F_TIMESTAMP: {
    double x, y = c->ts;
    if (!json_is_string(v) ||
        !choice_parse_timestamp(json_string_value(v), &x))
      return false;
    if (op->path && (!json_is_string(o) ||
                     !choice_parse_timestamp(json_string_value(o), &y)))
      return false;
    return ordered(x < y ? -1 : x > y, op->rel);
  }
  case F_IS: {
    bool is = false;
    switch (op->test) {
    case T_NULL: is = json_is_null(v); break;
    case T_PRESENT: is = true; break;
    case T_NUMERIC: is = json_is_number(v); break;
    case T_STRING: is = json_is_string(v); break;
    case T_BOOLEAN: is = json_is_boolean(v); break;
    case T_TIMESTAMP:
      is = json_is_string(v) &&
           choice_parse_timestamp(json_string_value(v), NULL);
      break;
    case T_NONE: break;
    }
    return is == json_is_true(c->lit);
  }
  }
  return false;
}

static int invalid(fault_t *f, const jpath_t *p) {
  fault_runtime(f, "Invalid path '%s': The choice state's condition path "
                   "references an invalid value.", jpath_text(p));
  return -1;
}

int choice_eval(const choice_t *c, const jscope_t *s, fault_t *f) {
  switch (c->kind) {
  case K_AND:
  case K_OR:
    for (size_t i = 0; i < c->nkids; i++) {
      int r = choice_eval(c->kids[i], s, f);
      if (r < 0) return r;
      if (c->kind == K_AND ? !r : r) return r;
    }
    return c->kind == K_AND;
  case K_NOT: {
    int r = choice_eval(c->kids[0], s, f);
    return r < 0 ? r : !r;
  }
  case K_CMP:
    break;
  }
  json_t *v = jpath_eval(c->var, s, NULL);
  if (!v) {
    if (c->op->test == T_PRESENT) return !json_is_true(c->lit);
    return invalid(f, c->var);
  }
  int r;
  if (c->op->path) {
    json_t *o = jpath_eval(c->path, s, NULL);
    if (!o) {
      json_decref(v);
      return invalid(f, c->path);
    }
    r = compare(c, v, o);
    json_decref(o);
  } else {
    r = compare(c, v, c->lit);
  }
  json_decref(v);
  return r;
}

/* ---- compiling ------------------------------------------------------- */

void choice_free(choice_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nkids; i++) choice_free(c->kids[i]);
  free(c->kids);
  if (c->var) jpath_free(c->var);
  if (c->path) jpath_free(c->path);
  json_decref(c->lit);
  free(c->pat);
  free(c->star);
  free(c);
}

/* Compile the path in field `name` of rule into *out; diagnose at ptr. */
static void path_field(json_t *val, const char *ptr, const char *name,
                       jpath_t **out, diags_t *d) {
  char *at = ptr_join(ptr, name);
  char *err = NULL;
  if (!json_is_string(val)) {
    diags_add(d, false, at, "%s must be a path string, not %s", name,
              jsonx_type_name(val));
  } else if (!(*out = jpath_compile(json_string_value(val), &err))) {
    diags_add(d, false, at, "%s is not a valid path: %s", name,
              err ? err : json_string_value(val));
  } else if (!jpath_is_reference(*out)) {
    diags_add(d, false, at,
              "%s must be a reference path (names and indexes only): %s",
              name, json_string_value(val));
  }
  free(err);
  free(at);
}

/* StringMatches: \* is a literal star, \\ a backslash, * a wildcard; any
 * other backslash stands for itself. */
static void pattern(choice_t *c, const char *s, size_t n) {
  c->pat = ms_malloc(n + 1);
  c->star = ms_calloc(n + 1, 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '\\')) {
      c->pat[k++] = s[++i];
    } else {
      c->star[k] = s[i] == '*';
      c->pat[k++] = s[i];
    }
  }
  c->pat[k] = '\0';
  c->plen = k;
}

/* Check the literal operand's type; false (with a diag) when it is wrong. */
static bool literal(choice_t *c, json_t *val, const char *at, diags_t *d) {
  const char *name = c->op->name;
  switch (c->op->fam) {
  case F_STRING:
  case F_MATCH:
    if (!json_is_string(val)) break;
    if (c->op->fam == F_MATCH)
      pattern(c, json_string_value(val), json_string_length(val));
    return true;
  case F_NUMERIC:
    if (!json_is_number(val)) break;
    return true;
  case F_BOOLEAN:
  case F_IS:
    if (!json_is_boolean(val)) break;
    return true;
  case F_TIMESTAMP:
    if (json_is_string(val) &&
        choice_parse_timestamp(json_string_value(val), &c->ts))
      return true;
    diags_add(d, false, at,
              "%s must be an RFC 3339 timestamp string such as "
              "\"2016-03-14T01:59:00Z\"", name);
    return false;
  }
  static const char *want[] = {"a string", "a string", "a number",
                               "a boolean", "", "a boolean"};
  diags_add(d, false, at, "%s must be %s, not %s", name,
            want[c->op->fam], jsonx_type_name(val));
  return false;
}

static choice_t *compile_rule(json_t *rule, const char *ptr, bool top,
                              diags_t *d);

/* And/Or (array) or Not (object) at field name. */
static void compound(choice_t *c, json_t *val, const char *ptr,
                     const char *name, diags_t *d) {
  char *at = ptr_join(ptr, name);
  if (c->kind == K_NOT) {
    if (!json_is_object(val)) {
      diags_add(d, false, at, "Not must be a Choice rule object, not %s",
                jsonx_type_name(val));
    } else {
      c->kids = ms_malloc(sizeof *c->kids);
      c->kids[0] = compile_rule(val, at, false, d);
      c->nkids = 1;
    }
  } else if (!json_is_array(val) || json_array_size(val) == 0) {
    diags_add(d, false, at, "%s must be a non-empty array of Choice rules",
              name);
  } else {
    size_t n = json_array_size(val);
    c->kids = ms_calloc(n, sizeof *c->kids);
    for (size_t i = 0; i < n; i++) {
      char *ai = ptr_index(at, i);
      c->kids[i] = compile_rule(json_array_get(val, i), ai, false, d);
      free(ai);
    }
    c->nkids = n;
  }
  free(at);
}

static choice_t *compile_rule(json_t *rule, const char *ptr, bool top,
                              diags_t *d) {
  size_t before = d->nerrors;
  if (!json_is_object(rule)) {
    diags_add(d, false, ptr, "a Choice rule must be an object, not %s",
              jsonx_type_name(rule));
    return NULL;
  }
  choice_t *c = ms_calloc(1, sizeof *c);
  const char *opname = NULL, *comb = NULL;  /* the fields that decide kind */
  bool unknown = false;                     /* an unknown field was seen */
  json_t *opval = NULL, *combval = NULL, *var = NULL;
  const char *key;
  json_t *val;
  json_object_foreach(rule, key, val) {
    const oprow_t *op = find_op(key);
    bool is_comb = !strcmp(key, "And") || !strcmp(key, "Or") ||
                   !strcmp(key, "Not");
    if (op || is_comb) {
      const char *first = opname ? opname : comb;
      if (first) {
        char *at = ptr_join(ptr, key);
        diags_add(d, false, at,
                  "a Choice rule takes one operator: %s and %s", first, key);
        free(at);
        continue;
      }
      if (op) {
        opname = key;
        opval = val;
        c->op = op;
      } else {
        comb = key;
        combval = val;
      }
    } else if (!strcmp(key, "Variable")) {
      var = val;
    } else if (!strcmp(key, "Next")) {
      if (!top) {
        char *at = ptr_join(ptr, key);
        diags_add(d, false, at, "Next is not allowed in a nested Choice rule");
        free(at);
      }
    } else if (!strcmp(key, "Comment") ||
               (top && !strcmp(key, "Assign"))) {
      /* machine.c checks these */
    } else {
      char *at = ptr_join(ptr, key);
      unknown = true;
      if (!strcmp(key, "Condition"))
        diags_add(d, false, at,
                  "Condition is only for JSONata; in JSONPath use Variable "
                  "and a comparison operator");
      else
        diags_add(d, false, at, "unknown field \"%s\" in a Choice rule",
                  key);
      free(at);
    }
  }
  /* a top rule's missing Next is reported by machine.c */

  if (comb) {
    c->kind = !strcmp(comb, "And") ? K_AND : !strcmp(comb, "Or") ? K_OR
                                                                 : K_NOT;
    if (var) {
      char *at = ptr_join(ptr, "Variable");
      diags_add(d, false, at, "Variable is not allowed with %s", comb);
      free(at);
    }
    compound(c, combval, ptr, comb, d);
  } else if (opname) {
    c->kind = K_CMP;
    if (!var)
      diags_add(d, false, ptr, "a Choice rule with %s needs Variable",
                opname);
    else
      path_field(var, ptr, "Variable", &c->var, d);
    char *at = ptr_join(ptr, opname);
    if (c->op->path) {
      path_field(opval, ptr, opname, &c->path, d);
    } else if (literal(c, opval, at, d)) {
      c->lit = json_incref(opval);
    }
    free(at);
  } else if (unknown) {
    /* probably a misspelled operator: already reported */
  } else if (var) {
    diags_add(d, false, ptr,
              "a Choice rule with Variable needs a comparison operator");
  } else {
    diags_add(d, false, ptr,
              "a Choice rule needs Variable and a comparison operator, "
              "or And, Or or Not");
  }
  if (d->nerrors != before) {
    choice_free(c);
    return NULL;
  }
  return c;
}

choice_t *choice_compile(json_t *rule, const char *ptr, bool top,
                         diags_t *d) {
  return compile_rule(rule, ptr ? ptr : "", top, d);
}
