/* jpath.c - JSONPath as Amazon States Language uses it: the Jayway JsonPath
 * dialect AWS runs underneath (names, indexes, slices, wildcards, unions,
 * recursive descent, filters, length()).
 *
 * A path compiles to an array of segments. Evaluation walks the segments;
 * a reference path (names and indexes only) resolves without allocating.
 * jpath_set applies ResultPath copy-on-write: nodes shared with anyone else
 * are copied along the path, never changed. Messages copy AWS's/Jayway's
 * wording. The callers (payload.c, choice.c, ...) add the state context.
 */
#include "jpath.h"

#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT_AT 3         /* internal root "@": the node a filter tests */
#define FILTER_DEPTH 64   /* nesting of ( ) and ! in one filter */
#define FILTER_TERMS 1024 /* terms in one path's filters: bounds recursion */
#define REGEX_WEIGHT 10000 /* atoms a regex expands to (see regex_small) */
#define REGEX_GROUPS 32    /* nesting of ( ) in one regex */

typedef enum {
  S_NAME, S_INDEX, S_WILD, S_SLICE, S_UNION, S_FILTER
} skind_t;

typedef struct uitem {
  char *name;             /* NULL: an index */
  long long index;
} uitem_t;

typedef struct fx fx_t;

typedef struct seg {
  skind_t kind;
  bool descend;           /* preceded by "..": applies at every level */
  char *name;             /* S_NAME */
  long long index;        /* S_INDEX */
  long long a, b, step;   /* S_SLICE */
  bool has_a, has_b;      /* S_SLICE: bounds given */
  uitem_t *items;         /* S_UNION */
  size_t nitems;
  bool all_names;         /* S_UNION: every item is a name */
  fx_t *filter;           /* S_FILTER */
} seg_t;

struct jpath {
  char *text;             /* source text */
  int root;               /* jpath_root_t or ROOT_AT */
  char *var;              /* JPATH_VAR: the name */
  seg_t *segs;
  size_t nsegs, cap;
  bool length;            /* ends in .length() (not a segment) */
  bool reference;         /* names and indexes only, no length() */
  bool definite;          /* reference segments (length() allowed) */
};

/* Filter expressions. */
typedef enum { F_OR, F_AND, F_NOT, F_CMP, F_TEST } fkind_t;
typedef enum { O_EQ, O_NE, O_LT, O_LE, O_GT, O_GE, O_RE, O_IN, O_NIN } fop_t;

typedef struct operand {
  json_t *lit;            /* a literal, or NULL */
  jpath_t *path;          /* an @ or $ path, or NULL */
} operand_t;

struct fx {
  fkind_t kind;
  fop_t op;               /* F_CMP */
  fx_t *l, *r;            /* F_OR, F_AND: both; F_NOT: l */
  operand_t a, b;         /* F_CMP: a op b; F_TEST: a */
  regex_t *re;            /* O_RE */
};

/* ---- freeing --------------------------------------------------------- */

static void fx_free(fx_t *f);

static void operand_free(operand_t *o) {
  json_decref(o->lit);
  jpath_free(o->path);
}

static void fx_free(fx_t *f) {
  if (!f) return;
  fx_free(f->l);
  fx_free(f->r);
  operand_free(&f->a);
  operand_free(&f->b);
  if (f->re) {
    regfree(f->re);
    free(f->re);
  }
  free(f);
}

void jpath_free(jpath_t *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nsegs; i++) {
    seg_t *s = &p->segs[i];
    free(s->name);
    for (size_t j = 0; j < s->nitems; j++) free(s->items[j].name);
    free(s->items);
    fx_free(s->filter);
  }
  free(p->segs);
  free(p->text);
  free(p->var);
  free(p);
}

/* ---- parsing --------------------------------------------------------- */

typedef struct parser {
  const char *s;          /* whole text */
  size_t pos, len;
  char *err;              /* first error, malloc'd */
  int depth;              /* filter nesting */
  int terms;              /* filter terms so far (FILTER_TERMS) */
} parser_t;

