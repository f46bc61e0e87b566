/* exec_int.h - the insides of an execution, shared by the files that
 * implement it (exec.c and its companions) and by nothing else: the frame
 * tree, the stages a frame moves through, and the execution's own fields.
 * Everything outside the interpreter uses exec.h.
 */
#ifndef MS_EXEC_INT_H
#define MS_EXEC_INT_H

#include "exec.h"
#include "history.h"
#include "sched.h"

typedef enum {
  AT_ENTER,          /* enter the current state */
  AT_WAIT_DONE,      /* a Wait state's timer fired */
  AT_RETRY,          /* a retry backoff elapsed: do the state's work again */
  AT_CHILDREN,       /* waiting for branches or iterations */
  AT_CHILDREN_DONE,  /* every child finished, or one failed */
  AT_FAIL,           /* fail at once with the pending fault (a child whose
                        ItemSelector failed, queued to keep stacks flat) */
  AT_TOKEN,          /* a .waitForTaskToken Task waits for its token: out
                        of the scheduler, on the execution's waiting list */
  AT_TASK,           /* a Task's call waits on the network (task_start):
                        out of the scheduler until its pending wakes */
} stage_t;

typedef struct frame frame_t;
typedef struct mapsrc mapsrc_t;  /* a Map's item source (exec_kids.c) */
struct frame {
  sched_item_t item;      /* first: the scheduler's links (see frame_of) */
  exec_t *x;
  const machine_t *m;
  frame_t *parent;        /* NULL for the top level */
  size_t slot;            /* index among the parent's children */
  int cur;                /* current state */
  stage_t stage;
  json_t *input;          /* raw input of the current state (owned) */
  json_t *effective;      /* input after InputPath (+Parameters) (owned) */
  json_t *vars;           /* this scope's variables (owned; NULL if none) */
  json_t *ctx;            /* the context object $$ (owned) */
  json_t *ctx_state;      /* ctx's "State" member (borrowed from ctx) */
  int64_t entered_id;     /* id of the current state's Entered event */
  int64_t last_id;        /* last event this frame emitted */
  int retry_count;        /* $$.State.RetryCount */
  int *attempts;          /* per-retrier attempts in the current state */
  size_t nattempts;

  fault_t pending;        /* AT_FAIL: the fault to fail with */

  /* AT_TOKEN: the token this frame waits for and its deadlines (on the
   * execution's clock; INFINITY = none) */
  char *token;
  double hb_seconds;      /* HeartbeatSeconds (0 = none) */
  double hb_deadline, to_deadline;
  int64_t beats;          /* heartbeats seen */
  frame_t *wprev, *wnext; /* the waiting list */
  task_pending_t *pend;   /* AT_TASK: the suspended call */

  /* A Distributed Map iteration is a child execution with a history of its
   * own: its events do not go into (or count against) the parent's. */
  frame_t *own;           /* the iteration that numbers this frame's events,
                             NULL for the execution's own history */
  int64_t events;         /* on an iteration root: events it numbered */

  /* Parallel branches or Map iterations of the current state */
  frame_t **kids;         /* by slot; NULL once finished */
  size_t total, started, finished, running, failures;
  size_t max_running;     /* 0 = unlimited */
  json_t *items;          /* Map: iteration inputs (owned) */
  json_t *results;        /* outputs by slot (owned) */
  fault_t child_fault;    /* the failure that ends the state */
  bool tolerate;          /* Map: tolerated failure thresholds apply */
  bool object_items;      /* Map over an object: items are {Key, Value} */
  double tol_pct;         /* tolerated percentage (100 = all) */
  int64_t tol_count;      /* tolerated count (-1 = not set) */
  mapsrc_t *src;          /* Map: the ItemReader still being read (owned;
                             NULL once read to its end) */
  struct rwriter *rw;     /* Map: its ResultWriter's export, written as
                             iterations end (owned; exec_kids.c) */

  /* checkpoints (resume.c reads them through exec_checkpoint) */
  int64_t fid;            /* frame id, unique in the execution */
  uint64_t rseq;          /* when it was last made ready (queue order) */
  bool dirty;             /* changed since the last checkpoint */
  bool items_dirty;       /* items changed since the last checkpoint */
  frame_t *dprev, *dnext; /* the execution's list of dirty frames */
  json_t *ck_in, *ck_eff; /* input and effective the last checkpoint
                             wrote (references): unchanged ones are not
                             written again (a Map's input may be big) */
};

