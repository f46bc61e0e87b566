/* intrinsic.h - the 18 States.* intrinsic functions: parse a call once into
 * a tree, evaluate it against a scope with AWS's semantics and quirks.
 *
 * Arguments are string literals ('text' with \' \\ \{ \} escapes), numbers,
 * true/false/null, JSONPaths ($..., $$..., $var...) and nested calls (up to
 * MS_INTRINSIC_DEPTH). Uses jpath for path arguments.
 */
#ifndef MS_INTRINSIC_H
#define MS_INTRINSIC_H

#include "jsonx.h"

typedef struct intrinsic intrinsic_t;

/* True if text looks like an intrinsic call ("States.Name(...)"). */
bool intrinsic_is_call(const char *text);
/* Compile; checks function names and arity. NULL + *err (malloc'd). */
intrinsic_t *intrinsic_compile(const char *text, char **err);
void intrinsic_free(intrinsic_t *c);
/* Evaluate. New reference, or NULL with f set (States.Runtime /
 * States.IntrinsicFailure as AWS raises them). */
json_t *intrinsic_eval(const intrinsic_t *c, const jscope_t *s, fault_t *f);

#endif