static bool perr(parser_t *ps, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error; always returns false. */
static bool perr(parser_t *ps, size_t off, const char *fmt, ...) {
  if (ps->err) return false;
  buf_t b;
  buf_init(&b);
  buf_printf(&b, "invalid JSONPath '%s': ", ps->s);
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  buf_printf(&b, " at offset %zu", off);
  ps->err = buf_steal(&b);
  return false;
}

static int peek(const parser_t *ps) {
  return ps->pos < ps->len ? (unsigned char)ps->s[ps->pos] : 0;
}

static void skip_ws(parser_t *ps) {
  while (ps->pos < ps->len &&
         (ps->s[ps->pos] == ' ' || ps->s[ps->pos] == '\t' ||
          ps->s[ps->pos] == '\n' || ps->s[ps->pos] == '\r'))
    ps->pos++;
}

static bool is_var_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/* A dot name ends at these; in a filter also at operators and spaces. */
static bool name_stop(int c, bool in_filter) {
  if (c == 0 || c == '.' || c == '[' || c == ']' || c == '(' || c == ')')
    return true;
  if (!in_filter) return false;
  return strchr(" \t\r\n,=!<>&|~", c) != NULL;
}

static seg_t *seg_push(jpath_t *p, skind_t kind, bool descend) {
  if (p->nsegs == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 4;
    p->segs = ms_realloc(p->segs, p->cap * sizeof *p->segs);
  }
  seg_t *s = &p->segs[p->nsegs++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->descend = descend;
  return s;
}

/* Read an optionally signed integer. */
static bool read_int(parser_t *ps, long long *out) {
  size_t start = ps->pos;
  bool neg = false;
  if (peek(ps) == '-') {
    neg = true;
    ps->pos++;
  }
  if (peek(ps) < '0' || peek(ps) > '9')
    return perr(ps, ps->pos, "expected an integer");
  unsigned long long v = 0;
  while (peek(ps) >= '0' && peek(ps) <= '9') {
    unsigned d = (unsigned)(peek(ps) - '0');
    /* check before multiplying: v * 10 may wrap past 2^64 */
    if (v > ((unsigned long long)INT64_MAX - d) / 10)
      return perr(ps, start, "integer out of range");
    v = v * 10 + d;
    ps->pos++;
  }
  *out = neg ? -(long long)v : (long long)v;
  return true;
}

/* A quoted name in brackets. As AWS does (Jayway before 2.5), a backslash
 * only keeps the next character from ending the name; both stay in it. */
static char *read_quoted_raw(parser_t *ps, size_t open) {
  int q = peek(ps);
  size_t start = ++ps->pos;
  while (ps->pos < ps->len && ps->s[ps->pos] != q) {
    if (ps->s[ps->pos] == '\\' && ps->pos + 1 < ps->len) ps->pos++;
    ps->pos++;
  }
  if (ps->pos >= ps->len) {
    perr(ps, open, "unterminated bracket");
    return NULL;
  }
  char *name = ms_strndup(ps->s + start, ps->pos - start);
  ps->pos++;
  return name;
}

static bool parse_filter(parser_t *ps, fx_t **out);

/* "[...]" at ps->pos. */
static bool parse_bracket(parser_t *ps, jpath_t *p, bool descend) {
  size_t open = ps->pos++;
  skip_ws(ps);
  int c = peek(ps);
  if (c == 0) return perr(ps, open, "unterminated bracket");
  if (c == '?') {
    ps->pos++;
    skip_ws(ps);
    if (peek(ps) != '(')
      return perr(ps, ps->pos, "expected '(' after '[?'");
    seg_t *s = seg_push(p, S_FILTER, descend);
    if (!parse_filter(ps, &s->filter)) return false;
  } else if (c == '*') {
    ps->pos++;
    seg_push(p, S_WILD, descend);
  } else if (c == '\'' || c == '"') {
    uitem_t *items = NULL;
    size_t n = 0;
    for (;;) {
      if (peek(ps) != '\'' && peek(ps) != '"') {
        for (size_t i = 0; i < n; i++) free(items[i].name);
        free(items);
        if (peek(ps) == 0) return perr(ps, open, "unterminated bracket");
        return perr(ps, ps->pos, "expected a quoted name");
      }
      char *name = read_quoted_raw(ps, open);
      if (!name) {
        for (size_t i = 0; i < n; i++) free(items[i].name);
        free(items);
        return false;
      }
      items = ms_realloc(items, (n + 1) * sizeof *items);
      items[n].name = name;
      items[n++].index = 0;
      skip_ws(ps);
      if (peek(ps) != ',') break;
      ps->pos++;
      skip_ws(ps);
    }
    if (n == 1) {
      seg_push(p, S_NAME, descend)->name = items[0].name;
      free(items);
    } else {
      seg_t *s = seg_push(p, S_UNION, descend);
      s->items = items;
      s->nitems = n;
      s->all_names = true;
    }
  } else if (c == '-' || c == ':' || (c >= '0' && c <= '9')) {
    long long a = 0;
    bool has_a = c != ':';
    if (has_a && !read_int(ps, &a)) return false;
    skip_ws(ps);
    if (peek(ps) == ':') {
      seg_t *s = seg_push(p, S_SLICE, descend);
      s->a = a;
      s->has_a = has_a;
      s->step = 1;
      ps->pos++;
      skip_ws(ps);
      if (peek(ps) == '-' || (peek(ps) >= '0' && peek(ps) <= '9')) {
        if (!read_int(ps, &s->b)) return false;
        s->has_b = true;
        skip_ws(ps);
      }
      if (peek(ps) == ':') {
        ps->pos++;
        skip_ws(ps);
        if (peek(ps) == '-' || (peek(ps) >= '0' && peek(ps) <= '9')) {
          size_t at = ps->pos;
          if (!read_int(ps, &s->step)) return false;
          if (s->step == 0) return perr(ps, at, "slice step cannot be zero");
          skip_ws(ps);
        }
      }
    } else if (peek(ps) == ',') {
      seg_t *s = seg_push(p, S_UNION, descend);
      s->items = ms_malloc(sizeof *s->items);
      s->items[0].name = NULL;
      s->items[0].index = a;
      s->nitems = 1;
      while (peek(ps) == ',') {
        ps->pos++;
        skip_ws(ps);
        long long v;
        if (!read_int(ps, &v)) return false;
        s->items = ms_realloc(s->items, (s->nitems + 1) * sizeof *s->items);
        s->items[s->nitems].name = NULL;
        s->items[s->nitems++].index = v;
        skip_ws(ps);
      }
    } else {
      seg_push(p, S_INDEX, descend)->index = a;
    }
  } else {
    return perr(ps, ps->pos, "unexpected character '%c' in brackets", c);
  }
  skip_ws(ps);
  if (peek(ps) == 0) return perr(ps, open, "unterminated bracket");
  if (peek(ps) != ']')
    return perr(ps, ps->pos, "expected ']' for the bracket at offset %zu",
                open);
  ps->pos++;
  return true;
}

/* Root and segments from ps->pos. In a filter the path may start with '@'
 * and ends at the first character that does not continue it; at top level
 * it must use the whole text. */
static jpath_t *parse_path(parser_t *ps, bool in_filter) {
  jpath_t *p = ms_calloc(1, sizeof *p);
  size_t start = ps->pos;
  int c = peek(ps);
  if (c == '@' && in_filter) {
    p->root = ROOT_AT;
    ps->pos++;
  } else if (c == '$') {
    ps->pos++;
    if (peek(ps) == '$') {
      p->root = JPATH_CONTEXT;
      ps->pos++;
    } else if (is_var_char(peek(ps))) {
      size_t v = ps->pos;
      while (is_var_char(peek(ps))) ps->pos++;
      p->root = JPATH_VAR;
      p->var = ms_strndup(ps->s + v, ps->pos - v);
    } else {
      p->root = JPATH_INPUT;
    }
  } else {
    perr(ps, ps->pos, in_filter ? "expected '@' or '$'"
                                : "a path must start with '$'");
    goto fail;
  }
  for (;;) {
    c = peek(ps);
    if (c == '.') {
      size_t dot = ps->pos;
      bool descend = ps->pos + 1 < ps->len && ps->s[ps->pos + 1] == '.';
      ps->pos += descend ? 2 : 1;
      if (peek(ps) == '[' && descend) {
        if (!parse_bracket(ps, p, true)) goto fail;
        continue;
      }
      if (peek(ps) == '*') {
        ps->pos++;
        seg_push(p, S_WILD, descend);
        continue;
      }
      size_t n0 = ps->pos;
      while (!name_stop(peek(ps), in_filter)) ps->pos++;
      if (ps->pos == n0) {
        perr(ps, dot, "expected a name after '%s'", descend ? ".." : ".");
        goto fail;
      }
      if (peek(ps) == '(') {
        if (descend || ps->pos - n0 != 6 || memcmp(ps->s + n0, "length", 6)) {
          perr(ps, n0, "unknown function '%.*s'", (int)(ps->pos - n0),
               ps->s + n0);
          goto fail;
        }
        ps->pos++;
        skip_ws(ps);
        if (peek(ps) != ')') {
          perr(ps, ps->pos, "length() takes no arguments");
          goto fail;
        }
        ps->pos++;
        p->length = true;
        break;
      }
      seg_push(p, S_NAME, descend)->name =
          ms_strndup(ps->s + n0, ps->pos - n0);
    } else if (c == '[') {
      if (!parse_bracket(ps, p, false)) goto fail;
    } else {
      break;
    }
  }
  if (!in_filter && ps->pos < ps->len) {
    perr(ps, ps->pos, "unexpected character '%c'", ps->s[ps->pos]);
    goto fail;
  }
  p->text = ms_strndup(ps->s + start, ps->pos - start);
  p->definite = true;
  for (size_t i = 0; i < p->nsegs; i++)
    if (p->segs[i].descend ||
        (p->segs[i].kind != S_NAME && p->segs[i].kind != S_INDEX))
      p->definite = false;
  p->reference = p->definite && !p->length;
  return p;
fail:
  jpath_free(p);
  return NULL;
}

/* A string literal in a filter: Java-style escapes are decoded. */
static json_t *parse_string_lit(parser_t *ps) {
  int q = peek(ps);
  size_t open = ps->pos++;
  buf_t b;
  buf_init(&b);
  while (ps->pos < ps->len && ps->s[ps->pos] != q) {
    char c = ps->s[ps->pos++];
    if (c == '\\' && ps->pos < ps->len) {
      c = ps->s[ps->pos++];
      switch (c) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      default: break;
      }
    }
    buf_putc(&b, c);
  }
  if (ps->pos >= ps->len) {
    buf_free(&b);
    perr(ps, open, "unterminated string");
    return NULL;
  }
  ps->pos++;
  json_t *v = json_stringn(b.data ? b.data : "", b.len);
  buf_free(&b);
  if (!v) perr(ps, open, "string is not valid UTF-8");
  return v;
}

static json_t *parse_number_lit(parser_t *ps) {
  size_t start = ps->pos;
  bool real = false;
  if (peek(ps) == '-') ps->pos++;
  while (peek(ps) >= '0' && peek(ps) <= '9') ps->pos++;
  if (peek(ps) == '.') {
    real = true;
    ps->pos++;
    while (peek(ps) >= '0' && peek(ps) <= '9') ps->pos++;
  }
  if (peek(ps) == 'e' || peek(ps) == 'E') {
    real = true;
    ps->pos++;
    if (peek(ps) == '+' || peek(ps) == '-') ps->pos++;
    while (peek(ps) >= '0' && peek(ps) <= '9') ps->pos++;
  }
  char tmp[64];
  size_t n = ps->pos - start;
  if (n == 0 || n >= sizeof tmp || (n == 1 && ps->s[start] == '-')) {
    perr(ps, start, "bad number");
    return NULL;
  }
  memcpy(tmp, ps->s + start, n);
  tmp[n] = 0;
  if (!real) {
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end == 0 && v != LLONG_MAX && v != LLONG_MIN)
      return json_integer(v);
  }
  json_t *r = json_real(strtod(tmp, NULL));
  if (!r) perr(ps, start, "number out of range");  /* inf: jansson refuses */
  return r;
}

