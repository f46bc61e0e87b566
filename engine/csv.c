/* csv.c - the CSV push parser and encoder (see csv.h for the dialect).
 *
 * The parser is a byte-driven state machine whose hot loops find the next
 * special byte eight bytes at a time (a stop table where the byte order
 * does not allow it) and copy the run before it in one go.
 * The fields of the record being read go into one byte buffer (each field
 * NUL-terminated) with an array of start offsets; the record's input text
 * is kept only for the part that spans earlier chunks, so that a bad
 * record can be shown. A problem "poisons" the record: the parser stops
 * storing bytes, keeps following the quoting to the record's end and then
 * reports it as CSV_BAD, so the caller may stop or go on.
 */
#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  S_REC,      /* before a record (or an empty line) */
  S_FIELD,    /* at the start of a field */
  S_UNQ,      /* inside an unquoted field */
  S_QUO,      /* inside a quoted field */
  S_QQ,       /* a quote seen inside a quoted field: "" or the end */
  S_ESC,      /* a backslash seen (backslash dialect) */
};

struct csv {
  csv_opts_t o;
  unsigned char stop_u[256];  /* bytes that end a run in an unquoted field */
  unsigned char stop_q[256];  /* ... in a quoted field */
  uint64_t bu[4], bq[4];      /* the stop bytes, each repeated 8 times
                                 (bu[3], bq[3]: 0 when unused) */
  int state;
  int esc_ret;                /* state to go back to after S_ESC */
  int bom;                    /* BOM bytes matched so far; -1: past it */
  int prev;                   /* last byte of the previous call's input */
  bool done;                  /* csv_finish has returned the last record */
  long long line;             /* current physical line */
  unsigned long long pos;     /* stream offset of this call's data[0] */
  unsigned long long line_off;/* stream offset where the line starts */
  /* the record being read */
  long long rec_line;
  size_t rec_start;           /* index in this call's data where the record
                                 starts (0 when it began earlier) */
  unsigned long long rec_prev;/* bytes of the record in earlier calls */
  char *fb;                   /* field bytes, each field NUL-terminated */
  size_t flen, fcap;
  size_t *off;                /* off[i]: start of field i in fb */
  size_t nf, offcap;
  long long extra_line, extra_col; /* where field number o.fields starts */
  long long q_line, q_col;    /* the current quoted field's opening quote */
  bool bad;                   /* the record is poisoned: err holds why */
  buf_t raw;                  /* the record's text from earlier calls */
  bool raw_cut;               /* raw was cut at max_record */
  csv_field_t *f;             /* the fields handed out */
  size_t fcount;
  csv_record_t rec;
  csv_error_t err;
};

void csv_opts_init(csv_opts_t *o) {
  o->delim = ',';
  o->quote = '"';
  o->skip_empty = true;
  o->backslash = false;
  o->fields = 0;
  o->max_field = CSV_FIELD_MAX;
  o->max_record = CSV_RECORD_MAX;
  o->eol = "\n";
}

csv_t *csv_new(const csv_opts_t *o) {
  csv_t *p = ms_calloc(1, sizeof *p);
  if (o) p->o = *o;
  else csv_opts_init(&p->o);
  if (!p->o.eol) p->o.eol = "\n";
  unsigned char d = (unsigned char)p->o.delim;
  p->stop_u[d] = p->stop_u['\r'] = p->stop_u['\n'] = 1;
  p->stop_q['\r'] = p->stop_q['\n'] = 1;
  if (p->o.quote >= 0) p->stop_q[(unsigned char)p->o.quote] = 1;
  if (p->o.backslash) p->stop_u['\\'] = p->stop_q['\\'] = 1;
  const uint64_t ones = 0x0101010101010101ULL;
  uint64_t q = p->o.quote >= 0 ? (unsigned char)p->o.quote : '\r';
  uint64_t bs = p->o.backslash ? '\\' : 0;
  p->bu[0] = d * ones;
  p->bu[1] = p->bq[1] = '\r' * ones;
  p->bu[2] = p->bq[2] = '\n' * ones;
  p->bq[0] = q * ones;
  p->bu[3] = p->bq[3] = bs * ones;
  p->state = S_REC;
  p->prev = -1;
  p->line = 1;
  buf_init(&p->raw);
  return p;
}

void csv_free(csv_t *p) {
  if (!p) return;
  free(p->fb);
  free(p->off);
  free(p->f);
  buf_free(&p->raw);
  free(p);
}

