/* jsonata_fn.c - JSONata's function library: string, numeric, aggregation,
 * boolean, array, object, higher-order, regex ($match, $replace, $split,
 * $contains over PCRE2), URL and base64 coding, $eval, $type, $error,
 * $assert, $now and $millis, with the reference's signatures. Picture
 * strings ($formatNumber, $formatInteger, $parseInteger, $formatBase,
 * $fromMillis, $toMillis) are jsonata_fmt.c's; this file adapts them.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <locale.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>
#include <wctype.h>
#include "jsonata_fmt.h"
#include "jsonata_int.h"

#define ARG(i) ((i) < n ? args[i] : NULL)
#define FN(name) static jv *name(jctx *c, jv **args, int n, jv *input, \
                                 jframe *env)
#define UNUSED (void)c; (void)args; (void)n; (void)input; (void)env

jv *jeval_lookup(jctx *c, jv *input, const char *k, size_t kl);

static bool isnum(jctx *c, jv *v) {
  if (!v || v->t != JV_NUM || isnan(v->u.n)) return false;
  if (isinf(v->u.n)) jerr(c, "D1001", -1, NULL, v, NULL);
  return true;
}

static jv *num(jctx *c, double d) { return jv_num(c, d); }

static jv *str_take(jctx *c, char *p, size_t len) {
  jv *v = ja_alloc(&c->a, sizeof *v);
  v->t = JV_STR;
  v->u.s.p = p;
  v->u.s.len = len;
  return v;
}

/* ---- strings */

jv *jfn_string(jctx *c, jv *v, bool pretty) {
  if (!v) return NULL;
  if (v->t == JV_STR) return v;
  if (v->t == JV_FN) return jv_str(c, "", 0);
  if (v->t == JV_NUM && !isfinite(v->u.n))
    jerr(c, "D3001", -1, NULL, v, NULL);
  if (jv_isarr(v) && v->outer && v->u.a.n) v = v->u.a.v[0];
  /* JSON.stringify throws on nested infinities */
  size_t len;
  char *s = jv_stringify(c, v, pretty, &len);
  return str_take(c, s, len);
}

FN(f_string) {
  UNUSED;
  jv *v = ARG(0);
  if (!v) return NULL;
  if (v->t != JV_NUM && v->t != JV_STR && v->t != JV_FN) {
    /* nested non-finite numbers are out of range */
    jv *stack[64];
    int sp = 0;
    stack[sp++] = v;
    while (sp) {
      jv *x = stack[--sp];
      if (!x) continue;
      if (x->t == JV_NUM && !isfinite(x->u.n))
        jerr(c, "D1001", -1, NULL, x, NULL);
      if (x->t == JV_ARR)
        for (size_t i = 0; i < x->u.a.n && sp < 64; i++)
          stack[sp++] = x->u.a.v[i];
      if (x->t == JV_OBJ)
        for (size_t i = 0; i < x->u.o.n && sp < 64; i++)
          stack[sp++] = x->u.o.v[i];
    }
  }
  return jfn_string(c, v, ARG(1) && ARG(1)->t == JV_BOOL && ARG(1)->u.b);
}

/* code points of s, as offsets */
static size_t *cps(jctx *c, jv *s, size_t *count) {
  size_t n = jutf8_len(s->u.s.p, s->u.s.len), k = 0;
  size_t *o = ja_alloc(&c->a, (n + 1) * sizeof *o);
  for (size_t i = 0; i < s->u.s.len; i++)
    if (((unsigned char)s->u.s.p[i] & 0xC0) != 0x80) o[k++] = i;
  o[n] = s->u.s.len;
  *count = n;
  return o;
}

static double to_int(double d) { return d < 0 ? ceil(d) : floor(d); }

static jv *slice(jctx *c, jv *s, double start, double end, bool has_end) {
  size_t n;
  size_t *o = cps(c, s, &n);
  double len = (double)n;
  start = isnan(start) ? 0 : to_int(start);
  if (start < 0) start = start + len < 0 ? 0 : start + len;
  if (start > len) start = len;
  if (!has_end) end = len;
  else {
    end = isnan(end) ? 0 : to_int(end);
    if (end < 0) end = end + len < 0 ? 0 : end + len;
    if (end > len) end = len;
  }
  if (end <= start) return jv_str(c, "", 0);
  size_t a = o[(size_t)start], b = o[(size_t)end];
  return jv_str(c, s->u.s.p + a, b - a);
}

FN(f_substring) {
  UNUSED;
  jv *s = ARG(0);
  if (!s) return NULL;
  double start = ARG(1) ? ARG(1)->u.n : NAN;
  size_t len = jutf8_len(s->u.s.p, s->u.s.len);
  if ((double)len + start < 0) start = 0;
  if (ARG(2)) {
    double l = ARG(2)->u.n;
    if (l <= 0) return jv_str(c, "", 0);
    double end = start >= 0 ? start + l : (double)len + start + l;
    return slice(c, s, start, end, true);
  }
  return slice(c, s, start, 0, false);
}

static long find_str(jv *s, jv *t, size_t from) {
  if (t->u.s.len == 0) return (long)from;
  if (s->u.s.len < t->u.s.len) return -1;
  for (size_t i = from; i + t->u.s.len <= s->u.s.len; i++)
    if (!memcmp(s->u.s.p + i, t->u.s.p, t->u.s.len)) return (long)i;
  return -1;
}

FN(f_substring_before) {
  UNUSED;
  jv *s = ARG(0), *t = ARG(1);
  if (!s) return NULL;
  long i = t ? find_str(s, t, 0) : -1;
  if (i < 0) return s;
  return jv_str(c, s->u.s.p, (size_t)i);
}

FN(f_substring_after) {
  UNUSED;
  jv *s = ARG(0), *t = ARG(1);
  if (!s) return NULL;
  long i = t ? find_str(s, t, 0) : -1;
  if (i < 0) return s;
  return jv_str(c, s->u.s.p + i + t->u.s.len, s->u.s.len - i - t->u.s.len);
}

static locale_t utf8_locale(void) {
  static locale_t loc;
  if (!loc) loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  return loc;
}