static bool keyword(parser_t *ps, const char *kw) {
  size_t n = strlen(kw);
  if (ps->len - ps->pos < n || memcmp(ps->s + ps->pos, kw, n)) return false;
  if (is_var_char(ps->pos + n < ps->len ? ps->s[ps->pos + n] : 0))
    return false;
  ps->pos += n;
  return true;
}

static bool parse_operand(parser_t *ps, operand_t *o);

/* A literal array for in/nin: [lit, lit, ...]. */
static json_t *parse_array_lit(parser_t *ps) {
  size_t open = ps->pos++;
  /* Lists nest through parse_operand: bound them as ( ) and ! are. */
  if (++ps->depth > FILTER_DEPTH) {
    ps->depth--;
    perr(ps, open, "filter too deep or too long");
    return NULL;
  }
  json_t *arr = json_array();
  skip_ws(ps);
  if (peek(ps) == ']') {
    ps->pos++;
    ps->depth--;
    return arr;
  }
  for (;;) {
    operand_t o = {NULL, NULL};
    skip_ws(ps);
    if (!parse_operand(ps, &o)) goto fail;
    if (!o.lit) {
      operand_free(&o);
      perr(ps, open, "a list may hold literals only");
      goto fail;
    }
    json_array_append_new(arr, o.lit);
    skip_ws(ps);
    if (peek(ps) == ',') {
      ps->pos++;
      continue;
    }
    if (peek(ps) == ']') {
      ps->pos++;
      ps->depth--;
      return arr;
    }
    perr(ps, ps->pos, "expected ',' or ']' in a list");
    goto fail;
  }
fail:
  ps->depth--;
  json_decref(arr);
  return NULL;
}

