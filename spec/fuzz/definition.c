/* definition.c - libFuzzer target: a state machine definition's text
 * through ms_machine_load (parse, compile, validate: every path, template,
 * intrinsic, Choice rule and Retry/Catch in it), the diagnostics printer
 * and ms_locate for each diagnostic's pointer.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  diags_t d;
  diags_init(&d);
  ms_machine_t *m = ms_machine_load((const char *)data, size, &d);
  if (m && d.nerrors) {
    fprintf(stderr, "a machine came back with %zu errors\n", d.nerrors);
    abort();
  }
  if (!m && !d.nerrors) {
    fprintf(stderr, "no machine and no error\n");
    abort();
  }
  ms_diags_print(&d, "fuzz.json", fz_null());
  for (size_t i = 0; i < d.n; i++) {
    int line, col;
    if (d.v[i].ptr)
      ms_locate((const char *)data, size, d.v[i].ptr, &line, &col);
  }
  diags_free(&d);
  ms_machine_free(m);
  return 0;
}