const csv_record_t *csv_record(const csv_t *p) { return &p->rec; }
const csv_error_t *csv_error(const csv_t *p) { return &p->err; }
size_t csv_fields(const csv_t *p) { return p->o.fields; }
void csv_set_fields(csv_t *p, size_t n) { p->o.fields = n; }

char *csv_error_text(const csv_error_t *e) {
  if (e->code == CSV_EFIELDS)
    return ms_asprintf("line %lld: %s", e->record_line, e->message);
  return ms_asprintf("line %lld, column %lld: %s", e->line, e->column,
                     e->message);
}

/* ---- the record being read ------------------------------------------- */

static long long column(const csv_t *p, size_t i) {
  return (long long)(p->pos + i - p->line_off) + 1;
}

static void newline(csv_t *p, size_t i) {
  p->line++;
  p->line_off = p->pos + i + 1;
}

/* Poison the record (the first problem wins). */
static void poison(csv_t *p, int code, long long line, long long col,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void poison(csv_t *p, int code, long long line, long long col,
                   const char *fmt, ...) {
  if (p->bad) return;
  p->bad = true;
  p->err.code = code;
  p->err.line = line;
  p->err.column = col;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err.message, sizeof p->err.message, fmt, ap);
  va_end(ap);
}

static void start_record(csv_t *p, size_t i) {
  p->rec_line = p->line;
  p->rec_start = i;
  p->rec_prev = 0;
  p->flen = 0;
  p->nf = 0;
  p->bad = false;
  p->raw.len = 0;
  p->raw_cut = false;
  p->extra_col = 0;
}

/* Whether the record's input reaches max_record bytes at index i. */
static inline bool over(const csv_t *p, size_t i) {
  return p->rec_prev + (i - p->rec_start) >= p->o.max_record;
}

static void too_long(csv_t *p, int code, size_t i) {
  size_t max = code == CSV_EFIELD ? p->o.max_field : p->o.max_record;
  poison(p, code, p->line, column(p, i), "%s longer than %zu bytes",
         code == CSV_EFIELD ? "field" : "record", max);
}

/* A field starts at index i of this call's data. */
static inline void begin_field(csv_t *p, size_t i) {
  if (p->bad) return;
  if (over(p, i)) {  /* bounds the offsets of a run of empty fields */
    too_long(p, CSV_ERECORD, i);
    return;
  }
  if (p->nf == p->o.fields) {
    p->extra_line = p->line;
    p->extra_col = column(p, i);
  }
  if (p->nf + 1 >= p->offcap) {
    p->offcap = p->offcap ? 2 * p->offcap : 64;
    p->off = ms_realloc(p->off, p->offcap * sizeof *p->off);
  }
  p->off[p->nf] = p->flen;
}

static void grow(csv_t *p, size_t need) {
  size_t cap = p->fcap ? p->fcap : 1024;
  while (cap < need) cap *= 2;
  p->fb = ms_realloc(p->fb, cap);
  p->fcap = cap;
}

/* Append n bytes, read at index i of this call's data, to the field. The
 * limits are checked on input positions, so the error names the same
 * byte however the input was split. */
static inline void append(csv_t *p, const unsigned char *s, size_t n,
                          size_t i) {
  if (p->bad || n == 0) return;
  size_t cur = p->flen - p->off[p->nf];
  if (cur + n > p->o.max_field) {
    too_long(p, CSV_EFIELD, i + (p->o.max_field - cur));
    return;
  }
  if (over(p, i + n - 1)) {
    size_t k = 0;
    while (!over(p, i + k)) k++;
    too_long(p, CSV_ERECORD, i + k);
    return;
  }
  if (p->flen + n + 1 > p->fcap) grow(p, p->flen + n + 1);
  memcpy(p->fb + p->flen, s, n);
  p->flen += n;
}

static inline void end_field(csv_t *p) {
  if (p->bad) return;
  if (p->flen + 1 > p->fcap) grow(p, p->flen + 1);
  p->fb[p->flen++] = '\0';
  p->nf++;
}

/* Keep data[from..to) as part of the record's raw text, up to the cap. */
static void keep_raw(csv_t *p, const unsigned char *d, size_t from,
                     size_t to) {
  size_t n = to - from, room = p->o.max_record - p->raw.len;
  if (p->raw.len >= p->o.max_record) room = 0;
  if (n > room) {
    n = room;
    p->raw_cut = true;
  }
  if (n) buf_append(&p->raw, (const char *)d + from, n);
}