static bool parse_operand(parser_t *ps, operand_t *o) {
  int c = peek(ps);
  if (c == '@' || c == '$') {
    o->path = parse_path(ps, true);
    return o->path != NULL;
  }
  if (c == '\'' || c == '"') o->lit = parse_string_lit(ps);
  else if (c == '-' || (c >= '0' && c <= '9')) o->lit = parse_number_lit(ps);
  else if (c == '[') o->lit = parse_array_lit(ps);
  else if (keyword(ps, "true")) o->lit = json_true();
  else if (keyword(ps, "false")) o->lit = json_false();
  else if (keyword(ps, "null")) o->lit = json_null();
  else if (c == 0) return perr(ps, ps->pos, "unterminated filter");
  else return perr(ps, ps->pos, "unexpected character '%c' in filter", c);
  return o->lit != NULL;
}

/* Whether the n bytes of regex s stay small once compiled. glibc's
 * regcomp copies a repeated atom once per repetition (a{3} is aaa, a+ is
 * aa*), so nested counts multiply ((a{1000}){1000}){1000} into 10^9 nodes
 * and stacked quantifiers (a+++..., which Java rejects) double at each
 * one: minutes and gigabytes for a few bytes. Weighs each atom 1, a
 * quantifier multiplies what it repeats by its largest count (+: 2), and
 * refuses more than REGEX_WEIGHT in all. A quantifier may carry one
 * modifier (? or +, Java's lazy and possessive forms); a third in a row
 * (a***, which Java rejects as a dangling meta character) is refused
 * too: glibc backtracks over such a stack for seconds. Other syntax
 * errors are regcomp's. */
static bool regex_small(const char *s, size_t n) {
  double sum[REGEX_GROUPS + 1] = {0};
  double last = 0; /* weight of what a quantifier would repeat */
  int depth = 0, quants = 0; /* quantifier characters in a row */
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    double k = -1; /* a quantifier's factor; -1: an atom or a group */
    bool quant = c == '*' || c == '?' || c == '+' || c == '{';
    if (quant && quants == 1 && c != '?' && c != '+') return false;
    if (quant && quants >= 2) return false;
    quants = quant ? quants + 1 : 0;
    if (c == '(') {
      if (++depth > REGEX_GROUPS) return false;
      sum[depth] = 0;
      last = 0;
      continue;
    }
    if (c == ')' && depth > 0) {
      last = sum[depth--];
      sum[depth] += last;
    } else if (c == '|') {
      last = 0;
    } else if (c == '*' || c == '?') {
      k = 1;
    } else if (c == '+') {
      k = 2;
    } else if (c == '{') {
      k = 0;
      double v = 0;
      for (i++; i < n && s[i] != '}'; i++) {
        if (s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i] - '0');
        else { k = v > k ? v : k; v = 0; }
        if (v > REGEX_WEIGHT) return false;
      }
      k = v > k ? v : k;
      if (k < 1) k = 1;
    } else {
      if (c == '\\') i++;
      else if (c == '[') {
        size_t j = i + 1;
        if (j < n && s[j] == '^') j++;
        if (j < n && s[j] == ']') j++;
        while (j < n && s[j] != ']') j++;
        i = j;
      }
      last = 1;
      sum[depth] += 1;
    }
    if (k >= 0) {
      sum[depth] += last * (k - 1);
      last *= k;
    }
    if (sum[depth] > REGEX_WEIGHT || last > REGEX_WEIGHT) return false;
  }
  for (int d = 1; d <= depth; d++) sum[0] += sum[d];
  return sum[0] <= REGEX_WEIGHT;
}

/* Java regex /pattern/flags to a POSIX ERE anchored at both ends
 * (Jayway uses Matcher.matches()); \d and \D are translated. */
static bool parse_regex(parser_t *ps, fx_t *f) {
  size_t open = ps->pos++;
  buf_t b;
  buf_init(&b);
  buf_puts(&b, "^(");
  while (ps->pos < ps->len && ps->s[ps->pos] != '/') {
    char c = ps->s[ps->pos++];
    if (c == '\\' && ps->pos < ps->len) {
      char d = ps->s[ps->pos++];
      if (d == 'd') buf_puts(&b, "[0-9]");
      else if (d == 'D') buf_puts(&b, "[^0-9]");
      else if (d == '/') buf_putc(&b, '/');
      else {
        buf_putc(&b, '\\');
        buf_putc(&b, d);
      }
      continue;
    }
    buf_putc(&b, c);
  }
  if (ps->pos >= ps->len) {
    buf_free(&b);
    return perr(ps, open, "unterminated regular expression");
  }
  if (!regex_small(ps->s + open + 1, ps->pos - open - 1)) {
    buf_free(&b);
    return perr(ps, open, "regular expression refused: too large once "
                "expanded, or quantifiers stacked (a***)");
  }
  ps->pos++;
  buf_puts(&b, ")$");
  int flags = REG_EXTENDED | REG_NOSUB;
  while (peek(ps) >= 'a' && peek(ps) <= 'z') {
    if (peek(ps) == 'i') flags |= REG_ICASE;
    ps->pos++;
  }
  f->re = ms_malloc(sizeof *f->re);
  int rc = regcomp(f->re, b.data, flags);
  buf_free(&b);
  if (rc != 0) {
    free(f->re);
    f->re = NULL;
    return perr(ps, open, "bad regular expression");
  }
  return true;
}

