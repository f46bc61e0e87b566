/* durable.h - driving a STANDARD execution that is recorded in the store:
 * events, group commits with checkpoints, the owner's lease, stop
 * requests, and rebuilding an execution from its checkpoint (resume,
 * stop of an orphan, redrive). The reasoning is at the top of durable.c.
 */
#ifndef MS_DURABLE_H
#define MS_DURABLE_H

#include <signal.h>
#include "exec.h"
#include "store.h"

typedef struct durable durable_t;

/* How a recorded execution is driven. */
typedef struct durable_ctl {
  const volatile sig_atomic_t *interrupt;  /* set (e.g. by SIGINT): abort */
  const char *interrupt_cause;  /* the ExecutionAborted cause then */
  bool group;                   /* group side-effect-free transitions */
  /* each event as it is emitted (e.g. --log), borrowed; may be NULL */
  void (*log)(void *ud, const json_t *event);
  void *log_ud;
} durable_ctl_t;

/* A recorder over store s (borrowed) with its control (copied). */
durable_t *durable_new(store_t *s, const durable_ctl_t *ctl);
void durable_free(durable_t *d);
/* Why the last call failed. */
const char *durable_error(const durable_t *d);

/* Point xo's hooks (events, tokens, checkpoints) at d. */
void durable_hook(durable_t *d, exec_opts_t *xo);

/* Record a new execution x (made with durable_hook's options): its row,
 * the events so far, this process as its owner, the first checkpoint.
 * machine: the state machine's name; definition: its text. *dup: the
 * name is taken. -1 on failure. */
int durable_begin(durable_t *d, exec_t *x, const char *machine,
                  const char *definition, bool *dup);

/* Load execution id for resume / stop / redrive: the store's row (see
 * store_exec_load), new reference, or NULL (*missing for an unknown id)
 * with durable_error set. */
json_t *durable_load(durable_t *d, const char *id, bool *missing);

/* Take a loaded RUNNING execution over: refuse when its owner still
 * runs, become the owner, drop events of a lost transition, close tokens
 * no frame waits for; then rebuild it over m (borrowed) with xo (see
 * durable_hook). NULL with durable_error set. */
exec_t *durable_attach(durable_t *d, const json_t *row, const machine_t *m,
                       json_t *input, const exec_opts_t *xo);

/* Redrive a loaded FAILED, TIMED_OUT or ABORTED execution (AWS's
 * RedriveExecution): RUNNING again with its redrive count and date,
 * owned by this process, rebuilt over m from the frames its end kept;
 * xo->redrive_count is set. NULL with durable_error set (AWS's error
 * name in parentheses). */
exec_t *durable_redrive(durable_t *d, const json_t *row, const machine_t *m,
                        json_t *input, exec_opts_t *xo);

/* Drive x to its end: group commits with checkpoints, stop requests and
 * the interrupt flag; then record its end. -1 on a store failure (the
 * execution stays RUNNING in the store). */
int durable_drive(durable_t *d, exec_t *x);

#endif
