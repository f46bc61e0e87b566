/* jsonata_time.c - JSONata's $fromMillis and $toMillis: ISO 8601 and the
 * XPath F&O 3.1 date/time picture strings ([Y0001]-[M01]-[D01], [FNn],
 * [D1o], [Z01:01t], [xNn], ...), with timezones given as "+hhmm".
 *
 * Semantics follow jsonata-js 2.x datetime.js, quirks included (the
 * reference's regular-expression parser is rebuilt on PCRE2). Integer
 * pictures inside markers are analysed by jsonata_fmt.c.
 */
#include "jsonata_fmt.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000.0
#define WEEK_MS (7 * DAY_MS)
#define TIME_MAX 8.64e15 /* JavaScript's Date range, in ms either way */

static const char *const day_names[] = {
  "", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
  "Sunday"};
static const char *const month_names[] = {
  "January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"};

/* ---- the calendar (JavaScript Date arithmetic, UTC) ------------------ */

static double days_from_civil(double y, int m, int d) {
  y -= m <= 2;
  double era = floor(y / 400);
  double yoe = y - era * 400;
  int mp = (m + 9) % 12;
  double doy = floor((153.0 * mp + 2) / 5) + d - 1;
  double doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

typedef struct civil {
  double y;
  int m, d;     /* month 1-12, day 1-31 */
  int wd;       /* 0 Sunday .. 6 Saturday */
  int h, mi, s, ms;
} civil_t;

static void civil_from_time(double t, civil_t *c) {
  if (!isfinite(t)) { /* an invalid Date (its fields are NaN in JS) */
    memset(c, 0, sizeof *c);
    c->y = NAN;
    c->m = c->d = 1;
    return;
  }
  double z = floor(t / DAY_MS);
  double in_day = t - z * DAY_MS;
  c->wd = (int)fmod(fmod(z + 4, 7) + 7, 7);
  z += 719468;
  double era = floor(z / 146097);
  double doe = z - era * 146097;
  double yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) -
                      floor(doe / 146096)) / 365);
  double doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100));
  int mp = (int)floor((5 * doy + 2) / 153);
  c->d = (int)(doy - floor((153.0 * mp + 2) / 5) + 1);
  c->m = mp < 10 ? mp + 3 : mp - 9;
  c->y = yoe + era * 400 + (c->m <= 2);
  int ms = (int)in_day;
  c->h = ms / 3600000;
  c->mi = ms / 60000 % 60;
  c->s = ms / 1000 % 60;
  c->ms = ms % 1000;
}

/* Date.UTC(y, m0, d, h, mi, s, ms): NaN when out of range. */
static double utc(double y, double m0, double d, double h, double mi,
                  double s, double ms) {
  if (isnan(y) || isnan(m0) || isnan(d) || isnan(h) || isnan(mi) ||
      isnan(s) || isnan(ms) || !isfinite(y) || !isfinite(m0))
    return NAN;
  y = trunc(y);
  m0 = trunc(m0);
  if (y >= 0 && y <= 99)
    y += 1900;
  double ym = y + floor(m0 / 12);
  int mn = (int)(m0 - floor(m0 / 12) * 12);
  if (fabs(ym) > 400000)
    return NAN;
  double day = days_from_civil(ym, mn + 1, 1) + trunc(d) - 1;
  double t = day * DAY_MS + trunc(h) * 3600000 + trunc(mi) * 60000 +
             trunc(s) * 1000 + trunc(ms);
  if (!isfinite(t) || fabs(t) > TIME_MAX)
    return NAN;
  return t + 0.0;
}

/* ISO 8601 weeks start on Monday; week 1 holds the first Thursday (F&O
 * applies the same rule to months). */
static double first_week(double y, int m0) {
  double jan1 = utc(y, m0, 1, 0, 0, 0, 0);
  civil_t c;
  civil_from_time(jan1, &c);
  int dow = c.wd == 0 ? 7 : c.wd;
  return dow > 4 ? jan1 + (8 - dow) * DAY_MS : jan1 - (dow - 1) * DAY_MS;
}

