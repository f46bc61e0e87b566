/* jtmpl.h - JSONata templates: the value of a field of a JSONata state
 * (Arguments, Output, Assign, Items, ItemSelector, Condition, Seconds,
 * Timestamp, TimeoutSeconds, Error, Cause, ...).
 *
 * A string that is exactly "{% expr %}" is a JSONata expression (jsonata.h);
 * inside objects and arrays every such string is one; every other value,
 * "$.x" and " {% x %} " included, is literal. Compiled once (machine.c),
 * evaluated against the state's bindings (exec.c): "states" ($states.input,
 * .result, .errorOutput, .context) and the workflow variables.
 */
#ifndef MS_JTMPL_H
#define MS_JTMPL_H

#include "jsonx.h"

typedef struct jtmpl jtmpl_t;

/* Compile v (borrowed). field names it in runtime messages ("Output",
 * "Arguments"; members add "/key"); syntax errors go to d at ptr with the
 * expression's error code and position. NULL when unusable. */
jtmpl_t *jtmpl_compile(json_t *v, const char *ptr, const char *field,
                       diags_t *d);
/* jtmpl_compile for Assign: an object whose keys are variable names. */
jtmpl_t *jtmpl_compile_assign(json_t *v, const char *ptr, diags_t *d);
void jtmpl_free(jtmpl_t *t);

/* After jsonloc_fill(text, len, d): each diagnostic of jtmpl_compile
 * about an expression that does not parse, "... (at character N of the
 * expression)", gets where that character is in text: "(at character N
 * of the expression; line L, column C)". */
void jtmpl_locate(const char *text, size_t len, diags_t *d);

/* The field name t was compiled with ("Output/result"). */
const char *jtmpl_field(const jtmpl_t *t);
/* The literal value when t holds no expression, else NULL. */
const json_t *jtmpl_literal_peek(const jtmpl_t *t);

/* Evaluate against bindings (an object: "states" and the variables). New
 * reference, or NULL with f set: States.QueryEvaluationError with AWS's
 * cause (undefined result, evaluation error, function result), in_state.
 * The top-level object or array is new; below it values may be shared:
 * treat them as immutable. */
json_t *jtmpl_eval(const jtmpl_t *t, const json_t *bindings, fault_t *f);

/* f := "... specified for the field F returned an unexpected result type.
 * Expected 'want', but was 'T' for value: V" (AWS's words), for a value t
 * gave that has the wrong type. */
void jtmpl_type_fault(const jtmpl_t *t, const char *want, const json_t *v,
                      fault_t *f);
/* The JSON type name AWS prints: "number", "string", "array", ... */
const char *jtmpl_type_name(const json_t *v);

#endif
