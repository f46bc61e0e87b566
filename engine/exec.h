/* exec.h - executions: a tree of frames (the top level, each Parallel
 * branch, each Map iteration) stepped by one cooperative scheduler with
 * timers; the I/O pipeline of each state, Retry/Catch, variables, the
 * context object and AWS-shaped history events.
 *
 * An execution is driven one transition at a time (exec_step) so the REPL
 * can step it; exec_run drives it to the end.
 */
#ifndef MS_EXEC_H
#define MS_EXEC_H

#include "machine.h"
#include "task.h"

typedef struct exec exec_t;

typedef enum {
  EXEC_RUNNING, EXEC_SUCCEEDED, EXEC_FAILED, EXEC_TIMED_OUT, EXEC_ABORTED
} exec_status_t;

typedef struct exec_opts {
  task_host_t *tasks;        /* borrowed; runs Task states */
  bool virtual_clock;        /* sleeps complete at once, time still moves */
  bool no_aws_limits;        /* no payload or history limit */
  bool express;              /* EXPRESS: history counted, not kept */
  const char *name;          /* execution name; NULL: a uuid */
  const char *machine_name;  /* for ARNs; NULL: "moonstep" */
  /* Mocked Tasks (see ms_mock_fn in moonstep.h): true when mocked, with
   * *result (new reference) or f set. NULL: no mocks. */
  bool (*mock)(void *ud, const char *state_name, json_t *input,
               json_t **result, fault_t *f);
  void *mock_ud;
  /* Observers (any may be NULL), e.g. the durable store: on_event sees
   * each history event as it is appended (STANDARD only; borrowed);
   * on_step runs after every transition, a natural commit point. */
  void (*on_event)(void *ud, const json_t *event);
  void (*on_step)(void *ud, const exec_t *x);
  void *hook_ud;
  /* Task tokens (.waitForTaskToken), e.g. through the durable store; all
   * NULL: such a Task fails with States.Runtime. token_open records a
   * new token before the resource runs (false with *why, malloc'd);
   * token_poll reads it, about every EXEC_TOKEN_POLL_S of real time while
   * a frame waits, and returns EXEC_TOKEN_WAITING (*beats: heartbeats so
   * far), EXEC_TOKEN_SUCCEEDED (*output, new reference), EXEC_TOKEN_FAILED
   * (f: the Error/Cause sent) or EXEC_TOKEN_ERROR (f: why); token_close:
   * the execution stopped waiting for it (a timeout, a cancelled branch,
   * the end). */
  bool (*token_open)(void *ud, const char *token, char **why);
  int (*token_poll)(void *ud, const char *token, int64_t *beats,
                    json_t **output, fault_t *f);
  void (*token_close)(void *ud, const char *token);
  bool stream_events;  /* with on_event: events go there only, none are
                        * kept (exec_history_peek stays empty) */
} exec_opts_t;

enum {
  EXEC_TOKEN_ERROR = -1, EXEC_TOKEN_WAITING, EXEC_TOKEN_SUCCEEDED,
  EXEC_TOKEN_FAILED
};
#define EXEC_TOKEN_POLL_S 0.05  /* seconds between looks at a token */

/* Start an execution of m (borrowed; must outlive the execution) with input
 * (borrowed). Emits ExecutionStarted. */
exec_t *exec_new(const machine_t *m, json_t *input, const exec_opts_t *o);
void exec_free(exec_t *x);

/* Run one frame one transition (or sleep until a timer is due). Returns
 * false once the execution has ended. */
bool exec_step(exec_t *x);
/* Step to the end; returns the final status. */
exec_status_t exec_run(exec_t *x);

exec_status_t exec_status(const exec_t *x);
const char *exec_status_name(exec_status_t s);
/* DescribeExecution-shaped object (new reference). */
json_t *exec_describe(const exec_t *x);
/* The state an uncaught failure came from (the innermost one, e.g. a
 * state inside a Map iteration), or NULL. Borrowed. */
const char *exec_failed_state(const exec_t *x);
/* History events so far (borrowed array; empty for EXPRESS). */
json_t *exec_history_peek(const exec_t *x);

#endif
