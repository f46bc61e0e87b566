/* moonstep.h - the public C API: load a definition, run executions, read
 * their results. The CLI, the REPL and the Lua module include only this.
 *
 * Ownership follows base.h: json_t * arguments are borrowed, returned
 * json_t * are new references.
 */
#ifndef MOONSTEP_H
#define MOONSTEP_H

#include "base.h"
#include "jsonx.h"

#define MS_VERSION "0.1.0"

typedef struct ms_engine ms_engine_t;
typedef struct ms_machine ms_machine_t;

typedef struct ms_options {
  const char *tasks_dir;   /* default "tasks" */
  bool virtual_clock;      /* Wait and retry delays complete at once */
} ms_options_t;

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
  ms_mock_fn mock;         /* NULL: every Task runs its Resource */
  void *mock_ud;           /* passed to mock */
} ms_run_options_t;

/* Run an execution to the end. Returns a DescribeExecution-shaped object:
 * executionArn, stateMachineArn, name, status, startDate, stopDate, input,
 * output (JSON value) or error/cause. */
json_t *ms_run(ms_engine_t *e, ms_machine_t *m, json_t *input,
               const ms_run_options_t *o);

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
