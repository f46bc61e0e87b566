/* jsonata_parse.c - JSONata's lexer and Pratt parser, and the reference's
 * post-parse rewrites (processAST): flattened location paths with their
 * predicate stages, group-by, order-by, focus (@) and index (#) bindings,
 * the parent operator's ancestor slots, and tail-call thunks in lambdas.
 * Also the function-signature parser. The tree lives in the caller's arena;
 * evaluation is jsonata_eval.c's.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonata_int.h"

enum { TK_END, TK_OP, TK_NAME, TK_VAR, TK_STR, TK_NUM, TK_VALUE, TK_REGEX };

typedef struct tok {
  int type;
  const char *op;       /* TK_OP: interned operator text */
  char *s; size_t slen; /* name, variable, string, regex source */
  double n;
  int vt;               /* TK_VALUE: 0 null, 1 true, 2 false */
  int pos;
  char flags[4];        /* regex flags */
} tok;

typedef struct parser {
  jarena *a;
  const char *src;
  int len, pos;
  tok t;                /* current token */
  jmp_buf jb;
  jsonata_err_t *err;
  jnode **ancestry; int nanc, capanc;
  int label;
  int depth;            /* nesting of expression(), bounded */
  char nbuf[32];        /* text of a number token, for messages */
} parser;

/* Deepest nesting the parser accepts: the tree walks recurse too, and a
 * thousand levels is far beyond any hand-written expression. */
#define PARSE_MAX_DEPTH 1000

static const struct { const char *op; int bp; } OPS[] = {
  {".", 75}, {"[", 80}, {"]", 0}, {"{", 70}, {"}", 0}, {"(", 80},
  {")", 0}, {",", 0}, {"@", 80}, {"#", 80}, {";", 80}, {":", 80},
  {"?", 20}, {"+", 50}, {"-", 50}, {"*", 60}, {"/", 60}, {"%", 60},
  {"|", 20}, {"=", 40}, {"<", 40}, {">", 40}, {"^", 40}, {"**", 60},
  {"..", 20}, {":=", 10}, {"!=", 40}, {"<=", 40}, {">=", 40},
  {"~>", 40}, {"and", 30}, {"or", 25}, {"in", 40}, {"&", 50},
  {"??", 40}, {"?:", 40}, {"!", 0}, {"~", 0}, {NULL, 0}
};

static const char *intern(const char *op, int n) {
  for (int i = 0; OPS[i].op; i++)
    if ((int)strlen(OPS[i].op) == n && !memcmp(OPS[i].op, op, n))
      return OPS[i].op;
  return NULL;
}

/* Left binding power: only the operators that have an infix form bind;
 * the others (":" ";" "," ")" "]" "}" ".." "|" "**") end an expression. */
static int lbp(const tok *t) {
  static const char *const stops[] = {":", ";", ",", ")", "]", "}", "..",
                                      "|", "**", "!", "~", NULL};
  if (t->type != TK_OP) return 0;
  for (int i = 0; stops[i]; i++)
    if (!strcmp(stops[i], t->op)) return 0;
  for (int i = 0; OPS[i].op; i++)
    if (OPS[i].op == t->op) return OPS[i].bp;
  return 0;
}

static _Noreturn void perr(parser *p, const char *code, int pos,
                           const char *token, const char *value) {
  jsonata_err_t *e = p->err;
  snprintf(e->code, sizeof e->code, "%s", code);
  e->position = pos;
  e->token = token ? strdup(token) : NULL;
  /* values arrive as text; messages show them as JSON */
  char *qv = NULL;
  if (value) {
    size_t n = strlen(value);
    qv = malloc(n + 3);
    if (!qv) abort();
    qv[0] = '"';
    memcpy(qv + 1, value, n);
    qv[n + 1] = '"';
    qv[n + 2] = 0;
    if (!strcmp(code, "S0208")) memmove(qv, qv + 1, n + 1), qv[n] = 0;
  }
  e->message = jerr_message(code, token, qv, NULL, 0, NULL);
  free(qv);
  longjmp(p->jb, 1);
}

static bool is_op_char(char c) {
  return strchr(".[]{}()+,@#;:?-*/%|=<>^&!~", c) && c;
}

/* ---- lexer */

static void scan_regex(parser *p, tok *t) {
  int start = p->pos, depth = 0;
  const char *s = p->src;
  while (p->pos < p->len) {
    char c = s[p->pos];
    if (c == '/' && depth == 0) {
      int bs = 0;
      while (p->pos - bs - 1 >= 0 && s[p->pos - bs - 1] == '\\') bs++;
      if (bs % 2 == 0) {
        if (p->pos == start) perr(p, "S0301", p->pos, NULL, NULL);
        t->s = ja_strndup(p->a, s + start, p->pos - start);
        t->slen = p->pos - start;
        p->pos++;
        int nf = 0;
        while (p->pos < p->len && (s[p->pos] == 'i' || s[p->pos] == 'm')) {
          if (nf < 3) t->flags[nf++] = s[p->pos];
          p->pos++;
        }
        t->type = TK_REGEX;
        return;
      }
    }
    if ((c == '(' || c == '[' || c == '{') &&
        (p->pos == 0 || s[p->pos - 1] != '\\'))
      depth++;
    if ((c == ')' || c == ']' || c == '}') &&
        (p->pos == 0 || s[p->pos - 1] != '\\'))
      depth--;
    p->pos++;
  }
  perr(p, "S0302", p->pos, NULL, NULL);
}

