/* teststate.h - AWS's TestState API, locally: run one state on its own
 * and report what each step of its data flow produced (inspection data),
 * the state's output or error, the next state and a status: SUCCEEDED,
 * FAILED, RETRIABLE (a retrier would take the error) or CAUGHT_ERROR (a
 * catcher took it).
 *
 * The state runs through the real interpreter (exec.c) in a one-state
 * machine built around it, so its semantics are the engine's; this file
 * only builds that machine, watches it through exec_opts_t's inspect
 * observer and words the answer as TestState does.
 */
#ifndef MS_TESTSTATE_H
#define MS_TESTSTATE_H

#include "jsonx.h"

/* A TestState request. json_t * members are borrowed; any may be NULL. */
typedef struct teststate_req {
  json_t *definition;  /* one state, or a whole machine with state set */
  const char *state;   /* stateName: the state of a whole machine */
  json_t *input;       /* the state's input; NULL: {} */
  /* mock: {"result": JSON text or a value} | {"errorOutput": {"error",
   * "cause"}}, "fieldValidationMode" accepted and not checked */
  json_t *mock;
  const char *level;   /* inspectionLevel INFO (default) | DEBUG | TRACE */
  json_t *variables;   /* object: the variables the state sees */
  json_t *context;     /* context object (accepted; see teststate.c) */
  json_t *config;      /* stateConfiguration {retrierRetryCount, ...} */
  const char *tasks_dir;  /* handlers of unmocked Tasks; NULL: "tasks" */
} teststate_req_t;

/* Run the request. Returns TestState's response (new reference) with the
 * values as JSON values: {"status", "output", "error", "cause",
 * "nextState", "inspectionData"} (members present as AWS has them), or
 * NULL with *code ("ValidationException", "InvalidDefinition") and
 * *message set (both malloc'd) when AWS would refuse the request. */
json_t *teststate_run(const teststate_req_t *r, char **code,
                      char **message);

/* The response as AWS's wire shape: output and the inspectionData values
 * as JSON text. New reference. */
json_t *teststate_wire(const json_t *response);

#endif