static jv *map_case(jctx *c, jv *s, bool upper) {
  char *out = ja_alloc(&c->a, s->u.s.len * 2 + 8);
  size_t o = 0;
  mbstate_t st;
  memset(&st, 0, sizeof st);
  locale_t loc = utf8_locale();
  locale_t old = loc ? uselocale(loc) : (locale_t)0;
  const char *p = s->u.s.p, *end = p + s->u.s.len;
  while (p < end) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, p, end - p, &st);
    if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
      out[o++] = *p++;
      memset(&st, 0, sizeof st);
      continue;
    }
    if (upper && wc == 0xDF) {   /* JavaScript's full mapping: ß -> SS */
      out[o++] = 'S';
      out[o++] = 'S';
      p += k;
      continue;
    }
    wchar_t m = upper ? (wchar_t)towupper((wint_t)wc)
                      : (wchar_t)towlower((wint_t)wc);
    char mb[8];
    mbstate_t ws;
    memset(&ws, 0, sizeof ws);
    size_t w = wcrtomb(mb, m, &ws);
    if (w == (size_t)-1 || w > k + 2) {
      memcpy(out + o, p, k);
      o += k;
    } else {
      memcpy(out + o, mb, w);
      o += w;
    }
    p += k;
  }
  if (loc) uselocale(old);
  return str_take(c, out, o);
}

FN(f_lowercase) { UNUSED; return ARG(0) ? map_case(c, ARG(0), false) : NULL; }
FN(f_uppercase) { UNUSED; return ARG(0) ? map_case(c, ARG(0), true) : NULL; }

FN(f_length) {
  UNUSED;
  jv *s = ARG(0);
  if (!s) return NULL;
  return num(c, (double)jutf8_len(s->u.s.p, s->u.s.len));
}

FN(f_trim) {
  UNUSED;
  jv *s = ARG(0);
  if (!s) return NULL;
  char *out = ja_alloc(&c->a, s->u.s.len + 1);
  size_t o = 0;
  bool ws = false;
  for (size_t i = 0; i < s->u.s.len; i++) {
    char ch = s->u.s.p[i];
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
      ws = true;
      continue;
    }
    if (ws && o > 0) out[o++] = ' ';
    ws = false;
    out[o++] = ch;
  }
  return str_take(c, out, o);
}

FN(f_pad) {
  UNUSED;
  jv *s = ARG(0), *w = ARG(1), *ch = ARG(2);
  if (!s) return NULL;
  const char *pc = " ";
  size_t pl = 1;
  if (ch && ch->u.s.len) { pc = ch->u.s.p; pl = ch->u.s.len; }
  if (!w) return s;
  double width = to_int(w->u.n);
  double padn = fabs(width) - (double)jutf8_len(s->u.s.p, s->u.s.len);
  if (padn <= 0) return s;
  /* JavaScript strings end near 2^29 characters; past that the reference
   * fails too, and a C allocation would take the process down */
  if (padn * (double)pl > (double)(1 << 28))
    jerr(c, "D1005", -1, NULL, NULL, NULL);
  size_t np = (size_t)padn;
  /* padding: repeat pc, cut to np code points */
  char *pad = ja_alloc(&c->a, np * pl + 1);
  size_t o = 0;
  if (pl == 1) {
    memset(pad, pc[0], np);
    o = np;
  } else {
    for (size_t i = 0; i < np; i++) { memcpy(pad + o, pc, pl); o += pl; }
  }
  /* the cut, walked (found by the fuzzer: an offset table per code point
   * cost 8 bytes a character) */
  size_t cut = 0, k = 0;
  for (; cut < o; cut++)
    if (((unsigned char)pad[cut] & 0xC0) != 0x80 && k++ == np) break;
  size_t total = cut + s->u.s.len;
  char *out = ja_alloc(&c->a, total + 1);
  if (width > 0) {
    memcpy(out, s->u.s.p, s->u.s.len);
    memcpy(out + s->u.s.len, pad, cut);
  } else {
    memcpy(out, pad, cut);
    memcpy(out + cut, s->u.s.p, s->u.s.len);
  }
  return str_take(c, out, total);
}

/* ---- regex matching, as the reference's evaluateMatcher iterates */

typedef struct rmatch {
  size_t start, end;          /* bytes */
  int ng;
  jv *groups;
} rmatch;

typedef struct matcher {
  pcre2_code *re;
  jv *s;
  size_t last;                /* lastIndex */
  int pos;
} matcher;

static pcre2_code *regex_of(jv *f) {
  if (jv_isfn(f) && f->u.f->kind == FN_REGEX) return f->u.f->node->re;
  return NULL;
}

static bool m_exec(jctx *c, matcher *m, size_t from, rmatch *r) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
  int rc = pcre2_match(m->re, (PCRE2_SPTR)m->s->u.s.p, m->s->u.s.len, from,
                       0, md, NULL);
  if (rc <= 0) {
    pcre2_match_data_free(md);
    return false;
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  r->start = ov[0];
  r->end = ov[1];
  r->groups = jv_arr(c);
  int ngroups = 0;
  pcre2_pattern_info(m->re, PCRE2_INFO_CAPTURECOUNT, &ngroups);
  for (int i = 1; i <= ngroups; i++) {
    if (i < rc && ov[2 * i] != PCRE2_UNSET)
      jv_push(c, r->groups, jv_str(c, m->s->u.s.p + ov[2 * i],
                                   ov[2 * i + 1] - ov[2 * i]));
    else
      jv_push(c, r->groups, jv_str(c, "", 0));
  }
  pcre2_match_data_free(md);
  m->last = r->end;
  return true;
}

static bool m_first(jctx *c, matcher *m, rmatch *r) {
  return m_exec(c, m, 0, r);
}

static bool m_next(jctx *c, matcher *m, rmatch *r) {
  if (m->last >= m->s->u.s.len) return false;
  if (!m_exec(c, m, m->last, r)) return false;
  if (r->start == r->end) jerr(c, "D1004", m->pos, NULL, NULL, NULL);
  return true;
}

static double cp_index(jv *s, size_t byte) {
  return (double)jutf8_len(s->u.s.p, byte);
}

FN(f_match) {
  UNUSED;
  jv *s = ARG(0), *lim = ARG(2);
  if (!s) return NULL;
  if (lim && lim->u.n < 0) jerr(c, "D3040", -1, "match", lim, NULL);
  jv *res = jv_seq(c);
  if (lim && lim->u.n == 0) return res;
  matcher m = {regex_of(ARG(1)), s, 0, -1};
  if (!m.re) jerr(c, "T1010", -1, "match", NULL, NULL);
  rmatch r;
  int count = 0;
  bool ok = m_first(c, &m, &r);
  while (ok && (!lim || count < lim->u.n)) {
    jv *o = jv_obj(c);
    jv_set(c, o, "match", 5, jv_str(c, s->u.s.p + r.start, r.end - r.start));
    jv_set(c, o, "index", 5, num(c, cp_index(s, r.start)));
    jv_set(c, o, "groups", 6, r.groups);
    jv_push(c, res, o);
    count++;
    ok = m_next(c, &m, &r);
  }
  return res;
}

