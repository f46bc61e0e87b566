/* payload.h - payload templates and value expressions.
 *
 * A value expression (jexpr) is the right-hand side of a ".$" field, of
 * ErrorPath/CausePath and similar: a JSONPath ($, $$, $var) or an intrinsic
 * function call (States.Format(...)). A template (tmpl) is a Parameters /
 * ItemSelector / ResultSelector / Assign object: literal JSON where keys ending
 * in ".$" are expressions. Both are compiled once (validation reports every
 * problem) and evaluated against a jscope_t.
 */
#ifndef MS_PAYLOAD_H
#define MS_PAYLOAD_H

#include "jsonx.h"
#include "jpath.h"

typedef struct jexpr jexpr_t;
typedef struct tmpl tmpl_t;

/* Compile an expression: a path or an intrinsic call. NULL + *err. */
jexpr_t *jexpr_compile(const char *text, char **err);
void jexpr_free(jexpr_t *e);
const char *jexpr_text(const jexpr_t *e);
/* Evaluate. New reference, or NULL with f set. field names the ".$" key for
 * messages (may be NULL). A path that selects nothing is States.Runtime:
 * "The JSONPath '$.x' specified for the field 'y.$' could not be found in
 * the input '<input>'" (without field: "The JSONPath '$.x' could not be
 * found in the input '<input>'"). <input> is s->input, compact, for every
 * root ($, $$ and $var), as AWS prints it. */
json_t *jexpr_eval(const jexpr_t *e, const jscope_t *s, const char *field,
                   fault_t *f);

/* Compile a template. Problems go to d at ptr (the template's JSON pointer);
 * returns NULL only when nothing usable could be built. */
tmpl_t *tmpl_compile(json_t *tpl, const char *ptr, diags_t *d);
void tmpl_free(tmpl_t *t);
/* Compile an Assign object (a state's or a Catcher's): tmpl_compile plus
 * the checks on variable names (the key without ".$"): non-empty, at most
 * 80 characters, letters, digits and '_' (non-ASCII letters allowed), not
 * starting with a digit. A non-object is a diag and NULL. */
tmpl_t *tmpl_compile_assign(json_t *tpl, const char *ptr, diags_t *d);
/* Why name is not a valid variable name ("is empty", ...), or NULL. */
const char *tmpl_var_name_problem(const char *name);
/* Evaluate into a new value; NULL with f set on failure. The top-level
 * object or array is always new (refcount 1: the caller may add or remove
 * its members); below it the result shares the template's literal subtrees
 * and the values paths select (json_incref, not copies): treat those as
 * immutable. A missing path's field in the message is the ".$" key. */
json_t *tmpl_eval(const tmpl_t *t, const jscope_t *s, fault_t *f);

#endif