static void put_utf8(char *out, size_t *o, unsigned cp) {
  if (cp < 0x80) out[(*o)++] = (char)cp;
  else if (cp < 0x800) {
    out[(*o)++] = (char)(0xC0 | (cp >> 6));
    out[(*o)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[(*o)++] = (char)(0xE0 | (cp >> 12));
    out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*o)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*o)++] = (char)(0xF0 | (cp >> 18));
    out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*o)++] = (char)(0x80 | (cp & 0x3F));
  }
}

static int hex4(const char *s, int n) {
  if (n < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f'
            ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

static void scan_string(parser *p, tok *t) {
  const char *s = p->src;
  char q = s[p->pos++];
  char *out = ja_alloc(p->a, p->len - p->pos + 1);
  size_t o = 0;
  while (p->pos < p->len) {
    char c = s[p->pos];
    if (c == '\\') {
      p->pos++;
      c = p->pos < p->len ? s[p->pos] : 0;
      switch (c) {
      case '"': case '\\': case '/': out[o++] = c; break;
      case 'b': out[o++] = '\b'; break;
      case 'f': out[o++] = '\f'; break;
      case 'n': out[o++] = '\n'; break;
      case 'r': out[o++] = '\r'; break;
      case 't': out[o++] = '\t'; break;
      case 'u': {
        int cp = hex4(s + p->pos + 1, p->len - p->pos - 1);
        if (cp < 0) perr(p, "S0104", p->pos, NULL, NULL);
        p->pos += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && s[p->pos + 1] == '\\' &&
            s[p->pos + 2] == 'u') {
          int lo = hex4(s + p->pos + 3, p->len - p->pos - 3);
          if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p->pos += 6;
          }
        }
        put_utf8(out, &o, (unsigned)cp);
        break;
      }
      default: {
        char tk[2] = {c, 0};
        perr(p, "S0103", p->pos, tk, NULL);
      }
      }
    } else if (c == q) {
      p->pos++;
      t->type = TK_STR;
      t->s = out;
      t->slen = o;
      return;
    } else {
      out[o++] = c;
    }
    p->pos++;
  }
  perr(p, "S0101", p->pos, NULL, NULL);
}

/* Next token into t; prefix: a '/' here divides (else starts a regex).
 * As in the reference, a token's position is where it ends. */
static bool lex_token(parser *p, tok *t, bool prefix);

static bool lex(parser *p, tok *t, bool prefix) {
  bool ok = lex_token(p, t, prefix);
  t->pos = p->pos;
  return ok;
}