FN(f_contains) {
  UNUSED;
  jv *s = ARG(0), *t = ARG(1);
  if (!s) return NULL;
  if (!t) return NULL;
  if (t->t == JV_STR) return jv_bool(find_str(s, t, 0) >= 0);
  matcher m = {regex_of(t), s, 0, -1};
  if (!m.re) return jv_bool(false);
  rmatch r;
  return jv_bool(m_first(c, &m, &r));
}

typedef struct sb { char *p; size_t n, cap; } sb;

static void sb_add(jctx *c, sb *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = (b->n + n + 1) * 2;
    char *np = ja_alloc(&c->a, cap);
    if (b->n) memcpy(np, b->p, b->n);
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void subst(jctx *c, sb *out, jv *rep, jv *s, rmatch *r) {
  const char *p = rep->u.s.p;
  size_t len = rep->u.s.len, pos = 0;
  size_t ng = r->groups->u.a.n;
  while (pos < len) {
    const char *d = memchr(p + pos, '$', len - pos);
    if (!d) break;
    size_t index = d - p;
    sb_add(c, out, p + pos, index - pos);
    pos = index + 1;
    char dv = pos < len ? p[pos] : 0;
    if (dv == '$') {
      sb_add(c, out, "$", 1);
      pos++;
    } else if (dv == '0') {
      sb_add(c, out, s->u.s.p + r->start, r->end - r->start);
      pos++;
    } else {
      int maxd = ng == 0 ? 1 : (int)floor(log10((double)ng)) + 1;
      char dig[16];
      int nd = 0;
      while (nd < maxd && pos + nd < len && p[pos + nd] >= '0' &&
             p[pos + nd] <= '9') {
        dig[nd] = p[pos + nd];
        nd++;
      }
      dig[nd] = 0;
      if (nd == 0) {
        sb_add(c, out, "$", 1);
        continue;
      }
      long idx = strtol(dig, NULL, 10);
      if (maxd > 1 && (size_t)idx > ng && nd > 1) {
        dig[nd - 1] = 0;
        idx = strtol(dig, NULL, 10);
      }
      if (ng > 0 && idx >= 1 && (size_t)idx <= ng) {
        jv *g = r->groups->u.a.v[idx - 1];
        sb_add(c, out, g->u.s.p, g->u.s.len);
      }
      char ib[24];
      pos += (size_t)snprintf(ib, sizeof ib, "%ld", idx);
    }
  }
  sb_add(c, out, p + pos, len - pos);
}

FN(f_replace) {
  UNUSED;
  jv *s = ARG(0), *pat = ARG(1), *rep = ARG(2), *lim = ARG(3);
  if (!s) return NULL;
  if (!pat) return s;
  if (!rep) rep = jv_cstr(c, "undefined");
  if (pat->t == JV_STR && pat->u.s.len == 0)
    jerr(c, "D3010", -1, "replace", pat, NULL);
  if (lim && lim->u.n < 0) jerr(c, "D3011", -1, "replace", lim, NULL);
  if (lim && lim->u.n == 0) return s;
  sb out = {NULL, 0, 0};
  sb_add(c, &out, "", 0);
  int count = 0;
  if (pat->t == JV_STR) {
    size_t pos = 0;
    long i = find_str(s, pat, 0);
    jv *rs = rep->t == JV_STR ? rep : jfn_string(c, rep, false);
    while (i >= 0 && (!lim || count < lim->u.n)) {
      sb_add(c, &out, s->u.s.p + pos, (size_t)i - pos);
      sb_add(c, &out, rs->u.s.p, rs->u.s.len);
      pos = (size_t)i + pat->u.s.len;
      count++;
      i = find_str(s, pat, pos);
    }
    sb_add(c, &out, s->u.s.p + pos, s->u.s.len - pos);
    return str_take(c, out.p, out.n);
  }
  matcher m = {regex_of(pat), s, 0, -1};
  if (!m.re) jerr(c, "T1010", -1, "replace", NULL, NULL);
  rmatch r;
  bool ok = m_first(c, &m, &r);
  if (!ok) return s;
  size_t pos = 0;
  while (ok && (!lim || count < lim->u.n)) {
    sb_add(c, &out, s->u.s.p + pos, r.start - pos);
    if (rep->t == JV_STR) {
      subst(c, &out, rep, s, &r);
    } else {
      jv *mo = jv_obj(c);
      jv_set(c, mo, "match", 5, jv_str(c, s->u.s.p + r.start,
                                       r.end - r.start));
      jv_set(c, mo, "index", 5, num(c, cp_index(s, r.start)));
      jv_set(c, mo, "groups", 6, r.groups);
      jv *w = jeval_apply(c, rep, &mo, 1, NULL, env, -1, "replace");
      if (!w || w->t != JV_STR) jerr(c, "D3012", -1, "replace", w, NULL);
      sb_add(c, &out, w->u.s.p, w->u.s.len);
    }
    pos = r.end;
    count++;
    ok = m_next(c, &m, &r);
  }
  sb_add(c, &out, s->u.s.p + pos, s->u.s.len - pos);
  return str_take(c, out.p, out.n);
}

FN(f_split) {
  UNUSED;
  jv *s = ARG(0), *sep = ARG(1), *lim = ARG(2);
  if (!s) return NULL;
  if (lim && lim->u.n < 0) jerr(c, "D3020", -1, "split", lim, NULL);
  jv *res = jv_arr(c);
  double limit = lim ? floor(lim->u.n) : INFINITY;
  if (limit == 0) return res;
  if (!sep) {
    jv_push(c, res, s);
    return res;
  }
  if (sep->t == JV_STR) {
    if (sep->u.s.len == 0) {
      size_t n2;
      size_t *o = cps(c, s, &n2);
      for (size_t i = 0; i < n2 && (double)i < limit; i++)
        jv_push(c, res, jv_str(c, s->u.s.p + o[i], o[i + 1] - o[i]));
      return res;
    }
    size_t pos = 0;
    for (;;) {
      if ((double)res->u.a.n >= limit) break;
      long i = find_str(s, sep, pos);
      if (i < 0) {
        jv_push(c, res, jv_str(c, s->u.s.p + pos, s->u.s.len - pos));
        break;
      }
      jv_push(c, res, jv_str(c, s->u.s.p + pos, (size_t)i - pos));
      pos = (size_t)i + sep->u.s.len;
    }
    return res;
  }
  matcher m = {regex_of(sep), s, 0, -1};
  if (!m.re) jerr(c, "T1010", -1, "split", NULL, NULL);
  rmatch r;
  bool ok = m_first(c, &m, &r);
  if (!ok) {
    jv_push(c, res, s);
    return res;
  }
  size_t start = 0;
  double count = 0;
  while (ok && count < limit) {
    jv_push(c, res, jv_str(c, s->u.s.p + start, r.start - start));
    start = r.end;
    ok = m_next(c, &m, &r);
    count++;
  }
  if (count < limit)
    jv_push(c, res, jv_str(c, s->u.s.p + start, s->u.s.len - start));
  return res;
}

FN(f_join) {
  UNUSED;
  jv *a = ARG(0), *sep = ARG(1);
  if (!a) return NULL;
  sb out = {NULL, 0, 0};
  sb_add(c, &out, "", 0);
  for (size_t i = 0; i < a->u.a.n; i++) {
    if (i && sep) sb_add(c, &out, sep->u.s.p, sep->u.s.len);
    sb_add(c, &out, a->u.a.v[i]->u.s.p, a->u.a.v[i]->u.s.len);
  }
  return str_take(c, out.p, out.n);
}

/* ---- numbers */

static bool match_re(const char *re, const char *s, size_t n) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0,
                                   &ec, &eo, NULL);
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
  int rc = pcre2_match(code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return rc >= 0;
}

