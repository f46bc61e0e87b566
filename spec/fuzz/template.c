/* template.c - libFuzzer target: payload templates. The input is JSON:
 * [template, input] or a template alone (a default input then); it is
 * compiled and evaluated once as Parameters and once as an Assign object,
 * through ms_template.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  json_t *v = jsonx_parse((const char *)data, size, NULL);
  if (!v) return 0;
  json_t *tpl = v, *input = NULL;
  if (json_is_array(v) && json_array_size(v) == 2) {
    tpl = json_array_get(v, 0);
    input = json_incref(json_array_get(v, 1));
  } else {
    input = fz_doc();
  }
  json_t *vars = json_pack("{s:O}", "v", input);
  for (int assign = 0; assign <= 1; assign++) {
    diags_t d;
    fault_t f = FAULT_INIT;
    diags_init(&d);
    json_t *r = ms_template(tpl, assign, input, input, vars, &d, &f);
    if (!r && !d.nerrors && !fault_is_set(&f)) {
      fprintf(stderr, "no result, no diagnostic and no fault\n");
      abort();
    }
    if (r) {
      char *text = jsonx_dump(r, JSONX_COMPACT);
      free(text);
    }
    json_decref(r);
    fault_clear(&f);
    diags_free(&d);
  }
  json_decref(vars);
  json_decref(input);
  json_decref(v);
  return 0;
}