/* getDateTimeFragment for the numeric components (P: 1 for pm). */
static double frag(double t, char comp) {
  civil_t c;
  civil_from_time(t, &c);
  switch (comp) {
  case 'Y':
    return c.y;
  case 'M':
    return c.m;
  case 'D':
    return c.d;
  case 'd':
    return (utc(c.y, c.m - 1, c.d, 0, 0, 0, 0) - utc(c.y, 0, 1, 0, 0, 0, 0)) /
               DAY_MS + 1;
  case 'F':
    return c.wd == 0 ? 7 : c.wd;
  case 'W': {
    double today = utc(c.y, c.m - 1, c.d, 0, 0, 0, 0);
    double week = (today - first_week(c.y, 0)) / WEEK_MS + 1;
    if (week > 52) {
      if (today >= first_week(c.y + 1, 0))
        week = 1;
    } else if (week < 1) {
      week = (today - first_week(c.y - 1, 0)) / WEEK_MS + 1;
    }
    return floor(week);
  }
  case 'w': {
    double today = utc(c.y, c.m - 1, c.d, 0, 0, 0, 0);
    double week = (today - first_week(c.y, c.m - 1)) / WEEK_MS + 1;
    if (week > 4) {
      double ny = c.m == 12 ? c.y + 1 : c.y;
      if (today >= first_week(ny, c.m == 12 ? 0 : c.m))
        week = 1;
    } else if (week < 1) {
      double py = c.m == 1 ? c.y - 1 : c.y;
      week = (today - first_week(py, c.m == 1 ? 11 : c.m - 2)) / WEEK_MS + 1;
    }
    return floor(week);
  }
  case 'X':
    if (t < first_week(c.y, 0))
      return c.y - 1;
    if (t >= first_week(c.y + 1, 0))
      return c.y + 1;
    return c.y;
  case 'x': {
    if (t < first_week(c.y, c.m - 1))
      return c.m == 1 ? 12 : c.m - 1;
    double ny = c.m == 12 ? c.y + 1 : c.y;
    if (t >= first_week(ny, c.m == 12 ? 0 : c.m))
      return c.m == 12 ? 1 : c.m + 1;
    return c.m;
  }
  case 'H':
    return c.h;
  case 'h':
    return c.h % 12 == 0 ? 12 : c.h % 12;
  case 'P':
    return c.h >= 12;
  case 'm':
    return c.mi;
  case 's':
    return c.s;
  case 'f':
    return c.ms;
  default:
    return NAN;
  }
}

/* ---- picture analysis ------------------------------------------------ */

enum { NAMES_NONE = -1 };

typedef struct part {
  char *lit;            /* a literal; NULL for a variable marker */
  char comp;            /* component letter (0 when not one ASCII char) */
  char *comp_text;      /* the component as written, for messages */
  char *pres1;
  char pres2;           /* 'a', 't', 'c', 'o' or 0 */
  int wmin, wmax;       /* width modifier; -1 when absent or '*' */
  int names;            /* NAMES_NONE or JNFMT_LOWER/UPPER/TITLE */
  bool has_int;         /* ifmt is set */
  jnfmt_ipic_t ifmt;
  int n;                /* year digits kept, -1 all */
} part_t;

typedef struct picture {
  part_t *v;
  int n;
} picture_t;

static void pic_free(picture_t *p) {
  for (int i = 0; i < p->n; i++) {
    free(p->v[i].lit);
    free(p->v[i].comp_text);
    free(p->v[i].pres1);
    if (p->v[i].has_int)
      jnfmt_ipic_free(&p->v[i].ifmt);
  }
  free(p->v);
  p->v = NULL;
  p->n = 0;
}

static part_t *pic_add(picture_t *p) {
  p->v = ms_realloc(p->v, (size_t)(p->n + 1) * sizeof *p->v);
  part_t *q = &p->v[p->n++];
  memset(q, 0, sizeof *q);
  q->wmin = q->wmax = -1;
  q->names = NAMES_NONE;
  q->n = -1;
  return q;
}

static void add_literal(picture_t *p, const char *s, size_t n) {
  if (!n)
    return;
  buf_t b;
  buf_init(&b);
  for (size_t i = 0; i < n; i++) {
    buf_putc(&b, s[i]);
    if (s[i] == ']' && i + 1 < n && s[i + 1] == ']')
      i++;
  }
  pic_add(p)->lit = buf_steal(&b);
}