FN(f_number) {
  UNUSED;
  jv *v = ARG(0);
  if (!v) return NULL;
  if (v->t == JV_NUM) return v;
  if (v->t == JV_BOOL) return num(c, v->u.b ? 1 : 0);
  if (v->t == JV_STR) {
    if (match_re("^-?[0-9]+(\\.[0-9]+)?([Ee][-+]?[0-9]+)?$", v->u.s.p,
                 v->u.s.len)) {
      double d = strtod(v->u.s.p, NULL);
      if (isfinite(d)) return num(c, d);
    } else if (match_re("^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$",
                        v->u.s.p, v->u.s.len)) {
      int base = v->u.s.p[1] == 'x' || v->u.s.p[1] == 'X' ? 16
                 : v->u.s.p[1] == 'o' || v->u.s.p[1] == 'O' ? 8 : 2;
      return num(c, (double)strtoull(v->u.s.p + 2, NULL, base));
    }
  }
  jerr(c, "D3030", -1, "number", v, NULL);
}

FN(f_floor) { UNUSED; return ARG(0) ? num(c, floor(ARG(0)->u.n)) : NULL; }
FN(f_ceil) { UNUSED; return ARG(0) ? num(c, ceil(ARG(0)->u.n)) : NULL; }
FN(f_abs) { UNUSED; return ARG(0) ? num(c, fabs(ARG(0)->u.n)) : NULL; }

FN(f_sqrt) {
  UNUSED;
  if (!ARG(0)) return NULL;
  if (ARG(0)->u.n < 0) jerr(c, "D3060", -1, "sqrt", ARG(0), NULL);
  return num(c, sqrt(ARG(0)->u.n));
}

FN(f_power) {
  UNUSED;
  if (!ARG(0)) return NULL;
  double r = pow(ARG(0)->u.n, ARG(1) ? ARG(1)->u.n : NAN);
  if (!isfinite(r)) jerr(c, "D3061", -1, "power", ARG(0), ARG(1));
  return num(c, r);
}

static double shift(double v, int p) {
  char buf[64], *e;
  jnum_fmt(v, buf);
  int ex = 0;
  if ((e = strchr(buf, 'e'))) {
    ex = (int)strtol(e + 1, NULL, 10);
    *e = 0;
  }
  char out[96];
  snprintf(out, sizeof out, "%se%d", buf, ex + p);
  return strtod(out, NULL);
}

FN(f_round) {
  UNUSED;
  if (!ARG(0)) return NULL;
  double v = ARG(0)->u.n;
  /* past +-2000 every double over- or underflows: clamp before the cast
   * (found by the fuzzer: 1e300 does not fit an int) */
  double p = ARG(1) && !isnan(ARG(1)->u.n) ? ARG(1)->u.n : 0;
  int prec = p > 2000 ? 2000 : p < -2000 ? -2000 : (int)p;
  if (prec) v = shift(v, prec);
  double r = floor(v + 0.5);
  double diff = r - v;
  if (fabs(diff) == 0.5 && fabs(fmod(r, 2)) == 1) r = r - 1;
  if (prec) r = shift(r, -prec);
  if (r == 0) r = 0;
  return num(c, r);
}

FN(f_random) {
  UNUSED;
  return num(c, (double)rand() / ((double)RAND_MAX + 1));
}

/* ---- aggregation */

FN(f_sum) {
  UNUSED;
  jv *a = ARG(0);
  if (!a) return NULL;
  double t = 0;
  for (size_t i = 0; i < a->u.a.n; i++) t += a->u.a.v[i]->u.n;
  return num(c, t);
}

FN(f_count) {
  UNUSED;
  jv *a = ARG(0);
  return num(c, a ? (double)a->u.a.n : 0);
}

static jv *minmax(jctx *c, jv *a, bool max) {
  if (!a || a->u.a.n == 0) return NULL;
  double m = a->u.a.v[0]->u.n;
  for (size_t i = 1; i < a->u.a.n; i++) {
    double x = a->u.a.v[i]->u.n;
    if (max ? x > m : x < m) m = x;
  }
  return num(c, m);
}

FN(f_max) { UNUSED; return minmax(c, ARG(0), true); }
FN(f_min) { UNUSED; return minmax(c, ARG(0), false); }

FN(f_average) {
  UNUSED;
  jv *a = ARG(0);
  if (!a || a->u.a.n == 0) return NULL;
  double t = 0;
  for (size_t i = 0; i < a->u.a.n; i++) t += a->u.a.v[i]->u.n;
  return num(c, t / (double)a->u.a.n);
}

/* ---- boolean */

static int truth(jctx *c, jv *v) {   /* -1 undefined */
  if (!v) return -1;
  switch (v->t) {
  case JV_ARR:
    if (v->u.a.n == 1) return truth(c, v->u.a.v[0]) == 1;
    for (size_t i = 0; i < v->u.a.n; i++)
      if (truth(c, v->u.a.v[i]) == 1) return 1;
    return 0;
  case JV_STR: return v->u.s.len > 0;
  case JV_NUM: return isnum(c, v) && v->u.n != 0;
  case JV_OBJ: return v->u.o.n > 0;
  case JV_BOOL: return v->u.b;
  default: return 0;
  }
}