static const struct {
  const char *text;
  fop_t op;
} ops[] = {
    {"==", O_EQ}, {"!=", O_NE}, {"<=", O_LE}, {">=", O_GE}, {"=~", O_RE},
    {"<", O_LT},  {">", O_GT},  {"nin", O_NIN}, {"in", O_IN},
};

static bool parse_or(parser_t *ps, fx_t **out);

static bool parse_unary(parser_t *ps, fx_t **out) {
  skip_ws(ps);
  if (++ps->depth > FILTER_DEPTH || ++ps->terms > FILTER_TERMS) {
    ps->depth--;
    return perr(ps, ps->pos, "filter too deep or too long");
  }
  fx_t *f = ms_calloc(1, sizeof *f);
  *out = f;
  bool ok = false;
  if (peek(ps) == '!' && ps->pos + 1 < ps->len && ps->s[ps->pos + 1] != '=') {
    ps->pos++;
    f->kind = F_NOT;
    ok = parse_unary(ps, &f->l);
    goto done;
  }
  if (peek(ps) == '(') {
    size_t open = ps->pos++;
    fx_free(f);
    *out = NULL;
    if (!parse_or(ps, out)) goto done;
    skip_ws(ps);
    if (peek(ps) != ')') {
      perr(ps, open, "unbalanced parenthesis");
      goto done;
    }
    ps->pos++;
    ok = true;
    goto done;
  }
  if (!parse_operand(ps, &f->a)) goto done;
  skip_ws(ps);
  size_t at = ps->pos;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    size_t n = strlen(ops[i].text);
    if (ps->len - ps->pos >= n && !memcmp(ps->s + ps->pos, ops[i].text, n) &&
        (ops[i].text[0] != 'i' && ops[i].text[0] != 'n'
             ? true
             : !is_var_char(ps->pos + n < ps->len ? ps->s[ps->pos + n] : 0))) {
      f->kind = F_CMP;
      f->op = ops[i].op;
      ps->pos += n;
      break;
    }
  }
  if (f->kind != F_CMP) {
    f->kind = F_TEST;
    ok = true;
    goto done;
  }
  skip_ws(ps);
  if (f->op == O_RE) {
    if (peek(ps) != '/') {
      perr(ps, ps->pos, "expected /regex/ after '=~'");
      goto done;
    }
    ok = parse_regex(ps, f);
    goto done;
  }
  if (!parse_operand(ps, &f->b)) goto done;
  if ((f->op == O_IN || f->op == O_NIN) && f->b.lit &&
      !json_is_array(f->b.lit)) {
    perr(ps, at, "'in' and 'nin' need a list");
    goto done;
  }
  ok = true;
done:
  ps->depth--;
  return ok;
}

static bool parse_and(parser_t *ps, fx_t **out) {
  if (!parse_unary(ps, out)) return false;
  for (;;) {
    skip_ws(ps);
    if (ps->len - ps->pos < 2 || memcmp(ps->s + ps->pos, "&&", 2)) return true;
    ps->pos += 2;
    fx_t *f = ms_calloc(1, sizeof *f);
    f->kind = F_AND;
    f->l = *out;
    *out = f;
    if (!parse_unary(ps, &f->r)) return false;
  }
}

static bool parse_or(parser_t *ps, fx_t **out) {
  if (!parse_and(ps, out)) return false;
  for (;;) {
    skip_ws(ps);
    if (ps->len - ps->pos < 2 || memcmp(ps->s + ps->pos, "||", 2)) return true;
    ps->pos += 2;
    fx_t *f = ms_calloc(1, sizeof *f);
    f->kind = F_OR;
    f->l = *out;
    *out = f;
    if (!parse_and(ps, &f->r)) return false;
  }
}

/* "(expr)" at ps->pos, as the body of "[?...]". */
static bool parse_filter(parser_t *ps, fx_t **out) {
  size_t open = ps->pos++;
  if (!parse_or(ps, out)) return false;
  skip_ws(ps);
  if (peek(ps) == 0) return perr(ps, open, "unterminated filter");
  if (peek(ps) != ')')
    return perr(ps, ps->pos, "unexpected character '%c' in filter",
                peek(ps));
  ps->pos++;
  return true;
}

jpath_t *jpath_compile(const char *text, char **err) {
  parser_t ps = {text, 0, strlen(text), NULL, 0, 0};
  jpath_t *p = NULL;
  if (ps.len == 0) perr(&ps, 0, "empty path");
  else p = parse_path(&ps, false);
  if (!p) {
    if (err) *err = ps.err ? ps.err : ms_strdup("invalid JSONPath");
    else free(ps.err);
  }
  return p;
}

/* ---- accessors and printing ------------------------------------------ */

const char *jpath_text(const jpath_t *p) { return p->text; }
jpath_root_t jpath_root(const jpath_t *p) { return (jpath_root_t)p->root; }
const char *jpath_var_name(const jpath_t *p) { return p->var; }
bool jpath_is_reference(const jpath_t *p) { return p->reference; }
bool jpath_is_root(const jpath_t *p) {
  return p->nsegs == 0 && !p->length;
}

static void put_root(buf_t *b, const jpath_t *p) {
  switch (p->root) {
  case JPATH_CONTEXT: buf_puts(b, "$$"); break;
  case JPATH_VAR: buf_printf(b, "$%s", p->var); break;
  case ROOT_AT: buf_putc(b, '@'); break;
  default: buf_putc(b, '$'); break;
  }
}

/* Whether name reads back whole between quotes q (read_quoted_raw's
 * rule: a backslash keeps the next character, both stay in the name). */
static bool quotable(const char *name, char q) {
  for (const char *c = name; *c; c++) {
    if (*c == '\\') {
      if (!c[1]) return false;  /* it would keep the closing quote */
      c++;
    } else if (*c == q) {
      return false;
    }
  }
  return true;
}