static const char *default_pres(char c) {
  switch (c) {
  case 'Y': case 'M': case 'D': case 'd': case 'W': case 'w': case 'X':
  case 'x': case 'H': case 'h': case 'f':
    return "1";
  case 'F': case 'P': case 'C': case 'E':
    return "n";
  case 'm': case 's':
    return "01";
  case 'Z': case 'z':
    return "01:01";
  default:
    return NULL;
  }
}

static size_t u8len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if ((*s & 0xC0) != 0x80)
      n++;
  return n;
}

static int width_value(const char *s, size_t n) {
  if (n == 1 && *s == '*')
    return -1;
  char *t = ms_strndup(s, n);
  char *end;
  long v = strtol(t, &end, 10);
  bool ok = end != t;
  free(t);
  return ok && v >= 0 && v < 1000000 ? (int)v : -1;
}

/* Analyse one marker's text (between the brackets). */
static int marker(picture_t *p, const char *raw, size_t len, jnfmt_err_t *e) {
  buf_t b;
  buf_init(&b);
  for (size_t i = 0; i < len; i++)
    if (!(raw[i] == ' ' || (raw[i] >= '\t' && raw[i] <= '\r')))
      buf_putc(&b, raw[i]);
  char *m = b.data ? b.data : ms_strdup("");
  part_t *q = pic_add(p);
  size_t clen = 0;
  if (*m)
    for (clen = 1; m[clen] && (m[clen] & 0xC0) == 0x80; clen++)
      ;
  q->comp_text = ms_strndup(m, clen);
  q->comp = clen == 1 ? m[0] : 0;
  char *comma = strrchr(m, ',');
  char *pres;
  if (comma) {
    char *w = comma + 1, *dash = strchr(w, '-');
    if (dash) {
      q->wmin = width_value(w, (size_t)(dash - w));
      q->wmax = width_value(dash + 1, strlen(dash + 1));
    } else {
      q->wmin = width_value(w, strlen(w));
    }
    /* substring(1, comma) swaps its ends when the comma comes first */
    pres = (size_t)(comma - m) >= clen
               ? ms_strndup(m + clen, (size_t)(comma - m) - clen)
               : ms_strndup(m, clen);
  } else {
    pres = ms_strdup(m + clen);
  }
  size_t plen = u8len(pres);
  if (plen == 1) {
    q->pres1 = pres;
  } else if (plen > 1) {
    char last = pres[strlen(pres) - 1];
    if (strchr("atco", last)) {
      q->pres2 = last;
      pres[strlen(pres) - 1] = 0;
    }
    q->pres1 = pres;
  } else {
    free(pres);
    const char *d = q->comp ? default_pres(q->comp) : NULL;
    if (!d) {
      char *v = jnfmt_quote(q->comp_text);
      jnfmt_seterr(e, "D3132", "Unknown component specifier %s in "
                   "date/time picture string", v);
      free(v);
      free(m);
      return -1;
    }
    q->pres1 = ms_strdup(d);
  }
  free(m);
  if (q->pres1[0] == 'n') {
    q->names = JNFMT_LOWER;
  } else if (q->pres1[0] == 'N') {
    q->names = q->pres1[1] == 'n' ? JNFMT_TITLE : JNFMT_UPPER;
  } else if (q->comp && strchr("YMDdFWwXxHhmsf", q->comp)) {
    char *ip = q->pres2 ? ms_asprintf("%s;%c", q->pres1, q->pres2)
                        : ms_strdup(q->pres1);
    int rc = jnfmt_ipic_analyse(ip, &q->ifmt, e);
    free(ip);
    if (rc)
      return -1;
    q->has_int = true;
    bool dec = q->ifmt.primary == JNFMT_DECIMAL;
    if (dec && q->wmin >= 0 && q->ifmt.mandatory < q->wmin)
      q->ifmt.mandatory = q->wmin;
    if (q->comp == 'Y') {
      q->n = -1;
      if (q->wmax >= 0) {
        q->n = q->wmax;
        q->ifmt.mandatory = q->n;
      } else if (dec && q->ifmt.mandatory + q->ifmt.optional >= 2) {
        q->n = q->ifmt.mandatory + q->ifmt.optional;
      }
    }
    /* an integer right after another must be parsed at a fixed width */
    if (p->n >= 2 && p->v[p->n - 2].has_int)
      p->v[p->n - 2].ifmt.parse_width = p->v[p->n - 2].ifmt.mandatory;
  }
  if (q->comp == 'Z' || q->comp == 'z') {
    if (q->has_int)
      jnfmt_ipic_free(&q->ifmt);
    if (jnfmt_ipic_analyse(q->pres1, &q->ifmt, e))
      return -1;
    q->has_int = true;
  }
  return 0;
}