/* The record ended; its text is data[rec_start..eol) of this call (d may
 * be NULL at the end of input). Returns CSV_RECORD or CSV_BAD. */
static int end_record(csv_t *p, const unsigned char *d, size_t eol) {
  unsigned long long total = p->rec_prev + (eol - p->rec_start);
  p->state = S_REC;
  if (!p->bad && total > p->o.max_record) too_long(p, CSV_ERECORD, eol);
  if (!p->bad && p->o.fields != SIZE_MAX) {
    if (p->o.fields == 0) {
      p->o.fields = p->nf;
    } else if (p->nf != p->o.fields) {
      bool more = p->nf > p->o.fields;
      poison(p, CSV_EFIELDS, more ? p->extra_line : p->line,
             more ? p->extra_col : column(p, eol),
             "%zu field%s, expected %zu", p->nf, p->nf == 1 ? "" : "s",
             p->o.fields);
    }
  }
  if (p->bad) {
    csv_error_t *e = &p->err;
    e->record_line = p->rec_line;
    if (p->raw.len == 0 && !p->raw_cut && d) {
      size_t n = eol - p->rec_start;
      e->truncated = n > p->o.max_record;
      e->raw = (const char *)d + p->rec_start;
      e->raw_len = e->truncated ? p->o.max_record : n;
    } else {
      if (d) keep_raw(p, d, p->rec_start, eol);
      e->raw = p->raw.data ? p->raw.data : "";
      e->raw_len = p->raw.len;
      e->truncated = p->raw_cut;
    }
    return CSV_BAD;
  }
  if (p->nf > p->fcount) {
    p->fcount = p->offcap;
    p->f = ms_realloc(p->f, p->fcount * sizeof *p->f);
  }
  p->off[p->nf] = p->flen;
  for (size_t k = 0; k < p->nf; k++) {
    p->f[k].s = p->fb + p->off[k];
    p->f[k].len = p->off[k + 1] - p->off[k] - 1;
  }
  p->rec.line = p->rec_line;
  p->rec.n = p->nf;
  p->rec.f = p->f;
  return CSV_RECORD;
}

/* ---- scanning -------------------------------------------------------- */

/* The index of the first stop byte in d[i..len), or len. Eight bytes at a
 * time where the byte order allows (the lowest flagged byte of the
 * classic has-zero-byte test is exact on little-endian machines), then
 * the stop table. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
static inline uint64_t eq8(uint64_t x, uint64_t c) {
  uint64_t y = x ^ c;
  return (y - ONES) & ~y & HIGHS;
}
#endif

static inline size_t scan(const unsigned char *d, size_t i, size_t len,
                          const unsigned char *stop, const uint64_t *b) {
#ifdef SWAR
  while (i + 8 <= len) {
    uint64_t x, m;
    memcpy(&x, d + i, 8);
    m = eq8(x, b[0]) | eq8(x, b[1]) | eq8(x, b[2]);
    if (b[3]) m |= eq8(x, b[3]);
    if (m) return i + ((size_t)__builtin_ctzll(m) >> 3);
    i += 8;
  }
#else
  (void)b;
#endif
  while (i < len && !stop[d[i]]) i++;
  return i;
}

/* ---- the parser ------------------------------------------------------ */

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

static int parse(csv_t *p, const unsigned char *d, size_t len, size_t *used);

/* Match the UTF-8 BOM at the start of the stream. Returns the index where
 * parsing goes on. The bytes of a partial match that came in earlier calls
 * are parsed as data when the match fails. */
static size_t skip_bom(csv_t *p, const unsigned char *d, size_t len) {
  size_t i = 0;
  int here = 0;
  while (p->bom >= 0 && i < len) {
    if (d[i] == BOM[p->bom]) {
      i++;
      here++;
      if (++p->bom == 3) {
        p->bom = -1;
        p->line_off = p->pos + i;
      }
      continue;
    }
    int prior = p->bom - here;
    p->bom = -1;
    i -= (size_t)here;
    if (prior > 0) {  /* no line break in them: parse() returns CSV_MORE */
      size_t u;
      unsigned long long pos = p->pos;
      p->pos = 0;
      parse(p, BOM, (size_t)prior, &u);
      p->pos = pos;
      p->rec_start = 0;
    }
  }
  return i;
}

