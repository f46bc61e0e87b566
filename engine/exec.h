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
  bool checkpoint;     /* track changes for exec_checkpoint */
  int64_t max_events;  /* history limit; 0: AWS's MS_HISTORY_MAX */
  int64_t redrive_count;  /* $$.Execution.RedriveCount */
  /* Inspection (TestState, teststate.c): inspect sees each step of a
   * state's data flow, field being "afterInputPath", "afterParameters",
   * "result", "afterResultSelector", "afterResultPath", "error" (the
   * error output {Error, Cause} a state failed with, before Retry and
   * Catch), "output" and "variables" (as the state is left); value
   * borrowed. NULL: none. */
  void (*inspect)(void *ud, const char *state, const char *field,
                  const json_t *value);
  void *inspect_ud;
  /* A Distributed Map's child execution failed (its events are its own,
   * not in this history): note is {"state", "index", "name", "error",
   * "cause"} (borrowed; exec_kids.c). NULL: none (run --log prints it). */
  void (*on_child_failed)(void *ud, const json_t *note);
  void *child_ud;
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

/* ---- checkpoints (resume after a crash; see durable.c) ----
 * With opts.checkpoint, the execution tracks what changed between two
 * calls of exec_checkpoint, which hands it to a sink between transitions:
 * the execution's own state (exec), frames changed (frame: its state;
 * data, its input and effective input, and items, its Map items, when
 * they changed, else NULL), frames gone (gone) and
 * the Parallel/Map results set (result: value, or NULL when all the
 * frame's results were cleared). All json_t * are borrowed. A sink
 * returns 0, or -1 to stop (exec_checkpoint returns -1 then). */
typedef struct exec_sink {
  int (*exec)(void *ud, const json_t *state);
  int (*frame)(void *ud, int64_t fid, const json_t *state,
               const json_t *data, const json_t *items);
  int (*gone)(void *ud, int64_t fid);
  int (*result)(void *ud, int64_t fid, int64_t slot, const json_t *value);
  void *ud;
} exec_sink_t;
int exec_checkpoint(exec_t *x, const exec_sink_t *k);

/* Rebuild an execution of m (borrowed, outlives it) from what
 * exec_checkpoint wrote: ck = {"exec": state, "frames": [[fid, state,
 * items|null, data|null], ...] by fid (data's members go into state),
 * "results": [[fid, slot, value], ...]}; input is the execution's input. No event is emitted: the history goes on
 * from the recorded count. NULL with *why (malloc'd) when ck does not fit
 * m. */
exec_t *exec_restore(const machine_t *m, json_t *input, const json_t *ck,
                     const exec_opts_t *o, char **why);

/* Redrive. An execution that ended unsuccessfully hands the sink the
 * frames a redrive starts from (and its state), after its last
 * checkpoint; exec_redrive rebuilds it from them as exec_restore does,
 * records ExecutionRedriven (o->redrive_count: the new count) and goes on
 * from the states that failed or were aborted: children that succeeded
 * keep their results. */
int exec_redrive_rows(exec_t *x, const exec_sink_t *k);
exec_t *exec_redrive(const machine_t *m, json_t *input, const json_t *ck,
                     const exec_opts_t *o, char **why);

/* Abort a running execution (StopExecution, Ctrl-C): the states in
 * progress record their ...StateAborted / MapIterationAborted events,
 * then ExecutionAborted with error and cause (either may be NULL). */
void exec_abort(exec_t *x, const char *error, const char *cause);

/* True when the next transition may reach outside the execution (a Task
 * call, a token handed out) or the execution is about to wait for time
 * or the outside world: a group of side-effect-free transitions should
 * be committed before it. */
bool exec_next_effect(const exec_t *x);
/* On the real clock with nothing to run until a timer: when (epoch
 * seconds) the next one is due; else 0. A driver may nap in slices until
 * then to watch for stop requests. */
double exec_idle_until(const exec_t *x);
/* Events emitted so far (the last event id). */
int64_t exec_event_count(const exec_t *x);

#endif