/* Whether name reads back whole as a dot name. */
static bool dottable(const char *name) {
  if (!*name || *name == '*') return false;
  for (const char *c = name; *c; c++)
    if (name_stop((unsigned char)*c, false)) return false;
  return true;
}

/* A name as it reads back: ['name'] or ["name"] (bare in a union), or,
 * for a dot name holding both quotes (only dot notation makes one), as a
 * dot name after dot (NULL in a union: no form reads back there). */
static void put_name(buf_t *b, const char *name, bool bracketed,
                     const char *dot) {
  const char *open = bracketed ? "[" : "", *close = bracketed ? "]" : "";
  if (quotable(name, '\''))
    buf_printf(b, "%s'%s'%s", open, name, close);
  else if (quotable(name, '"'))
    buf_printf(b, "%s\"%s\"%s", open, name, close);
  else if (dot && dottable(name))
    buf_printf(b, "%s%s", dot, name);
  else
    buf_printf(b, "%s'%s'%s", open, name, close);  /* nothing reads back */
}

static void put_seg(buf_t *b, const seg_t *s) {
  if (s->descend) buf_puts(b, "..");
  switch (s->kind) {
  case S_NAME: put_name(b, s->name, true, s->descend ? "" : "."); break;
  case S_INDEX: buf_printf(b, "[%lld]", s->index); break;
  case S_WILD: buf_puts(b, "[*]"); break;
  case S_SLICE:
    buf_putc(b, '[');
    if (s->has_a) buf_printf(b, "%lld", s->a);
    buf_putc(b, ':');
    if (s->has_b) buf_printf(b, "%lld", s->b);
    if (s->step != 1) buf_printf(b, ":%lld", s->step);
    buf_putc(b, ']');
    break;
  case S_UNION:
    buf_putc(b, '[');
    for (size_t i = 0; i < s->nitems; i++) {
      if (i) buf_putc(b, ',');
      if (s->items[i].name) put_name(b, s->items[i].name, false, NULL);
      else buf_printf(b, "%lld", s->items[i].index);
    }
    buf_putc(b, ']');
    break;
  case S_FILTER: buf_puts(b, "[?]"); break;
  }
}

/* The first n segments, normalized. */
static char *norm_prefix(const jpath_t *p, size_t n) {
  buf_t b;
  buf_init(&b);
  put_root(&b, p);
  for (size_t i = 0; i < n; i++) put_seg(&b, &p->segs[i]);
  return buf_steal(&b);
}

char *jpath_normalized(const jpath_t *p) {
  buf_t b;
  buf_init(&b);
  put_root(&b, p);
  for (size_t i = 0; i < p->nsegs; i++) put_seg(&b, &p->segs[i]);
  if (p->length) buf_puts(&b, ".length()");
  return buf_steal(&b);
}

/* ---- evaluation ------------------------------------------------------ */

static json_t *root_of(const jpath_t *p, const jscope_t *s, json_t *at) {
  switch (p->root) {
  case JPATH_CONTEXT: return s->context;
  case JPATH_VAR: return s->var ? s->var(s->var_ud, p->var) : NULL;
  case ROOT_AT: return at;
  default: return s->input;
  }
}

/* Python-style index: negative counts from the end; -1 when out of range. */
static long long norm_index(long long i, size_t n) {
  if (i < 0) i += (long long)n;
  return i >= 0 && i < (long long)n ? i : -1;
}

/* Follow the definite segments [0, n) from node. Returns the borrowed node,
 * or NULL with *fail set to the segment that failed. */
static json_t *follow(const jpath_t *p, size_t n, json_t *node, size_t *fail) {
  for (size_t i = 0; i < n && node; i++) {
    const seg_t *s = &p->segs[i];
    json_t *next = NULL;
    if (s->kind == S_NAME) next = json_object_get(node, s->name);
    else if (json_is_array(node)) {
      long long k = norm_index(s->index, json_array_size(node));
      next = k < 0 ? NULL : json_array_get(node, (size_t)k);
    }
    if (!next) *fail = i;
    node = next;
  }
  return node;
}

/* Why a definite path failed at segment i, in Jayway's words. */
static char *why_definite(const jpath_t *p, json_t *root, size_t i) {
  if (!root) {
    char *all = jpath_normalized(p);
    char *w = ms_asprintf("No results for path: %s", all);
    free(all);
    return w;
  }
  size_t tmp = 0;
  json_t *parent = follow(p, i, root, &tmp);
  const seg_t *s = &p->segs[i];
  bool leaf = i + 1 == p->nsegs;
  char *w = NULL;
  if (s->kind == S_NAME && !json_is_object(parent)) {
    char *where = norm_prefix(p, i);
    w = ms_asprintf("Expected to find an object with property ['%s'] in "
                    "path %s but found '%s'. This is not a json object.",
                    s->name, where, jsonx_type_name(parent));
    free(where);
  } else if (s->kind == S_INDEX && !json_is_array(parent)) {
    char *ctx = jsonx_dump(parent, JSONX_COMPACT);
    w = ms_asprintf("Filter: [%lld] can only be applied to arrays. Current "
                    "context is: %s", s->index, ctx);
    free(ctx);
  } else if (s->kind == S_NAME && !leaf) {
    char *where = norm_prefix(p, i + 1);
    w = ms_asprintf("Missing property in path %s", where);
    free(where);
  } else {
    char *all = jpath_normalized(p);
    w = ms_asprintf("No results for path: %s", all);
    free(all);
  }
  return w;
}

typedef struct ev {
  const jscope_t *s;
  json_t *out;            /* the matches */
} ev_t;

static void run(const jpath_t *p, size_t i, json_t *node, ev_t *e, int depth);
static bool test(const fx_t *f, json_t *at, const jscope_t *s);