int csv_parse(csv_t *p, const char *data, size_t len, size_t *used) {
  const unsigned char *d = (const unsigned char *)data;
  if (p->bom >= 0) {
    p->rec_start = 0;
    size_t i = skip_bom(p, d, len);
    if (p->bom >= 0) {  /* the chunk ended inside the BOM */
      *used = len;
      p->pos += len;
      return CSV_MORE;
    }
    size_t u;
    int r = parse(p, d + i, len - i, &u);
    *used = i + u;
    return r;
  }
  return parse(p, d, len, used);
}

/* The state machine over d[0..len). */
static int parse(csv_t *p, const unsigned char *d, size_t len, size_t *used) {
  const int delim = p->o.delim, quote = p->o.quote;
  const unsigned char *stop_u = p->stop_u, *stop_q = p->stop_q;
  size_t i = 0;
  int r = CSV_MORE;
  p->rec_start = 0;
  while (i < len) {
    int c;
    switch (p->state) {
    case S_REC:
      c = d[i];
      if (c == '\n' || c == '\r') {
        int prev = i > 0 ? d[i - 1] : p->prev;
        if (c == '\n' && prev == '\r') {  /* the LF of a CRLF */
          p->line_off = p->pos + i + 1;
          i++;
          continue;
        }
        if (p->o.skip_empty) {
          newline(p, i);
          i++;
          continue;
        }
        start_record(p, i);
        begin_field(p, i);
        end_field(p);
        r = end_record(p, d, i);
        newline(p, i);
        i++;
        goto out;
      }
      start_record(p, i);
      begin_field(p, i);
      p->state = S_FIELD;
      /* fall through */
    case S_FIELD:
      if (d[i] == quote) {
        p->q_line = p->line;
        p->q_col = column(p, i);
        p->state = S_QUO;
        i++;
        continue;
      }
      p->state = S_UNQ;
      /* fall through */
    case S_UNQ: {
      size_t j = scan(d, i, len, stop_u, p->bu);
      append(p, d + i, j - i, i);
      i = j;
      if (i == len) goto out;
      c = d[i];
      if (c == delim) {
        end_field(p);
        i++;
        begin_field(p, i);
        p->state = S_FIELD;
      } else if (c == '\\' && p->o.backslash) {
        p->esc_ret = S_UNQ;
        p->state = S_ESC;
        i++;
      } else {  /* CR or LF */
        end_field(p);
        r = end_record(p, d, i);
        newline(p, i);
        i++;
        goto out;
      }
      continue;
    }
    case S_QUO: {
      size_t j = scan(d, i, len, stop_q, p->bq);
      append(p, d + i, j - i, i);
      i = j;
      if (i == len) goto out;
      c = d[i];
      if (c == quote) {
        p->state = S_QQ;
      } else if (c == '\\' && p->o.backslash) {
        p->esc_ret = S_QUO;
        p->state = S_ESC;
      } else {  /* a line break inside the field */
        int prev = i > 0 ? d[i - 1] : p->prev;
        append(p, d + i, 1, i);
        if (c == '\n' && prev == '\r') p->line_off = p->pos + i + 1;
        else newline(p, i);
      }
      i++;
      continue;
    }
    case S_QQ:
      c = d[i];
      if (c == quote) {
        append(p, d + i, 1, i);
        p->state = S_QUO;
        i++;
      } else if (c == delim) {
        end_field(p);
        i++;
        begin_field(p, i);
        p->state = S_FIELD;
      } else if (c == '\r' || c == '\n') {
        end_field(p);
        r = end_record(p, d, i);
        newline(p, i);
        i++;
        goto out;
      } else {
        poison(p, CSV_EJUNK, p->line, column(p, i),
               "unexpected character after a closing quote");
        p->state = S_UNQ;
      }
      continue;
    case S_ESC:
      c = d[i];
      p->state = p->esc_ret;
      if (c == '\r' || c == '\n') continue;  /* the backslash is dropped */
      append(p, d + i, 1, i);  /* \\, \", \<delim>: the byte; else the
                                  backslash alone is dropped */
      i++;
      continue;
    }
  }
out:
  if (r == CSV_MORE && p->state != S_REC) {
    keep_raw(p, d, p->rec_start, len);
    p->rec_prev += len - p->rec_start;
  }
  if (i > 0) p->prev = d[i - 1];
  p->pos += i;
  *used = i;
  return r;
}