static bool lex_token(parser *p, tok *t, bool prefix) {
  const char *s = p->src;
  memset(t, 0, sizeof *t);
again:
  while (p->pos < p->len && strchr(" \t\n\r\v", s[p->pos])) p->pos++;
  t->pos = p->pos;
  if (p->pos >= p->len) return false;
  if (s[p->pos] == '/' && s[p->pos + 1] == '*') {
    int start = p->pos;
    p->pos += 2;
    while (!(s[p->pos] == '*' && s[p->pos + 1] == '/')) {
      if (++p->pos >= p->len) perr(p, "S0106", start, NULL, NULL);
    }
    p->pos += 2;
    goto again;
  }
  char c = s[p->pos];
  if (!prefix && c == '/') {
    p->pos++;
    scan_regex(p, t);
    return true;
  }
  static const char *two[] = {"..", ":=", "!=", ">=", "<=", "**", "~>",
                              "??", "?:", NULL};
  for (int i = 0; two[i]; i++)
    if (c == two[i][0] && s[p->pos + 1] == two[i][1]) {
      t->type = TK_OP;
      t->op = intern(two[i], 2);
      p->pos += 2;
      return true;
    }
  if (is_op_char(c)) {
    t->type = TK_OP;
    t->op = intern(s + p->pos, 1);
    p->pos++;
    return true;
  }
  if (c == '"' || c == '\'') {
    scan_string(p, t);
    return true;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)? */
    int i = p->pos;
    if (s[i] == '-') i++;
    if (s[i] >= '0' && s[i] <= '9') {
      if (s[i] == '0') i++;
      else while (s[i] >= '0' && s[i] <= '9') i++;
      if (s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') i++;
      }
      if (s[i] == 'e' || s[i] == 'E') {
        int j = i + 1;
        if (s[j] == '+' || s[j] == '-') j++;
        if (s[j] >= '0' && s[j] <= '9') {
          while (s[j] >= '0' && s[j] <= '9') j++;
          i = j;
        }
      }
      char *num = ja_strndup(p->a, s + p->pos, i - p->pos);
      double d = strtod(num, NULL);
      if (d != d || d > 1.7976931348623157e308 ||
          d < -1.7976931348623157e308)
        perr(p, "S0102", p->pos, num, NULL);
      t->type = TK_NUM;
      t->n = d;
      p->pos = i;
      return true;
    }
  }
  if (c == '`') {
    const char *end = memchr(s + p->pos + 1, '`', p->len - p->pos - 1);
    if (!end) {
      p->pos = p->len;
      perr(p, "S0105", p->pos, NULL, NULL);
    }
    t->type = TK_NAME;
    t->slen = end - (s + p->pos + 1);
    t->s = ja_strndup(p->a, s + p->pos + 1, t->slen);
    p->pos = (int)(end - s) + 1;
    return true;
  }
  int i = p->pos;
  while (i < p->len && !strchr(" \t\n\r\v", s[i]) && !is_op_char(s[i])) i++;
  if (s[p->pos] == '$') {
    t->type = TK_VAR;
    t->slen = i - p->pos - 1;
    t->s = ja_strndup(p->a, s + p->pos + 1, t->slen);
    p->pos = i;
    return true;
  }
  int n = i - p->pos;
  const char *w = s + p->pos;
  p->pos = i;
  if ((n == 2 && !memcmp(w, "or", 2)) || (n == 2 && !memcmp(w, "in", 2)) ||
      (n == 3 && !memcmp(w, "and", 3))) {
    t->type = TK_OP;
    t->op = intern(w, n);
    return true;
  }
  if (n == 4 && !memcmp(w, "true", 4)) { t->type = TK_VALUE; t->vt = 1; }
  else if (n == 5 && !memcmp(w, "false", 5)) { t->type = TK_VALUE; t->vt = 2; }
  else if (n == 4 && !memcmp(w, "null", 4)) { t->type = TK_VALUE; t->vt = 0; }
  else {
    if (n == 0) return false;
    t->type = TK_NAME;
    t->s = ja_strndup(p->a, w, n);
    t->slen = n;
  }
  return true;
}

/* ---- parser */

static jnode *mk(parser *p, int type, int pos) {
  jnode *n = ja_alloc(p->a, sizeof *n);
  n->type = type;
  n->pos = pos;
  return n;
}

static void push(jarena *a, jnodes *l, jnode *n) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 4;
    jnode **v = ja_alloc(a, cap * sizeof *v);
    if (l->n) memcpy(v, l->v, l->n * sizeof *v);
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = n;
}

static bool is_op(const tok *t, const char *op) {
  return t->type == TK_OP && !strcmp(t->op, op);
}

static const char *tok_text(parser *p, const tok *t) {
  switch (t->type) {
  case TK_OP: return t->op;
  case TK_END: return NULL;
  case TK_NUM: jnum_fmt(t->n, p->nbuf); return p->nbuf;
  case TK_VALUE: return t->vt == 1 ? "true" : t->vt == 2 ? "false" : "null";
  default: return t->s;
  }
}

static void advance(parser *p, const char *id, bool infix) {
  if (id && !is_op(&p->t, id)) {
    if (p->t.type == TK_END) perr(p, "S0203", p->t.pos, NULL, id);
    perr(p, "S0202", p->t.pos, tok_text(p, &p->t), id);
  }
  if (!lex(p, &p->t, infix)) {
    memset(&p->t, 0, sizeof p->t);
    p->t.type = TK_END;
    p->t.pos = p->len;
  }
  if (p->t.type == TK_OP && (!p->t.op || !strcmp(p->t.op, "!") ||
                             !strcmp(p->t.op, "~")))
    perr(p, "S0204", p->t.pos, p->t.op, NULL);
}

static jnode *expression(parser *p, int rbp);

static jnode *object_parse(parser *p, jnode *n) {
  if (!is_op(&p->t, "}")) {
    for (;;) {
      jnode *k = expression(p, 0);
      advance(p, ":", false);
      jnode *v = expression(p, 0);
      push(p->a, &n->pairs, k);
      push(p->a, &n->pairs, v);
      if (!is_op(&p->t, ",")) break;
      advance(p, ",", false);
    }
  }
  advance(p, "}", true);
  return n;
}