struct exec {
  const machine_t *m;
  task_host_t *tasks;
  bool (*mock)(void *, const char *, json_t *, json_t **, fault_t *);
  void *mock_ud;
  bool express;
  bool no_aws_limits;          /* see exec_opts_t */
  char *name, *arn, *machine_arn;
  json_t *input;
  json_t *output;              /* when SUCCEEDED */
  fault_t fault;               /* when FAILED / TIMED_OUT */
  exec_status_t status;
  double start, stop;
  double deadline;             /* machine TimeoutSeconds (0 = none) */
  frame_t *top;
  sched_t sched;               /* run queue, timers, clock */
  history_t hist;
  uint64_t rng;
  json_t *ctx_execution;       /* shared "Execution" context member */
  json_t *ctx_machine;         /* shared "StateMachine" context member */
  int64_t time_ms;             /* the millisecond time_text spells */
  json_t *time_text;           /* cached timestamp string (hot path) */
  void (*on_step)(void *ud, const exec_t *x);  /* after each transition */
  char *failed_state;          /* where an uncaught failure came from */
  void *hook_ud;
  /* task tokens (see exec_opts_t) */
  bool (*token_open)(void *, const char *, char **);
  int (*token_poll)(void *, const char *, int64_t *, json_t **, fault_t *);
  void (*token_close)(void *, const char *);
  frame_t *waiting;            /* frames in AT_TOKEN */
  size_t nparked;              /* frames in AT_TASK */
  double net_at;               /* wall clock time the network was polled */
  double next_poll;            /* wall clock time of the next look */
  /* checkpoints (see exec_checkpoint) */
  bool ckpt;                   /* keep track of what changed */
  frame_t *dirty;              /* frames changed since the last one */
  int64_t next_fid;            /* the last frame id handed out */
  uint64_t rseq;               /* ready-queue sequence */
  json_t *ck_gone;             /* frame ids freed since the last one */
  json_t *ck_results;          /* [fid, slot, value] / [fid] (cleared) */
  int64_t max_events;          /* history limit (0: none) */
  int64_t redrive_count;       /* $$.Execution.RedriveCount */
  json_t *assigned;            /* variables the state being left assigned */
  void (*inspect)(void *, const char *, const char *, const json_t *);
  void *inspect_ud;            /* see exec_opts_t */
  void (*on_child_failed)(void *, const json_t *);
  void *child_ud;              /* see exec_opts_t */
  json_t *redrive;             /* fid -> [frame, items]: where a redrive
                                  starts again (see exec_redrive_rows) */
};

/* ---- shared between the interpreter's files ----------------------- */

/* exec.c */
double exec_now(const exec_t *x);
uint64_t exec_seed(void);
json_t *exec_time_string(double ts);
void exec_touch(frame_t *f);
void exec_untouch(frame_t *f);
void exec_make_ready(frame_t *f);
void exec_unqueue(frame_t *f);
void exec_ck_result(frame_t *f, size_t slot);
void exec_token_wait(frame_t *f, char *token);
frame_t *exec_frame_new(exec_t *x, const machine_t *m, frame_t *parent,
                        size_t slot, json_t *input);
void exec_frame_free(frame_t *f);
json_t *exec_context_new(exec_t *x);
void exec_kids_cancel(frame_t *f);
void exec_kids_reset(frame_t *f);
json_t *exec_var_lookup(const void *ud, const char *name);
jscope_t exec_scope_of(const frame_t *f, json_t *input);
bool exec_keeps(const frame_t *f);
int64_t exec_emit(frame_t *f, const char *type, const char *key,
                  json_t *details);
void exec_cause_in_state(const frame_t *f, fault_t *e);
void exec_fail_now(frame_t *f, fault_t *e);
void exec_forget_failure(exec_t *x);
json_t *exec_error_output(const fault_t *e);
void exec_state_result(frame_t *f, json_t *result);
bool exec_prepare_input(frame_t *f, bool parameters, fault_t *e);
bool exec_num_value(const frame_t *f, const num_field_t *n, double *out,
                    json_t **found);
bool exec_is_integral(double d);
char *exec_value_text(const json_t *v);
void exec_end(exec_t *x, exec_status_t status, json_t *output,
              fault_t *e);

/* exec_kids.c */
void exec_run_parallel(frame_t *f);
void exec_run_map(frame_t *f);
void exec_kid_start(frame_t *f, size_t i);
void exec_kid_done(frame_t *f, size_t slot, json_t *output, fault_t *e);
void exec_children_done(frame_t *f);
void exec_map_fill(frame_t *f);
void exec_map_close(frame_t *f);
bool exec_map_reopen(frame_t *f, fault_t *e);

/* exec_jsonata.c: JSONata states. Each returns false (or NULL, or -2)
 * with e set (States.QueryEvaluationError) on failure; out, assigned
 * and the returned values are new references. */
json_t *exec_js_bindings(const frame_t *f, json_t *input, json_t *ctx,
                         json_t *result, json_t *error_output);
bool exec_js_result(frame_t *f, json_t *result, json_t **out,
                    json_t **assigned, fault_t *e);
bool exec_js_pass_on(frame_t *f, const choice_branch_t *rule, json_t **out,
                     json_t **assigned, fault_t *e);
bool exec_js_catch(frame_t *f, const catcher_t *ct, json_t *eo,
                   json_t **out, json_t **assigned, fault_t *e);
bool exec_js_arguments(frame_t *f, fault_t *e);
int exec_js_choose(frame_t *f, fault_t *e);  /* rule index, -1 none */
bool exec_js_task_seconds(frame_t *f, double *timeout, double *heartbeat,
                          fault_t *e);
bool exec_js_wait_until(frame_t *f, double now, double *until, fault_t *e);
bool exec_js_fail(frame_t *f, char **error, char **cause, fault_t *e);
json_t *exec_js_map_items(frame_t *f, double *conc, fault_t *e);
/* (with an ItemReader: JSON null; exec_kids.c reads the items) */
/* (emits EvaluationFailed itself when it fails) */
json_t *exec_js_item_selector(frame_t *f, json_t *ctx, fault_t *e);
/* Emit the EvaluationFailed event of e (a States.QueryEvaluationError of
 * f's current JSONata state, its cause not yet prefixed). */
void exec_js_evaluation_failed(frame_t *f, const fault_t *e);

/* exec_checkpoint.c */
void exec_rd_forget(exec_t *x);
void exec_rd_keep(frame_t *f);
void exec_rd_tree(frame_t *f);

#endif
