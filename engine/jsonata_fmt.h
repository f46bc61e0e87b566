/* jsonata_fmt.h - JSONata's formatting and date/time functions:
 * $formatNumber, $formatInteger, $parseInteger, $formatBase, $fromMillis
 * and $toMillis, following jsonata-js 2.x (XPath F&O 3.1 pictures).
 *
 * Returned strings are malloc'ed. On error a function returns NULL (or -1)
 * and fills e->code ("D3080" ...) and e->message (malloc'ed, worded as the
 * reference words it); release it with jnfmt_err_free.
 */
#ifndef MS_JSONATA_FMT_H
#define MS_JSONATA_FMT_H

#include "jsonx.h"

typedef struct jnfmt_err { char code[8]; char *message; } jnfmt_err_t;

/* $formatNumber(v, picture, options); options may be NULL. */
char *jnfmt_format_number(double v, const char *picture,
                          const json_t *options, jnfmt_err_t *e);
/* $formatInteger(v, picture). */
char *jnfmt_format_integer(double v, const char *picture,
                           jnfmt_err_t *e);
/* $parseInteger(s, picture): 0 ok, 1 undefined, -1 error. */
int jnfmt_parse_integer(const char *s, const char *picture,
                        double *out, jnfmt_err_t *e);
/* $formatBase(v, radix). */
char *jnfmt_format_base(double v, int radix, jnfmt_err_t *e);
/* $fromMillis(ms, picture, timezone): picture NULL means ISO 8601,
 * timezone NULL means UTC, else "+hhmm". */
char *jnfmt_from_millis(double ms, const char *picture,
                        const char *timezone, jnfmt_err_t *e);
/* $toMillis(s, picture): picture NULL means ISO 8601.
 * 0 ok, 1 undefined, -1 error. */
int jnfmt_to_millis(const char *s, const char *picture, double *out,
                    jnfmt_err_t *e);
/* The same with the evaluation's "now" (ms since the epoch), which fills
 * the date/time components a picture leaves out before the first one it
 * gives (jnfmt_to_millis uses the clock). */
int jnfmt_to_millis_at(const char *s, const char *picture, double now,
                       double *out, jnfmt_err_t *e);
/* Release e->message (safe on a zeroed or already freed error). */
void jnfmt_err_free(jnfmt_err_t *e);

/* ---- shared with jsonata_time.c (not for other callers) ------------- */

/* A format-integer picture ("000", "#,##0", "w;o", "I", "A" ...) as the
 * reference's analyseIntegerPicture leaves it. */
enum { JNFMT_DECIMAL, JNFMT_LETTERS, JNFMT_ROMAN, JNFMT_WORDS,
       JNFMT_SEQUENCE };
enum { JNFMT_LOWER, JNFMT_UPPER, JNFMT_TITLE };
typedef struct jnfmt_sep { int pos; uint32_t ch; } jnfmt_sep_t;
typedef struct jnfmt_ipic {
  int primary;          /* JNFMT_DECIMAL ... */
  int tcase;            /* JNFMT_LOWER ... */
  bool ordinal;         /* ";o" */
  uint32_t zero;        /* code point of the digit family's zero */
  int mandatory;        /* mandatory digits (a date width may raise it) */
  int optional;         /* optional digits ("#") */
  bool regular;         /* grouping repeats every sep[0].pos digits */
  jnfmt_sep_t *sep;     /* grouping separators, right to left */
  int nsep;
  int parse_width;      /* digits to match when parsing; 0: any */
  char *token;          /* the picture, for D3130 */
} jnfmt_ipic_t;

/* Analyse picture into *p (free with jnfmt_ipic_free). 0 ok, -1 error. */
int jnfmt_ipic_analyse(const char *picture, jnfmt_ipic_t *p,
                       jnfmt_err_t *e);
void jnfmt_ipic_free(jnfmt_ipic_t *p);
/* Append v (an integer) formatted by p to out. 0 ok, -1 error. */
int jnfmt_ipic_format(double v, const jnfmt_ipic_t *p, buf_t *out,
                      jnfmt_err_t *e);
/* Append the regular expression (PCRE2 syntax, no capture groups) that
 * matches text formatted by p. 0 ok, -1 error (D3130). */
int jnfmt_ipic_regex(const jnfmt_ipic_t *p, buf_t *out, jnfmt_err_t *e);
/* The value of text formatted by p; NaN when it has none. */
double jnfmt_ipic_value(const jnfmt_ipic_t *p, const char *text);
/* Fill e with code and a printf-style message. */
void jnfmt_seterr(jnfmt_err_t *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* JSON text of a string (JSON.stringify), malloc'd. */
char *jnfmt_quote(const char *s);

#endif
