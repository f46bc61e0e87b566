/* jpath.c - libFuzzer target: a JSONPath (the first line) compiled,
 * described, evaluated against the rest of the input (JSON; a default
 * document otherwise) with a context object and a variable in scope, and
 * set when it is a reference path, as ResultPath does. Checks that the
 * normalized form compiles and normalizes to itself.
 */
#include "fuzz.h"
#include "jpath.h"

static json_t *var(const void *ud, const char *name) {
  (void)name;
  return (json_t *)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  size_t line = fz_line(data, size);
  char *text = fz_str(data, line);
  char *err = NULL;
  jpath_t *p = jpath_compile(text, &err);
  if (!p) {
    free(err);
    free(text);
    return 0;
  }
  json_t *doc = fz_rest(data, size, line);
  jscope_t s = {doc, doc, var, doc};
  char *norm = jpath_normalized(p);
  jpath_t *q = jpath_compile(norm, &err);
  if (q) {
    char *again = jpath_normalized(q);
    if (strcmp(norm, again) != 0) {
      fprintf(stderr, "normalized %s, then %s\n", norm, again);
      abort();
    }
    free(again);
    jpath_free(q);
  } else {
    free(err);
  }
  err = NULL;
  json_t *r = jpath_eval(p, &s, &err);
  free(err);
  err = NULL;
  if (jpath_is_reference(p)) {
    json_t *root = json_incref(doc);
    json_t *value = r ? r : json_null();
    if (jpath_set(p, &root, value, &err) != MS_OK) free(err);
    if (!r) json_decref(value);
    json_decref(root);
  }
  json_decref(r);
  json_t *desc = ms_path(text, &err);
  if (!desc) free(err);
  json_decref(desc);
  free(norm);
  json_decref(doc);
  jpath_free(p);
  free(text);
  return 0;
}
