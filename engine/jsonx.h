/* jsonx.h - jansson conventions for the engine: parsing with limits,
 * deterministic printing, AWS-style equality, and the scope a JSONPath or
 * intrinsic is evaluated in.
 *
 * The data plane of the engine is jansson's json_t. See base.h for the
 * ownership rule. This file knows nothing of states.
 */
#ifndef MS_JSONX_H
#define MS_JSONX_H

#include <jansson.h>
#include "base.h"

/* Parse JSON text. Rejects depth > MS_JSON_DEPTH and duplicate keys.
 * Returns a new reference, or NULL with *err set (malloc'd, "line L column C:
 * message"). Integers stay integers; an integer too large for int64 and a
 * real out of double's range (1e400) are refused ("too big integer",
 * "real number overflow"), never rounded.
 */
json_t *jsonx_parse(const char *text, size_t len, char **err);

/* Printing flags. */
enum {
  JSONX_COMPACT = 0,      /* {"a":1,"b":[1,2]} as AWS prints payloads */
  JSONX_PRETTY  = 1 << 0, /* two-space indent */
  JSONX_SORT    = 1 << 1, /* sort object keys */
  JSONX_SPACED  = 1 << 2, /* {"a": 1, "b": [1, 2]} (Python/Lambda style) */
};
/* Serialize; reals print as the shortest text that reads back the same
 * (1.5, 0.1, 1e+21), integral reals keep a ".0". Returns malloc'd text. */
char *jsonx_dump(const json_t *v, int flags);
int jsonx_dump_buf(buf_t *b, const json_t *v, int flags);

/* Deep equality where numbers compare by value (1 == 1.0), as AWS does. */
bool jsonx_equal(const json_t *a, const json_t *b);

/* Number as double (int or real); false if v is not a number. */
bool jsonx_number(const json_t *v, double *out);

/* Type name as ASL error messages spell it. */
const char *jsonx_type_name(const json_t *v);

/* Byte size of the compact serialization (for MS_PAYLOAD_MAX checks). */
size_t jsonx_size(const json_t *v);
/* Whether that size is at most limit; walks the value without printing it
 * and stops as soon as the limit is passed (cheap on the hot path). False
 * too for a value nested deeper than MS_JSON_DEPTH. */
bool jsonx_size_within(const json_t *v, size_t limit);
/* Whether v nests at most max arrays and objects (as the parser counts:
 * [[1]] is two levels). Values built at run time are held to
 * MS_JSON_DEPTH: deeper ones could not be read back, and the recursive
 * printer would run out of stack. */
bool jsonx_depth_within(const json_t *v, int max);

/* The scope a path, intrinsic or template is evaluated in. */
typedef json_t *(*jvar_fn)(const void *ud, const char *name);
typedef struct jscope {
  json_t *input;        /* borrowed: what "$" means */
  json_t *context;      /* borrowed: what "$$" means (may be NULL) */
  jvar_fn var;          /* returns a borrowed variable value, NULL if unset */
  const void *var_ud;   /* passed to var */
} jscope_t;

#endif
