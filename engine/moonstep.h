/* moonstep.h - the public C API: load a definition, run executions, read
 * their results. The CLI, the REPL and the Lua module include only this.
 *
 * Ownership follows base.h: json_t * arguments are borrowed, returned
 * json_t * are new references.
 */
#ifndef MOONSTEP_H
#define MOONSTEP_H

#include <signal.h>
#include "base.h"
#include "jsonx.h"

#define MS_VERSION "0.1.0"

typedef struct ms_engine ms_engine_t;
typedef struct ms_machine ms_machine_t;

typedef struct ms_options {
  const char *tasks_dir;   /* default "tasks" */
  bool virtual_clock;      /* Wait and retry delays complete at once */
  bool no_aws_limits;      /* lift AWS's 256 KiB payload and 25,000-event
                              history limits (local work on big data) */
  /* The durable store: STANDARD runs are recorded in this SQLite file
   * (MS_DB_DEFAULT, another path or ":memory:"); NULL: nothing is
   * recorded and the ms_execution_* functions fail. */
  const char *db_path;
  bool db_sync_full;       /* fsync every commit (synchronous=FULL) */
  /* Where states:startExecution finds the state machine NAME of its
   * StateMachineArn: NAME.asl.json or NAME.json here; NULL: "." */
  const char *machines_dir;
  /* The local S3 buckets folder (s3.h); NULL: $MOONSTEP_BUCKETS, else
   * .moonstep/buckets. Process-wide, like the tables' default path. */
  const char *buckets_dir;
} ms_options_t;

#define MS_DB_DEFAULT ".moonstep/moonstep.db"  /* folder made on demand */

/* Exit codes of the CLI, named once. */
enum {
  MS_EXIT_OK = 0, MS_EXIT_FAILED = 1, MS_EXIT_USAGE = 2, MS_EXIT_INVALID = 3
};

ms_engine_t *ms_engine_new(const ms_options_t *o, char **err);
void ms_engine_free(ms_engine_t *e);

/* Load and validate a definition from text. Every problem goes to d with
 * pointer and line:column. Returns NULL when the definition is invalid. */
ms_machine_t *ms_machine_load(const char *text, size_t len, diags_t *d);
void ms_machine_free(ms_machine_t *m);
/* Print diagnostics as "FILE:LINE:COL: error: /ptr: message". */
void ms_diags_print(const diags_t *d, const char *filename, void *stream);

/* A mocked Task: called before a Task state runs its Resource. Return
 * false to run the Resource; true when mocked, with *result (a new
 * reference) or f set (the Error/Cause the Task fails with). Counting
 * invocations (retries and Map iterations included) is the mock's job. */
typedef bool (*ms_mock_fn)(void *ud, const char *state_name, json_t *input,
                           json_t **result, fault_t *f);

typedef struct ms_run_options {
  const char *name;        /* execution name; NULL: a generated uuid */
  bool express;            /* EXPRESS (default STANDARD) */
  const char *machine_name;/* state machine name for ARNs; NULL: "moonstep" */
  char **failed_state;     /* out, when not NULL: the state an uncaught
                              failure came from (malloc'd), or NULL */
  ms_mock_fn mock;         /* NULL: every Task runs its Resource */
  void *mock_ud;           /* passed to mock */
  json_t **history;        /* out, when not NULL: the execution's events
                              (GetExecutionHistory's "events" array, new
                              reference); [] for EXPRESS, as AWS keeps no
                              history of those */
  const volatile sig_atomic_t *interrupt;  /* when set (by a SIGINT or
                              SIGTERM handler): the execution ends
                              ABORTED at its next transition */
  void *log;               /* FILE *: each history event as one JSON line
                              as it happens (STANDARD runs) */
  int64_t max_events;      /* history limit; 0: AWS's 25,000 */
  bool commit_each;        /* recorded runs: commit every transition
                              (default: group side-effect-free ones) */
} ms_run_options_t;

