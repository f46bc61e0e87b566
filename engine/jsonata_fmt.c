/* jsonata_fmt.c - JSONata's number pictures: $formatNumber (XPath F&O 3.1
 * format-number), $formatInteger and $parseInteger (format-integer: digit
 * patterns, grouping, other digit families, words, roman numerals, letters,
 * ordinals) and $formatBase.
 *
 * Semantics follow jsonata-js 2.x (functions.js formatNumber, datetime.js
 * formatInteger/parseInteger), quirks included, so results match what AWS
 * Step Functions prints. The integer pictures are shared with
 * jsonata_time.c, which owns $fromMillis and $toMillis.
 */
#include "jsonata_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------- */

void jnfmt_seterr(jnfmt_err_t *e, const char *code, const char *fmt, ...) {
  if (!e)
    return;
  free(e->message);
  snprintf(e->code, sizeof e->code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  e->message = ms_vasprintf(fmt, ap);
  va_end(ap);
}

void jnfmt_err_free(jnfmt_err_t *e) {
  if (!e)
    return;
  free(e->message);
  e->message = NULL;
}

char *jnfmt_quote(const char *s) {
  json_t *j = json_string(s);
  char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  if (!t)
    return ms_strdup("\"\"");
  char *r = ms_strdup(t);
  free(t);
  return r;
}

/* The reference's messages (jsonata.js errorCodes). */
static const struct { const char *code, *msg; } picture_msgs[] = {
  {"D3080", "The picture string must only contain a maximum of two "
            "sub-pictures"},
  {"D3081", "The sub-picture must not contain more than one instance of "
            "the 'decimal-separator' character"},
  {"D3082", "The sub-picture must not contain more than one instance of "
            "the 'percent' character"},
  {"D3083", "The sub-picture must not contain more than one instance of "
            "the 'per-mille' character"},
  {"D3084", "The sub-picture must not contain both a 'percent' and a "
            "'per-mille' character"},
  {"D3085", "The mantissa part of a sub-picture must contain at least one "
            "character that is either an 'optional digit character' or a "
            "member of the 'decimal digit family'"},
  {"D3086", "The sub-picture must not contain a passive character that is "
            "preceded by an active character and that is followed by "
            "another active character"},
  {"D3087", "The sub-picture must not contain a 'grouping-separator' "
            "character that appears adjacent to a 'decimal-separator' "
            "character"},
  {"D3088", "The sub-picture must not contain a 'grouping-separator' at "
            "the end of the integer part"},
  {"D3089", "The sub-picture must not contain two adjacent instances of "
            "the 'grouping-separator' character"},
  {"D3090", "The integer part of the sub-picture must not contain a member "
            "of the 'decimal digit family' that is followed by an instance "
            "of the 'optional digit character'"},
  {"D3091", "The fractional part of the sub-picture must not contain an "
            "instance of the 'optional digit character' that is followed "
            "by a member of the 'decimal digit family'"},
  {"D3092", "A sub-picture that contains a 'percent' or 'per-mille' "
            "character must not contain a character treated as an "
            "'exponent-separator'"},
  {"D3093", "The exponent part of the sub-picture must comprise only of "
            "one or more characters that are members of the 'decimal digit "
            "family'"},
};

static int picture_err(jnfmt_err_t *e, const char *code) {
  for (size_t i = 0; i < sizeof picture_msgs / sizeof *picture_msgs; i++)
    if (!strcmp(picture_msgs[i].code, code))
      jnfmt_seterr(e, code, "%s", picture_msgs[i].msg);
  return -1;
}

/* ---- code point strings ---------------------------------------------- */

/* A string as code points: the reference indexes JavaScript strings, and
 * pictures use characters such as U+2030 and other digit families. */
typedef struct ustr {
  uint32_t *c;
  int n, cap;
} ustr_t;

static void us_free(ustr_t *s) {
  free(s->c);
  s->c = NULL;
  s->n = s->cap = 0;
}

static void us_push(ustr_t *s, uint32_t c) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    s->c = ms_realloc(s->c, (size_t)s->cap * sizeof *s->c);
  }
  s->c[s->n++] = c;
}

/* Decode UTF-8; a byte that starts no valid sequence stands for itself. */
static ustr_t us_from(const char *t) {
  ustr_t s = {0};
  const unsigned char *p = (const unsigned char *)t;
  while (*p) {
    uint32_t c = *p;
    int k = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (c >= 0xF8)
      k = 0;
    int ok = 1;
    for (int i = 1; i <= k && ok; i++)  /* stops at the NUL, too */
      if ((p[i] & 0xC0) != 0x80)
        ok = 0;
    if (k && ok) {
      c &= 0x3F >> k;
      for (int i = 1; i <= k; i++)
        c = c << 6 | (p[i] & 0x3F);
      p += k + 1;
    } else {
      p++;
    }
    us_push(&s, c);
  }
  return s;
}

static void put_cp(buf_t *b, uint32_t c) {
  char t[4];
  if (c < 0x80) {
    buf_putc(b, (char)c);
    return;
  }
  int n;
  if (c < 0x800) {
    t[0] = (char)(0xC0 | c >> 6);
    n = 1;
  } else if (c < 0x10000) {
    t[0] = (char)(0xE0 | c >> 12);
    n = 2;
  } else {
    t[0] = (char)(0xF0 | c >> 18);
    n = 3;
  }
  for (int i = 1; i <= n; i++)
    t[i] = (char)(0x80 | ((c >> (6 * (n - i))) & 0x3F));
  buf_append(b, t, (size_t)n + 1);
}

static void us_put(buf_t *b, const ustr_t *s) {
  for (int i = 0; i < s->n; i++)
    put_cp(b, s->c[i]);
}

static void us_cat(ustr_t *s, const ustr_t *t) {
  for (int i = 0; i < t->n; i++)
    us_push(s, t->c[i]);
}