bool jfn_boolean(jctx *c, jv *v) { return truth(c, v) == 1; }

FN(f_boolean) {
  UNUSED;
  int t = truth(c, ARG(0));
  return t < 0 ? NULL : jv_bool(t);
}

FN(f_not) {
  UNUSED;
  int t = truth(c, ARG(0));
  return t < 0 ? NULL : jv_bool(!t);
}

FN(f_exists) { UNUSED; return jv_bool(ARG(0) != NULL); }

/* ---- arrays and objects */

FN(f_append) { UNUSED; return jv_append(c, ARG(0), ARG(1)); }

FN(f_keys) {
  UNUSED;
  jv *a = ARG(0), *res = jv_seq(c);
  if (jv_isarr(a)) {
    jv *seen = jv_obj(c);
    for (size_t i = 0; i < a->u.a.n; i++) {
      jv *o = a->u.a.v[i];
      if (!o || o->t != JV_OBJ) continue;
      for (size_t k = 0; k < o->u.o.n; k++)
        if (!jv_get(seen, o->u.o.k[k], o->u.o.kl[k])) {
          jv_set(c, seen, o->u.o.k[k], o->u.o.kl[k], jv_bool(true));
          jv_push(c, res, jv_str(c, o->u.o.k[k], o->u.o.kl[k]));
        }
    }
  } else if (a && a->t == JV_OBJ) {
    for (size_t k = 0; k < a->u.o.n; k++)
      jv_push(c, res, jv_str(c, a->u.o.k[k], a->u.o.kl[k]));
  }
  return res;
}

FN(f_lookup) {
  UNUSED;
  if (!ARG(1)) return NULL;
  return jeval_lookup(c, ARG(0), ARG(1)->u.s.p, ARG(1)->u.s.len);
}

static jv *spread(jctx *c, jv *a) {
  if (jv_isarr(a)) {
    jv *res = jv_seq(c);
    for (size_t i = 0; i < a->u.a.n; i++)
      res = jv_append(c, res, spread(c, a->u.a.v[i]));
    return res;
  }
  if (a && a->t == JV_OBJ) {
    jv *res = jv_seq(c);
    for (size_t k = 0; k < a->u.o.n; k++) {
      jv *o = jv_obj(c);
      jv_set(c, o, a->u.o.k[k], a->u.o.kl[k], a->u.o.v[k]);
      jv_push(c, res, o);
    }
    return res;
  }
  return a;
}

FN(f_spread) { UNUSED; return spread(c, ARG(0)); }

FN(f_merge) {
  UNUSED;
  jv *a = ARG(0);
  if (!a) return NULL;
  jv *res = jv_obj(c);
  for (size_t i = 0; i < a->u.a.n; i++) {
    jv *o = a->u.a.v[i];
    for (size_t k = 0; o && k < o->u.o.n; k++)
      jv_set(c, res, o->u.o.k[k], o->u.o.kl[k], o->u.o.v[k]);
  }
  return res;
}

FN(f_reverse) {
  UNUSED;
  jv *a = ARG(0);
  if (!a) return NULL;
  if (a->u.a.n <= 1) return a;
  jv *r = jv_arr(c);
  for (size_t i = a->u.a.n; i > 0; i--) jv_push(c, r, a->u.a.v[i - 1]);
  return r;
}

FN(f_shuffle) {
  UNUSED;
  jv *a = ARG(0);
  if (!a) return NULL;
  if (a->u.a.n <= 1) return a;
  jv *r = jv_arr(c);
  for (size_t i = 0; i < a->u.a.n; i++) jv_push(c, r, a->u.a.v[i]);
  for (size_t i = r->u.a.n - 1; i > 0; i--) {
    size_t j = (size_t)rand() % (i + 1);
    jv *t = r->u.a.v[i];
    r->u.a.v[i] = r->u.a.v[j];
    r->u.a.v[j] = t;
  }
  return r;
}

FN(f_distinct) {
  UNUSED;
  jv *a = ARG(0);
  if (!a) return NULL;
  if (!jv_isarr(a) || a->u.a.n <= 1) return a;
  jv *r = jv_seq(c);
  for (size_t i = 0; i < a->u.a.n; i++) {
    bool dup = false;
    for (size_t k = 0; k < r->u.a.n && !dup; k++)
      dup = jv_equal(r->u.a.v[k], a->u.a.v[i]);
    if (!dup) jv_push(c, r, a->u.a.v[i]);
  }
  return r;
}

FN(f_zip) {
  UNUSED;
  jv *res = jv_arr(c);
  if (n == 0) return res;
  size_t len = (size_t)-1;
  for (int i = 0; i < n; i++) {
    jv *a = args[i];
    size_t l = a ? a->u.a.n : 0;
    if (!a) len = 0;
    if (l < len) len = l;
  }
  for (size_t k = 0; k < len; k++) {
    jv *t = jv_arr(c);
    for (int i = 0; i < n; i++) jv_push(c, t, args[i]->u.a.v[k]);
    jv_push(c, res, t);
  }
  return res;
}

FN(f_type) {
  UNUSED;
  jv *v = ARG(0);
  if (!v) return NULL;
  return jv_cstr(c, jv_typename(v));
}

FN(f_clone) { UNUSED; return jv_clone(c, ARG(0)); }

/* ---- higher-order */

static jv *call(jctx *c, jv *f, jframe *env, jv *a1, jv *a2, jv *a3) {
  jv *args[3] = {a1, a2, a3};
  int ar = jv_arity(f), k = 1;
  if (ar >= 2) k = 2;
  if (ar >= 3) k = 3;
  return jeval_apply(c, f, args, k, NULL, env, -1, NULL);
}

FN(f_map) {
  UNUSED;
  jv *a = ARG(0), *f = ARG(1);
  if (!a || !f) return NULL;
  jv *res = jv_seq(c);
  for (size_t i = 0; i < a->u.a.n; i++) {
    jv *r = call(c, f, env, a->u.a.v[i], num(c, (double)i), a);
    if (r) jv_push(c, res, r);
  }
  return res;
}

FN(f_filter) {
  UNUSED;
  jv *a = ARG(0), *f = ARG(1);
  if (!a || !f) return NULL;
  jv *res = jv_seq(c);
  for (size_t i = 0; i < a->u.a.n; i++) {
    jv *r = call(c, f, env, a->u.a.v[i], num(c, (double)i), a);
    if (jfn_boolean(c, r)) jv_push(c, res, a->u.a.v[i]);
  }
  return res;
}

