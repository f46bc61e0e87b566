/* jsonata.h - JSONata 2.x expressions over jansson: compile once, evaluate
 * many times against an input and a set of variable bindings.
 *
 * The language follows the reference implementation (jsonata-js 2.x):
 * its sequence semantics, number formatting and error codes. The parser
 * lives in jsonata_parse.c, the evaluator in jsonata_eval.c, the function
 * library in jsonata_fn.c (picture-string formatting in jsonata_fmt.c),
 * Step Functions' added functions in jsonata_sfn.c.
 *
 * Ownership: json_t arguments are borrowed; *result is a new reference.
 * A compiled expression is immutable and may be evaluated concurrently.
 */
#ifndef MS_JSONATA_H
#define MS_JSONATA_H

#include "jsonx.h"

typedef struct jsonata jsonata_t;

/* An error as the reference reports it: code ("T2001", "S0201", ...),
 * message worded as the reference words it, character position in the
 * expression (-1 when unknown) and the offending token (NULL if none). */
typedef struct jsonata_err {
  char code[8];
  char *message;   /* malloc'ed */
  int position;
  char *token;     /* malloc'ed or NULL */
} jsonata_err_t;

/* Limits of one evaluation; 0 means the default (JSONATA_* below). Both
 * end with U1001, as the reference's test harness reports them. Also
 * enforced, not configurable: 2 GiB of values per evaluation (D1005, our
 * code), ranges of at most 1e7 items (D2014) and 1000 levels of nesting
 * in the expression text (U1001 at compile time). */
typedef struct jsonata_limits {
  long timeout_ms;  /* wall-clock budget */
  int max_depth;    /* nesting of evaluation steps */
  unsigned flags;   /* JSONATA_* dialect flags below; 0: plain 2.x */
} jsonata_limits_t;

/* Step Functions' dialect: binds $partition, $range, $hash, $random,
 * $uuid and $parse (jsonata_sfn.c) and unbinds $eval, as AWS does. */
#define JSONATA_STEP_FUNCTIONS 1u

/* Defaults: deep enough for the reference's tests, small enough that the C
 * stack (8 MB on Linux, a few hundred bytes a level) never runs out. */
#define JSONATA_TIMEOUT_MS 10000
#define JSONATA_MAX_DEPTH 5000

enum { JSONATA_OK = 0, JSONATA_UNDEFINED = 1, JSONATA_ERROR = -1 };

/* Compile text. Returns NULL with *err filled on a syntax error. */
jsonata_t *jsonata_compile(const char *text, jsonata_err_t *err);

/* Evaluate c against input (NULL: undefined) with bindings (an object of
 * name -> value, "x" binds $x; may be NULL) within limits (may be NULL).
 * Returns JSONATA_OK with *result set, JSONATA_UNDEFINED (no result),
 * or JSONATA_ERROR with *err filled. */
int jsonata_eval(const jsonata_t *c, const json_t *input,
                 const json_t *bindings, const jsonata_limits_t *limits,
                 json_t **result, jsonata_err_t *err);

void jsonata_free(jsonata_t *c);
/* Release the strings of err (safe on a zeroed or cleared error). */
void jsonata_err_clear(jsonata_err_t *err);

#endif
