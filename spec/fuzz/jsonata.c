/* jsonata.c - libFuzzer target: JSONata (engine/jsonata.h). The first
 * line is the expression, the rest the input (JSON; a default document
 * otherwise); it is compiled and evaluated with a binding and a 2 s
 * budget (the engine's own U1001 limit keeps a runaway one bounded), in
 * Step Functions' dialect or plain JSONata by the parity of the size.
 */
#include "fuzz.h"
#include "jsonata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  size_t line = fz_line(data, size);
  char *text = fz_str(data, line);
  jsonata_err_t err;
  memset(&err, 0, sizeof err);
  jsonata_t *c = jsonata_compile(text, &err);
  if (!c) {
    jsonata_err_clear(&err);
    free(text);
    return 0;
  }
  json_t *doc = fz_rest(data, size, line);
  json_t *bind = json_pack("{s:O, s:i}", "v", doc, "n", 3);
  /* odd sizes in Step Functions' dialect, even ones in plain 2.x */
  jsonata_limits_t lim = {2000, 0, size & 1 ? JSONATA_STEP_FUNCTIONS : 0};
  json_t *r = NULL;
  memset(&err, 0, sizeof err);
  int rc = jsonata_eval(c, doc, bind, &lim, &r, &err);
  if (rc == JSONATA_OK) {
    if (!r) {
      fprintf(stderr, "JSONATA_OK without a result\n");
      abort();
    }
    free(jsonx_dump(r, JSONX_COMPACT));
  }
  json_decref(r);
  jsonata_err_clear(&err);
  json_decref(bind);
  json_decref(doc);
  jsonata_free(c);
  free(text);
  return 0;
}