FN(f_single) {
  UNUSED;
  jv *a = ARG(0), *f = ARG(1), *res = NULL;
  if (!a) return NULL;
  bool found = false;
  for (size_t i = 0; i < a->u.a.n; i++) {
    bool ok = true;
    if (f) ok = jfn_boolean(c, call(c, f, env, a->u.a.v[i],
                                    num(c, (double)i), a));
    if (ok) {
      if (found) jerr(c, "D3138", -1, "single", NULL, NULL);
      res = a->u.a.v[i];
      found = true;
    }
  }
  if (!found) jerr(c, "D3139", -1, "single", NULL, NULL);
  return res;
}

FN(f_reduce) {
  UNUSED;
  jv *a = ARG(0), *f = ARG(1), *init = ARG(2);
  if (!a) return NULL;
  int ar = jv_arity(f);
  if (ar < 2) jerr(c, "D3050", -1, "reduce", NULL, NULL);
  jv *res;
  size_t i;
  if (!init && a->u.a.n > 0) { res = a->u.a.v[0]; i = 1; }
  else { res = init; i = 0; }
  for (; i < a->u.a.n; i++) {
    jv *args4[4] = {res, a->u.a.v[i], num(c, (double)i), a};
    int k = ar >= 4 ? 4 : ar >= 3 ? 3 : 2;
    res = jeval_apply(c, f, args4, k, NULL, env, -1, NULL);
  }
  return res;
}

FN(f_sift) {
  UNUSED;
  jv *o = ARG(0), *f = ARG(1);
  if (!o || !f) return NULL;
  jv *res = jv_obj(c);
  for (size_t k = 0; k < o->u.o.n; k++) {
    jv *key = jv_str(c, o->u.o.k[k], o->u.o.kl[k]);
    if (jfn_boolean(c, call(c, f, env, o->u.o.v[k], key, o)))
      jv_set(c, res, o->u.o.k[k], o->u.o.kl[k], o->u.o.v[k]);
  }
  return res->u.o.n ? res : NULL;
}

FN(f_each) {
  UNUSED;
  jv *o = ARG(0), *f = ARG(1);
  if (!o) return NULL;
  jv *res = jv_seq(c);
  for (size_t k = 0; k < o->u.o.n; k++) {
    jv *key = jv_str(c, o->u.o.k[k], o->u.o.kl[k]);
    jv *r = call(c, f, env, o->u.o.v[k], key, o);
    if (r) jv_push(c, res, r);
  }
  return res;
}

/* merge sort as the reference's: cmp returns true when a goes after b */
jv *jfn_sort(jctx *c, jv *arr, int (*cmp)(jctx *, jv *, jv *, void *),
             void *ud) {
  if (!arr) return NULL;
  if (!jv_isarr(arr) || arr->u.a.n <= 1) return arr;
  size_t n = arr->u.a.n;
  jv **a = ja_alloc(&c->a, n * sizeof *a), **tmp = ja_alloc(&c->a,
                                                            n * sizeof *a);
  memcpy(a, arr->u.a.v, n * sizeof *a);
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w
                                                                 : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (cmp(c, a[i], a[j], ud)) tmp[k++] = a[j++];
        else tmp[k++] = a[i++];
      }
      while (i < mid) tmp[k++] = a[i++];
      while (j < hi) tmp[k++] = a[j++];
    }
    jv **t = a;
    a = tmp;
    tmp = t;
  }
  jv *r = jv_arr(c);
  r->u.a.v = a;
  r->u.a.n = r->u.a.cap = n;
  return r;
}

static int default_cmp(jctx *c, jv *a, jv *b, void *ud) {
  (void)c; (void)ud;
  if (a->t == JV_NUM) return a->u.n > b->u.n;
  size_t m = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
  int r = memcmp(a->u.s.p, b->u.s.p, m);
  return r > 0 || (r == 0 && a->u.s.len > b->u.s.len);
}

typedef struct fcmp { jv *f; jframe *env; } fcmp;

static int fn_cmp(jctx *c, jv *a, jv *b, void *ud) {
  fcmp *f = ud;
  jv *args[2] = {a, b};
  return jfn_boolean(c, jeval_apply(c, f->f, args, 2, NULL, f->env, -1,
                                    "sort"));
}

FN(f_sort) {
  UNUSED;
  jv *a = ARG(0), *f = ARG(1);
  if (!a) return NULL;
  if (a->u.a.n <= 1) return a;
  if (!f) {
    int t = -1;
    for (size_t i = 0; i < a->u.a.n; i++) {
      jv *x = a->u.a.v[i];
      int xt = x && (x->t == JV_NUM || x->t == JV_STR) ? x->t : -2;
      if (xt == -2 || (t >= 0 && xt != t))
        jerr(c, "D3070", -1, "sort", NULL, NULL);
      t = xt;
    }
    return jfn_sort(c, a, default_cmp, NULL);
  }
  fcmp fc = {f, env};
  return jfn_sort(c, a, fn_cmp, &fc);
}

/* ---- misc */

FN(f_eval) {
  UNUSED;
  jv *e = ARG(0);
  if (!e) return NULL;
  jv *in = input;
  if (n > 1 && args[1]) {
    in = args[1];
    if (jv_isarr(in) && !in->seq) {
      jv *w = jv_seq(c);
      jv_push(c, w, in);
      w->outer = 1;
      in = w;
    }
  }
  return jfn_eval_text(c, e->u.s.p, in, env);
}

FN(f_error) {
  UNUSED;
  jv *m = ARG(0);
  jerr(c, "D3137", -1, "error",
       m ? m : jv_cstr(c, "$error() function evaluated"), NULL);
}

FN(f_assert) {
  UNUSED;
  jv *b = ARG(0), *m = ARG(1);
  if (!b || !b->u.b)
    jerr(c, "D3141", -1, "assert",
         m ? m : jv_cstr(c, "$assert() statement failed"), NULL);
  return NULL;
}

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

FN(f_base64encode) {
  UNUSED;
  jv *s = ARG(0);
  if (!s) return NULL;
  const unsigned char *p = (const unsigned char *)s->u.s.p;
  size_t len = s->u.s.len, o = 0;
  char *out = ja_alloc(&c->a, (len + 2) / 3 * 4 + 1);
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = p[i] << 16 | (i + 1 < len ? p[i + 1] << 8 : 0) |
                 (i + 2 < len ? p[i + 2] : 0);
    out[o++] = B64[v >> 18 & 63];
    out[o++] = B64[v >> 12 & 63];
    out[o++] = i + 1 < len ? B64[v >> 6 & 63] : '=';
    out[o++] = i + 2 < len ? B64[v & 63] : '=';
  }
  return str_take(c, out, o);
}