static jnode *nud(parser *p, tok t) {
  jnode *n;
  switch (t.type) {
  case TK_NAME:
    n = mk(p, NT_NAME, t.pos);
    n->value = t.s;
    n->vlen = t.slen;
    return n;
  case TK_VAR:
    n = mk(p, NT_VARIABLE, t.pos);
    n->value = t.s;
    return n;
  case TK_STR:
    n = mk(p, NT_STRING, t.pos);
    n->value = t.s;
    n->vlen = t.slen;
    return n;
  case TK_NUM:
    n = mk(p, NT_NUMBER, t.pos);
    n->num = t.n;
    return n;
  case TK_VALUE:
    n = mk(p, NT_VALUE, t.pos);
    n->num = t.vt;
    return n;
  case TK_REGEX:
    n = mk(p, NT_REGEX, t.pos);
    n->value = t.s;
    n->vlen = t.slen;
    n->re_src = ja_strndup(p->a, t.flags, strlen(t.flags));
    return n;
  case TK_END:
    return mk(p, NT_END, t.pos);   /* an error once processed (S0207) */
  default:
    break;
  }
  const char *op = t.op;
  if (!strcmp(op, "and") || !strcmp(op, "or") || !strcmp(op, "in")) {
    n = mk(p, NT_NAME, t.pos);
    n->value = op;
    n->vlen = strlen(op);
    return n;
  }
  if (!strcmp(op, "-")) {
    n = mk(p, NT_UNARY, t.pos);
    n->value = "-";
    n->expr = expression(p, 70);
    return n;
  }
  if (!strcmp(op, "*")) return mk(p, NT_WILDCARD, t.pos);
  if (!strcmp(op, "**")) return mk(p, NT_DESCENDANT, t.pos);
  if (!strcmp(op, "%")) return mk(p, NT_PARENT, t.pos);
  if (!strcmp(op, "(")) {
    n = mk(p, NT_BLOCK, t.pos);
    while (!is_op(&p->t, ")")) {
      push(p->a, &n->items, expression(p, 0));
      if (!is_op(&p->t, ";")) break;
      advance(p, ";", false);
    }
    advance(p, ")", true);
    return n;
  }
  if (!strcmp(op, "[")) {
    n = mk(p, NT_UNARY, t.pos);
    n->value = "[";
    if (!is_op(&p->t, "]")) {
      for (;;) {
        jnode *item = expression(p, 0);
        if (is_op(&p->t, "..")) {
          jnode *r = mk(p, NT_BINARY, p->t.pos);
          r->value = "..";
          r->lhs = item;
          advance(p, "..", false);
          r->rhs = expression(p, 0);
          item = r;
        }
        push(p->a, &n->items, item);
        if (!is_op(&p->t, ",")) break;
        advance(p, ",", false);
      }
    }
    advance(p, "]", true);
    return n;
  }
  if (!strcmp(op, "{")) {
    n = mk(p, NT_UNARY, t.pos);
    n->value = "{";
    return object_parse(p, n);
  }
  if (!strcmp(op, "|")) {
    n = mk(p, NT_TRANSFORM, t.pos);
    n->pattern = expression(p, 0);
    advance(p, "|", false);
    n->update = expression(p, 0);
    if (is_op(&p->t, ",")) {
      advance(p, ",", false);
      n->del = expression(p, 0);
    }
    advance(p, "|", false);
    return n;
  }
  perr(p, "S0211", t.pos, op, NULL);
}