/* Run an execution to the end. Returns a DescribeExecution-shaped object:
 * executionArn, stateMachineArn, name, status, startDate, stopDate, input,
 * output (JSON value) or error/cause. With a store (db_path), a STANDARD
 * execution is recorded as it runs (EXPRESS ones are not); NULL then when
 * it could not be (a name already used, a database failure), with
 * ms_engine_error saying why. */
json_t *ms_run(ms_engine_t *e, ms_machine_t *m, json_t *input,
               const ms_run_options_t *o);
/* Finish a recorded RUNNING execution whose process died (crash,
 * kill -9): rebuilt from its last checkpoint, completed states, branches
 * and iterations are not run again, the Task in flight is; the recorded
 * definition and input are used. o: as for ms_run (name, machine_name,
 * express are taken from the record). Returns as ms_run; NULL when it
 * cannot be resumed (unknown id: *missing; not RUNNING; its owner still
 * runs), with ms_engine_error saying why. */
json_t *ms_resume(ms_engine_t *e, const char *id, const ms_run_options_t *o,
                  bool *missing);
/* RedriveExecution: a FAILED, TIMED_OUT or ABORTED execution goes on
 * from where it stopped, with the same input and definition: states,
 * branches and Map iterations that succeeded are not run again;
 * $$.Execution.RedriveCount counts; ExecutionRedriven is recorded.
 * Returns as ms_resume (AWS's error name in ms_engine_error, e.g.
 * ExecutionNotRedrivable). */
json_t *ms_redrive(ms_engine_t *e, const char *id, const ms_run_options_t *o,
                   bool *missing);
/* A new execution of id's recorded definition starting at its top-level
 * state `state`, with input, or (NULL) the input that state last had in
 * id's history. Returns as ms_run. */
json_t *ms_rerun(ms_engine_t *e, const char *id, const char *state,
                 json_t *input, const ms_run_options_t *o, bool *missing);
/* StopExecution: abort a RUNNING execution with error and cause (either
 * may be NULL). One whose process died is aborted at once; one a live
 * process runs gets a stop request (*running true) that the process
 * reads at its next commit. -1 with ms_engine_error set on failure. */
int ms_stop(ms_engine_t *e, const char *id, const char *error,
            const char *cause, bool *missing, bool *running);
/* PRAGMA integrity_check of the database: "ok" when it is intact
 * (malloc'd), or NULL with ms_engine_error set. */
char *ms_db_check(ms_engine_t *e);
/* Forget the loaded Task handler module of function name (NULL: all), so
 * its next call reads its files again at once (no 0.1 s wait). */
void ms_engine_reload(ms_engine_t *e, const char *name);
/* Why the last ms_run or ms_execution_* call returned NULL. */
const char *ms_engine_error(const ms_engine_t *e);

/* Recorded executions (needs db_path). id is an execution's ARN or name.
 * NULL with ms_engine_error set on failure; *missing (may be NULL) tells
 * an unknown id from a database failure. */
/* DescribeExecution-shaped, as ms_run returns it. */
json_t *ms_execution_describe(ms_engine_t *e, const char *id,
                              bool *missing);
/* GetExecutionHistory-shaped: {"events": [...]}, oldest first unless
 * reverse. */
json_t *ms_execution_history(ms_engine_t *e, const char *id, bool reverse,
                             bool *missing);
/* ListExecutions-shaped: {"executions": [{executionArn, stateMachineArn,
 * name, status, startDate, stopDate}]}, newest first; status and machine
 * (the state machine's name) filter when not NULL. */
json_t *ms_executions_list(ms_engine_t *e, const char *status,
                           const char *machine);

/* Complete a waiting .waitForTaskToken Task from anywhere (needs
 * db_path, the database the run records in): SendTaskSuccess with output,
 * SendTaskFailure with error and cause (either may be NULL), or
 * SendTaskHeartbeat. Returns 0, or -1 with ms_engine_error set and *code
 * AWS's error name ("InvalidToken", "TaskDoesNotExist", "TaskTimedOut";
 * NULL for a database failure). */