/* Apply segment i (not its descent) to node, continuing with i + 1. */
static void step(const jpath_t *p, size_t i, json_t *node, ev_t *e,
                 int depth) {
  const seg_t *s = &p->segs[i];
  bool leaf = i + 1 == p->nsegs;
  size_t n;
  switch (s->kind) {
  case S_NAME: {
    json_t *v = json_object_get(node, s->name);
    if (v) run(p, i + 1, v, e, depth);
    break;
  }
  case S_INDEX:
    if (json_is_array(node)) {
      long long k = norm_index(s->index, json_array_size(node));
      if (k >= 0) run(p, i + 1, json_array_get(node, (size_t)k), e, depth);
    }
    break;
  case S_WILD:
    if (json_is_object(node)) {
      const char *key;
      json_t *v;
      json_object_foreach(node, key, v) run(p, i + 1, v, e, depth);
    } else if (json_is_array(node)) {
      for (size_t k = 0; k < json_array_size(node); k++)
        run(p, i + 1, json_array_get(node, k), e, depth);
    }
    break;
  case S_SLICE: {
    if (!json_is_array(node)) break;
    long long len = (long long)json_array_size(node);
    long long st = s->step, a, b;
    if (st > 0) {
      a = s->has_a ? s->a : 0;
      b = s->has_b ? s->b : len;
      if (a < 0) a = a + len < 0 ? 0 : a + len;
      if (b < 0) b = b + len < 0 ? 0 : b + len;
      if (a > len) a = len;
      if (b > len) b = len;
      /* k < b <= len, so stop before k + st could overflow */
      for (long long k = a; k < b; k = st < b - k ? k + st : b)
        run(p, i + 1, json_array_get(node, (size_t)k), e, depth);
    } else {
      a = s->has_a ? s->a : len - 1;
      b = s->has_b ? s->b : -len - 1;
      if (a < 0) a = a + len < -1 ? -1 : a + len;
      if (b < 0) b = b + len < -1 ? -1 : b + len;
      if (a >= len) a = len - 1;
      if (b >= len) b = len - 1;
      for (long long k = a; k > b; k = -st < k - b ? k + st : b)
        run(p, i + 1, json_array_get(node, (size_t)k), e, depth);
    }
    break;
  }
  case S_UNION:
    if (s->all_names && leaf) {
      /* Jayway merges several names at the end into one object. */
      if (!json_is_object(node)) break;
      json_t *m = json_object();
      for (size_t k = 0; k < s->nitems; k++) {
        json_t *v = json_object_get(node, s->items[k].name);
        if (v) json_object_set(m, s->items[k].name, v);
      }
      json_array_append_new(e->out, m);
      break;
    }
    for (size_t k = 0; k < s->nitems; k++) {
      const uitem_t *u = &s->items[k];
      json_t *v = NULL;
      if (u->name) v = json_object_get(node, u->name);
      else if (json_is_array(node)) {
        long long j = norm_index(u->index, json_array_size(node));
        if (j >= 0) v = json_array_get(node, (size_t)j);
      }
      if (v) run(p, i + 1, v, e, depth);
    }
    break;
  case S_FILTER:
    /* Jayway: over an array each item is tested; an object tests itself. */
    if (json_is_array(node)) {
      n = json_array_size(node);
      for (size_t k = 0; k < n; k++) {
        json_t *v = json_array_get(node, k);
        if (test(s->filter, v, e->s)) run(p, i + 1, v, e, depth);
      }
    } else if (json_is_object(node)) {
      if (test(s->filter, node, e->s)) run(p, i + 1, node, e, depth);
    }
    break;
  }
}

/* Segment i with "..": at node and at every node below, in document order. */
static void descend(const jpath_t *p, size_t i, json_t *node, ev_t *e,
                    int depth) {
  if (depth > MS_JSON_DEPTH) return;
  if (p->segs[i].kind != S_FILTER) step(p, i, node, e, depth + 1);
  else if (json_is_object(node) && test(p->segs[i].filter, node, e->s))
    run(p, i + 1, node, e, depth + 1);  /* Jayway: objects test themselves */
  if (json_is_object(node)) {
    const char *key;
    json_t *v;
    json_object_foreach(node, key, v) descend(p, i, v, e, depth + 1);
  } else if (json_is_array(node)) {
    for (size_t k = 0; k < json_array_size(node); k++)
      descend(p, i, json_array_get(node, k), e, depth + 1);
  }
}

static void run(const jpath_t *p, size_t i, json_t *node, ev_t *e,
                int depth) {
  if (i == p->nsegs) {
    json_array_append(e->out, node);
    return;
  }
  if (depth > MS_JSON_DEPTH) return;
  if (p->segs[i].descend) descend(p, i, node, e, depth);
  else step(p, i, node, e, depth + 1);
}

/* Characters (code points) of UTF-8 text. */
static size_t utf8_length(const char *t) {
  size_t n = 0;
  for (; *t; t++)
    if (((unsigned char)*t & 0xC0) != 0x80) n++;
  return n;
}

/* Evaluate p with "@" = at. Returns a new reference, or NULL (why set when
 * why != NULL). */
static json_t *eval_at(const jpath_t *p, const jscope_t *s, json_t *at,
                       char **why) {
  json_t *root = root_of(p, s, at);
  json_t *v;
  if (p->definite) {
    size_t fail = 0;
    v = root ? follow(p, p->nsegs, root, &fail) : NULL;
    if (!v) {
      if (why) *why = why_definite(p, root, fail);
      return NULL;
    }
    json_incref(v);
  } else {
    ev_t e = {s, json_array()};
    if (root) run(p, 0, root, &e, 0);
    v = e.out;
  }
  if (!p->length) return v;
  json_t *r = NULL;
  if (json_is_array(v)) r = json_integer((json_int_t)json_array_size(v));
  else if (json_is_object(v))
    r = json_integer((json_int_t)json_object_size(v));
  else if (json_is_string(v))
    r = json_integer((json_int_t)utf8_length(json_string_value(v)));
  if (!r && why) {
    char *all = jpath_normalized(p);
    *why = ms_asprintf("Function length() cannot be applied to %s: %s",
                       jsonx_type_name(v), all);
    free(all);
  }
  json_decref(v);
  return r;
}