static jnode *led(parser *p, tok t, jnode *left) {
  const char *op = t.op;
  jnode *n;
  int bp = lbp(&t);
  if (!strcmp(op, "(")) {
    n = mk(p, NT_FUNCTION, t.pos);
    n->procedure = left;
    if (!is_op(&p->t, ")")) {
      for (;;) {
        if (is_op(&p->t, "?")) {
          n->type = NT_PARTIAL;
          push(p->a, &n->items, mk(p, NT_PLACEHOLDER, p->t.pos));
          advance(p, "?", false);
        } else {
          push(p->a, &n->items, expression(p, 0));
        }
        if (!is_op(&p->t, ",")) break;
        advance(p, ",", false);
      }
    }
    advance(p, ")", true);
    if (left->type == NT_NAME && (!strcmp(left->value, "function") ||
                                  !strcmp(left->value, "\xce\xbb"))) {
      for (int i = 0; i < n->items.n; i++)
        if (n->items.v[i]->type != NT_VARIABLE) {
          char v[16];
          snprintf(v, sizeof v, "%d", i + 1);
          perr(p, "S0208", n->items.v[i]->pos, NULL, v);
        }
      n->type = NT_LAMBDA;
      if (is_op(&p->t, "<")) {
        int sigpos = p->t.pos, depth = 1;
        size_t cap = 64, sl = 1;
        char *sig = ja_alloc(p->a, cap);   /* arena: errors longjmp */
        sig[0] = '<';
        while (depth > 0 && !is_op(&p->t, "{") && p->t.type != TK_END) {
          advance(p, NULL, false);
          const char *tx = is_op(&p->t, ">") ? ">" : tok_text(p, &p->t);
          if (is_op(&p->t, ">")) depth--;
          else if (is_op(&p->t, "<")) depth++;
          if (!tx) break;
          size_t l = strlen(tx);
          if (sl + l + 1 > cap) {
            cap = (sl + l + 1) * 2;
            char *ns = ja_alloc(p->a, cap);
            memcpy(ns, sig, sl);
            sig = ns;
          }
          memcpy(sig + sl, tx, l);
          sl += l;
        }
        sig[sl] = 0;
        char *copy = sig;
        advance(p, ">", false);
        int epos = 0;
        char code[8] = "";
        n->sig = jsig_parse(p->a, copy, sigpos, &epos, code);
        if (!n->sig) perr(p, code, sigpos + epos, NULL, NULL);
      }
      advance(p, "{", false);
      n->body = expression(p, 0);
      advance(p, "}", false);
    }
    return n;
  }
  if (!strcmp(op, "[")) {
    if (is_op(&p->t, "]")) {
      jnode *step = left;
      while (step && step->type == NT_BINARY && !strcmp(step->value, "["))
        step = step->lhs;
      step->keep_array = true;
      advance(p, "]", false);
      return left;
    }
    n = mk(p, NT_BINARY, t.pos);
    n->value = "[";
    n->lhs = left;
    n->rhs = expression(p, 0);
    advance(p, "]", true);
    return n;
  }
  if (!strcmp(op, "{")) {
    n = mk(p, NT_BINARY, t.pos);
    n->value = "{";
    n->lhs = left;
    return object_parse(p, n);
  }
  if (!strcmp(op, "^")) {
    n = mk(p, NT_BINARY, t.pos);
    n->value = "^";
    n->lhs = left;
    advance(p, "(", false);
    unsigned char desc[256];
    int nt = 0;
    for (;;) {
      unsigned char d = 0;
      if (is_op(&p->t, "<")) advance(p, "<", false);
      else if (is_op(&p->t, ">")) { d = 1; advance(p, ">", false); }
      push(p->a, &n->terms, expression(p, 0));
      if (nt < 256) desc[nt++] = d;
      if (!is_op(&p->t, ",")) break;
      advance(p, ",", false);
    }
    advance(p, ")", false);
    n->desc = ja_alloc(p->a, nt + 1);
    memcpy(n->desc, desc, nt);
    return n;
  }
  if (!strcmp(op, ":=")) {
    if (left->type != NT_VARIABLE)
      perr(p, "S0212", left->pos, left->value, NULL);
    n = mk(p, NT_BINARY, t.pos);
    n->value = ":=";
    n->lhs = left;
    n->rhs = expression(p, bp - 1);
    return n;
  }
  if (!strcmp(op, "@") || !strcmp(op, "#")) {
    n = mk(p, NT_BINARY, t.pos);
    n->value = op;
    n->lhs = left;
    n->rhs = expression(p, bp);
    if (n->rhs->type != NT_VARIABLE)
      perr(p, "S0214", n->rhs->pos, op, NULL);
    return n;
  }
  if (!strcmp(op, "?")) {
    n = mk(p, NT_CONDITION, t.pos);
    n->cond = left;
    n->then = expression(p, 0);
    if (is_op(&p->t, ":")) {
      advance(p, ":", false);
      n->els = expression(p, 0);
    }
    return n;
  }
  if (!strcmp(op, "??") || !strcmp(op, "?:")) {
    n = mk(p, !strcmp(op, "??") ? NT_COALESCE : NT_ELVIS, t.pos);
    n->cond = left;
    n->els = expression(p, 0);
    return n;
  }
  static const char *infix_ops[] = {".", "+", "-", "*", "/", "%", "=", "<",
    ">", "!=", "<=", ">=", "&", "and", "or", "in", "~>", NULL};
  for (int i = 0; infix_ops[i]; i++)
    if (!strcmp(op, infix_ops[i])) {
      n = mk(p, NT_BINARY, t.pos);
      n->value = op;
      n->lhs = left;
      n->rhs = expression(p, bp);
      return n;
    }
  perr(p, "S0201", t.pos, op, NULL);
}

static jnode *expression(parser *p, int rbp) {
  if (++p->depth > PARSE_MAX_DEPTH)
    perr(p, "U1001", p->t.pos, NULL, NULL);
  tok t = p->t;
  advance(p, NULL, true);
  jnode *left = nud(p, t);
  while (rbp < lbp(&p->t)) {
    t = p->t;
    advance(p, NULL, false);
    left = led(p, t, left);
  }
  p->depth--;
  return left;
}

/* ---- processAST */

static void seek_push(jarena *a, jnode *n, jslot *s) {
  if (n->nseeking == n->capseeking) {
    int cap = n->capseeking ? n->capseeking * 2 : 4;
    jslot **v = ja_alloc(a, cap * sizeof *v);
    if (n->nseeking) memcpy(v, n->seeking, n->nseeking * sizeof *v);
    n->seeking = v;
    n->capseeking = cap;
  }
  n->seeking[n->nseeking++] = s;
}

