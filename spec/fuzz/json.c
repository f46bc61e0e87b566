/* json.c - libFuzzer target: JSON text through jsonx_parse (the parser
 * for every input, definition and config), then the printer. Checks that
 * each print style reads back as an equal value and that jsonx_size and
 * jsonx_size_within agree with the compact print.
 */
#include "fuzz.h"

static void roundtrip(const json_t *v, int flags) {
  char *text = jsonx_dump(v, flags);
  char *err = NULL;
  json_t *back = jsonx_parse(text, strlen(text), &err);
  if (!back) {
    fprintf(stderr, "printed JSON does not parse (%s): %s\n", err, text);
    abort();
  }
  if (!jsonx_equal(v, back)) {
    fprintf(stderr, "round trip changed the value: %s\n", text);
    abort();
  }
  json_decref(back);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  char *err = NULL;
  json_t *v = jsonx_parse((const char *)data, size, &err);
  if (!v) {
    free(err);
    return 0;
  }
  roundtrip(v, JSONX_COMPACT);
  roundtrip(v, JSONX_PRETTY | JSONX_SORT);
  roundtrip(v, JSONX_SPACED);
  char *compact = jsonx_dump(v, JSONX_COMPACT);
  size_t n = strlen(compact);
  if (jsonx_size(v) != n || !jsonx_size_within(v, n) ||
      (n > 0 && jsonx_size_within(v, n - 1))) {
    fprintf(stderr, "jsonx_size %zu, printed %zu: %s\n", jsonx_size(v), n,
            compact);
    abort();
  }
  free(compact);
  json_decref(v);
  return 0;
}