FN(f_base64decode) {
  UNUSED;
  jv *s = ARG(0);
  if (!s) return NULL;
  char *out = ja_alloc(&c->a, s->u.s.len + 1);
  size_t o = 0;
  unsigned v = 0;
  int bits = 0;
  for (size_t i = 0; i < s->u.s.len; i++) {
    const char *q = strchr(B64, s->u.s.p[i]);
    if (!q || !s->u.s.p[i]) continue;
    v = v << 6 | (unsigned)(q - B64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)(v >> bits & 0xFF);
    }
  }
  return str_take(c, out, o);
}

static jv *url_encode(jctx *c, jv *s, const char *keep,
                      const char *fname) {
  /* a lone surrogate (from a \ud800 escape) cannot be encoded */
  for (size_t i = 0; i + 1 < s->u.s.len; i++)
    if ((unsigned char)s->u.s.p[i] == 0xED &&
        (unsigned char)s->u.s.p[i + 1] >= 0xA0)
      jerr(c, "D3140", -1, fname, s, NULL);
  char *out = ja_alloc(&c->a, s->u.s.len * 3 + 1);
  size_t o = 0;
  for (size_t i = 0; i < s->u.s.len; i++) {
    unsigned char ch = (unsigned char)s->u.s.p[i];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || (ch && strchr(keep, ch))) {
      out[o++] = (char)ch;
    } else {
      o += (size_t)snprintf(out + o, 4, "%%%02X", ch);
    }
  }
  return str_take(c, out, o);
}

static int hexv(char ch) {
  return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f'
         ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

static jv *url_decode(jctx *c, jv *s, const char *reserved,
                      const char *fname) {
  char *out = ja_alloc(&c->a, s->u.s.len + 1);
  size_t o = 0;
  for (size_t i = 0; i < s->u.s.len; i++) {
    char ch = s->u.s.p[i];
    if (ch != '%') { out[o++] = ch; continue; }
    int h = i + 2 < s->u.s.len ? hexv(s->u.s.p[i + 1]) : -1;
    int l = h >= 0 ? hexv(s->u.s.p[i + 2]) : -1;
    if (h < 0 || l < 0) jerr(c, "D3140", -1, fname, s, NULL);
    char d = (char)(h * 16 + l);
    if ((unsigned char)d < 0x80 && d && strchr(reserved, d)) {
      memcpy(out + o, s->u.s.p + i, 3);
      o += 3;
    } else {
      out[o++] = d;
    }
    i += 2;
  }
  /* the bytes must form UTF-8 */
  mbstate_t st;
  memset(&st, 0, sizeof st);
  locale_t loc = utf8_locale();
  locale_t old = loc ? uselocale(loc) : (locale_t)0;
  bool bad = false;
  for (size_t i = 0; i < o;) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, out + i, o - i, &st);
    if (k == (size_t)-1 || k == (size_t)-2) { bad = true; break; }
    i += k ? k : 1;
  }
  if (loc) uselocale(old);
  if (bad) jerr(c, "D3140", -1, fname, s, NULL);
  return str_take(c, out, o);
}

FN(f_encode_url_component) {
  UNUSED;
  return ARG(0) ? url_encode(c, ARG(0), "-_.!~*'()",
                                "encodeUrlComponent") : NULL;
}
FN(f_encode_url) {
  UNUSED;
  return ARG(0) ? url_encode(c, ARG(0), "-_.!~*'();/?:@&=+$,#",
                                "encodeUrl") : NULL;
}
FN(f_decode_url_component) {
  UNUSED;
  return ARG(0) ? url_decode(c, ARG(0), "", "decodeUrlComponent") : NULL;
}
FN(f_decode_url) {
  UNUSED;
  return ARG(0) ? url_decode(c, ARG(0), ";/?:@&=+$,#", "decodeUrl") : NULL;
}

/* ---- formatting (jsonata_fmt.c) */

static _Noreturn void fmt_fail(jctx *c, jnfmt_err_t *e, const char *fname) {
  char code[8];
  snprintf(code, sizeof code, "%s", e->code[0] ? e->code : "D3080");
  char *m = e->message ? e->message : NULL;
  e->message = NULL;
  jnfmt_err_free(e);
  if (!m) jerr(c, code, -1, fname, NULL, NULL);
  /* the message is copied into the error before the jump frees nothing */
  jv *keep = jv_cstr(c, m);
  free(m);
  jerr_text(c, code, -1, keep->u.s.p);
}

static jv *fmt_result(jctx *c, char *s, jnfmt_err_t *e, const char *fname) {
  if (!s) fmt_fail(c, e, fname);
  jv *r = jv_cstr(c, s);
  free(s);
  jnfmt_err_free(e);
  return r;
}

FN(f_format_number) {
  UNUSED;
  if (!ARG(0) || !ARG(1)) return NULL;
  jnfmt_err_t e = {{0}, NULL};
  json_t *opts = ARG(2) ? jv_to_json(ARG(2)) : NULL;
  char *s = jnfmt_format_number(ARG(0)->u.n, ARG(1)->u.s.p, opts, &e);
  json_decref(opts);
  return fmt_result(c, s, &e, "formatNumber");
}

FN(f_format_base) {
  UNUSED;
  if (!ARG(0)) return NULL;
  jnfmt_err_t e = {{0}, NULL};
  if (ARG(1) && (ARG(1)->u.n < 2 || ARG(1)->u.n > 36))
    jerr(c, "D3100", -1, "formatBase", ARG(1), NULL);
  int radix = ARG(1) ? (int)to_int(ARG(1)->u.n) : 10;  /* checked first */
  char *s = jnfmt_format_base(ARG(0)->u.n, radix, &e);
  return fmt_result(c, s, &e, "formatBase");
}

FN(f_format_integer) {
  UNUSED;
  if (!ARG(0) || !ARG(1)) return NULL;
  jnfmt_err_t e = {{0}, NULL};
  char *s = jnfmt_format_integer(ARG(0)->u.n, ARG(1)->u.s.p, &e);
  return fmt_result(c, s, &e, "formatInteger");
}

FN(f_parse_integer) {
  UNUSED;
  if (!ARG(0) || !ARG(1)) return NULL;
  jnfmt_err_t e = {{0}, NULL};
  double out = 0;
  int rc = jnfmt_parse_integer(ARG(0)->u.s.p, ARG(1)->u.s.p, &out, &e);
  if (rc < 0) fmt_fail(c, &e, "parseInteger");
  jnfmt_err_free(&e);
  return rc == 1 ? NULL : num(c, out);
}