static jslot *seek_parent(parser *p, jnode *node, jslot *slot) {
  switch (node->type) {
  case NT_NAME:
  case NT_WILDCARD:
    slot->level--;
    if (slot->level == 0) {
      if (node->ancestor) {
        p->ancestry[slot->index]->slot->label = node->ancestor->label;
      }
      node->ancestor = slot;
      node->tuple = true;
    }
    break;
  case NT_PARENT:
    slot->level++;
    break;
  case NT_BLOCK:
    if (node->items.n > 0) {
      node->tuple = true;
      slot = seek_parent(p, node->items.v[node->items.n - 1], slot);
    }
    break;
  case NT_PATH: {
    node->tuple = true;
    int index = node->steps.n - 1;
    slot = seek_parent(p, node->steps.v[index--], slot);
    while (slot->level > 0 && index >= 0)
      slot = seek_parent(p, node->steps.v[index--], slot);
    break;
  }
  default:
    perr(p, "S0217", node->pos, NULL, NULL);
  }
  return slot;
}

static void push_ancestry(parser *p, jnode *result, jnode *value) {
  if (value->nseeking || value->type == NT_PARENT) {
    for (int i = 0; i < value->nseeking; i++)
      seek_push(p->a, result, value->seeking[i]);
    if (value->type == NT_PARENT) seek_push(p->a, result, value->slot);
  }
}

static void resolve_ancestry(parser *p, jnode *path) {
  int index = path->steps.n - 1;
  jnode *last = path->steps.v[index];
  int ns = last->nseeking + (last->type == NT_PARENT);
  jslot **slots = ja_alloc(p->a, (ns + 1) * sizeof *slots);
  for (int i = 0; i < last->nseeking; i++) slots[i] = last->seeking[i];
  if (last->type == NT_PARENT) slots[ns - 1] = last->slot;
  for (int is = 0; is < ns; is++) {
    jslot *slot = slots[is];
    index = path->steps.n - 2;
    while (slot->level > 0) {
      if (index < 0) {
        seek_push(p->a, path, slot);
        break;
      }
      jnode *step = path->steps.v[index--];
      while (index >= 0 && step->focus && path->steps.v[index]->focus)
        step = path->steps.v[index--];
      slot = seek_parent(p, step, slot);
    }
  }
}

static jnode *tco(parser *p, jnode *e) {
  if (e->type == NT_FUNCTION && e->predicate.n == 0) {
    jnode *th = mk(p, NT_LAMBDA, e->pos);
    th->thunk = true;
    th->body = e;
    return th;
  }
  if (e->type == NT_CONDITION) {
    e->then = tco(p, e->then);
    if (e->els) e->els = tco(p, e->els);
  } else if (e->type == NT_BLOCK && e->items.n > 0) {
    e->items.v[e->items.n - 1] = tco(p, e->items.v[e->items.n - 1]);
  }
  return e;
}

static jnode *process(parser *p, jnode *e);

static jnode *as_path(parser *p, jnode *step) {
  jnode *r = mk(p, NT_PATH, step->pos);
  push(p->a, &r->steps, step);
  return r;
}

