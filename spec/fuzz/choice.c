/* choice.c - libFuzzer target: Choice rules. The input is JSON: [rule,
 * input] or a rule alone (a default input then); the rule is compiled as a
 * top-level Choices entry and, when it compiles, evaluated. Also feeds
 * every string in the rule to the timestamp parser.
 */
#include "fuzz.h"
#include "choice.h"

static json_t *var(const void *ud, const char *name) {
  (void)name;
  return (json_t *)ud;
}

static void timestamps(const json_t *v, int depth) {
  double t;
  const char *k;
  json_t *x;
  size_t i;
  if (depth > 64) return;
  if (json_is_string(v)) choice_parse_timestamp(json_string_value(v), &t);
  else if (json_is_array(v))
    json_array_foreach(v, i, x) timestamps(x, depth + 1);
  else if (json_is_object(v))
    json_object_foreach((json_t *)v, k, x) timestamps(x, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  json_t *v = jsonx_parse((const char *)data, size, NULL);
  if (!v) return 0;
  json_t *rule = v, *input = NULL;
  if (json_is_array(v) && json_array_size(v) == 2) {
    rule = json_array_get(v, 0);
    input = json_incref(json_array_get(v, 1));
  } else {
    input = fz_doc();
  }
  timestamps(rule, 0);
  diags_t d;
  diags_init(&d);
  choice_t *c = choice_compile(rule, "/States/C/Choices/0", true, &d);
  if (c && !d.nerrors) {
    jscope_t s = {input, input, var, input};
    fault_t f = FAULT_INIT;
    int r = choice_eval(c, &s, &f);
    if ((r < 0) != fault_is_set(&f)) {
      fprintf(stderr, "choice_eval %d with fault %s\n", r,
              f.error ? f.error : "(none)");
      abort();
    }
    fault_clear(&f);
  }
  choice_free(c);
  diags_free(&d);
  json_decref(input);
  json_decref(v);
  return 0;
}
