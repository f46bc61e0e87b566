/* locate.c - libFuzzer target: ms_locate, the lenient scanner that turns
 * a diagnostic's JSON pointer into a line and column. The first line is
 * the pointer, the rest any text (it need not be valid JSON).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  size_t line = fz_line(data, size);
  char *ptr = fz_str(data, line);
  const char *text = line < size ? (const char *)data + line + 1 : "";
  size_t len = line < size ? size - line - 1 : 0;
  int l = 0, c = 0;
  if (ms_locate(text, len, ptr, &l, &c) && (l < 1 || c < 1)) {
    fprintf(stderr, "located at %d:%d\n", l, c);
    abort();
  }
  free(ptr);
  return 0;
}
