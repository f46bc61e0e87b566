/* jsonata_sfn.c - the functions Step Functions adds to JSONata: $partition,
 * $range, $hash, $random (with a seed), $uuid and $parse. They are bound
 * only in the JSONATA_STEP_FUNCTIONS dialect, where $eval is unbound (AWS
 * removes it), by a frame the evaluator puts above the built-ins' one.
 *
 * What is confirmed and what is not:
 * - AWS's guide ("JSONata functions provided by Step Functions") names the
 *   six functions, their arguments, the five $hash algorithms, the optional
 *   integer seed of $random (same seed, same number), v4 $uuid, $parse as
 *   the replacement of the removed $eval, and that integer parameters are
 *   rounded (non-integers "round down").
 * - Recorded against AWS (../shared/conformance, LocalStack's snapshots):
 *   $partition returns an array of arrays ([[0]] for [0] and 1), $range is
 *   inclusive and returns a sequence (a single item comes back bare:
 *   $range(1, 9, 9) is 1), $parse reads scalars, arrays and objects.
 * - From a third-party emulator's measurements against AWS (floci), not
 *   confirmed here: the argument rules and messages below (rounding towards
 *   zero; the undefined results; T0410 for a wrong type or a surplus
 *   argument; D3137 with "Second argument must be zero or greater",
 *   "Invalid JSON" and the hash algorithm list; T0412 "... must be an array
 *   of undefined"; $random(seed) being java.util.Random(seed).nextDouble()).
 * - Our choice: $range refuses more than 1e7 items with D2014, as the range
 *   operator does (AWS's limit is its payload memory).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hash.h"
#include "jsonata_int.h"
#include "jsonx.h"

#define ARG(i) ((i) < n ? args[i] : NULL)
#define FN(name) static jv *name(jctx *c, jv **args, int n, jv *input, \
                                 jframe *env)
#define UNUSED (void)c; (void)args; (void)n; (void)input; (void)env

/* T0410 for argument i (1-based) of function name */
_Noreturn static void bad_arg(jctx *c, const char *name, jv **args, int n,
                              int i) {
  jerr_idx(c, "T0410", -1, name, i - 1 < n ? args[i - 1] : NULL, i, NULL);
}

/* D3137 with the message as given */
_Noreturn static void fail(jctx *c, const char *msg) {
  jerr(c, "D3137", -1, NULL, jv_cstr(c, msg), NULL);
}

/* argument i (1-based) as a number rounded towards zero, like a Java
 * (long) cast: saturating, NaN is 0. A non-number is T0410. */
static double whole(jctx *c, const char *name, jv **args, int n, int i) {
  jv *v = i - 1 < n ? args[i - 1] : NULL;
  if (!v || v->t != JV_NUM) bad_arg(c, name, args, n, i);
  double d = v->u.n;
  if (isnan(d)) return 0;
  if (d >= 9223372036854775807.0) return 9223372036854775807.0;
  if (d <= -9223372036854775808.0) return -9223372036854775808.0;
  return trunc(d);
}

/* $partition(array, chunkSize) */
FN(f_partition) {
  UNUSED;
  jv *a = ARG(0);
  if (!a) return NULL;
  if (!jv_isarr(a))
    jerr_text(c, "T0412", -1, "Argument 1 of function \"partition\" must "
              "be an array of undefined");
  if (!a->u.a.n) return NULL;
  jv *r = jv_arr(c);
  if (!ARG(1)) {
    jv *all = jv_arr(c);
    for (size_t i = 0; i < a->u.a.n; i++) jv_push(c, all, a->u.a.v[i]);
    jv_push(c, r, all);
    return r;
  }
  double size = whole(c, "partition", args, n, 2);
  if (size < 0) fail(c, "Second argument must be zero or greater");
  if (size == 0) return NULL;
  size_t sz = size > (double)a->u.a.n ? a->u.a.n : (size_t)size;
  for (size_t i = 0; i < a->u.a.n; i += sz) {
    jv *chunk = jv_arr(c);
    for (size_t k = i; k < i + sz && k < a->u.a.n; k++)
      jv_push(c, chunk, a->u.a.v[k]);
    jv_push(c, r, chunk);
    jeval_tick(c);
  }
  return r;
}

