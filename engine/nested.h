/* nested.h - the states:startExecution resource: a Task that starts an
 * execution of another state machine, found as a definition file in a
 * machines folder, and runs it locally with the same engine.
 *
 * api.c makes one per engine and hands nested_run to the task host
 * (task_host_set_nested), so task.c need not know the engine.
 */
#ifndef MS_NESTED_H
#define MS_NESTED_H

#include "moonstep.h"
#include "task.h"

typedef struct nested nested_t;

/* New runner over engine e (borrowed; must outlive it) that finds
 * machines in dir (copied; NULL: "."). */
nested_t *nested_new(ms_engine_t *e, const char *dir);
void nested_free(nested_t *n);

/* A task_nested_fn: ud is a nested_t. */
json_t *nested_run(void *ud, const task_call_t *c, fault_t *f);

#endif