static int analyse_picture(const char *pic, picture_t *p, jnfmt_err_t *e) {
  size_t len = strlen(pic), start = 0, pos = 0;
  p->v = NULL;
  p->n = 0;
  while (pos < len) {
    if (pic[pos] == '[') {
      if (pic[pos + 1] == '[') {
        add_literal(p, pic + start, pos - start);
        pic_add(p)->lit = ms_strdup("[");
        pos += 2;
        start = pos;
        continue;
      }
      add_literal(p, pic + start, pos - start);
      start = pos;
      const char *close = strchr(pic + start, ']');
      if (!close) {
        jnfmt_seterr(e, "D3135", "No matching closing bracket ']' in "
                     "date/time picture string");
        return -1;
      }
      pos = (size_t)(close - pic);
      if (marker(p, pic + start + 1, pos - start - 1, e))
        return -1;
      start = pos + 1;
    }
    pos++;
  }
  add_literal(p, pic + start, pos - start);
  return 0;
}

/* ---- $fromMillis ----------------------------------------------------- */

static int name_err(const part_t *q, jnfmt_err_t *e) {
  char *v = jnfmt_quote(q->comp_text);
  jnfmt_seterr(e, "D3133", "The 'name' modifier can only be applied to "
               "months and days in the date/time picture string, not %s",
               v);
  free(v);
  return -1;
}

static void set_case(char *s, int tcase) {
  for (; *s; s++)
    if (tcase == JNFMT_UPPER && *s >= 'a' && *s <= 'z')
      *s = (char)(*s - 32);
    else if (tcase == JNFMT_LOWER && *s >= 'A' && *s <= 'Z')
      *s = (char)(*s + 32);
}

static int format_part(const part_t *q, double t, double oh, double om,
                       buf_t *out, jnfmt_err_t *e) {
  char c = q->comp;
  if (c && strchr("YMDdFWwXxHhms", c)) {
    double v = frag(t, c);
    if (c == 'Y' && q->n != -1)
      v = fmod(v, pow(10, q->n));
    if (q->names != NAMES_NONE) {
      const char *name;
      if (c == 'M' || c == 'x')
        name = month_names[(int)v - 1];
      else if (c == 'F')
        name = day_names[(int)v];
      else
        return name_err(q, e);
      char *s = ms_strdup(name);
      if (q->names != JNFMT_TITLE)
        set_case(s, q->names);
      if (q->wmax >= 0 && strlen(s) > (size_t)q->wmax)
        s[q->wmax] = 0;
      buf_puts(out, s);
      free(s);
      return 0;
    }
    return jnfmt_ipic_format(v, &q->ifmt, out, e);
  }
  if (c == 'f')
    return jnfmt_ipic_format(frag(t, 'f'), &q->ifmt, out, e);
  if (c == 'Z' || c == 'z') {
    double off = oh * 100 + om;
    buf_t v;
    buf_init(&v);
    if (q->ifmt.primary == JNFMT_DECIMAL && q->ifmt.regular) {
      if (jnfmt_ipic_format(off, &q->ifmt, &v, e))
        goto fail;
    } else {
      int nd = q->ifmt.primary == JNFMT_DECIMAL ? q->ifmt.mandatory : 0;
      if (nd == 1 || nd == 2) {
        if (jnfmt_ipic_format(oh, &q->ifmt, &v, e))
          goto fail;
        if (om != 0)
          buf_printf(&v, ":%s%02d", om < 0 ? "-" : "", (int)fabs(om));
      } else if (nd == 3 || nd == 4) {
        if (jnfmt_ipic_format(off, &q->ifmt, &v, e))
          goto fail;
      } else {
        jnfmt_seterr(e, "D3134", "The timezone integer format specifier "
                     "cannot have more than four digits");
        goto fail;
      }
    }
    if (off == 0 && q->pres2 == 't') {
      buf_putc(out, 'Z');
    } else {
      if (c == 'z')
        buf_puts(out, "GMT");
      if (off >= 0)
        buf_putc(out, '+');
      if (v.data)
        buf_puts(out, v.data);
    }
    buf_free(&v);
    return 0;
  fail:
    buf_free(&v);
    return -1;
  }
  if (c == 'P') {
    buf_puts(out, q->names == JNFMT_UPPER ? (frag(t, 'P') ? "PM" : "AM")
                                          : (frag(t, 'P') ? "pm" : "am"));
    return 0;
  }
  if (c == 'C' || c == 'E') {
    buf_puts(out, "ISO");
    return 0;
  }
  buf_puts(out, "undefined"); /* what the reference prints */
  return 0;
}