static jnode *process_binary(parser *p, jnode *e) {
  const char *op = e->value;
  jnode *result, *step;
  if (!strcmp(op, ".")) {
    jnode *lstep = process(p, e->lhs);
    result = lstep->type == NT_PATH ? lstep : as_path(p, lstep);
    if (lstep->type == NT_PARENT) {
      result->nseeking = 0;
      seek_push(p->a, result, lstep->slot);
    }
    jnode *rest = process(p, e->rhs);
    if (rest->type == NT_PATH) {
      for (int i = 0; i < rest->steps.n; i++)
        push(p->a, &result->steps, rest->steps.v[i]);
    } else {
      if (rest->predicate.n) {
        rest->stages = rest->predicate;
        memset(&rest->predicate, 0, sizeof rest->predicate);
      }
      push(p->a, &result->steps, rest);
    }
    for (int i = 0; i < result->steps.n; i++) {
      jnode *s = result->steps.v[i];
      if (s->type == NT_NUMBER || s->type == NT_VALUE)
        perr(p, "S0213", s->pos, NULL, NULL);
      if (s->type == NT_STRING) s->type = NT_NAME;
      if (s->keep_array) result->keep_singleton = true;
    }
    jnode *first = result->steps.v[0];
    if (first->type == NT_UNARY && !strcmp(first->value, "["))
      first->consarray = true;
    jnode *last = result->steps.v[result->steps.n - 1];
    if (last->type == NT_UNARY && !strcmp(last->value, "["))
      last->consarray = true;
    resolve_ancestry(p, result);
    return result;
  }
  if (!strcmp(op, "[")) {
    result = process(p, e->lhs);
    step = result;
    bool stages = false;
    if (result->type == NT_PATH) {
      step = result->steps.v[result->steps.n - 1];
      stages = true;
    }
    if (step->has_group) perr(p, "S0209", e->pos, NULL, NULL);
    jnode *pred = process(p, e->rhs);
    if (pred->nseeking) {
      for (int i = 0; i < pred->nseeking; i++) {
        jslot *s = pred->seeking[i];
        if (s->level == 1) seek_parent(p, step, s);
        else s->level--;
      }
      push_ancestry(p, step, pred);
    }
    jnode *f = mk(p, NT_FILTER, e->pos);
    f->expr = pred;
    push(p->a, stages ? &step->stages : &step->predicate, f);
    return result;
  }
  if (!strcmp(op, "{")) {
    result = process(p, e->lhs);
    if (result->has_group) perr(p, "S0210", e->pos, NULL, NULL);
    result->has_group = true;
    result->group_pos = e->pos;
    for (int i = 0; i < e->pairs.n; i++)
      push(p->a, &result->group, process(p, e->pairs.v[i]));
    return result;
  }
  if (!strcmp(op, "^")) {
    result = process(p, e->lhs);
    if (result->type != NT_PATH) result = as_path(p, result);
    jnode *sort = mk(p, NT_SORT, e->pos);
    sort->desc = e->desc;
    for (int i = 0; i < e->terms.n; i++) {
      jnode *x = process(p, e->terms.v[i]);
      push_ancestry(p, sort, x);
      push(p->a, &sort->terms, x);
    }
    push(p->a, &result->steps, sort);
    resolve_ancestry(p, result);
    return result;
  }
  if (!strcmp(op, ":=")) {
    result = mk(p, NT_BIND, e->pos);
    result->lhs = process(p, e->lhs);
    result->rhs = process(p, e->rhs);
    push_ancestry(p, result, result->rhs);
    return result;
  }
  if (!strcmp(op, "@")) {
    result = process(p, e->lhs);
    step = result->type == NT_PATH ? result->steps.v[result->steps.n - 1]
                                   : result;
    if (step->stages.n || step->predicate.n)
      perr(p, "S0215", e->pos, NULL, NULL);
    if (step->type == NT_SORT) perr(p, "S0216", e->pos, NULL, NULL);
    if (e->keep_array) step->keep_array = true;
    step->focus = e->rhs->value;
    step->tuple = true;
    return result;
  }
  if (!strcmp(op, "#")) {
    result = process(p, e->lhs);
    step = result;
    if (result->type == NT_PATH) {
      step = result->steps.v[result->steps.n - 1];
    } else {
      result = as_path(p, result);
      if (step->predicate.n) {
        step->stages = step->predicate;
        memset(&step->predicate, 0, sizeof step->predicate);
      }
    }
    if (step->stages.n == 0) {
      step->index = e->rhs->value;
    } else {
      jnode *ix = mk(p, NT_INDEX, e->pos);
      ix->value = e->rhs->value;
      push(p->a, &step->stages, ix);
    }
    step->tuple = true;
    return result;
  }
  if (!strcmp(op, "~>")) {
    result = mk(p, NT_APPLY, e->pos);
    result->value = op;
    result->lhs = process(p, e->lhs);
    result->rhs = process(p, e->rhs);
    return result;
  }
  result = mk(p, NT_BINARY, e->pos);
  result->value = op;
  result->lhs = process(p, e->lhs);
  result->rhs = process(p, e->rhs);
  push_ancestry(p, result, result->lhs);
  push_ancestry(p, result, result->rhs);
  return result;
}