json_t *jpath_eval(const jpath_t *p, const jscope_t *s, char **why) {
  if (why) *why = NULL;
  return eval_at(p, s, NULL, why);
}

/* ---- filters --------------------------------------------------------- */

/* An operand's value: a new reference, NULL when a path finds nothing. */
static json_t *value_of(const operand_t *o, json_t *at, const jscope_t *s) {
  if (o->lit) return json_incref(o->lit);
  return eval_at(o->path, s, at, NULL);
}

static bool equal(const json_t *a, const json_t *b) {
  return a && b && jsonx_equal(a, b);
}

/* Ordering: numbers by value, strings by bytes; else no order (false). */
static bool order(const json_t *a, const json_t *b, int *cmp) {
  double x, y;
  if (a && b && jsonx_number(a, &x) && jsonx_number(b, &y)) {
    *cmp = x < y ? -1 : x > y;
    return true;
  }
  if (json_is_string(a) && json_is_string(b)) {
    *cmp = strcmp(json_string_value(a), json_string_value(b));
    return true;
  }
  return false;
}

static bool member(const json_t *v, const json_t *list) {
  for (size_t i = 0; i < json_array_size(list); i++)
    if (equal(v, json_array_get(list, i))) return true;
  return false;
}

static bool compare(const fx_t *f, json_t *at, const jscope_t *s) {
  json_t *a = value_of(&f->a, at, s);
  json_t *b = f->op == O_RE ? NULL : value_of(&f->b, at, s);
  int c = 0;
  bool r = false;
  switch (f->op) {
  case O_EQ: r = equal(a, b); break;
  case O_NE: r = !equal(a, b); break;
  case O_LT: r = order(a, b, &c) && c < 0; break;
  case O_LE: r = order(a, b, &c) && c <= 0; break;
  case O_GT: r = order(a, b, &c) && c > 0; break;
  case O_GE: r = order(a, b, &c) && c >= 0; break;
  case O_RE:
    r = json_is_string(a) &&
        regexec(f->re, json_string_value(a), 0, NULL, 0) == 0;
    break;
  case O_IN: r = a && json_is_array(b) && member(a, b); break;
  case O_NIN: r = a && json_is_array(b) && !member(a, b); break;
  }
  json_decref(a);
  json_decref(b);
  return r;
}

static bool test(const fx_t *f, json_t *at, const jscope_t *s) {
  switch (f->kind) {
  case F_OR: return test(f->l, at, s) || test(f->r, at, s);
  case F_AND: return test(f->l, at, s) && test(f->r, at, s);
  case F_NOT: return !test(f->l, at, s);
  case F_CMP: return compare(f, at, s);
  case F_TEST: {
    /* A path alone: it exists (a non-empty match for indefinite paths);
     * a literal alone: it is true. */
    json_t *v = value_of(&f->a, at, s);
    bool r;
    if (f->a.lit) r = json_is_true(v);
    else if (f->a.path->definite) r = v != NULL;
    else r = json_array_size(v) > 0;
    json_decref(v);
    return r;
  }
  }
  return false;
}

/* ---- ResultPath ------------------------------------------------------ */

static char *why_set(const jpath_t *p, json_t *root) {
  char *in = jsonx_dump(root, JSONX_COMPACT);
  char *w = ms_asprintf("Unable to apply ReferencePath %s to input %s",
                        p->text, in);
  free(in);
  return w;
}

/* Can segments [i, n) be set below node (NULL: missing, will be made)? */
static bool settable(const jpath_t *p, size_t i, json_t *node) {
  for (; i < p->nsegs; i++) {
    const seg_t *s = &p->segs[i];
    if (s->kind == S_NAME) {
      if (!node) continue;
      if (!json_is_object(node)) return false;
      node = json_object_get(node, s->name);
    } else {
      if (!json_is_array(node)) return false;
      long long k = norm_index(s->index, json_array_size(node));
      if (k < 0) return false;
      node = json_array_get(node, (size_t)k);
    }
  }
  return true;
}

/* Set segments [i, n) below node; returns the new node (a new reference).
 * A node referenced only by its (owned) parent is changed in place; a
 * shared one is shallow-copied first. */
static json_t *set_at(const jpath_t *p, size_t i, json_t *node,
                      json_t *value) {
  if (i == p->nsegs) return json_incref(value);
  const seg_t *s = &p->segs[i];
  json_t *own;
  if (!node) own = json_object();
  else if (node->refcount == 1) own = json_incref(node);
  else own = json_copy(node);
  if (s->kind == S_NAME) {
    json_t *child = json_object_get(own, s->name);
    json_object_set_new(own, s->name, set_at(p, i + 1, child, value));
  } else {
    /* refcount of children is unchanged by the shallow copy's own refs,
     * so a child of a copy has refcount >= 2 and is copied in turn. */
    size_t k = (size_t)norm_index(s->index, json_array_size(own));
    json_t *child = json_array_get(own, k);
    json_array_set_new(own, k, set_at(p, i + 1, child, value));
  }
  return own;
}

int jpath_set(const jpath_t *p, json_t **root, json_t *value, char **why) {
  if (why) *why = NULL;
  if (p->root != JPATH_INPUT || !p->reference) {
    if (why)
      *why = ms_asprintf("Invalid ReferencePath %s: not a reference path "
                         "from '$'", p->text);
    return MS_ERR;
  }
  if (!settable(p, 0, *root)) {
    if (why) *why = why_set(p, *root);
    return MS_ERR;
  }
  json_t *r;
  if (p->nsegs == 0) {
    r = json_incref(value);
  } else {
    /* *root is owned by the caller; count our own hold only once. */
    r = set_at(p, 0, *root, value);
  }
  json_decref(*root);
  *root = r;
  return MS_OK;
}
