/* yaml.c - a YAML reader producing JSON values (see yaml.h for what it
 * reads and what it refuses).
 *
 * A recursive-descent parser over the text, driven by indentation: a node
 * that starts at column c owns the lines indented more than its parent.
 * Positions are kept as (line, start of line) so every error says
 * LINE:COL. The text is first copied with CR LF turned into LF and a BOM
 * dropped, so the parser only ever sees '\n'.
 */
#include "yaml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

typedef struct yp {
  const char *s;
  size_t n, i;
  int line;          /* 0-based line of s[i] */
  size_t bol;        /* index of the first byte of that line */
  char *err;
  int depth;
  json_t *anchors;   /* name -> node */
} yp_t;

/* ---- positions and errors ---------------------------------------------- */

static int ch(const yp_t *p, size_t k) {
  return p->i + k < p->n ? (unsigned char)p->s[p->i + k] : 0;
}

static int col(const yp_t *p) { return (int)(p->i - p->bol); }

static bool eol(const yp_t *p) { return p->i >= p->n || p->s[p->i] == '\n'; }

static bool blank(int c) { return c == ' ' || c == '\t'; }

static bool blank_or_end(int c) { return c == 0 || c == ' ' || c == '\t' ||
                                         c == '\n'; }

static void adv(yp_t *p) {
  if (p->i >= p->n) return;
  if (p->s[p->i] == '\n') {
    p->line++;
    p->bol = p->i + 1;
  }
  p->i++;
}

static json_t *fail(yp_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *fail(yp_t *p, const char *fmt, ...) {
  if (p->err) return NULL;
  va_list ap;
  va_start(ap, fmt);
  char *m = ms_vasprintf(fmt, ap);
  va_end(ap);
  p->err = ms_asprintf("%d:%d: %s", p->line + 1, col(p) + 1, m);
  free(m);
  return NULL;
}

static void skip_blanks(yp_t *p) {
  while (blank(ch(p, 0))) adv(p);
}

static void skip_to_eol(yp_t *p) {
  while (!eol(p)) adv(p);
}

/* "---" or "..." at the start of a line, followed by a blank or the end. */
static bool doc_marker(const yp_t *p) {
  if (col(p) != 0 || p->i + 3 > p->n) return false;
  const char *t = p->s + p->i;
  return (!strncmp(t, "---", 3) || !strncmp(t, "...", 3)) &&
         blank_or_end(ch(p, 3));
}

/* Move to the next content: past blanks, comments and line ends. Tabs
 * may separate tokens but not indent a line. Returns false at the end of
 * the text or at a document marker. */
static bool to_content(yp_t *p) {
  for (;;) {
    skip_blanks(p);
    if (ch(p, 0) == '#') skip_to_eol(p);
    if (p->i >= p->n) return false;
    if (p->s[p->i] != '\n') break;
    adv(p);
  }
  if (doc_marker(p)) return false;
  bool first = true;  /* the content is the first thing on its line */
  for (size_t k = p->bol; k < p->i; k++)
    if (!blank(p->s[k])) first = false;
  if (first && memchr(p->s + p->bol, '\t', p->i - p->bol)) {
    fail(p, "a tab character indents this line (YAML allows spaces only)");
    return false;
  }
  return true;
}

/* At a comment or the end of the line (after blanks). */
static bool rest_is_empty(yp_t *p) {
  skip_blanks(p);
  return eol(p) || ch(p, 0) == '#';
}

/* ---- scalars ----------------------------------------------------------- */

static bool is_int_text(const char *s) {
  if (*s == '-' || *s == '+') s++;
  if (!*s) return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return false;
  return true;
}

static bool is_float_text(const char *s) {
  if (*s == '-' || *s == '+') s++;
  bool digits = false;
  while (isdigit((unsigned char)*s)) s++, digits = true;
  if (*s == '.') {
    s++;
    while (isdigit((unsigned char)*s)) s++, digits = true;
  }
  if (!digits) return false;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+') s++;
    if (!isdigit((unsigned char)*s)) return false;
    while (isdigit((unsigned char)*s)) s++;
  }
  return *s == 0;
}