/* The default picture, [Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001]
 * [Z01:01t], without analysing it: $now() uses it on every call. */
static char *iso_format(double t, double oh, double om) {
  civil_t c;
  civil_from_time(t, &c);
  double y = fmod(c.y, 10000);
  buf_t b;
  buf_init(&b);
  buf_printf(&b, "%s%04.0f-%02d-%02dT%02d:%02d:%02d.%03d", y < 0 ? "-" : "",
             fabs(y), c.m, c.d, c.h, c.mi, c.s, c.ms);
  double off = oh * 100 + om;
  if (off == 0) {
    buf_putc(&b, 'Z');
  } else {
    double a = fabs(off);
    buf_printf(&b, "%c%02.0f:%02.0f", off < 0 ? '-' : '+', floor(a / 100),
               fmod(a, 100));
  }
  return buf_steal(&b);
}

char *jnfmt_from_millis(double ms, const char *picture,
                        const char *timezone, jnfmt_err_t *e) {
  double oh = 0, om = 0;
  if (timezone) {
    /* parseInt(timezone): "+hhmm" read as one integer, as the reference */
    const char *s = timezone;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
      s++;
    double sign = *s == '-' ? -1 : 1, off = 0;
    if (*s == '+' || *s == '-')
      s++;
    if (*s < '0' || *s > '9')
      off = NAN;
    for (; *s >= '0' && *s <= '9'; s++)
      off = off * 10 + (*s - '0');
    off *= sign;
    oh = floor(off / 100);
    om = fmod(off, 100);
  }
  double t = trunc(ms) + (60 * oh + om) * 60000;
  if (!isfinite(t) || fabs(t) > TIME_MAX) {
    jnfmt_seterr(e, "D3137", "Invalid time value");
    return NULL;
  }
  if (!picture)
    return iso_format(t, oh, om);
  picture_t p;
  if (analyse_picture(picture, &p, e)) {
    pic_free(&p);
    return NULL;
  }
  buf_t out;
  buf_init(&out);
  for (int i = 0; i < p.n; i++) {
    if (p.v[i].lit) {
      buf_puts(&out, p.v[i].lit);
    } else if (format_part(&p.v[i], t, oh, om, &out, e)) {
      buf_free(&out);
      pic_free(&p);
      return NULL;
    }
  }
  pic_free(&p);
  return buf_steal(&out);
}

/* ---- $toMillis ------------------------------------------------------- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return floor((double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6);
}

static pcre2_code *compile(const char *re) {
  int err;
  PCRE2_SIZE off;
  return pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                       PCRE2_CASELESS | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY,
                       &err, &off, NULL);
}

/* Match s against re; returns the match data (NULL when no match). */
static pcre2_match_data *match(pcre2_code *re, const char *s) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
  if (rc < 0) {
    pcre2_match_data_free(md);
    return NULL;
  }
  return md;
}

static int digits_at(const char *s, int n, int *v) {
  *v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    *v = *v * 10 + (s[i] - '0');
  }
  return 0;
}

/* Date.parse for what the ISO 8601 check lets through; NaN when V8 would
 * not read it. A date-time without an offset is read as UTC (V8 reads it
 * in local time; Step Functions runs in UTC). */
