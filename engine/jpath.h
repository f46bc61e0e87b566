/* jpath.h - JSONPath as Amazon States Language uses it: compile once,
 * evaluate against a scope, and set a value at a reference path (ResultPath).
 *
 * Roots: "$" (state input), "$$" (context object), "$name" (a variable).
 * Syntax: .name, ['name'], [n], [-n], [a:b:c], [*], .*, ..name, [a,b],
 * filters [?(@.n > 2)] with == != < <= > >=, &&, ||, !, parentheses,
 * string/number/true/false/null literals, and @ paths inside filters.
 * Also (Jayway, which AWS runs): =~ /regex/i (whole-string match), in and
 * nin [list], $ / $$ / $name paths inside filters, and a final .length().
 * As in Jayway, a filter over an array tests its items and a filter over
 * an object tests the object itself; ['a','b'] at the end of a path yields
 * one object holding the names found. As AWS does, a backslash in a quoted
 * bracket name only keeps the next character from ending it (both stay).
 */
#ifndef MS_JPATH_H
#define MS_JPATH_H

#include "jsonx.h"

typedef struct jpath jpath_t;

typedef enum { JPATH_INPUT, JPATH_CONTEXT, JPATH_VAR } jpath_root_t;

/* Compile text. Returns NULL with *err (malloc'd) on a syntax error. */
jpath_t *jpath_compile(const char *text, char **err);
void jpath_free(jpath_t *p);

const char *jpath_text(const jpath_t *p);        /* the source text */
jpath_root_t jpath_root(const jpath_t *p);
const char *jpath_var_name(const jpath_t *p);    /* JPATH_VAR: "name" */
/* A reference path selects at most one node: names and indexes only (no
 * wildcard, slice, union, filter or descent). */
bool jpath_is_reference(const jpath_t *p);
/* True for the bare root ("$", "$$" or "$name"). */
bool jpath_is_root(const jpath_t *p);

/* Evaluate. Returns a new reference:
 *  - reference path: the node, or NULL when it does not exist;
 *  - reference path + .length(): the number, or NULL;
 *  - otherwise: an array of the matches ([] when none).
 * On NULL, *why (if why != NULL) receives a malloc'd explanation phrased as
 * AWS phrases it, e.g. "No results for path: $['a']['b']" (missing last
 * step) or "Missing property in path $['a']" (missing inner step); the
 * caller prefixes "Invalid path '<text>' : " for InputPath/OutputPath.
 */
json_t *jpath_eval(const jpath_t *p, const jscope_t *s, char **why);

/* Set value (borrowed; copied as needed) at a reference path in *root,
 * creating missing objects on the way, as ResultPath does. "$" replaces
 * *root. Returns MS_OK, or MS_ERR with *why (malloc'd) when the path cannot
 * be set (e.g. crosses a non-object), in AWS's words: "Unable to apply
 * ReferencePath $.a.b to input {...}" (AWS raises it as
 * States.ReferencePathConflict). *root may be replaced (the old reference
 * is released). Nodes on the path shared with other holders are copied,
 * never changed; nodes only *root holds are changed in place. */
int jpath_set(const jpath_t *p, json_t **root, json_t *value, char **why);

/* Normalized form of a path for messages: $['a'][0]['b'] */
char *jpath_normalized(const jpath_t *p);

#endif