/* JavaScript's s.substring(a, b): clamped, swapped when a > b. */
static ustr_t us_sub(const ustr_t *s, int a, int b) {
  a = a < 0 ? 0 : a > s->n ? s->n : a;
  b = b < 0 ? 0 : b > s->n ? s->n : b;
  if (a > b) {
    int t = a;
    a = b;
    b = t;
  }
  ustr_t r = {0};
  for (int i = a; i < b; i++)
    us_push(&r, s->c[i]);
  return r;
}

static bool us_at(const ustr_t *h, int i, const ustr_t *nd) {
  if (i < 0 || i + nd->n > h->n)
    return false;
  return !nd->n || !memcmp(h->c + i, nd->c, (size_t)nd->n * sizeof *nd->c);
}

/* indexOf / lastIndexOf with JavaScript's treatment of from. */
static int us_index(const ustr_t *h, const ustr_t *nd, int from) {
  if (from < 0)
    from = 0;
  if (from > h->n)
    from = h->n;
  for (int i = from; i + nd->n <= h->n; i++)
    if (us_at(h, i, nd))
      return i;
  return -1;
}

static int us_lindex(const ustr_t *h, const ustr_t *nd) {
  for (int i = h->n - nd->n; i >= 0; i--)
    if (us_at(h, i, nd))
      return i;
  return -1;
}

/* Is the one-character string at i (JavaScript charAt: "" when out of
 * range) equal to the property string p? */
static bool char_is(const ustr_t *s, int i, const ustr_t *p) {
  if (i < 0 || i >= s->n)
    return p->n == 0;
  return p->n == 1 && p->c[0] == s->c[i];
}

static bool is1(const ustr_t *p, uint32_t c) {
  return p->n == 1 && p->c[0] == c;
}

/* Insert t at JavaScript slice index k (negative counts from the end). */
static void us_insert(ustr_t *s, int k, const ustr_t *t) {
  if (k < 0)
    k = s->n + k < 0 ? 0 : s->n + k;
  if (k > s->n)
    k = s->n;
  ustr_t r = us_sub(s, 0, k);
  us_cat(&r, t);
  ustr_t tail = us_sub(s, k, s->n);
  us_cat(&r, &tail);
  us_free(&tail);
  us_free(s);
  *s = r;
}

/* ---- JavaScript numbers ---------------------------------------------- */

/* Shortest round-trip digits of |v| (finite, nonzero): "ddd" and the
 * decimal exponent of the first digit. */
static void shortest(double v, char *digits, int *exp10) {
  char t[40];
  v = fabs(v);
  for (int p = 1; p <= 17; p++) {
    snprintf(t, sizeof t, "%.*e", p - 1, v);
    if (strtod(t, NULL) == v)
      break;
  }
  char *e = strchr(t, 'e');
  *exp10 = (int)strtol(e + 1, NULL, 10);
  int n = 0;
  for (char *q = t; q < e; q++)
    if (*q >= '0' && *q <= '9')
      digits[n++] = *q;
  while (n > 1 && digits[n - 1] == '0')
    n--;
  digits[n] = 0;
}