static double iso_parse(const char *s) {
  int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0;
  if (digits_at(s, 4, &y))
    return NAN;
  s += 4;
  if (s[0] == '-' && !digits_at(s + 1, 2, &mo)) {
    s += 3;
    if (s[0] == '-' && !digits_at(s + 1, 2, &d))
      s += 3;
  }
  if (s[0] == 'T') {
    if (digits_at(s + 1, 2, &h) || s[3] != ':' || digits_at(s + 4, 2, &mi) ||
        s[6] != ':' || digits_at(s + 7, 2, &sec))
      return NAN;
    s += 9;
    if (s[0] == '.') {
      s++;
      int n = 0;
      while (s[n] >= '0' && s[n] <= '9') {
        if (n < 3)
          ms = ms * 10 + (s[n] - '0');
        n++;
      }
      for (int k = n; k < 3; k++)
        ms *= 10;
      s += n;
    }
  }
  double off = 0;
  if (s[0] == 'Z') {
    s++;
  } else if (s[0] == '+' || s[0] == '-') {
    int oh, om;
    int sign = s[0] == '-' ? -1 : 1;
    if (digits_at(s + 1, 2, &oh))
      return NAN;
    const char *q = s + 3;
    if (*q == ':')
      q++;
    if (digits_at(q, 2, &om))
      return NAN;
    off = sign * (oh * 60 + om);
    s = q + 2;
  }
  if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || mi > 59 || sec > 59 ||
      h > 24 || (h == 24 && (mi || sec || ms)))
    return NAN;
  /* not utc(): Date.parse keeps years 0-99 as they are */
  double t = days_from_civil(y, mo, 1) + d - 1;
  return t * DAY_MS + h * 3600000.0 + mi * 60000.0 + sec * 1000.0 + ms -
         off * 60000;
}

static void escape_literal(const char *s, buf_t *b) {
  for (; *s; s++) {
    if (strchr(".*+?^${}()|[]\\", *s))
      buf_putc(b, '\\');
    buf_putc(b, *s);
  }
}

/* The part's regular expression (generateRegex). */
static int part_regex(const part_t *q, buf_t *re, jnfmt_err_t *e) {
  if (q->lit) {
    escape_literal(q->lit, re);
    return 0;
  }
  if (q->comp == 'Z' || q->comp == 'z') {
    if (q->comp == 'z')
      buf_puts(re, "GMT");
    buf_puts(re, "[-+][0-9]+");
    if (q->ifmt.primary == JNFMT_DECIMAL && q->ifmt.regular) {
      if (q->ifmt.sep[0].ch < 0x80) {
        char t[2] = {(char)q->ifmt.sep[0].ch, 0};
        escape_literal(t, re);
      } else {
        buf_printf(re, "\\x{%x}", q->ifmt.sep[0].ch);
      }
      buf_puts(re, "[0-9]+");
    }
    return 0;
  }
  if (q->has_int)
    return jnfmt_ipic_regex(&q->ifmt, re, e);
  if (q->comp == 'M' || q->comp == 'x' || q->comp == 'F' || q->comp == 'P') {
    buf_puts(re, "[a-zA-Z]+");
    return 0;
  }
  return name_err(q, e);
}

static double zone_value(const part_t *q, const char *v) {
  if (q->comp == 'z')
    v += strlen(v) >= 3 ? 3 : strlen(v);
  double oh = 0, om = 0;
  char *t = ms_strdup(v);
  if (q->ifmt.primary == JNFMT_DECIMAL && q->ifmt.regular) {
    /* the separator is ASCII in any picture worth parsing */
    char *sep = strchr(t + 1, (int)q->ifmt.sep[0].ch);
    if (sep) {
      *sep = 0;
      om = strtod(sep + 1, NULL);
    }
    oh = strtod(t, NULL);
  } else if (strlen(t) - 1 <= 2) {
    oh = strtod(t, NULL);
  } else {
    om = strtod(t + 3, NULL);
    t[3] = 0;
    oh = strtod(t, NULL);
  }
  free(t);
  return oh * 60 + om;
}

