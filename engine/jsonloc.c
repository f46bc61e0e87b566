/* jsonloc.c - map a JSON pointer to the line:column of its place in the
 * JSON source text (see jsonloc.h).
 *
 * A small scanner, independent of jansson: it walks the text once along the
 * pointer's tokens, skipping the values it does not descend into. Columns
 * count characters (UTF-8 sequences), not bytes. It checks only as much
 * syntax as it needs to find its way; the text was parsed by jsonx first.
 */
#include "jsonloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct scan {
  const char *s;
  size_t n, i;
} scan_t;

static void ws(scan_t *sc) {
  while (sc->i < sc->n && strchr(" \t\r\n", sc->s[sc->i]) && sc->s[sc->i])
    sc->i++;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static bool hex4(scan_t *sc, unsigned *out) {
  unsigned v = 0;
  if (sc->i + 4 > sc->n) return false;
  for (int k = 0; k < 4; k++) {
    int h = hexval(sc->s[sc->i + k]);
    if (h < 0) return false;
    v = v * 16 + (unsigned)h;
  }
  sc->i += 4;
  *out = v;
  return true;
}

static void put_utf8(buf_t *b, unsigned cp) {
  char t[4];
  size_t n;
  if (cp < 0x80) { t[0] = (char)cp; n = 1; }
  else if (cp < 0x800) {
    t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    t[0] = (char)(0xE0 | (cp >> 12));
    t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    t[0] = (char)(0xF0 | (cp >> 18));
    t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  buf_append(b, t, n);
}

/* Read a string at sc->i (on the opening quote). Decoded into out when out
 * is not NULL. false on malformed text. */
static bool str(scan_t *sc, buf_t *out) {
  if (sc->i >= sc->n || sc->s[sc->i] != '"') return false;
  sc->i++;
  while (sc->i < sc->n) {
    char ch = sc->s[sc->i++];
    if (ch == '"') return true;
    if (ch != '\\') {
      if (out) buf_putc(out, ch);
      continue;
    }
    if (sc->i >= sc->n) return false;
    ch = sc->s[sc->i++];
    unsigned cp;
    switch (ch) {
    case 'b': cp = '\b'; break;
    case 'f': cp = '\f'; break;
    case 'n': cp = '\n'; break;
    case 'r': cp = '\r'; break;
    case 't': cp = '\t'; break;
    case 'u':
      if (!hex4(sc, &cp)) return false;
      if (cp >= 0xD800 && cp < 0xDC00 && sc->i + 1 < sc->n &&
          sc->s[sc->i] == '\\' && sc->s[sc->i + 1] == 'u') {
        unsigned lo;
        size_t save = sc->i;
        sc->i += 2;
        if (hex4(sc, &lo) && lo >= 0xDC00 && lo < 0xE000)
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        else
          sc->i = save;
      }
      break;
    default: cp = (unsigned char)ch; break;
    }
    if (out) put_utf8(out, cp);
  }
  return false;
}

/* Skip one value at sc->i (whitespace already skipped). */
static bool skip(scan_t *sc) {
  int depth = 0;
  do {
    ws(sc);
    if (sc->i >= sc->n) return false;
    char ch = sc->s[sc->i];
    if (ch == '"') {
      if (!str(sc, NULL)) return false;
    } else if (ch == '{' || ch == '[') {
      depth++;
      sc->i++;
    } else if (ch == '}' || ch == ']') {
      if (depth == 0) return false;
      depth--;
      sc->i++;
    } else if (ch == ',' || ch == ':') {
      if (depth == 0) return false;
      sc->i++;
    } else {
      size_t st = sc->i;
      while (sc->i < sc->n && !strchr(" \t\r\n,:]}[{\"", sc->s[sc->i]))
        sc->i++;
      if (sc->i == st) return false;
    }
  } while (depth > 0);
  return true;
}

/* Next pointer token from *p into tok (unescaped); false at the end. */
static bool token(const char **p, buf_t *tok) {
  if (**p != '/') return false;
  (*p)++;
  buf_free(tok);
  buf_puts(tok, "");
  while (**p && **p != '/') {
    if (**p == '~' && (*p)[1] == '0') { buf_putc(tok, '~'); *p += 2; }
    else if (**p == '~' && (*p)[1] == '1') { buf_putc(tok, '/'); *p += 2; }
    else buf_putc(tok, *(*p)++);
  }
  return true;
}

/* Array index token: digits only. */
static bool index_of(const char *t, size_t *out) {
  size_t v = 0;
  if (!*t) return false;
  for (; *t; t++) {
    if (*t < '0' || *t > '9') return false;
    v = v * 10 + (size_t)(*t - '0');
  }
  *out = v;
  return true;
}

/* Walk the text along ptr; *at receives the offset of the deepest place
 * found. false when the text is not JSON enough to walk. */
static bool walk(scan_t *sc, const char *ptr, size_t *at) {
  buf_t tok, key;
  bool ok = true;
  buf_init(&tok);
  buf_init(&key);
  ws(sc);
  if (sc->i >= sc->n) return false;
  *at = sc->i;
  while (token(&ptr, &tok)) {
    if (sc->i >= sc->n) break;  /* text ends after a key: stay there */
    char open = sc->s[sc->i];
    bool found = false;
    if (open != '{' && open != '[') break;
    sc->i++;
    ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == (open == '{' ? '}' : ']')) break;
    size_t want = 0, idx = 0;
    bool is_idx = open == '[' && index_of(tok.data, &want);
    if (open == '[' && !is_idx) break;
    for (;;) {
      ws(sc);
      if (sc->i >= sc->n) { ok = false; break; }
      size_t start = sc->i;
      bool hit;
      if (open == '{') {
        buf_free(&key);
        buf_puts(&key, "");
        if (!str(sc, &key)) { ok = false; break; }
        ws(sc);
        if (sc->i >= sc->n || sc->s[sc->i] != ':') { ok = false; break; }
        sc->i++;
        ws(sc);
        hit = key.len == tok.len && memcmp(key.data, tok.data, key.len) == 0;
      } else {
        hit = idx == want;
      }
      if (hit) { *at = start; found = true; break; }
      if (!skip(sc)) { ok = false; break; }
      ws(sc);
      if (sc->i < sc->n && sc->s[sc->i] == ',') { sc->i++; idx++; continue; }
      break;  /* end of container: token not found */
    }
    if (!found) break;
  }
  buf_free(&tok);
  buf_free(&key);
  return ok;
}

bool jsonloc_find(const char *text, size_t len, const char *ptr, int *line,
                  int *col) {
  scan_t sc = {text, len, 0};
  size_t at = 0;
  if (!text || !walk(&sc, ptr ? ptr : "", &at)) return false;
  int l = 1, c = 1;
  for (size_t i = 0; i < at; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch == '\n') { l++; c = 1; }
    else if ((ch & 0xC0) != 0x80) c++;
  }
  *line = l;
  *col = c;
  return true;
}

void jsonloc_fill(const char *text, size_t len, diags_t *d) {
  for (size_t i = 0; i < d->n; i++) {
    int l, c;
    if (jsonloc_find(text, len, d->v[i].ptr, &l, &c)) {
      d->v[i].line = l;
      d->v[i].col = c;
    } else {
      d->v[i].line = d->v[i].col = 0;
    }
  }
}