/* $range(start, end, step): inclusive; a sequence */
FN(f_range) {
  UNUSED;
  double start = whole(c, "range", args, n, 1);
  double end = whole(c, "range", args, n, 2);
  if (!ARG(2)) return NULL;
  double step = whole(c, "range", args, n, 3);
  if (step == 0 || (step > 0 && start > end) || (step < 0 && start < end))
    return NULL;
  double count = floor((end - start) / step) + 1;
  if (count > 1e7) jerr(c, "D2014", -1, NULL, jv_num(c, count), NULL);
  jv *r = jv_seq(c);
  for (double i = 0; i < count; i++) {
    jv_push(c, r, jv_num(c, start + i * step));
    jeval_tick(c);
  }
  return r;
}

/* $hash(data, algorithm): lowercase hex, as States.Hash */
FN(f_hash) {
  UNUSED;
  jv *d = ARG(0), *alg = ARG(1);
  if (!d || d->t != JV_STR) bad_arg(c, "hash", args, n, 1);
  if (!alg) return NULL;
  if (alg->t != JV_STR) bad_arg(c, "hash", args, n, 2);
  if (strlen(alg->u.s.p) != alg->u.s.len || !hash_known(alg->u.s.p)) {
    size_t len = alg->u.s.len + 96;
    char *m = ja_alloc(&c->a, len);
    snprintf(m, len, "Hash algorithm '%s' must be one of SHA-1, SHA-384, "
             "SHA-256, SHA-512, MD5", alg->u.s.p);
    fail(c, m);
  }
  char *h = hash_hex(alg->u.s.p, d->u.s.p, d->u.s.len);
  if (!h) abort();
  jv *r = jv_cstr(c, h);
  free(h);
  return r;
}

/* java.util.Random(seed).nextDouble() */
static double java_random(int64_t seed) {
  const uint64_t mul = 0x5DEECE66DULL, mask = (1ULL << 48) - 1;
  uint64_t s = ((uint64_t)seed ^ mul) & mask;
  s = (s * mul + 0xB) & mask;
  uint64_t hi = s >> (48 - 26);
  s = (s * mul + 0xB) & mask;
  uint64_t lo = s >> (48 - 27);
  return (double)((hi << 27) + lo) * 0x1.0p-53;
}

/* $random([seed]) */
FN(f_random) {
  UNUSED;
  if (ARG(0)) {
    double seed = whole(c, "random", args, n, 1);
    int64_t s = seed >= 9223372036854775807.0 ? INT64_MAX : (int64_t)seed;
    return jv_num(c, java_random(s));
  }
  uint64_t x;
  ms_random_bytes(&x, sizeof x);
  return jv_num(c, (double)(x >> 11) * 0x1.0p-53);
}

/* $uuid(): version 4 */
FN(f_uuid) {
  UNUSED;
  char s[37];
  ms_uuid4(s);
  return jv_cstr(c, s);
}

static void decref(void *p) { json_decref(p); }

/* $parse(jsonString): strict JSON (no duplicate keys, nothing after the
 * value, no empty text); JSON null stays null, not undefined */
FN(f_parse) {
  UNUSED;
  jv *s = ARG(0);
  if (!s) return NULL;
  if (s->t != JV_STR) bad_arg(c, "parse", args, n, 1);
  json_t *j = jsonx_parse(s->u.s.p, s->u.s.len, NULL);
  if (!j) fail(c, "Invalid JSON");
  ja_on_free(&c->a, decref, j);   /* freed even if conversion unwinds */
  return jv_from_json(c, j);
}

/* sorted by name: the frame is searched by bisection */
static const jbuiltin SFN[] = {
  {"hash", f_hash, "<x?x?:s>", 2},
  {"parse", f_parse, "<x?:x>", 1},
  {"partition", f_partition, "<x?x?:a>", 2},
  {"random", f_random, "<x?:n>", 1},
  {"range", f_range, "<x?x?x?:a>", 3},
  {"uuid", f_uuid, "<:s>", 0},
  {NULL, NULL, NULL, 0}
};

void jsfn_bind_all(jctx *c, jframe *f) {
  const char *eval_name = "eval";
  bool eval_bound = false;
  for (int i = 0; SFN[i].name; i++) {
    if (!eval_bound && strcmp(eval_name, SFN[i].name) < 0) {
      jframe_bind(c, f, eval_name, NULL);   /* found, undefined: T1006 */
      eval_bound = true;
    }
    jfn *fn = ja_alloc(&c->a, sizeof *fn);
    fn->kind = FN_NATIVE;
    fn->b = &SFN[i];
    fn->arity = SFN[i].arity;
    int ep = 0;
    char code[8];
    fn->sig = jsig_parse(&c->a, SFN[i].sig, 0, &ep, code);
    jframe_bind(c, f, SFN[i].name, jv_fn(c, fn));
  }
  f->sorted = true;
}