/* The value a matched name has (exact case, as the reference's lookup). */
static double name_value(const part_t *q, const char *v) {
  if (q->comp == 'P') {
    if (!strcmp(v, "am") || !strcmp(v, "AM"))
      return 0;
    if (!strcmp(v, "pm") || !strcmp(v, "PM"))
      return 1;
    return NAN;
  }
  bool months = q->comp == 'M' || q->comp == 'x';
  int n = months ? 12 : 7;
  for (int i = 0; i < n; i++) {
    const char *name = months ? month_names[i] : day_names[i + 1];
    size_t len = strlen(name);
    if (q->wmax > 0 && (size_t)q->wmax < len)
      len = (size_t)q->wmax;
    if (strlen(v) == len && !strncmp(name, v, len))
      return i + 1;
  }
  return NAN;
}

/* fractional seconds: the digits are a fraction of a second */
static double fraction_value(const char *v) {
  char *t = ms_asprintf("0.%s", v);
  double f = strtod(t, NULL) * 1000;
  free(t);
  return f;
}

static bool truthy(double x) {
  return x != 0 && !isnan(x);
}

static int mask_of(const char *order, const bool *has, const double *val) {
  int m = 0;
  for (const char *c = order; *c; c++)
    m = m << 1 | (has[(int)*c] && truthy(val[(int)*c]));
  return m;
}

static bool is_type(int type, int mask) {
  return !(~type & mask) && (type & mask);
}

static int missing_err(jnfmt_err_t *e) {
  jnfmt_seterr(e, "D3136", "The date/time picture string is missing "
               "specifiers required to parse the timestamp");
  return -1;
}