/* Number.prototype.toString() (radix 10) into b. */
static void js_numstr(double v, buf_t *b) {
  if (isnan(v)) {
    buf_puts(b, "NaN");
    return;
  }
  if (isinf(v)) {
    buf_puts(b, v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  if (v == 0) {
    buf_putc(b, '0');
    return;
  }
  char d[40];
  int e;
  shortest(v, d, &e);
  if (v < 0)
    buf_putc(b, '-');
  int k = (int)strlen(d), n = e + 1;
  if (k <= n && n <= 21) {
    buf_puts(b, d);
    for (int i = k; i < n; i++)
      buf_putc(b, '0');
  } else if (0 < n && n <= 21) {
    buf_append(b, d, (size_t)n);
    buf_putc(b, '.');
    buf_puts(b, d + n);
  } else if (-6 < n && n <= 0) {
    buf_puts(b, "0.");
    for (int i = n; i < 0; i++)
      buf_putc(b, '0');
    buf_puts(b, d);
  } else {
    buf_putc(b, d[0]);
    if (k > 1) {
      buf_putc(b, '.');
      buf_puts(b, d + 1);
    }
    buf_printf(b, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
  }
}

/* +(x.toString() shifted by p decimal places), as the reference's round
 * shifts: exact in decimal, unlike x * 10^p. */
static double shift10(double x, int p) {
  if (x == 0 || !isfinite(x))
    return x;
  char d[40], t[80];
  int e;
  shortest(x, d, &e);
  snprintf(t, sizeof t, "%s%c.%se%d", x < 0 ? "-" : "", d[0], d + 1,
           e + p);
  return strtod(t, NULL);
}

/* JSONata's $round: half to even, at precision decimal places. */
static double jround(double arg, int precision) {
  if (precision)
    arg = shift10(arg, precision);
  double r = floor(arg);
  if (arg - r >= 0.5)
    r += 1;
  if (fabs(r - arg) == 0.5 && fabs(fmod(r, 2)) == 1)
    r -= 1;
  if (precision)
    r = shift10(r, -precision);
  return r == 0 ? 0 : r;
}

/* Math.abs(v).toFixed(dp) in ASCII. */
static void to_fixed(double v, int dp, buf_t *b) {
  v = fabs(v);
  if (v >= 1e21 || !isfinite(v))
    js_numstr(v, b);
  else
    buf_printf(b, "%.*f", dp > 100 ? 100 : dp, v);
}

/* ---- $formatNumber --------------------------------------------------- */

enum { P_DEC, P_GRP, P_EXP, P_INF, P_MINUS, P_NAN, P_PCT, P_PML, P_ZERO,
       P_DIGIT, P_PATSEP, P_COUNT };
static const char *const prop_names[P_COUNT] = {
  "decimal-separator", "grouping-separator", "exponent-separator",
  "infinity", "minus-sign", "NaN", "percent", "per-mille", "zero-digit",
  "digit", "pattern-separator"};
static const char *const prop_defaults[P_COUNT] = {
  ".", ",", "e", "Infinity", "-", "NaN", "%", "\xE2\x80\xB0", "0", "#",
  ";"};

typedef struct fmtctx {
  ustr_t p[P_COUNT];
  uint32_t zero;   /* first code point of the decimal digit family */
} fmtctx_t;

static bool in_family(const fmtctx_t *x, uint32_t c) {
  return c >= x->zero && c < x->zero + 10;
}

static bool is_active(const fmtctx_t *x, uint32_t c) {
  return in_family(x, c) || is1(&x->p[P_DEC], c) || is1(&x->p[P_EXP], c) ||
         is1(&x->p[P_GRP], c) || is1(&x->p[P_DIGIT], c) ||
         is1(&x->p[P_PATSEP], c);
}

static bool has_family(const fmtctx_t *x, const ustr_t *s) {
  for (int i = 0; i < s->n; i++)
    if (in_family(x, s->c[i]))
      return true;
  return false;
}

static int count_digits(const fmtctx_t *x, const ustr_t *s, bool opt) {
  int n = 0;
  for (int i = 0; i < s->n; i++)
    if (in_family(x, s->c[i]) || (opt && is1(&x->p[P_DIGIT], s->c[i])))
      n++;
  return n;
}

typedef struct subpic {
  ustr_t sub, prefix, suffix, active, mantissa, exponent, integer, frac;
  bool has_exp;
  /* analysis */
  int *igrp, nigrp, *fgrp, nfgrp;
  int regular, min_int, scaling, min_frac, max_frac, min_exp;
} subpic_t;

static void sp_free(subpic_t *s) {
  us_free(&s->sub);
  us_free(&s->prefix);
  us_free(&s->suffix);
  us_free(&s->active);
  us_free(&s->mantissa);
  us_free(&s->exponent);
  us_free(&s->integer);
  us_free(&s->frac);
  free(s->igrp);
  free(s->fgrp);
}

/* splitParts; -1 when the sub-picture has no active character at all. */
static int split_parts(const fmtctx_t *x, subpic_t *s, jnfmt_err_t *e) {
  const ustr_t *sub = &s->sub;
  int first = -1, last = -1;
  for (int i = 0; i < sub->n; i++)
    if (is_active(x, sub->c[i]) && !is1(&x->p[P_EXP], sub->c[i])) {
      if (first < 0)
        first = i;
      last = i;
    }
  if (first < 0) /* the reference fails here; its tests expect D3086 */
    return picture_err(e, "D3086");
  s->prefix = us_sub(sub, 0, first);
  s->suffix = us_sub(sub, last + 1, sub->n);
  s->active = us_sub(sub, s->prefix.n, sub->n - s->suffix.n);
  int xp = us_index(sub, &x->p[P_EXP], s->prefix.n);
  if (xp == -1 || xp > sub->n - s->suffix.n) {
    s->mantissa = us_sub(&s->active, 0, s->active.n);
  } else {
    s->has_exp = true;
    s->mantissa = us_sub(&s->active, 0, xp);
    s->exponent = us_sub(&s->active, xp + 1, s->active.n);
  }
  int dp = us_index(&s->mantissa, &x->p[P_DEC], 0);
  if (dp == -1) {
    s->integer = us_sub(&s->mantissa, 0, s->mantissa.n);
    s->frac = us_sub(&s->suffix, 0, s->suffix.n);
  } else {
    s->integer = us_sub(&s->mantissa, 0, dp);
    s->frac = us_sub(&s->mantissa, dp + 1, s->mantissa.n);
  }
  return 0;
}

/* validate (F&O 4.7.3): as the reference, the last failing rule wins. */
static int validate(const fmtctx_t *x, subpic_t *s, jnfmt_err_t *e) {
  const char *err = NULL;
  const ustr_t *sub = &s->sub;
  int dp = us_index(sub, &x->p[P_DEC], 0);
  if (dp != us_lindex(sub, &x->p[P_DEC]))
    err = "D3081";
  if (us_index(sub, &x->p[P_PCT], 0) != us_lindex(sub, &x->p[P_PCT]))
    err = "D3082";
  if (us_index(sub, &x->p[P_PML], 0) != us_lindex(sub, &x->p[P_PML]))
    err = "D3083";
  bool pct = us_index(sub, &x->p[P_PCT], 0) != -1;
  bool pml = us_index(sub, &x->p[P_PML], 0) != -1;
  if (pct && pml)
    err = "D3084";
  if (count_digits(x, &s->mantissa, true) == 0)
    err = "D3085";
  for (int i = 0; i < s->active.n; i++)
    if (!is_active(x, s->active.c[i]))
      err = "D3086";
  if (dp != -1) {
    if (char_is(sub, dp - 1, &x->p[P_GRP]) ||
        char_is(sub, dp + 1, &x->p[P_GRP]))
      err = "D3087";
  } else if (char_is(&s->integer, s->integer.n - 1, &x->p[P_GRP])) {
    err = "D3088";
  }
  ustr_t gg = {0};
  us_cat(&gg, &x->p[P_GRP]);
  us_cat(&gg, &x->p[P_GRP]);
  if (us_index(sub, &gg, 0) != -1)
    err = "D3089";
  us_free(&gg);
  int op = us_index(&s->integer, &x->p[P_DIGIT], 0);
  if (op != -1) {
    ustr_t t = us_sub(&s->integer, 0, op);
    if (has_family(x, &t))
      err = "D3090";
    us_free(&t);
  }
  op = us_lindex(&s->frac, &x->p[P_DIGIT]);
  if (op != -1) {
    ustr_t t = us_sub(&s->frac, op, s->frac.n);
    if (has_family(x, &t))
      err = "D3091";
    us_free(&t);
  }
  if (s->has_exp && s->exponent.n > 0 && (pct || pml))
    err = "D3092";
  if (s->has_exp) {
    bool bad = s->exponent.n == 0;
    for (int i = 0; i < s->exponent.n; i++)
      if (!in_family(x, s->exponent.c[i]))
        bad = true;
    if (bad)
      err = "D3093";
  }
  return err ? picture_err(e, err) : 0;
}

/* getGroupingPositions, including the reference's habit of continuing the
 * search in the integer part whichever part it started in. */
static int *grouping(const fmtctx_t *x, const subpic_t *s, const ustr_t *part,
                     bool to_left, int *n) {
  int *pos = NULL;
  *n = 0;
  const ustr_t *g = &x->p[P_GRP];
  if (g->n == 0)
    return NULL; /* the reference loops forever */
  int gp = us_index(part, g, 0);
  while (gp != -1) {
    ustr_t t = to_left ? us_sub(part, 0, gp) : us_sub(part, gp, part->n);
    pos = ms_realloc(pos, (size_t)(*n + 1) * sizeof *pos);
    pos[(*n)++] = count_digits(x, &t, true);
    us_free(&t);
    gp = us_index(&s->integer, g, gp + 1);
    if (*n > s->integer.n + part->n)
      break;
  }
  return pos;
}

static int gcd(int a, int b) {
  while (b) {
    int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* The common interval of grouping positions, 0 when irregular. */
static int regular_interval(const int *ix, int n) {
  if (n == 0)
    return 0;
  int f = ix[0];
  for (int i = 1; i < n; i++)
    f = gcd(f, ix[i]);
  for (int k = 1; k <= n; k++) {
    bool found = false;
    for (int i = 0; i < n; i++)
      if (ix[i] == k * f)
        found = true;
    if (!found)
      return 0;
  }
  return f;
}

static void analyse(const fmtctx_t *x, subpic_t *s) {
  s->igrp = grouping(x, s, &s->integer, false, &s->nigrp);
  s->regular = regular_interval(s->igrp, s->nigrp);
  s->fgrp = grouping(x, s, &s->frac, true, &s->nfgrp);
  s->min_int = count_digits(x, &s->integer, false);
  s->scaling = s->min_int;
  s->min_frac = count_digits(x, &s->frac, false);
  s->max_frac = count_digits(x, &s->frac, true);
  if (s->min_int == 0 && s->max_frac == 0) {
    if (s->has_exp)
      s->min_frac = s->max_frac = 1;
    else
      s->min_int = 1;
  }
  if (s->has_exp && s->min_int == 0 &&
      us_index(&s->integer, &x->p[P_DIGIT], 0) != -1)
    s->min_int = 1;
  if (s->min_int == 0 && s->min_frac == 0)
    s->min_frac = 1;
  s->min_exp = s->has_exp ? count_digits(x, &s->exponent, false) : 0;
}

/* makeString: |v|.toFixed(dp) in the digit family. */
static ustr_t make_string(const fmtctx_t *x, double v, int dp) {
  buf_t b;
  buf_init(&b);
  to_fixed(v, dp, &b);
  ustr_t r = {0};
  for (size_t i = 0; i < b.len; i++) {
    char c = b.data[i];
    us_push(&r, c >= '0' && c <= '9' ? x->zero + (uint32_t)(c - '0')
                                     : (uint32_t)(unsigned char)c);
  }
  buf_free(&b);
  return r;
}

static void push_n(ustr_t *s, const ustr_t *t, int n) {
  for (int i = 0; i < n; i++)
    us_cat(s, t);
}

/* Format v by an analysed sub-picture (F&O 4.7.5, bullets 3-14). */
static void format_with(const fmtctx_t *x, const subpic_t *pic,
                        const ustr_t *prefix, double value, buf_t *out) {
  if (isnan(value)) {
    us_put(out, &x->p[P_NAN]);
    return;
  }
  double adj = value;
  if (us_index(&pic->sub, &x->p[P_PCT], 0) != -1)
    adj = value * 100;
  else if (us_index(&pic->sub, &x->p[P_PML], 0) != -1)
    adj = value * 1000;
  if (isinf(adj)) {
    us_put(out, prefix);
    us_put(out, &x->p[P_INF]);
    us_put(out, &pic->suffix);
    return;
  }
  double mant = adj;
  int exponent = 0;
  if (pic->min_exp != 0) {
    double maxm = pow(10, pic->scaling), minm = pow(10, pic->scaling - 1);
    double m = fabs(adj);
    if (m != 0) {
      while (m < minm) {
        m *= 10;
        exponent--;
      }
      while (m > maxm) {
        m /= 10;
        exponent++;
      }
    }
    mant = adj < 0 ? -m : m;
  }
  double rounded = jround(mant, pic->max_frac);
  ustr_t sv = make_string(x, rounded, pic->max_frac);
  const ustr_t *dsep = &x->p[P_DEC], *zero = &x->p[P_ZERO];
  int dot = -1;
  for (int i = 0; i < sv.n; i++)
    if (sv.c[i] == '.') {
      dot = i;
      break;
    }
  if (dot == -1) {
    us_cat(&sv, dsep);
  } else {
    ustr_t t = us_sub(&sv, 0, dot), tail = us_sub(&sv, dot + 1, sv.n);
    us_cat(&t, dsep);
    us_cat(&t, &tail);
    us_free(&tail);
    us_free(&sv);
    sv = t;
  }
  if (zero->n == 1) {
    int a = 0, b = sv.n;
    while (a < b && sv.c[a] == zero->c[0])
      a++;
    while (b > a && sv.c[b - 1] == zero->c[0])
      b--;
    ustr_t t = us_sub(&sv, a, b);
    us_free(&sv);
    sv = t;
  }
  int dp = us_index(&sv, dsep, 0);
  int pad_left = pic->min_int - dp;
  int pad_right = pic->min_frac - (sv.n - dp - 1);
  if (pad_left > 0) {
    ustr_t t = {0};
    push_n(&t, zero, pad_left);
    us_cat(&t, &sv);
    us_free(&sv);
    sv = t;
  }
  if (pad_right > 0)
    push_n(&sv, zero, pad_right);
  dp = us_index(&sv, dsep, 0);
  const ustr_t *gsep = &x->p[P_GRP];
  if (pic->regular > 0) {
    int groups = (dp - 1) / pic->regular;
    for (int g = 1; g <= groups; g++)
      us_insert(&sv, dp - g * pic->regular, gsep);
  } else {
    for (int i = 0; i < pic->nigrp; i++) {
      us_insert(&sv, dp - pic->igrp[i], gsep);
      dp++;
    }
  }
  dp = us_index(&sv, dsep, 0);
  for (int i = 0; i < pic->nfgrp; i++)
    us_insert(&sv, pic->fgrp[i] + dp + 1, gsep);
  dp = us_index(&sv, dsep, 0);
  if (us_index(&pic->sub, dsep, 0) == -1 || dp == sv.n - 1)
    if (sv.n > 0)
      sv.n--;
  us_put(out, prefix);
  us_put(out, &sv);
  us_free(&sv);
  if (pic->min_exp != 0) {
    ustr_t se = make_string(x, exponent, 0);
    us_put(out, &x->p[P_EXP]);
    if (exponent < 0)
      us_put(out, &x->p[P_MINUS]);
    for (int i = se.n; i < pic->min_exp; i++)
      us_put(out, zero);
    us_put(out, &se);
    us_free(&se);
  }
  us_put(out, &pic->suffix);
}

char *jnfmt_format_number(double v, const char *picture,
                          const json_t *options, jnfmt_err_t *e) {
  fmtctx_t x;
  for (int i = 0; i < P_COUNT; i++) {
    json_t *o = json_is_object(options)
                    ? json_object_get(options, prop_names[i])
                    : NULL;
    x.p[i] = us_from(json_is_string(o) ? json_string_value(o)
                                       : prop_defaults[i]);
  }
  x.zero = x.p[P_ZERO].n ? x.p[P_ZERO].c[0] : '0';
  char *result = NULL;
  subpic_t sp[2];
  memset(sp, 0, sizeof sp);
  int nsp = 0;
  ustr_t pic = us_from(picture);
  const ustr_t *ps = &x.p[P_PATSEP];
  /* picture.split(pattern-separator) */
  int at = ps->n ? us_index(&pic, ps, 0) : -1;
  if (at != -1 && us_index(&pic, ps, at + ps->n) != -1) {
    picture_err(e, "D3080");
    goto done;
  }
  if (at != -1) {
    sp[0].sub = us_sub(&pic, 0, at);
    sp[1].sub = us_sub(&pic, at + ps->n, pic.n);
    nsp = 2;
  } else {
    sp[0].sub = us_sub(&pic, 0, pic.n);
    nsp = 1;
  }
  for (int i = 0; i < nsp; i++)
    if (split_parts(&x, &sp[i], e))
      goto done;
  for (int i = 0; i < nsp; i++)
    if (validate(&x, &sp[i], e))
      goto done;
  for (int i = 0; i < nsp; i++)
    analyse(&x, &sp[i]);
  buf_t out;
  buf_init(&out);
  if (v >= 0 || (isnan(v) && nsp == 1)) {
    format_with(&x, &sp[0], &sp[0].prefix, v, &out);
  } else if (nsp == 2) {
    format_with(&x, &sp[1], &sp[1].prefix, v, &out);
  } else {
    ustr_t pre = {0};
    us_cat(&pre, &x.p[P_MINUS]);
    us_cat(&pre, &sp[0].prefix);
    format_with(&x, &sp[0], &pre, v, &out);
    us_free(&pre);
  }
  result = buf_steal(&out);
done:
  for (int i = 0; i < 2; i++)
    sp_free(&sp[i]);
  us_free(&pic);
  for (int i = 0; i < P_COUNT; i++)
    us_free(&x.p[i]);
  return result;
}

/* ---- $formatBase ----------------------------------------------------- */

char *jnfmt_format_base(double v, int radix, jnfmt_err_t *e) {
  if (radix < 2 || radix > 36) {
    jnfmt_seterr(e, "D3100",
                 "The radix of the formatBase function must be between 2 "
                 "and 36.  It was given %d", radix);
    return NULL;
  }
  v = jround(v, 0);
  buf_t b;
  buf_init(&b);
  if (!isfinite(v)) {
    js_numstr(v, &b);
    return buf_steal(&b);
  }
  char t[1100];
  int n = sizeof t;
  t[--n] = 0;
  double a = fabs(v);
  do {
    double r = fmod(a, radix);
    t[--n] = "0123456789abcdefghijklmnopqrstuvwxyz"[(int)r];
    a = floor((a - r) / radix);
  } while (a > 0 && n > 1);
  if (v < 0)
    buf_putc(&b, '-');
  buf_puts(&b, t + n);
  return buf_steal(&b);
}

/* ---- integer pictures ------------------------------------------------ */

static const char *const few[] = {
  "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight",
  "Nine", "Ten", "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen",
  "Sixteen", "Seventeen", "Eighteen", "Nineteen"};
static const char *const ordinals[] = {
  "Zeroth", "First", "Second", "Third", "Fourth", "Fifth", "Sixth",
  "Seventh", "Eighth", "Ninth", "Tenth", "Eleventh", "Twelfth",
  "Thirteenth", "Fourteenth", "Fifteenth", "Sixteenth", "Seventeenth",
  "Eighteenth", "Nineteenth"};
static const char *const decades[] = {
  "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty",
  "Ninety", "Hundred"};
static const char *const magnitudes[] = {
  "Thousand", "Million", "Billion", "Trillion"};

/* numberToWords' lookup, on doubles as the reference computes. */
static void words(double num, bool prev, bool ord, buf_t *b) {
  if (num <= 19) {
    if (prev)
      buf_puts(b, " and ");
    buf_puts(b, (ord ? ordinals : few)[(int)num]);
  } else if (num < 100) {
    int tens = (int)floor(num / 10), rem = (int)fmod(num, 10);
    if (prev)
      buf_puts(b, " and ");
    const char *d = decades[tens - 2];
    if (rem > 0) {
      buf_puts(b, d);
      buf_putc(b, '-');
      words(rem, false, ord, b);
    } else if (ord) {
      buf_append(b, d, strlen(d) - 1);
      buf_puts(b, "ieth");
    } else {
      buf_puts(b, d);
    }
  } else if (num < 1000) {
    int hundreds = (int)floor(num / 100), rem = (int)fmod(num, 100);
    if (prev)
      buf_puts(b, ", ");
    buf_puts(b, few[hundreds]);
    buf_puts(b, " Hundred");
    if (rem > 0)
      words(rem, true, ord, b);
    else if (ord)
      buf_puts(b, "th");
  } else {
    int mag = (int)floor(log10(num) / 3);
    if (mag > 4)
      mag = 4;
    double factor = pow(10, mag * 3);
    double mant = floor(num / factor);
    double rem = num - mant * factor;
    if (prev)
      buf_puts(b, ", ");
    words(mant, false, false, b);
    buf_putc(b, ' ');
    buf_puts(b, magnitudes[mag - 1]);
    if (rem > 0)
      words(rem, true, ord, b);
    else if (ord)
      buf_puts(b, "th");
  }
}

static const struct { int v; const char *s; } roman[] = {
  {1000, "m"}, {900, "cm"}, {500, "d"}, {400, "cd"}, {100, "c"},
  {90, "xc"}, {50, "l"}, {40, "xl"}, {10, "x"}, {9, "ix"}, {5, "v"},
  {4, "iv"}, {1, "i"}};

/* Roman numerals past this would be megabytes of "m" (a guess at a sane
 * bound; the reference has none). */
#define ROMAN_MAX 1e7

/* The decimal digit families the reference knows (datetime.js). */
static const uint32_t digit_zeros[] = {
  0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66,
  0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040,
  0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0,
  0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
  0xFF10};

void jnfmt_ipic_free(jnfmt_ipic_t *p) {
  free(p->sep);
  free(p->token);
  p->sep = NULL;
  p->token = NULL;
}

int jnfmt_ipic_analyse(const char *picture, jnfmt_ipic_t *p,
                       jnfmt_err_t *e) {
  memset(p, 0, sizeof *p);
  p->zero = '0';
  const char *semi = strrchr(picture, ';');
  char *prim = semi ? ms_strndup(picture, (size_t)(semi - picture))
                    : ms_strdup(picture);
  if (semi && semi[1] == 'o')
    p->ordinal = true;
  if (!strcmp(prim, "A") || !strcmp(prim, "a")) {
    p->primary = JNFMT_LETTERS;
    p->tcase = prim[0] == 'A' ? JNFMT_UPPER : JNFMT_LOWER;
  } else if (!strcmp(prim, "I") || !strcmp(prim, "i")) {
    p->primary = JNFMT_ROMAN;
    p->tcase = prim[0] == 'I' ? JNFMT_UPPER : JNFMT_LOWER;
  } else if (!strcmp(prim, "W") || !strcmp(prim, "Ww") ||
             !strcmp(prim, "w")) {
    p->primary = JNFMT_WORDS;
    p->tcase = !strcmp(prim, "W")    ? JNFMT_UPPER
               : !strcmp(prim, "Ww") ? JNFMT_TITLE
                                     : JNFMT_LOWER;
  } else {
    ustr_t s = us_from(prim);
    int mandatory = 0, optional = 0, pos = 0;
    uint32_t zero = 0;
    for (int i = s.n - 1; i >= 0; i--) {
      uint32_t c = s.c[i];
      bool digit = false;
      for (size_t g = 0; g < sizeof digit_zeros / sizeof *digit_zeros; g++) {
        if (c >= digit_zeros[g] && c <= digit_zeros[g] + 9) {
          digit = true;
          mandatory++;
          pos++;
          if (!zero) {
            zero = digit_zeros[g];
          } else if (zero != digit_zeros[g]) {
            us_free(&s);
            free(prim);
            jnfmt_ipic_free(p);
            jnfmt_seterr(e, "D3131", "In a decimal digit pattern, all "
                         "digits must be from the same decimal group");
            return -1;
          }
          break;
        }
      }
      if (digit)
        continue;
      if (c == '#') {
        pos++;
        optional++;
      } else {
        p->sep = ms_realloc(p->sep, (size_t)(p->nsep + 1) * sizeof *p->sep);
        p->sep[p->nsep].pos = pos;
        p->sep[p->nsep++].ch = c;
      }
    }
    us_free(&s);
    if (mandatory > 0) {
      p->primary = JNFMT_DECIMAL;
      p->zero = zero;
      p->mandatory = mandatory;
      p->optional = optional;
      bool same = p->nsep > 0;
      int ix[p->nsep > 0 ? p->nsep : 1];
      for (int i = 0; i < p->nsep; i++) {
        if (p->sep[i].ch != p->sep[0].ch)
          same = false;
        ix[i] = p->sep[i].pos;
      }
      int f = same ? regular_interval(ix, p->nsep) : 0;
      if (f > 0) {
        p->regular = true;
        p->sep[0].pos = f;
        p->nsep = 1;
      }
    } else {
      p->primary = JNFMT_SEQUENCE;
    }
  }
  p->token = prim;
  return 0;
}

static void set_case(char *s, int tcase) {
  for (; *s; s++)
    if (tcase == JNFMT_UPPER && *s >= 'a' && *s <= 'z')
      *s = (char)(*s - 32);
    else if (tcase == JNFMT_LOWER && *s >= 'A' && *s <= 'Z')
      *s = (char)(*s + 32);
}

int jnfmt_ipic_format(double v, const jnfmt_ipic_t *p, buf_t *out,
                      jnfmt_err_t *e) {
  bool neg = v < 0;
  v = fabs(v);
  buf_t b;
  buf_init(&b);
  switch (p->primary) {
  case JNFMT_LETTERS: {
    char t[512];
    int n = sizeof t;
    t[--n] = 0;
    while (v > 0 && n > 0) {
      t[--n] = (char)((p->tcase == JNFMT_UPPER ? 'A' : 'a') +
                      (int)fmod(v - 1, 26));
      v = floor((v - 1) / 26);
    }
    buf_puts(&b, t + n);
    break;
  }
  case JNFMT_ROMAN:
    if (v > ROMAN_MAX) {
      jnfmt_seterr(e, "D3137", "Roman numeral exceeds output budget");
      buf_free(&b);
      return -1;
    }
    for (size_t i = 0; i < sizeof roman / sizeof *roman; i++)
      while (v >= roman[i].v) {
        buf_puts(&b, roman[i].s);
        v -= roman[i].v;
      }
    if (b.data)
      set_case(b.data, p->tcase == JNFMT_UPPER ? JNFMT_UPPER : JNFMT_LOWER);
    break;
  case JNFMT_WORDS:
    if (!isfinite(v)) {
      jnfmt_seterr(e, "D3137", "Cannot express %g in words", v);
      buf_free(&b);
      return -1;
    }
    words(v, false, p->ordinal, &b);
    if (b.data && p->tcase != JNFMT_TITLE)
      set_case(b.data, p->tcase);
    break;
  case JNFMT_DECIMAL: {
    buf_t d;
    buf_init(&d);
    js_numstr(v, &d);
    ustr_t s = {0};
    for (int i = (int)d.len; i < p->mandatory; i++)
      us_push(&s, '0');
    for (size_t i = 0; i < d.len; i++)
      us_push(&s, (unsigned char)d.data[i]);
    ustr_t sep = {0};
    if (p->regular) {
      us_push(&sep, p->sep[0].ch);
      int n = (s.n - 1) / p->sep[0].pos;
      for (int i = n; i > 0; i--)
        us_insert(&s, s.n - i * p->sep[0].pos, &sep);
    } else {
      for (int i = p->nsep - 1; i >= 0; i--) {
        sep.n = 0;
        us_push(&sep, p->sep[i].ch);
        us_insert(&s, s.n - p->sep[i].pos, &sep);
      }
    }
    us_free(&sep);
    if (p->zero != '0')
      for (int i = 0; i < s.n; i++)
        if (s.c[i] >= '0' && s.c[i] <= '9')
          s.c[i] = s.c[i] - '0' + p->zero;
    us_put(&b, &s);
    us_free(&s);
    if (p->ordinal && d.len > 0) {
      char last = d.data[d.len - 1];
      const char *suf = last == '1' ? "st" : last == '2' ? "nd"
                        : last == '3' ? "rd" : "th";
      if (d.len > 1 && d.data[d.len - 2] == '1')
        suf = "th";
      buf_puts(&b, suf);
    }
    buf_free(&d);
    break;
  }
  default: {
    char *q = jnfmt_quote(p->token ? p->token : "");
    jnfmt_seterr(e, "D3130", "Formatting or parsing an integer as a "
                 "sequence starting with %s is not supported by this "
                 "implementation", q);
    free(q);
    buf_free(&b);
    return -1;
  }
  }
  if (neg)
    buf_putc(out, '-');
  if (b.data)
    buf_append(out, b.data, b.len);
  buf_free(&b);
  return 0;
}

/* The words the reference's parser knows, in its key order (which is the
 * order of the alternation in the parsing regex). */
typedef struct wordval { const char *w; double v; } wordval_t;

static const wordval_t word_tab[] = {
  {"zero", 0}, {"one", 1}, {"two", 2}, {"three", 3}, {"four", 4}, {"five", 5},
  {"six", 6}, {"seven", 7}, {"eight", 8}, {"nine", 9}, {"ten", 10},
  {"eleven", 11}, {"twelve", 12}, {"thirteen", 13}, {"fourteen", 14},
  {"fifteen", 15}, {"sixteen", 16}, {"seventeen", 17}, {"eighteen", 18},
  {"nineteen", 19}, {"zeroth", 0}, {"first", 1}, {"second", 2}, {"third", 3},
  {"fourth", 4}, {"fifth", 5}, {"sixth", 6}, {"seventh", 7}, {"eighth", 8},
  {"ninth", 9}, {"tenth", 10}, {"eleventh", 11}, {"twelfth", 12},
  {"thirteenth", 13}, {"fourteenth", 14}, {"fifteenth", 15}, {"sixteenth", 16},
  {"seventeenth", 17}, {"eighteenth", 18}, {"nineteenth", 19}, {"twenty", 20},
  {"twentieth", 20}, {"thirty", 30}, {"thirtieth", 30}, {"forty", 40},
  {"fortieth", 40}, {"fifty", 50}, {"fiftieth", 50}, {"sixty", 60},
  {"sixtieth", 60}, {"seventy", 70}, {"seventieth", 70}, {"eighty", 80},
  {"eightieth", 80}, {"ninety", 90}, {"ninetieth", 90}, {"hundred", 100},
  {"hundreieth", 100}, {"hundredth", 100}, {"thousand", 1e3},
  {"thousandth", 1e3}, {"million", 1e6}, {"millionth", 1e6}, {"billion", 1e9},
  {"billionth", 1e9}, {"trillion", 1e12}, {"trillionth", 1e12}};
#define NWORDS ((int)(sizeof word_tab / sizeof *word_tab))

int jnfmt_ipic_regex(const jnfmt_ipic_t *p, buf_t *out, jnfmt_err_t *e) {
  bool up = p->tcase == JNFMT_UPPER;
  switch (p->primary) {
  case JNFMT_LETTERS:
    buf_puts(out, up ? "[A-Z]+" : "[a-z]+");
    return 0;
  case JNFMT_ROMAN:
    buf_puts(out, up ? "[MDCLXVI]+" : "[mdclxvi]+");
    return 0;
  case JNFMT_WORDS: {
    buf_puts(out, "(?:");
    for (int i = 0; i < NWORDS; i++) {
      buf_puts(out, word_tab[i].w);
      buf_putc(out, '|');
    }
    buf_puts(out, "and|[\\-, ])+");
    return 0;
  }
  case JNFMT_DECIMAL:
    buf_puts(out, "[0-9]");
    if (p->parse_width > 0)
      buf_printf(out, "{%d}", p->parse_width);
    else
      buf_putc(out, '+');
    if (p->ordinal)
      buf_puts(out, "(?:th|st|nd|rd)");
    return 0;
  default: {
    char *q = jnfmt_quote(p->token ? p->token : "");
    jnfmt_seterr(e, "D3130", "Formatting or parsing an integer as a "
                 "sequence starting with %s is not supported by this "
                 "implementation", q);
    free(q);
    return -1;
  }
  }
}

/* parseInt(s, 10) */
static double js_parse_int(const char *s) {
  while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
    s++;
  const char *d = s;
  if (*d == '+' || *d == '-')
    d++;
  const char *q = d;
  while (*q >= '0' && *q <= '9')
    q++;
  if (q == d)
    return NAN;
  char *t = ms_strndup(s, (size_t)(q - s));
  double v = strtod(t, NULL);
  free(t);
  return v;
}

static bool sp(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/* wordsToNumber */
static double words_value(const char *text) {
  char *s = ms_strdup(text);
  set_case(s, JNFMT_LOWER);
  double segs[64];
  int ns = 1;
  segs[0] = 0;
  size_t len = strlen(s), i = 0, start = 0;
  double result = 0;
  bool bad = false;
  while (start <= len) {
    /* find the next separator: ",\s" | "\sand\s" | [\s\\-] */
    size_t end = start, skip = 0;
    for (i = start; i < len; i++) {
      if (s[i] == ',' && sp(s[i + 1])) {
        skip = 2;
        break;
      }
      if (sp(s[i]) && !strncmp(s + i + 1, "and", 3) && sp(s[i + 4])) {
        skip = 5;
        break;
      }
      if (sp(s[i]) || s[i] == '\\' || s[i] == '-') {
        skip = 1;
        break;
      }
    }
    end = i;
    if (end > start) {
      double v = NAN;
      for (int k = 0; k < NWORDS; k++)
        if (strlen(word_tab[k].w) == end - start &&
            !strncmp(word_tab[k].w, s + start, end - start))
          v = word_tab[k].v;
      if (isnan(v) || ns >= 62) {
        bad = true;
        break;
      }
      if (v < 100) {
        double top = segs[--ns];
        if (top >= 1000) {
          segs[ns++] = top;
          top = 0;
        }
        segs[ns++] = top + v;
      } else {
        segs[ns - 1] *= v;
      }
    }
    if (i >= len)
      break;
    start = end + skip;
  }
  free(s);
  if (bad)
    return NAN;
  for (int k = 0; k < ns; k++)
    result += segs[k];
  return result;
}

double jnfmt_ipic_value(const jnfmt_ipic_t *p, const char *text) {
  bool up = p->tcase == JNFMT_UPPER;
  switch (p->primary) {
  case JNFMT_LETTERS: {
    ustr_t s = us_from(text);
    double d = 0;
    uint32_t a = up ? 'A' : 'a';
    for (int i = 0; i < s.n; i++)
      d += ((double)s.c[s.n - i - 1] - a + 1) * pow(26, i);
    us_free(&s);
    return d;
  }
  case JNFMT_ROMAN: {
    double d = 0, max = 1;
    for (int i = (int)strlen(text) - 1; i >= 0; i--) {
      char c = text[i];
      if (!up && c >= 'a' && c <= 'z')
        c = (char)(c - 32);
      double v = c == 'M' ? 1000 : c == 'D' ? 500 : c == 'C' ? 100
                 : c == 'L' ? 50 : c == 'X' ? 10 : c == 'V' ? 5
                 : c == 'I' ? 1 : NAN;
      if (isnan(v))
        return NAN;
      if (v < max) {
        d -= v;
      } else {
        max = v;
        d += v;
      }
    }
    return d;
  }
  case JNFMT_WORDS:
    return words_value(text);
  case JNFMT_DECIMAL: {
    ustr_t s = us_from(text);
    if (p->ordinal)
      s.n = s.n >= 2 ? s.n - 2 : 0;
    ustr_t d = {0};
    for (int i = 0; i < s.n; i++) {
      uint32_t c = s.c[i];
      bool drop = false;
      if (p->regular)
        drop = c == ',';
      else
        for (int k = 0; k < p->nsep; k++)
          if (c == p->sep[k].ch)
            drop = true;
      if (drop)
        continue;
      if (p->zero != '0')
        c = c - p->zero + '0';
      us_push(&d, c);
    }
    buf_t b;
    buf_init(&b);
    us_put(&b, &d);
    double v = js_parse_int(b.data ? b.data : "");
    buf_free(&b);
    us_free(&d);
    us_free(&s);
    return v;
  }
  default:
    return NAN;
  }
}

/* ---- $formatInteger, $parseInteger ----------------------------------- */

char *jnfmt_format_integer(double v, const char *picture, jnfmt_err_t *e) {
  jnfmt_ipic_t p;
  if (jnfmt_ipic_analyse(picture, &p, e))
    return NULL;
  buf_t b;
  buf_init(&b);
  int rc = jnfmt_ipic_format(floor(v), &p, &b, e);
  jnfmt_ipic_free(&p);
  if (rc) {
    buf_free(&b);
    return NULL;
  }
  return buf_steal(&b);
}

int jnfmt_parse_integer(const char *s, const char *picture, double *out,
                        jnfmt_err_t *e) {
  jnfmt_ipic_t p;
  if (jnfmt_ipic_analyse(picture, &p, e))
    return -1;
  buf_t re;
  buf_init(&re);
  int rc = jnfmt_ipic_regex(&p, &re, e);
  buf_free(&re);
  if (rc) {
    jnfmt_ipic_free(&p);
    return -1;
  }
  double v = jnfmt_ipic_value(&p, s);
  jnfmt_ipic_free(&p);
  if (isnan(v) || isinf(v))
    return 1;
  *out = v;
  return 0;
}
