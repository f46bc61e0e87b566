/* choice.h - Choice state rules: compile a rule (And/Or/Not and the 42
 * comparison operators, IsPresent/IsNull/... and the ...Path forms) once,
 * evaluate it against a scope.
 *
 * The rule's Next is the machine's business (machine.c); this file owns the
 * boolean expression only.
 */
#ifndef MS_CHOICE_H
#define MS_CHOICE_H

#include "jsonx.h"

typedef struct choice choice_t;

/* Compile one rule object (top-level or nested). top = true for a rule in
 * Choices (which may carry Next and Comment); nested rules must not have
 * Next. Problems go to d at ptr. NULL if unusable. */
choice_t *choice_compile(json_t *rule, const char *ptr, bool top, diags_t *d);
void choice_free(choice_t *c);
/* 1 = true, 0 = false, -1 = fault (f set, e.g. a Variable path AWS cannot
 * resolve). A type mismatch is false, never a fault. */
int choice_eval(const choice_t *c, const jscope_t *s, fault_t *f);

/* Parse an RFC 3339 timestamp as ASL accepts it; epoch seconds with
 * fraction. false when it is not one. Shared with Wait's Timestamp. */
bool choice_parse_timestamp(const char *s, double *epoch);

#endif