int csv_finish(csv_t *p) {
  if (p->done) return CSV_END;
  if (p->bom > 0) {  /* the input was only part of a BOM */
    size_t u;
    int prior = p->bom;
    p->bom = -1;
    p->pos = 0;
    parse(p, BOM, (size_t)prior, &u);
  }
  p->bom = -1;
  p->done = true;
  switch (p->state) {
  case S_REC:
    return CSV_END;
  case S_ESC:
    p->state = p->esc_ret;
    break;
  case S_QUO:
    poison(p, CSV_EQUOTE, p->q_line, p->q_col, "unterminated quoted field");
    break;
  default:
    break;
  }
  p->rec_start = 0;
  end_field(p);
  return end_record(p, NULL, 0);
}

/* ---- JSON ------------------------------------------------------------ */

/* A JSON string of the bytes; invalid UTF-8 becomes U+FFFD. ASCII (most
 * fields) skips jansson's UTF-8 check. */
static json_t *jstr(const char *s, size_t n) {
  size_t a = 0;
  while (a < n && !((unsigned char)s[a] & 0x80)) a++;
  if (a == n) return json_stringn_nocheck(s, n);
  json_t *v = json_stringn(s, n);
  if (v) return v;
  buf_t b;
  buf_init(&b);
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t k = 0;
    unsigned c = u[i];
    if (c < 0x80) k = 1;
    else if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) k = 3;
    else if (c >= 0xF0 && c <= 0xF4) k = 4;
    bool ok = k > 0 && i + k <= n;
    for (size_t j = 1; ok && j < k; j++) ok = (u[i + j] & 0xC0) == 0x80;
    if (ok && k > 1) {
      json_t *t = json_stringn(s + i, k);
      ok = t != NULL;
      json_decref(t);
    }
    if (ok) {
      buf_append(&b, s + i, k);
      i += k;
    } else {
      buf_append(&b, "\xEF\xBF\xBD", 3);
      i++;
    }
  }
  v = json_stringn(b.data ? b.data : "", b.len);
  buf_free(&b);
  return v;
}

json_t *csv_record_json(const csv_record_t *r, const json_t *header) {
  if (!header) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->n; i++)
      json_array_append_new(a, jstr(r->f[i].s, r->f[i].len));
    return a;
  }
  json_t *o = json_object();
  size_t nh = json_array_size(header);
  for (size_t i = 0; i < nh; i++) {
    const json_t *h = json_array_get(header, i);
    const char *k = json_string_value(h);
    if (!k) continue;
    /* the header's strings are valid UTF-8 already: no second check */
    json_object_setn_new_nocheck(o, k, json_string_length(h),
                                 i < r->n ? jstr(r->f[i].s, r->f[i].len)
                                          : json_string(""));
  }
  return o;
}

/* ---- encoder --------------------------------------------------------- */

bool csv_needs_quote(const csv_opts_t *o, const char *s, size_t len) {
  if (len == 0) return false;
  if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
    return true;
  if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) return true;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (c == o->delim || c == o->quote || c == '\r' || c == '\n') return true;
    if (c == '\\' && o->backslash) return true;
  }
  return false;
}

int csv_encode_field(buf_t *b, const csv_opts_t *o, const char *s,
                     size_t len) {
  if (!csv_needs_quote(o, s, len)) {
    buf_append(b, s, len);
    return MS_OK;
  }
  if (o->quote < 0) return MS_ERR;
  char q = (char)o->quote;
  buf_putc(b, q);
  size_t from = 0;
  for (size_t i = 0; i < len; i++) {
    bool esc = s[i] == q || (o->backslash && s[i] == '\\');
    if (!esc) continue;
    buf_append(b, s + from, i + 1 - from);  /* doubled: "" or \\ */
    from = i;
  }
  buf_append(b, s + from, len - from);
  buf_putc(b, q);
  return MS_OK;
}

int csv_encode_record(buf_t *b, const csv_opts_t *o, const csv_field_t *f,
                      size_t n) {
  size_t mark = b->len;
  if (n == 1 && f[0].len == 0 && o->quote >= 0) {
    buf_putc(b, (char)o->quote);
    buf_putc(b, (char)o->quote);
  } else {
    for (size_t i = 0; i < n; i++) {
      if (i) buf_putc(b, (char)o->delim);
      if (csv_encode_field(b, o, f[i].s, f[i].len) != MS_OK) {
        b->len = mark;
        if (b->data) b->data[mark] = '\0';
        return MS_ERR;
      }
    }
  }
  buf_puts(b, o->eol ? o->eol : "\n");
  return MS_OK;
}