static jnode *process(parser *p, jnode *e) {
  jnode *result;
  switch (e->type) {
  case NT_BINARY:
    result = process_binary(p, e);
    break;
  case NT_UNARY:
    result = mk(p, NT_UNARY, e->pos);
    result->value = e->value;
    if (!strcmp(e->value, "[")) {
      for (int i = 0; i < e->items.n; i++) {
        jnode *v = process(p, e->items.v[i]);
        push_ancestry(p, result, v);
        push(p->a, &result->items, v);
      }
    } else if (!strcmp(e->value, "{")) {
      for (int i = 0; i < e->pairs.n; i++) {
        jnode *v = process(p, e->pairs.v[i]);
        push_ancestry(p, result, v);
        push(p->a, &result->pairs, v);
      }
    } else {
      result->expr = process(p, e->expr);
      if (result->expr->type == NT_NUMBER) {
        result = result->expr;
        result->num = -result->num;
      } else {
        push_ancestry(p, result, result->expr);
      }
    }
    break;
  case NT_FUNCTION:
  case NT_PARTIAL:
    result = mk(p, e->type, e->pos);
    for (int i = 0; i < e->items.n; i++) {
      jnode *a = process(p, e->items.v[i]);
      push_ancestry(p, result, a);
      push(p->a, &result->items, a);
    }
    result->procedure = process(p, e->procedure);
    break;
  case NT_LAMBDA:
    result = mk(p, NT_LAMBDA, e->pos);
    result->items = e->items;
    result->sig = e->sig;
    result->body = tco(p, process(p, e->body));
    break;
  case NT_CONDITION:
    result = mk(p, NT_CONDITION, e->pos);
    result->cond = process(p, e->cond);
    push_ancestry(p, result, result->cond);
    result->then = process(p, e->then);
    push_ancestry(p, result, result->then);
    if (e->els) {
      result->els = process(p, e->els);
      push_ancestry(p, result, result->els);
    }
    break;
  case NT_COALESCE:
  case NT_ELVIS:
    result = mk(p, e->type, e->pos);
    result->cond = process(p, e->cond);
    push_ancestry(p, result, result->cond);
    result->els = process(p, e->els);
    push_ancestry(p, result, result->els);
    break;
  case NT_TRANSFORM:
    result = mk(p, NT_TRANSFORM, e->pos);
    result->pattern = process(p, e->pattern);
    result->update = process(p, e->update);
    if (e->del) result->del = process(p, e->del);
    break;
  case NT_BLOCK:
    result = mk(p, NT_BLOCK, e->pos);
    for (int i = 0; i < e->items.n; i++) {
      jnode *part = process(p, e->items.v[i]);
      push_ancestry(p, result, part);
      if (part->consarray ||
          (part->type == NT_PATH && part->steps.v[0]->consarray))
        result->consarray = true;
      push(p->a, &result->items, part);
    }
    break;
  case NT_NAME:
    result = as_path(p, e);
    if (e->keep_array) result->keep_singleton = true;
    break;
  case NT_PARENT: {
    result = mk(p, NT_PARENT, e->pos);
    jslot *s = ja_alloc(p->a, sizeof *s);
    char lab[16];
    snprintf(lab, sizeof lab, "!%d", p->label++);
    s->label = ja_strndup(p->a, lab, strlen(lab));
    s->level = 1;
    s->index = p->nanc;
    result->slot = s;
    if (p->nanc == p->capanc) {
      int cap = p->capanc ? p->capanc * 2 : 8;
      jnode **v = ja_alloc(p->a, cap * sizeof *v);
      if (p->nanc) memcpy(v, p->ancestry, p->nanc * sizeof *v);
      p->ancestry = v;
      p->capanc = cap;
    }
    p->ancestry[p->nanc++] = result;
    break;
  }
  case NT_END:
    perr(p, "S0207", e->pos, NULL, NULL);
  default:
    result = e;
    break;
  }
  if (e->keep_array) result->keep_array = true;
  return result;
}

static void free_re(void *re) { pcre2_code_free(re); }

/* Compile the regex literals (JavaScript flags i, m; always global). */
static void compile_regexes(parser *p, jnode *n);

static void compile_list(parser *p, jnodes *l) {
  for (int i = 0; i < l->n; i++) compile_regexes(p, l->v[i]);
}

static void compile_regexes(parser *p, jnode *n) {
  if (!n) return;
  if (n->type == NT_REGEX && !n->re) {
    uint32_t opt = PCRE2_UTF | PCRE2_UCP | PCRE2_ALT_BSUX;
    if (n->re_src && strchr(n->re_src, 'i')) opt |= PCRE2_CASELESS;
    if (n->re_src && strchr(n->re_src, 'm')) opt |= PCRE2_MULTILINE;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)n->value, n->vlen, opt, &ec,
                                   &eo, NULL);
    if (!re) perr(p, "S0303", n->pos, n->value, NULL);
    ja_on_free(p->a, free_re, re);
    n->re = re;
  }
  compile_regexes(p, n->lhs);
  compile_regexes(p, n->rhs);
  compile_regexes(p, n->expr);
  compile_list(p, &n->items);
  compile_list(p, &n->pairs);
  compile_list(p, &n->steps);
  compile_list(p, &n->stages);
  compile_list(p, &n->predicate);
  compile_list(p, &n->group);
  compile_list(p, &n->terms);
  compile_regexes(p, n->procedure);
  compile_regexes(p, n->body);
  compile_regexes(p, n->cond);
  compile_regexes(p, n->then);
  compile_regexes(p, n->els);
  compile_regexes(p, n->pattern);
  compile_regexes(p, n->update);
  compile_regexes(p, n->del);
}

jnode *jparse(jarena *a, const char *text, jsonata_err_t *err) {
  parser *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->a = a;
  p->src = text;
  p->len = (int)strlen(text);
  p->err = err;
  jnode *volatile res = NULL;
  if (setjmp(p->jb) == 0) {
    advance(p, NULL, false);
    jnode *e = expression(p, 0);
    if (p->t.type != TK_END)
      perr(p, "S0201", p->t.pos, tok_text(p, &p->t), NULL);
    e = process(p, e);
    if (e->type == NT_PARENT || e->nseeking)
      perr(p, "S0217", e->pos, e->type == NT_PARENT ? "parent" : "path",
           NULL);
    compile_regexes(p, e);
    res = e;
  }
  free(p);
  return res;
}