static const char *opt_str(jv *v) { return v ? v->u.s.p : NULL; }

FN(f_from_millis) {
  UNUSED;
  if (!ARG(0)) return NULL;
  jnfmt_err_t e = {{0}, NULL};
  char *s = jnfmt_from_millis(ARG(0)->u.n, opt_str(ARG(1)),
                              opt_str(ARG(2)), &e);
  return fmt_result(c, s, &e, "fromMillis");
}

FN(f_to_millis) {
  UNUSED;
  if (!ARG(0)) return NULL;
  jnfmt_err_t e = {{0}, NULL};
  double out = 0;
  int rc = jnfmt_to_millis_at(ARG(0)->u.s.p, opt_str(ARG(1)), c->now_ms,
                              &out, &e);
  if (rc < 0) fmt_fail(c, &e, "toMillis");
  jnfmt_err_free(&e);
  return rc == 1 ? NULL : num(c, out);
}

FN(f_now) {
  UNUSED;
  jnfmt_err_t e = {{0}, NULL};
  char *s = jnfmt_from_millis(c->now_ms, opt_str(ARG(0)), opt_str(ARG(1)),
                              &e);
  return fmt_result(c, s, &e, "now");
}

FN(f_millis) { UNUSED; return num(c, c->now_ms); }

/* ---- the table */

static const jbuiltin BUILTINS[] = {
  {"sum", f_sum, "<a<n>:n>", 1},
  {"count", f_count, "<a:n>", 1},
  {"max", f_max, "<a<n>:n>", 1},
  {"min", f_min, "<a<n>:n>", 1},
  {"average", f_average, "<a<n>:n>", 1},
  {"string", f_string, "<x-b?:s>", 2},
  {"substring", f_substring, "<s-nn?:s>", 3},
  {"substringBefore", f_substring_before, "<s-s:s>", 2},
  {"substringAfter", f_substring_after, "<s-s:s>", 2},
  {"lowercase", f_lowercase, "<s-:s>", 1},
  {"uppercase", f_uppercase, "<s-:s>", 1},
  {"length", f_length, "<s-:n>", 1},
  {"trim", f_trim, "<s-:s>", 1},
  {"pad", f_pad, "<s-ns?:s>", 3},
  {"match", f_match, "<s-f<s:o>n?:a<o>>", 3},
  {"contains", f_contains, "<s-(sf):b>", 2},
  {"replace", f_replace, "<s-(sf)(sf)n?:s>", 4},
  {"split", f_split, "<s-(sf)n?:a<s>>", 3},
  {"join", f_join, "<a<s>s?:s>", 2},
  {"formatNumber", f_format_number, "<n-so?:s>", 3},
  {"formatBase", f_format_base, "<n-n?:s>", 2},
  {"formatInteger", f_format_integer, "<n-s:s>", 2},
  {"parseInteger", f_parse_integer, "<s-s:n>", 2},
  {"number", f_number, "<(nsb)-:n>", 1},
  {"floor", f_floor, "<n-:n>", 1},
  {"ceil", f_ceil, "<n-:n>", 1},
  {"round", f_round, "<n-n?:n>", 2},
  {"abs", f_abs, "<n-:n>", 1},
  {"sqrt", f_sqrt, "<n-:n>", 1},
  {"power", f_power, "<n-n:n>", 2},
  {"random", f_random, "<:n>", 0},
  {"boolean", f_boolean, "<x-:b>", 1},
  {"not", f_not, "<x-:b>", 1},
  {"map", f_map, "<af>", 2},
  {"zip", f_zip, "<a+>", 0},
  {"filter", f_filter, "<af>", 2},
  {"single", f_single, "<af?>", 2},
  {"reduce", f_reduce, "<afj?:j>", 3},
  {"sift", f_sift, "<o-f?:o>", 2},
  {"keys", f_keys, "<x-:a<s>>", 1},
  {"lookup", f_lookup, "<x-s:x>", 2},
  {"append", f_append, "<xx:a>", 2},
  {"exists", f_exists, "<x:b>", 1},
  {"spread", f_spread, "<x-:a<o>>", 1},
  {"merge", f_merge, "<a<o>:o>", 1},
  {"reverse", f_reverse, "<a:a>", 1},
  {"each", f_each, "<o-f:a>", 2},
  {"error", f_error, "<s?:x>", 1},
  {"assert", f_assert, "<bs?:x>", 2},
  {"type", f_type, "<x:s>", 1},
  {"sort", f_sort, "<af?:a>", 2},
  {"shuffle", f_shuffle, "<a:a>", 1},
  {"distinct", f_distinct, "<x:x>", 1},
  {"base64encode", f_base64encode, "<s-:s>", 1},
  {"base64decode", f_base64decode, "<s-:s>", 1},
  {"encodeUrlComponent", f_encode_url_component, "<s-:s>", 1},
  {"encodeUrl", f_encode_url, "<s-:s>", 1},
  {"decodeUrlComponent", f_decode_url_component, "<s-:s>", 1},
  {"decodeUrl", f_decode_url, "<s-:s>", 1},
  {"eval", f_eval, "<sx?:x>", 2},
  {"toMillis", f_to_millis, "<s-s?:n>", 2},
  {"fromMillis", f_from_millis, "<n-s?s?:s>", 3},
  {"clone", f_clone, "<(oa)-:o>", 1},
  {"now", f_now, "<s?s?:s>", 2},
  {"millis", f_millis, "<:n>", 0},
  {NULL, NULL, NULL, 0}
};

const jbuiltin *jfn_lookup(const char *name) {
  for (int i = 0; BUILTINS[i].name; i++)
    if (!strcmp(BUILTINS[i].name, name)) return &BUILTINS[i];
  return NULL;
}

void jfn_bind_all(jctx *c, jframe *f) {
  utf8_locale();   /* made once, here, before any evaluation */
  for (int i = 0; BUILTINS[i].name; i++) {
    jfn *fn = ja_alloc(&c->a, sizeof *fn);
    fn->kind = FN_NATIVE;
    fn->b = &BUILTINS[i];
    fn->arity = BUILTINS[i].arity;
    int ep = 0;
    char code[8];
    fn->sig = jsig_parse(&c->a, BUILTINS[i].sig, 0, &ep, code);
    jframe_bind(c, f, BUILTINS[i].name, jv_fn(c, fn));
  }
}
