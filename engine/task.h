/* task.h - how a Task state's Resource reaches a Lua function: the resource
 * table (Lambda function ARN, lambda:invoke, lua:MODULE.FUNCTION; also
 * http:invoke and states:startExecution), the Lua host that loads handlers
 * from the tasks folder and calls them the way Lambda calls a handler (as
 * coroutines that may wait on the network, see task_start), and the
 * mapping of handler errors to ASL faults.
 *
 * The interpreter sees only this interface; Lua headers stay in luahost.c /
 * luabridge.c / task.c.
 */
#ifndef MS_TASK_H
#define MS_TASK_H

#include "jsonx.h"

typedef struct task_host task_host_t;

typedef enum {
  TASK_UNKNOWN = 0,
  TASK_LAMBDA_ARN,     /* arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q] */
  TASK_LAMBDA_INVOKE,  /* arn:aws:states:::lambda:invoke[.waitForTaskToken] */
  TASK_LUA,            /* lua:MODULE.FUNCTION */
  TASK_STATES_START,   /* arn:aws:states:::states:startExecution[.sync,
                        * .sync:2, .waitForTaskToken] (nested.c) */
  TASK_HTTP_INVOKE,    /* arn:aws:states:::http:invoke (svc_http.c) */
  TASK_DYNAMODB,       /* arn:aws:states:::dynamodb:ACTION and
                        * arn:aws:states:::aws-sdk:dynamodb:ACTION
                        * (svc_dynamodb.c) */
  TASK_S3,             /* arn:aws:states:::s3:getObject|putObject and
                        * arn:aws:states:::aws-sdk:s3:ACTION (svc_s3.c) */
} task_kind_t;

/* Classify a Resource string. Unknown resources are rejected at run time
 * with States.Runtime (validation warns). */
task_kind_t task_kind(const char *resource);

/* How history events name a Task's resource (resourceType, resource), as
 * AWS records them: arn:aws:states:::SERVICE:ACTION[.suffix] gives SERVICE
 * and ACTION[.suffix] ("http", "invoke"), aws-sdk:SVC:ACTION gives
 * "aws-sdk:SVC" and ACTION; Lambda's resources (lambda:invoke included,
 * as before) and lua: give "lambda" and the whole Resource. The type goes
 * to type (at most cap bytes); the returned name points into resource. */
const char *task_resource_names(const char *resource, char *type,
                                size_t cap);

/* The callback pattern: a Resource ending in .waitForTaskToken
 * (lambda:invoke's and states:startExecution's). The call runs as usual;
 * the Task then waits for its token to be completed (exec.c). */
bool task_waits_for_token(const char *resource);

/* New host over tasks_dir (borrowed string, copied). NULL + *err. */
task_host_t *task_host_new(const char *tasks_dir, char **err);
void task_host_free(task_host_t *h);
/* Results larger than max bytes fail with States.DataLimitExceeded
 * (default MS_PAYLOAD_MAX, AWS's; 0 lifts the limit). */
void task_host_set_payload_limit(task_host_t *h, size_t max);

/* Forget a loaded handler module so its next call reads the file again
 * (module NULL: all of them); for the REPL's reload(). Changed files are
 * reloaded anyway: a function's files (mtime and size) are checked at its
 * first call in each execution, then at most every 0.1 s. */
void task_host_reload(task_host_t *h, const char *module);

/* Where a handler's print and context.log lines go: one call per line,
 * message without the newline; state_name may be NULL. */
typedef void (*task_log_fn)(void *ud, const char *state_name,
                            const char *message);

typedef struct task_call {
  const char *resource;    /* the state's Resource */
  const char *state_name;
  json_t *input;           /* effective input (after Parameters), borrowed */
  json_t *context;         /* the context object $$, borrowed (may be NULL) */
  double timeout_seconds;  /* 0 = none; enforced with a Lua count hook */
  task_log_fn log;         /* NULL: "[EXECUTION] STATE: message" on stderr */
  void *log_ud;            /* passed to log */
} task_call_t;

/* Who runs states:startExecution resources: nested executions need the
 * engine (api.c sets this; nested.c implements it), which task.c must not
 * know. Without one such a Task fails with States.Runtime. */
typedef json_t *(*task_nested_fn)(void *ud, const task_call_t *c,
                                  fault_t *f);
void task_host_set_nested(task_host_t *h, task_nested_fn fn, void *ud);

/* Run the task. Returns the result (new reference) or NULL with f set:
 * a handler error {errorType=, errorMessage=} becomes Error=errorType and
 * Cause as Lambda words it; a plain error becomes Error "Error"; an unknown
 * or missing function is Lambda.ResourceNotFoundException; the state's
 * timeout is States.Timeout, the function's own (tasks/NAME.json
 * "timeout", default 3 s) Sandbox.Timedout; the function's memory limit
 * Runtime.OutOfMemory; an invalid tasks/NAME.json States.Runtime. */
json_t *task_run(task_host_t *h, const task_call_t *c, fault_t *f);

/* ---- calls that wait on the network without blocking the engine ----
 * A handler (Lambda function ARN, lambda:invoke, lua:) runs as a
 * coroutine; a moonstep.http request it makes starts a transfer on the
 * host's curl multi handle and suspends it; http:invoke is such a
 * transfer itself. The engine parks the frame and drives the network with
 * task_host_wait while other frames run. */
typedef struct task_pending task_pending_t;

/* As task_run; with pending non-NULL the call may also suspend: NULL, no
 * fault, and *pending set (else *pending is NULL). */
json_t *task_start(task_host_t *h, const task_call_t *c, fault_t *f,
                   task_pending_t **pending);
/* Who hears that p can go on (its transfer ended or its deadline came):
 * fn(ud) is called from task_host_wait, once per suspension. */
typedef void (*task_wake_fn)(void *ud);
void task_pending_on_wake(task_pending_t *p, task_wake_fn fn, void *ud);
/* Go on with a woken p: the outcome as task_run's, p freed; or NULL with
 * *again true when it suspended once more (p stays, wakes again). The
 * state's and the function's timeouts apply across suspensions. */
json_t *task_pending_resume(task_pending_t *p, fault_t *f, bool *again);
/* Abandon p (its branch was cancelled, the execution stopped). */
void task_pending_cancel(task_pending_t *p);
/* Move transfers on: wait up to seconds (0: only poll) for one to end or
 * a pending call's deadline to pass; wakes whom it concerns. Returns true
 * when something woke. Without pending calls returns false at once. */
bool task_host_wait(task_host_t *h, double seconds);
/* Suspended calls of h (all executions). */
size_t task_host_pending(const task_host_t *h);

/* Invoke one function by name (or ARN) with event, as `sam local invoke`
 * does: no state, no state timeout; the function's config applies. Returns
 * the result (new reference), or NULL with *error set to Lambda's error
 * object {errorMessage, errorType[, requestId, stackTrace]} (new
 * reference). Log lines are "[NAME] message" on stderr. */
json_t *task_invoke(task_host_t *h, const char *function, json_t *event,
                    json_t **error);

#endif
