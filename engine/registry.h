/* registry.h - deployed stacks in the moonstep database: the state
 * machines `moonstep deploy` registered (so `moonstep run NAME` finds
 * them) and the bucket triggers `moonstep watch` starts executions from.
 *
 * Its own tables (reg_*) in the same SQLite file as the store, written
 * one stack per transaction: deploying a stack again replaces what it
 * registered before.
 */
#ifndef MS_REGISTRY_H
#define MS_REGISTRY_H

#include "cfn.h"

/* Record stack s (from template_path; base_dir is where its handlers'
 * tasks folder is) in the database at db. 0, or -1 + *err. */
int registry_put_stack(const char *db, const cfn_stack_t *s,
                       const char *template_path, const char *tasks_dir,
                       char **err);

/* A registered state machine by name or ARN: {"Name", "Arn", "Type",
 * "Definition", "Stack", "TasksDir"} (new reference), NULL when there is
 * none (*err NULL) or on failure (*err set). */
json_t *registry_machine(const char *db, const char *name, char **err);

/* Every registered trigger, with its stack's tasks folder:
 * [{"Stack", "Bucket", "Prefix", "Suffix", "Event", "Machine" |
 * "Function", "TasksDir"}] (new reference), or NULL + *err. */
json_t *registry_triggers(const char *db, char **err);

#endif