/* A plain scalar's value under YAML 1.2's core schema. */
static json_t *resolve(const char *s) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  static const char *const trues[] = {"true", "True", "TRUE"};
  static const char *const falses[] = {"false", "False", "FALSE"};
  for (size_t k = 0; k < sizeof nulls / sizeof *nulls; k++)
    if (!strcmp(s, nulls[k])) return json_null();
  for (size_t k = 0; k < 3; k++) {
    if (!strcmp(s, trues[k])) return json_true();
    if (!strcmp(s, falses[k])) return json_false();
  }
  if (is_int_text(s)) {
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == 0) return json_integer(v);
    return json_real(strtod(s, NULL));
  }
  if ((!strncmp(s, "0x", 2) && s[2] && strspn(s + 2, "0123456789abcdefABCDEF")
                                            == strlen(s + 2)) ||
      (!strncmp(s, "0o", 2) && s[2] && strspn(s + 2, "01234567")
                                           == strlen(s + 2))) {
    errno = 0;
    long long v = strtoll(s + 2, NULL, s[1] == 'x' ? 16 : 8);
    if (errno == 0) return json_integer(v);
  }
  if (is_float_text(s)) return json_real(strtod(s, NULL));
  /* JSON has no infinities or NaN: .inf and .nan stay strings */
  return json_string(s);
}

/* Line folding inside quoted and flow plain scalars: a line break and the
 * blanks around it become one space, or n-1 newlines when n breaks. */
