/* csv.c - libFuzzer target: the CSV reader (engine/csv.h). The first
 * byte picks the dialect (delimiter, quoting, AWS's backslash escapes,
 * empty lines, small field and record limits), the second the chunk size
 * the rest is fed in, as a stream arrives. Each record is turned into
 * JSON; with the default dialect it is also written back and must read
 * back as the same fields.
 */
#include "fuzz.h"
#include "csv.h"

static void roundtrip(const csv_opts_t *o, const csv_record_t *r) {
  buf_t b;
  buf_init(&b);
  if (csv_encode_record(&b, o, r->f, r->n) != MS_OK) {
    fprintf(stderr, "a record that was read cannot be written\n");
    abort();
  }
  csv_t *q = csv_new(o);
  csv_set_fields(q, SIZE_MAX);
  size_t used = 0;
  int rc = csv_parse(q, b.data, b.len, &used);
  if (rc == CSV_MORE) rc = csv_finish(q);
  const csv_record_t *back = csv_record(q);
  bool same = rc == CSV_RECORD && back->n == r->n;
  for (size_t i = 0; same && i < r->n; i++)
    same = back->f[i].len == r->f[i].len &&
           memcmp(back->f[i].s, r->f[i].s, r->f[i].len) == 0;
  if (!same) {
    fprintf(stderr, "record of %zu fields written as [%s] reads back "
            "differently (rc %d)\n", r->n, b.data, rc);
    abort();
  }
  csv_free(q);
  buf_free(&b);
}

static void take(csv_t *p, const csv_opts_t *o, int rc, bool check) {
  if (rc == CSV_RECORD) {
    json_t *hdr = json_pack("[sss]", "a", "b", "c");
    json_decref(csv_record_json(csv_record(p), NULL));
    json_decref(csv_record_json(csv_record(p), hdr));
    json_decref(hdr);
    if (check) roundtrip(o, csv_record(p));
  } else if (rc == CSV_BAD) {
    free(csv_error_text(csv_error(p)));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > FZ_MAX) return 0;
  static const char delims[] = ",;\t|";
  uint8_t how = data[0];
  size_t chunk = (size_t)data[1] % 64 + 1;
  data += 2;
  size -= 2;
  csv_opts_t o;
  csv_opts_init(&o);
  o.delim = delims[how & 3];
  if (how & 4) o.quote = -1;
  if (how & 8) o.backslash = true;
  if (how & 16) o.skip_empty = false;
  if (how & 32) o.fields = SIZE_MAX;
  if (how & 64) {
    o.max_field = 16;
    o.max_record = 64;
  }
  bool check = (how & ~(3 | 32)) == 0 && o.delim == ',';
  csv_t *p = csv_new(&o);
  size_t off = 0;
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk;
    /* the parser may keep no pointer into a chunk: give it a copy */
    char *piece = malloc(n);
    memcpy(piece, data + off, n);
    size_t at = 0;
    for (;;) {
      size_t used = 0;
      int rc = csv_parse(p, piece + at, n - at, &used);
      at += used;
      if (rc == CSV_MORE) break;
      take(p, &o, rc, check);
    }
    free(piece);
    off += n;
  }
  for (int rc; (rc = csv_finish(p)) != CSV_END;) take(p, &o, rc, check);
  csv_free(p);
  return 0;
}
