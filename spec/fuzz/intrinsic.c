/* intrinsic.c - libFuzzer target: a ".$" expression (the first line: a
 * States.* intrinsic call or a path) compiled and evaluated through
 * ms_eval against the rest of the input (JSON; a default document
 * otherwise), with the same document as context and variables.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  size_t line = fz_line(data, size);
  char *text = fz_str(data, line);
  json_t *doc = fz_rest(data, size, line);
  json_t *vars = json_pack("{s:O, s:O}", "v", doc, "name", doc);
  fault_t f = FAULT_INIT;
  json_t *r = ms_eval(text, "v.$", doc, doc, vars, &f);
  if (!r && !fault_is_set(&f)) {
    fprintf(stderr, "no result and no fault for %s\n", text);
    abort();
  }
  json_decref(r);
  fault_clear(&f);
  json_decref(vars);
  json_decref(doc);
  free(text);
  return 0;
}
