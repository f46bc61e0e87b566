/* ddbexpr.c - libFuzzer target: DynamoDB's expression languages
 * (engine/ddbexpr.h). The first byte picks the kind (condition, key
 * condition, update, projection, filter), the rest of the first line is
 * the expression. The next lines may hold a JSON object with "names",
 * "values" and "item" (defaults below for any missing). The expression
 * is parsed with those #names and :values and, when it parses, evaluated
 * over the item and over no item.
 */
#include "fuzz.h"
#include "ddbexpr.h"

static const char names_text[] =
    "{\"#n\": \"name\", \"#a\": \"a\", \"#l\": \"list\", \"#m\": \"map\","
    " \"#s\": \"set\", \"#k\": \"id\"}";
static const char values_text[] =
    "{\":v\": {\"S\": \"x\"}, \":n\": {\"N\": \"5\"}, \":z\": {\"N\": "
    "\"-1e-130\"}, \":b\": {\"BOOL\": true}, \":u\": {\"NULL\": true},"
    " \":l\": {\"L\": [{\"N\": \"1\"}, {\"S\": \"two\"}]},"
    " \":m\": {\"M\": {\"k\": {\"S\": \"v\"}}},"
    " \":ss\": {\"SS\": [\"a\", \"b\"]}, \":ns\": {\"NS\": [\"1\", \"2\"]},"
    " \":bin\": {\"B\": \"AAEC\"}}";
static const char item_text[] =
    "{\"id\": {\"S\": \"k1\"}, \"sk\": {\"N\": \"3\"},"
    " \"name\": {\"S\": \"xyz\"}, \"a\": {\"N\": \"10\"},"
    " \"list\": {\"L\": [{\"N\": \"1\"}, {\"L\": [{\"S\": \"in\"}]},"
    " {\"M\": {\"q\": {\"BOOL\": false}}}]},"
    " \"map\": {\"M\": {\"k\": {\"S\": \"v\"}, \"deep\": {\"M\": {\"x\":"
    " {\"N\": \"7\"}}}}}, \"set\": {\"SS\": [\"a\", \"c\"]},"
    " \"nums\": {\"NS\": [\"1\", \"99.5\"]}, \"nul\": {\"NULL\": true}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > FZ_MAX) return 0;
  static json_t *names, *values, *item;
  const json_t *item_use;
  if (!names) {
    names = jsonx_parse(names_text, sizeof names_text - 1, NULL);
    values = jsonx_parse(values_text, sizeof values_text - 1, NULL);
    item = jsonx_parse(item_text, sizeof item_text - 1, NULL);
    if (!names || !values || !item) abort();
  }
  ddbx_kind_t kind = (ddbx_kind_t)(data[0] % 5);
  size_t line = fz_line(data + 1, size - 1);
  char *text = fz_str(data + 1, line);
  json_t *rest = NULL;
  if (line + 1 < size - 1)
    rest = jsonx_parse((const char *)data + 2 + line, size - 2 - line, NULL);
  json_t *n = json_object_get(rest, "names");
  json_t *v = json_object_get(rest, "values");
  json_t *it = json_object_get(rest, "item");
  char *err = NULL;
  ddbexpr_t *e = ddbexpr_parse(kind, text, n ? n : names, v ? v : values,
                               &err);
  if (!e) {
    free(err);
    free(text);
    json_decref(rest);
    return 0;
  }
  if (json_is_object(it)) item_use = it;
  else item_use = item;
  json_t *un = json_object(), *uv = json_object(), *targets = json_array();
  ddbexpr_used(e, un, uv);
  json_t *r = NULL;
  ddbx_keycond_t k;
  switch (kind) {
  case DDBX_CONDITION:
  case DDBX_FILTER:
    for (int i = 0; i < 2; i++) {
      err = NULL;
      if (ddbexpr_test(e, i ? NULL : item_use, &err) < 0) free(err);
    }
    break;
  case DDBX_UPDATE:
    for (int i = 0; i < 2; i++) {
      err = NULL;
      r = ddbexpr_update(e, i ? NULL : item_use, &err);
      if (!r) free(err);
      json_decref(r);
    }
    ddbexpr_update_targets(e, targets);
    break;
  case DDBX_PROJECTION:
    json_decref(ddbexpr_project(e, item_use));
    break;
  case DDBX_KEY_CONDITION:
    err = NULL;
    if (ddbexpr_keycond(e, "id", "sk", &k, &err) < 0) free(err);
    err = NULL;
    if (ddbexpr_keycond(e, "id", NULL, &k, &err) < 0) free(err);
    break;
  }
  json_decref(un);
  json_decref(uv);
  json_decref(targets);
  ddbexpr_free(e);
  json_decref(rest);
  free(text);
  return 0;
}