static void fold_break(yp_t *p, buf_t *b) {
  while (b->len && blank(b->data[b->len - 1])) b->data[--b->len] = 0;
  int breaks = 0;
  while (ch(p, 0) == '\n' || blank(ch(p, 0))) {
    if (ch(p, 0) == '\n') breaks++;
    adv(p);
  }
  if (breaks == 1) {
    buf_putc(b, ' ');
  } else {
    for (int k = 1; k < breaks; k++) buf_putc(b, '\n');
  }
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void put_utf8(buf_t *b, unsigned long cp) {
  if (cp < 0x80) {
    buf_putc(b, (char)cp);
  } else if (cp < 0x800) {
    buf_putc(b, (char)(0xC0 | (cp >> 6)));
    buf_putc(b, (char)(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    buf_putc(b, (char)(0xE0 | (cp >> 12)));
    buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
    buf_putc(b, (char)(0x80 | (cp & 0x3F)));
  } else {
    buf_putc(b, (char)(0xF0 | (cp >> 18)));
    buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
    buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
    buf_putc(b, (char)(0x80 | (cp & 0x3F)));
  }
}

static bool escape(yp_t *p, buf_t *b) {
  static const char from[] = "0abtnvfre \"/\\N_LP\t";
  static const char *const to[] = {
    "\0", "\a", "\b", "\t", "\n", "\v", "\f", "\r", "\x1b", " ", "\"", "/",
    "\\", "\xc2\x85", "\xc2\xa0", "\xe2\x80\xa8", "\xe2\x80\xa9", "\t"};
  int c = ch(p, 0);
  const char *at = c ? strchr(from, c) : NULL;
  if (at) {
    const char *t = to[at - from];
    if (c == '0') buf_append(b, "\0", 1);
    else buf_puts(b, t);
    adv(p);
    return true;
  }
  int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
  if (!digits) {
    fail(p, "unknown escape \\%c in a double-quoted string", c ? c : ' ');
    return false;
  }
  adv(p);
  unsigned long cp = 0;
  for (int k = 0; k < digits; k++) {
    int v = hexval(ch(p, 0));
    if (v < 0) {
      fail(p, "expected %d hexadecimal digits in an escape", digits);
      return false;
    }
    cp = cp * 16 + (unsigned long)v;
    adv(p);
  }
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    fail(p, "escape \\%c%lX is not a Unicode scalar value", c, cp);
    return false;
  }
  put_utf8(b, cp);
  return true;
}

/* A single- or double-quoted scalar, the cursor on its opening quote. */
static char *quoted(yp_t *p, size_t *len) {
  int q = ch(p, 0);
  int line = p->line;
  size_t bol = p->bol, at = p->i;
  adv(p);
  buf_t b;
  buf_init(&b);
  for (;;) {
    int c = ch(p, 0);
    if (p->i >= p->n) {
      p->line = line, p->bol = bol, p->i = at;
      fail(p, "this quoted string has no closing %c", q);
      buf_free(&b);
      return NULL;
    }
    if (c == q) {
      if (q == '\'' && ch(p, 1) == '\'') {
        buf_putc(&b, '\'');
        adv(p);
        adv(p);
        continue;
      }
      adv(p);
      break;
    }
    if (c == '\n') {
      fold_break(p, &b);
    } else if (c == '\\' && q == '"') {
      adv(p);
      if (ch(p, 0) == '\n') {      /* an escaped line break joins lines */
        adv(p);
        skip_blanks(p);
      } else if (!escape(p, &b)) {
        buf_free(&b);
        return NULL;
      }
    } else {
      buf_putc(&b, (char)c);
      adv(p);
    }
  }
  *len = b.len;
  return buf_steal(&b);
}

/* Does a plain scalar stop here? In a flow collection at , [ ] { } too. */
static bool plain_stops(const yp_t *p, bool flow) {
  int c = ch(p, 0);
  if (c == ':' && (blank_or_end(ch(p, 1)) ||
                   (flow && strchr(",[]{}", ch(p, 1)))))
    return true;
  if (c == '#' && p->i > 0 && blank(p->s[p->i - 1])) return true;
  return flow && c && strchr(",[]{}", c);
}

/* A plain scalar: its text, folded over continuation lines indented more
 * than parent (any line, in a flow collection). */
static char *plain(yp_t *p, int parent, bool flow) {
  buf_t b;
  buf_init(&b);
  for (;;) {
    while (!eol(p) && !plain_stops(p, flow)) {
      buf_putc(&b, (char)ch(p, 0));
      adv(p);
    }
    while (b.len && blank(b.data[b.len - 1])) b.data[--b.len] = 0;
    if (!eol(p)) break;
    /* look ahead for a continuation line */
    yp_t save = *p;
    int breaks = 0;
    while (ch(p, 0) == '\n' || blank(ch(p, 0))) {
      if (ch(p, 0) == '\n') breaks++;
      adv(p);
    }
    if (p->i >= p->n || doc_marker(p) || ch(p, 0) == '#' ||
        (!flow && col(p) <= parent) ||
        (!flow && ch(p, 0) == '-' && blank_or_end(ch(p, 1)))) {
      *p = save;
      break;
    }
    if (breaks == 1) buf_putc(&b, ' ');
    for (int k = 1; k < breaks; k++) buf_putc(&b, '\n');
  }
  return buf_steal(&b);
}

/* A literal (|) or folded (>) block scalar, the cursor on the indicator;
 * its lines are indented more than parent. */
static json_t *block_scalar(yp_t *p, int parent) {
  bool folded = ch(p, 0) == '>';
  adv(p);
  int chomp = 0, explicit_indent = 0;  /* chomp: -1 strip, 0 clip, 1 keep */
  for (int k = 0; k < 2; k++) {
    int c = ch(p, 0);
    if (c == '-' || c == '+') {
      chomp = c == '-' ? -1 : 1;
      adv(p);
    } else if (c >= '1' && c <= '9') {
      explicit_indent = c - '0';
      adv(p);
    }
  }
  if (!rest_is_empty(p))
    return fail(p, "a block scalar's header is followed by text");
  skip_to_eol(p);
  if (p->i < p->n) adv(p);
  int indent = explicit_indent ? (parent < 0 ? 0 : parent) + explicit_indent
                               : -1;
  /* collect lines */
  buf_t out;
  buf_init(&out);
  int pending = 0;            /* empty lines not yet written */
  bool any = false, prev_more = false;
  for (;;) {
    size_t start = p->i;
    int sp = 0;
    while (ch(p, 0) == ' ') adv(p), sp++;
    if (eol(p)) {                                  /* an empty line */
      if (p->i >= p->n) break;
      pending++;
      adv(p);
      continue;
    }
    if (indent < 0) {
      if (sp <= parent) {
        p->i = start;
        break;
      }
      indent = sp;
    }
    if (sp < indent) {
      p->i = start;
      break;
    }
    if (doc_marker(p)) break;
    /* the line's content after the indentation */
    size_t from = start + (size_t)indent;
    bool more = sp > indent || ch(p, 0) == '\t';
    if (any) {
      if (folded && !more && !prev_more) {
        if (pending) {
          for (int k = 0; k < pending; k++) buf_putc(&out, '\n');
        } else {
          buf_putc(&out, ' ');
        }
      } else {
        for (int k = 0; k <= pending; k++) buf_putc(&out, '\n');
      }
    } else {
      for (int k = 0; k < pending; k++) buf_putc(&out, '\n');
    }
    pending = 0;
    skip_to_eol(p);
    buf_append(&out, p->s + from, p->i - from);
    any = true;
    prev_more = more;
    if (p->i < p->n) adv(p);
  }
  /* leave the cursor at the start of the line that ended the scalar */
  if (p->i > p->bol) p->i = p->bol;
  if (chomp >= 0 && any) buf_putc(&out, '\n');
  if (chomp > 0)
    for (int k = 0; k < pending; k++) buf_putc(&out, '\n');
  json_t *s = json_stringn(out.data ? out.data : "", out.len);
  buf_free(&out);
  return s ? s : fail(p, "a block scalar is not valid UTF-8");
}

/* ---- node properties: tags and anchors -------------------------------- */

typedef struct props {
  char *tag;     /* "!Ref", "!!str", ... or NULL */
  char *anchor;  /* or NULL */
} props_t;

static char *word(yp_t *p) {
  size_t from = p->i;
  while (!blank_or_end(ch(p, 0)) && !strchr(",[]{}", ch(p, 0))) adv(p);
  return ms_strndup(p->s + from, p->i - from);
}

static bool read_props(yp_t *p, props_t *pr) {
  for (;;) {
    int c = ch(p, 0);
    if (c == '!' && !pr->tag) {
      pr->tag = word(p);
    } else if (c == '&' && !pr->anchor) {
      adv(p);
      pr->anchor = word(p);
      if (!*pr->anchor) {
        fail(p, "an anchor needs a name");
        return false;
      }
    } else {
      return true;
    }
    skip_blanks(p);
  }
}

static json_t *scalar_with_tag(yp_t *p, const char *tag, char *text,
                               size_t len, bool was_plain) {
  json_t *v;
  if (!tag) {
    v = was_plain ? resolve(text) : json_stringn(text, len);
  } else if (!strcmp(tag, "!!int") || !strcmp(tag, "!!float") ||
             !strcmp(tag, "!!bool") || !strcmp(tag, "!!null")) {
    v = resolve(text);
    bool ok = (tag[2] == 'i' && json_is_integer(v)) ||
              (tag[2] == 'f' && json_is_number(v)) ||
              (tag[2] == 'b' && json_is_boolean(v)) ||
              (tag[2] == 'n' && json_is_null(v));
    if (!ok) {
      json_decref(v);
      fail(p, "\"%s\" is not a valid %s", text, tag + 2);
      free(text);
      return NULL;
    }
  } else {
    v = json_stringn(text, len);  /* !!str and CloudFormation's tags */
  }
  free(text);
  return v ? v : fail(p, "a string is not valid UTF-8");
}

/* CloudFormation's short forms, and the standard tags on collections. */
static json_t *apply_tag(yp_t *p, const char *tag, json_t *v) {
  if (!tag || !v) return v;
  if (!strncmp(tag, "!!", 2)) {
    const char *t = tag + 2;
    bool ok = !strcmp(t, "str") ? json_is_string(v)
            : !strcmp(t, "map") ? json_is_object(v)
            : !strcmp(t, "seq") ? json_is_array(v)
            : !strcmp(t, "binary") ? json_is_string(v)
            : !strcmp(t, "int") || !strcmp(t, "float") ||
              !strcmp(t, "bool") || !strcmp(t, "null");
    if (!ok) {
      json_decref(v);
      return fail(p, "the node does not fit its tag %s", tag);
    }
    return v;
  }
  const char *name = tag + 1;
  if (!*name || !isalpha((unsigned char)*name) ||
      strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789") != strlen(name)) {
    json_decref(v);
    return fail(p, "unknown tag %s", tag);
  }
  if (!strcmp(name, "GetAtt") && json_is_string(v)) {
    const char *s = json_string_value(v);
    const char *dot = strchr(s, '.');
    if (!dot) {
      json_decref(v);
      return fail(p, "!GetAtt wants Resource.Attribute, not \"%s\"", s);
    }
    json_t *a = json_pack("[s#s]", s, (int)(dot - s), dot + 1);
    json_decref(v);
    v = a;
  }
  json_t *o = json_object();
  if (!strcmp(name, "Ref") || !strcmp(name, "Condition")) {
    json_object_set_new(o, name, v);
  } else {
    char *key = ms_asprintf("Fn::%s", name);
    json_object_set_new(o, key, v);
    free(key);
  }
  return o;
}

/* ---- collections ------------------------------------------------------- */

static json_t *node_here(yp_t *p, int parent, bool inline_value);
static json_t *flow_node(yp_t *p);

static bool seq_start(const yp_t *p) {
  return ch(p, 0) == '-' && blank_or_end(ch(p, 1));
}

/* Does a mapping key start here ("key:" followed by a blank or the end of
 * the line, the key plain or quoted, on this line)? */
static bool key_here(const yp_t *p) {
  size_t j = p->i;
  const char *s = p->s;
  int c = ch(p, 0);
  if (!c || c == '[' || c == '{' || c == '#' || seq_start(p)) return false;
  if (c == '"' || c == '\'') {
    for (j++; j < p->n && s[j] != '\n'; j++) {
      if (c == '"' && s[j] == '\\') {
        j++;
      } else if (s[j] == c) {
        if (c == '\'' && j + 1 < p->n && s[j + 1] == '\'') {
          j++;
          continue;
        }
        break;
      }
    }
    if (j >= p->n || s[j] != c) return false;
    for (j++; j < p->n && blank(s[j]); j++) {}
    return j < p->n && s[j] == ':' &&
           (j + 1 >= p->n || blank_or_end((unsigned char)s[j + 1]));
  }
  for (; j < p->n && s[j] != '\n'; j++) {
    if (s[j] == '#' && j > p->i && blank(s[j - 1])) return false;
    if (s[j] == ':' && (j + 1 >= p->n || blank_or_end((unsigned char)s[j + 1])))
      return true;
  }
  return false;
}

static char *read_key(yp_t *p) {
  if (ch(p, 0) == '"' || ch(p, 0) == '\'') {
    size_t len;
    char *k = quoted(p, &len);
    if (k && strlen(k) != len) {
      free(k);
      fail(p, "a key contains a NUL character");
      return NULL;
    }
    skip_blanks(p);
    return k;
  }
  return plain(p, 0, false);  /* stops at ": " on this line */
}

static bool set_key(yp_t *p, json_t *o, const char *key, json_t *v) {
  if (json_object_get(o, key)) {
    json_decref(v);
    fail(p, "duplicate key \"%s\"", key);
    return false;
  }
  if (json_object_set_new(o, key, v)) {
    fail(p, "key \"%s\" is not valid UTF-8", key);
    return false;
  }
  return true;
}

static json_t *block_map(yp_t *p, int c) {
  json_t *o = json_object();
  for (;;) {
    if (ch(p, 0) == '?') {
      json_decref(o);
      return fail(p, "complex mapping keys (\"?\") are not supported");
    }
    if (!key_here(p)) {
      json_decref(o);
      return fail(p, "expected a \"key: value\" line here");
    }
    yp_t at = *p;  /* where the key starts, for a duplicate's message */
    char *key = read_key(p);
    if (!key) {
      json_decref(o);
      return NULL;
    }
    adv(p);  /* the ':' */
    json_t *v;
    skip_blanks(p);
    if (eol(p) || ch(p, 0) == '#') {
      if (!to_content(p) && p->err) v = NULL;
      else if (p->i >= p->n || doc_marker(p)) v = json_null();
      else if (col(p) > c) v = node_here(p, c, false);
      else if (col(p) == c && seq_start(p)) v = node_here(p, c - 1, false);
      else v = json_null();
    } else {
      v = node_here(p, c, true);
    }
    if (!v) {
      free(key);
      json_decref(o);
      return NULL;
    }
    bool ok = !json_object_get(o, key);
    if (ok) {
      ok = set_key(p, o, key, v);
    } else {
      json_decref(v);
      p->line = at.line, p->bol = at.bol, p->i = at.i;
      fail(p, "duplicate key \"%s\"", key);
    }
    free(key);
    if (!ok) {
      json_decref(o);
      return NULL;
    }
    if (!to_content(p)) break;
    if (col(p) < c) break;
    if (col(p) > c) {
      json_decref(o);
      return fail(p, "this line is indented more than the mapping around it"
                     " (a missing \"key:\" or a stray space?)");
    }
    if (seq_start(p)) break;
  }
  if (p->err) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *block_seq(yp_t *p, int c) {
  json_t *a = json_array();
  for (;;) {
    adv(p);  /* the '-' */
    skip_blanks(p);
    json_t *v;
    if (eol(p) || ch(p, 0) == '#') {
      if (!to_content(p) && p->err) v = NULL;
      else if (p->i >= p->n || doc_marker(p) || col(p) <= c) v = json_null();
      else v = node_here(p, c, false);
    } else {
      v = node_here(p, c, false);
    }
    if (!v) {
      json_decref(a);
      return NULL;
    }
    json_array_append_new(a, v);
    if (!to_content(p)) break;
    if (col(p) < c) break;
    if (col(p) > c) {
      json_decref(a);
      return fail(p, "this line is indented more than the list around it");
    }
    if (!seq_start(p)) break;
  }
  if (p->err) {
    json_decref(a);
    return NULL;
  }
  return a;
}

/* Blanks, line ends and comments inside a flow collection. */
static void flow_space(yp_t *p) {
  for (;;) {
    while (blank(ch(p, 0)) || ch(p, 0) == '\n') adv(p);
    if (ch(p, 0) != '#') return;
    skip_to_eol(p);
  }
}

static json_t *flow_collection(yp_t *p) {
  bool seq = ch(p, 0) == '[';
  int close = seq ? ']' : '}';
  yp_t open = *p;  /* where it opens, for a missing close's message */
  json_t *out = seq ? json_array() : json_object();
  if (++p->depth > MS_JSON_DEPTH) {
    json_decref(out);
    return fail(p, "nested more than %d levels", MS_JSON_DEPTH);
  }
  adv(p);
  bool closed = false;
  for (;;) {
    flow_space(p);
    if (ch(p, 0) == close) {
      adv(p);
      closed = true;
      break;
    }
    if (p->i >= p->n) break;
    json_t *k = flow_node(p);
    if (!k) {
      json_decref(out);
      return NULL;
    }
    flow_space(p);
    json_t *v = NULL;
    if (ch(p, 0) == ':') {
      adv(p);
      flow_space(p);
      v = (ch(p, 0) == ',' || ch(p, 0) == close) ? json_null() : flow_node(p);
      if (!v) {
        json_decref(k);
        json_decref(out);
        return NULL;
      }
      flow_space(p);
    } else if (!seq) {
      v = json_null();
    }
    if (v) {
      if (!json_is_string(k)) {
        char *t = json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(k);
        k = json_string(t ? t : "");
        free(t);
      }
      json_t *pair = seq ? json_object() : out;
      bool ok = set_key(p, pair, json_string_value(k), v);
      json_decref(k);
      if (!ok) {
        if (seq) json_decref(pair);
        json_decref(out);
        return NULL;
      }
      if (seq) json_array_append_new(out, pair);
    } else {
      json_array_append_new(out, k);
    }
    if (ch(p, 0) == ',') {
      adv(p);
    } else if (p->i < p->n && ch(p, 0) != close) {
      json_decref(out);
      return fail(p, "expected ',' or '%c' in a flow %s", close,
                  seq ? "list" : "mapping");
    }
  }
  if (!closed) {
    json_decref(out);
    p->line = open.line, p->bol = open.bol, p->i = open.i;
    return fail(p, "this %s has no closing %c", seq ? "list" : "mapping",
                close);
  }
  p->depth--;
  return out;
}

static json_t *alias(yp_t *p) {
  adv(p);
  char *name = word(p);
  json_t *v = json_object_get(p->anchors, name);
  json_t *r = v ? json_deep_copy(v) : fail(p, "no anchor named \"%s\"", name);
  free(name);
  return r;
}

static json_t *remember(yp_t *p, props_t *pr, json_t *v) {
  v = apply_tag(p, pr->tag, v);
  if (v && pr->anchor) json_object_set(p->anchors, pr->anchor, v);
  free(pr->tag);
  free(pr->anchor);
  return v;
}

/* A node inside a flow collection. */
static json_t *flow_node(yp_t *p) {
  props_t pr = {NULL, NULL};
  if (!read_props(p, &pr)) return remember(p, &pr, NULL);
  flow_space(p);
  int c = ch(p, 0);
  json_t *v;
  if (c == '[' || c == '{') {
    v = flow_collection(p);
  } else if (c == '*') {
    v = alias(p);
  } else if (c == '"' || c == '\'') {
    size_t len;
    char *t = quoted(p, &len);
    v = t ? scalar_with_tag(p, pr.tag, t, len, false) : NULL;
  } else if (c == ',' || c == ']' || c == '}' || c == ':') {
    v = pr.tag || pr.anchor ? json_null() : fail(p, "expected a value");
  } else {
    char *t = plain(p, -1, true);
    v = scalar_with_tag(p, pr.tag, t, strlen(t), true);
  }
  return remember(p, &pr, v);
}

/* The node whose first content is under the cursor, owning the lines
 * indented more than parent. inline_value: it follows "key: " on the same
 * line, where a nested mapping may not start. */
static json_t *node_here(yp_t *p, int parent, bool inline_value) {
  if (++p->depth > MS_JSON_DEPTH)
    return fail(p, "nested more than %d levels", MS_JSON_DEPTH);
  props_t pr = {NULL, NULL};
  json_t *v = NULL;
  if (!read_props(p, &pr)) goto done;
  if ((pr.tag || pr.anchor) && (eol(p) || ch(p, 0) == '#')) {
    /* the node itself is on the lines below */
    if (!to_content(p) && p->err) goto done;
    if (p->i >= p->n || doc_marker(p) || col(p) <= parent) {
      v = json_null();
      goto done;
    }
    inline_value = false;
  }
  int c = ch(p, 0);
  if (c == '*') {
    v = alias(p);
  } else if (seq_start(p)) {
    v = inline_value ? fail(p, "a list cannot start after \"key: \" on the "
                               "same line")
                     : block_seq(p, col(p));
  } else if (c == '|' || c == '>') {
    v = block_scalar(p, parent);
  } else if (c == '[' || c == '{') {
    v = flow_collection(p);
    if (v && !rest_is_empty(p)) {
      json_decref(v);
      v = fail(p, "unexpected text after a flow collection");
    }
  } else if (key_here(p)) {
    v = inline_value ? fail(p, "a nested mapping cannot start after "
                               "\"key: \" on the same line")
                     : block_map(p, col(p));
  } else if (c == '"' || c == '\'') {
    size_t len;
    char *t = quoted(p, &len);
    if (t && !rest_is_empty(p)) {
      free(t);
      t = NULL;
      fail(p, "unexpected text after a quoted string");
    }
    v = t ? scalar_with_tag(p, pr.tag, t, len, false) : NULL;
  } else if (c == '?') {
    v = fail(p, "complex mapping keys (\"?\") are not supported");
  } else if (c == '@' || c == '`') {
    v = fail(p, "'%c' cannot start a plain value; quote it", c);
  } else {
    char *t = plain(p, parent, false);
    if (ch(p, 0) == ':') {
      free(t);
      v = fail(p, "unexpected ':' (quote a value that contains \": \")");
    } else {
      v = scalar_with_tag(p, pr.tag, t, strlen(t), true);
    }
  }
done:
  p->depth--;
  return remember(p, &pr, v);
}

/* ---- entry ------------------------------------------------------------- */

json_t *yaml_parse(const char *text, size_t len, char **err) {
  *err = NULL;
  if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) text += 3, len -= 3;
  char *s = ms_malloc(len + 1);
  size_t n = 0;
  for (size_t k = 0; k < len; k++) {
    if (text[k] == '\r' && k + 1 < len && text[k + 1] == '\n') continue;
    s[n++] = text[k] == '\r' ? '\n' : text[k];
  }
  s[n] = 0;
  yp_t p = {s, n, 0, 0, 0, NULL, 0, json_object()};
  json_t *root = NULL;
  /* directives, then an optional "---" */
  while (to_content(&p) && col(&p) == 0 && ch(&p, 0) == '%')
    skip_to_eol(&p);
  if (!p.err && doc_marker(&p) && ch(&p, 0) == '-') {
    p.i += 3;
    skip_blanks(&p);
  }
  if (!p.err)
    root = to_content(&p) ? node_here(&p, -1, false)
                          : p.err ? NULL : json_null();
  /* after the document: nothing, or "..." and nothing */
  if (root && !p.err && to_content(&p))
    fail(&p, "unexpected text here (check its indentation)");
  if (root && !p.err && doc_marker(&p)) {
    bool end = ch(&p, 0) == '.';
    p.i += 3;
    if (!end || to_content(&p) || doc_marker(&p))
      fail(&p, "several YAML documents in one file are not supported");
  }
  if (p.err) {
    json_decref(root);
    root = NULL;
    *err = p.err;
  }
  json_decref(p.anchors);
  free(s);
  return root;
}
