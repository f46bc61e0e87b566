/* fuzz.h - what the libFuzzer targets in spec/fuzz/ share: a
 * NUL-terminated copy of the input, splitting it at its first newline
 * (an expression, then the JSON document it is evaluated against), the
 * document used when the rest is not JSON, and a sink for printed text.
 *
 * Each target is one file with LLVMFuzzerTestOneInput over the engine's C
 * API; the Makefile's fuzz target builds them with clang against a
 * sanitized, fuzzer-instrumented libmoonstep.a. Header-only: the targets
 * are separate programs.
 */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moonstep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs longer than this are skipped: the limits under test are far
 * below it and long inputs only slow the search down. */
#define FZ_MAX (64 * 1024)

/* The bytes as a malloc'd C string (an embedded NUL ends it early). */
static inline char *fz_str(const uint8_t *data, size_t n) {
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, data, n);
  s[n] = '\0';
  return s;
}

/* Length of the first line (the newline excluded). */
static inline size_t fz_line(const uint8_t *data, size_t n) {
  const uint8_t *nl = memchr(data, '\n', n);
  return nl ? (size_t)(nl - data) : n;
}

/* A document with a little of everything, for when the input brings no
 * JSON of its own. */
static inline json_t *fz_doc(void) {
  static const char text[] =
      "{\"a\": 1, \"b\": [1, 2.5, \"x\", null, true, {\"c\": [3, 4]}],"
      " \"s\": \"hello {} world\", \"n\": -7, \"e\": [], \"o\": {},"
      " \"d\": {\"a\": {\"a\": [\"a\", 1]}}, \"t\": \"2016-03-14T01:59:00Z\","
      " \"u\": \"\\u00e9\\u0000z\", \"big\": 9007199254740993}";
  return jsonx_parse(text, sizeof text - 1, NULL);
}

/* The rest of the input after the first line, as JSON, else fz_doc(). */
static inline json_t *fz_rest(const uint8_t *data, size_t n, size_t line) {
  json_t *v = NULL;
  if (line < n) v = jsonx_parse((const char *)data + line + 1,
                                n - line - 1, NULL);
  return v ? v : fz_doc();
}

/* /dev/null as a stream, opened once, for printers under test. */
static inline FILE *fz_null(void) {
  static FILE *f;
  if (!f) f = fopen("/dev/null", "w");
  return f;
}

#endif