typedef enum {
  MS_TOKEN_SUCCESS, MS_TOKEN_FAILURE, MS_TOKEN_HEARTBEAT
} ms_token_op_t;
int ms_task_send(ms_engine_t *e, ms_token_op_t op, const char *token,
                 json_t *output, const char *error, const char *cause,
                 const char **code);

/* Mocked Tasks for workflow tests (mock.c): AWS Step Functions Local's
 * mock configuration file, fixed responses and callbacks. Run with
 * .mock = ms_mocks_answer and .mock_ud = the ms_mocks_t; it counts the
 * invocations of one execution (one counter per state, retries and Map
 * iterations included), so use a new one for each run. */
typedef struct mock ms_mocks_t;
/* A state mocked by code; n is the state's 0-based invocation count.
 * Returns the result (new reference) or NULL with f set. */
typedef json_t *(*ms_mock_call_fn)(void *ud, const char *state,
                                   json_t *input, int n, fault_t *f);
ms_mocks_t *ms_mocks_new(void);
void ms_mocks_free(ms_mocks_t *k);
/* Take test case test_case of machine_name from a mock configuration
 * file's text. false with *err (malloc'd) when it is not valid or does
 * not have them. */
bool ms_mocks_load(ms_mocks_t *k, const char *text, size_t len,
                   const char *machine_name, const char *test_case,
                   char **err);
/* Answer every invocation of state with {"Return": v} or {"Throw":
 * {"Error", "Cause"}}; false with *err for another shape. */
bool ms_mocks_set(ms_mocks_t *k, const char *state, json_t *response,
                  char **err);
void ms_mocks_set_call(ms_mocks_t *k, const char *state, ms_mock_call_fn fn,
                       void *ud);
/* false with *err when a mocked state is missing from m or not a Task. */
bool ms_mocks_check(const ms_mocks_t *k, const ms_machine_t *m, char **err);
bool ms_mocks_answer(void *ud, const char *state, json_t *input,
                     json_t **result, fault_t *f);  /* an ms_mock_fn */

/* Invoke one Task handler by function name (or ARN) with event, as `sam
 * local invoke` does (the function's tasks/NAME.json applies). Returns the
 * result, or NULL with *error = Lambda's error object {errorMessage,
 * errorType, ...}. Both new references. */
json_t *ms_invoke(ms_engine_t *e, const char *function, json_t *event,
                  json_t **error);

/* Evaluate a JSONPath or intrinsic expression as a ".$" field would.
 * field names that field in the cause of a missing path ("v.$",
 * "ErrorPath"; NULL: not named). input, context and vars may be NULL
 * (input then is {}). New reference or NULL with f set; an expression that
 * does not compile is States.Runtime with the compiler's message. */
json_t *ms_eval(const char *expr, const char *field, json_t *input,
                json_t *context, json_t *vars, fault_t *f);

/* Compile a payload template and evaluate it once, as a state would:
 * Parameters-like (problems reported under "/Parameters") or, when assign
 * is true, an Assign object (under "/Assign", with the variable-name
 * checks). input, context and vars may be NULL (input then is {}).
 * Returns a new reference that may share subtrees with tpl and the scope
 * (treat it as immutable, or json_deep_copy it); NULL with the compile
 * problems in d (line and column 0) or, if it compiled, with the
 * evaluation fault in f. */
json_t *ms_template(json_t *tpl, bool assign, json_t *input,
                    json_t *context, json_t *vars, diags_t *d, fault_t *f);

/* Compile a JSONPath and describe it: {"text", "normalized" ($['a'][0]
 * form), "reference" (selects at most one node), "root" ("input",
 * "context" or "variable")}. New reference, or NULL with *err (malloc'd)
 * holding the syntax error. */
json_t *ms_path(const char *text, char **err);

/* Where the value at JSON pointer ptr starts in the JSON text (1-based
 * line, column in characters); an object member is located at its key and
 * a missing pointer at its deepest existing ancestor. The scan is lenient
 * (the text is not validated): false only when it breaks off before the
 * position is found. */
bool ms_locate(const char *text, size_t len, const char *ptr, int *line,
               int *col);

#endif