static int parse_with(const char *s, const char *picture, double now,
                      double *out, jnfmt_err_t *e) {
  picture_t p;
  if (analyse_picture(picture, &p, e)) {
    pic_free(&p);
    return -1;
  }
  int rc = -1;
  pcre2_code *code = NULL;
  pcre2_match_data *md = NULL;
  buf_t re;
  buf_init(&re);
  buf_putc(&re, '^');
  for (int i = 0; i < p.n; i++) {
    buf_putc(&re, '(');
    if (part_regex(&p.v[i], &re, e))
      goto done;
    buf_putc(&re, ')');
  }
  buf_putc(&re, '$');
  code = compile(re.data);
  if (!code) {
    jnfmt_seterr(e, "D3136", "The date/time picture string cannot be used "
                 "to parse the timestamp");
    goto done;
  }
  md = match(code, s);
  if (!md) {
    rc = 1;
    goto done;
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  bool has[128] = {0};
  double val[128] = {0};
  int markers = 0;
  for (int i = 0; i < p.n; i++) {
    const part_t *q = &p.v[i];
    if (q->lit)
      continue;
    markers++;
    char *v = ms_strndup(s + ov[2 * (i + 1)],
                         ov[2 * (i + 1) + 1] - ov[2 * (i + 1)]);
    double x;
    if (q->comp == 'Z' || q->comp == 'z')
      x = zone_value(q, v);
    else if (q->comp == 'f' && q->has_int &&
             q->ifmt.primary == JNFMT_DECIMAL)
      x = fraction_value(v);
    else if (q->has_int)
      x = jnfmt_ipic_value(&q->ifmt, v);
    else
      x = name_value(q, v);
    free(v);
    /* a name not found is undefined; a number that did not parse is NaN
     * (given, but spoils the result) */
    if (q->comp > 0) {
      has[(int)q->comp] = q->has_int || !isnan(x);
      val[(int)q->comp] = x;
    }
  }
  if (!markers) {
    rc = 1;
    goto done;
  }
  int mask = mask_of("YXMxWwdD", has, val);
  bool date_a = is_type(161, mask);
  bool date_b = !date_a && is_type(130, mask);
  bool date_c = is_type(84, mask);
  bool date_d = !date_c && is_type(72, mask);
  mask = mask_of("PHhmsf", has, val);
  bool time_a = is_type(23, mask);
  bool time_b = !time_a && is_type(47, mask);
  char comps[16];
  snprintf(comps, sizeof comps, "%s%s",
           date_b ? "YD" : date_c ? "XxwF" : date_d ? "XWF" : "YMD",
           time_b ? "Phmsf" : "Hmsf");
  bool started = false, ended = false;
  for (const char *c = comps; *c; c++) {
    int k = *c;
    if (!has[k]) {
      if (started) {
        val[k] = strchr("MDd", k) ? 1 : 0;
        ended = true;
      } else {
        /* the reference's default for P is the string "am"/"pm" */
        val[k] = k == 'P' ? 0 : frag(now, (char)k);
      }
      has[k] = true;
    } else {
      started = true;
      if (ended) {
        missing_err(e);
        goto done;
      }
    }
  }
  val['M'] = has['M'] && val['M'] > 0 ? val['M'] - 1 : 0;
  if (date_b) {
    double t = utc(val['Y'], 0, 1, 0, 0, 0, 0) + (val['d'] - 1) * DAY_MS;
    civil_t c;
    civil_from_time(t, &c);
    val['M'] = c.m - 1;
    val['D'] = c.d;
  }
  if (date_c || date_d) {
    missing_err(e);
    goto done;
  }
  if (time_b) {
    val['H'] = val['h'] == 12 ? 0 : val['h'];
    if (val['P'] == 1)
      val['H'] += 12;
  }
  double ms = utc(val['Y'], val['M'], val['D'], val['H'], val['m'],
                  val['s'], val['f']);
  /* components.Z || components.z, with JavaScript's truthiness */
  double z = has['Z'] && truthy(val['Z']) ? val['Z'] : has['z'] ? val['z']
                                                                 : 0;
  if (truthy(z))
    ms -= z * 60000;
  if (isnan(ms)) {
    rc = 1;
    goto done;
  }
  *out = ms;
  rc = 0;
done:
  if (md)
    pcre2_match_data_free(md);
  if (code)
    pcre2_code_free(code);
  buf_free(&re);
  pic_free(&p);
  return rc;
}

/* The reference's ISO 8601 check, the regular expression
 *   ^\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?
 *   ([+-][0-2]\d:?[0-5]\d|Z)?$
 * matched by hand (its first two groups together match (-[0-3]\d)*). */
static bool dig(char c, char hi) {
  return c >= '0' && c <= hi;
}

/* what may follow the date tokens */
static bool iso_rest(const char *s) {
  while (s[0] == 'T' && dig(s[1], '2') && dig(s[2], '9') && s[3] == ':' &&
         dig(s[4], '5') && dig(s[5], '9') && s[6] == ':' &&
         dig(s[7], '5') && dig(s[8], '9'))
    s += 9;
  if (s[0] == '.' && dig(s[1], '9'))
    for (s++; dig(*s, '9'); s++)
      ;
  if (s[0] == 'Z') {
    s++;
  } else if ((s[0] == '+' || s[0] == '-') && dig(s[1], '2') &&
             dig(s[2], '9')) {
    const char *q = s + 3 + (s[3] == ':');
    if (dig(q[0], '5') && dig(q[1], '9'))
      s = q + 2;
  }
  return *s == 0;
}

static bool iso_shape(const char *s) {
  for (int i = 0; i < 4; i++)
    if (!dig(*s++, '9'))
      return false;
  int n = 0;
  while (s[3 * n] == '-' && dig(s[3 * n + 1], '3') && dig(s[3 * n + 2], '9'))
    n++;
  /* backtrack as the regex would: a last "-hh" may open an offset */
  for (; n >= 0; n--)
    if (iso_rest(s + 3 * n))
      return true;
  return false;
}

int jnfmt_to_millis_at(const char *s, const char *picture, double now,
                       double *out, jnfmt_err_t *e) {
  if (picture)
    return parse_with(s, picture, now, out, e);
  if (!iso_shape(s)) {
    char *v = jnfmt_quote(s);
    jnfmt_seterr(e, "D3110", "The argument of the toMillis function must "
                 "be an ISO 8601 formatted timestamp. Given %s", v);
    free(v);
    return -1;
  }
  double ms = iso_parse(s);
  if (isnan(ms))
    return 1;
  *out = ms;
  return 0;
}

int jnfmt_to_millis(const char *s, const char *picture, double *out,
                    jnfmt_err_t *e) {
  return jnfmt_to_millis_at(s, picture, now_ms(), out, e);
}
