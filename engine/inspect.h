/* inspect.h - inspection and control of a live execution, for the REPL's
 * debugger (ldebug.c, lua/moonstep/debug.lua): the frames it has (the top
 * level, Parallel branches, Map iterations) with their state, stage and
 * input; a frame's context object and visible variables; the input of a
 * frame about to enter a state, read and replaced; jumping a frame to a
 * state; retrying the state a frame last entered; redriving an execution
 * that failed, in memory; and every history event as it happens.
 *
 * A frame is named by its path: the states it sits under, each with the
 * iteration or branch index, then its own state, e.g. "Process[3]/Inner"
 * for Map "Process"'s iteration 3 at state "Inner". A path without the
 * last state ("Process[3]") names the frame too; NULL or "" names the
 * frame that runs next (else the top level).
 */
#ifndef MS_INSPECT_H
#define MS_INSPECT_H

#include "exec.h"
#include "moonstep.h"

typedef struct inspect inspect_t;

/* Start an execution of m (borrowed; outlives the inspector) with input
 * (borrowed), paused before its first state. o is copied; its on_event,
 * on_step, hook_ud, stream_events and checkpoint are the inspector's. */
inspect_t *inspect_new(const machine_t *m, json_t *input,
                       const exec_opts_t *o);
void inspect_free(inspect_t *s);
exec_t *inspect_exec(inspect_t *s);  /* the execution (changes on redrive) */

/* Run one transition (exec_step). False once the execution has ended. */
bool inspect_step(inspect_t *s);
/* Every history event so far, redrives included (borrowed array). */
json_t *inspect_events_peek(const inspect_t *s);

/* The frames, top level first, each {"path", "state", "stage" (enter,
 * wait, retry, children, children_done, fail, token, task), "status"
 * (ready, sleeping, waiting), "input", "next" (true for the frame that
 * runs next)}. [] once the execution ended. New reference. */
json_t *inspect_frames(const inspect_t *s);
/* The frame that runs next as inspect_frames shows it, or NULL when
 * none is ready (frames sleep or wait; the execution ended). New
 * reference. */
json_t *inspect_next(const inspect_t *s);
/* The frame at path as inspect_frames shows it plus "context" and
 * "vars" (the variables it sees, inner scopes first); NULL with *why
 * (malloc'd) when there is none. New reference. */
json_t *inspect_frame(const inspect_t *s, const char *path, char **why);

/* Replace the input of the frame at path, which must be about to enter a
 * state (v borrowed). 0, or -1 with *why (malloc'd). */
int inspect_set_input(inspect_t *s, const char *path, json_t *v,
                      char **why);
/* Make the frame at path enter state (a name in its own machine) next,
 * with its current input. 0, or -1 with *why. */
int inspect_jump(inspect_t *s, const char *path, const char *state,
                 char **why);
/* Run again the state the frame at path last entered, with the input it
 * had then; once the execution ended unsuccessfully, redrive it (in
 * memory: the states that failed run again). 0, or -1 with *why. */
int inspect_retry(inspect_t *s, const char *path, char **why);
/* Redrive an execution that ended unsuccessfully (in memory, as
 * RedriveExecution would). 0, or -1 with *why. */
int inspect_redrive(inspect_t *s, char **why);

/* Defined in api.c (they need the engine's insides): the execution
 * options ms_run would use with e and o, and the compiled machine of m. */
void ms_exec_opts(ms_engine_t *e, const ms_run_options_t *o,
                  exec_opts_t *xo);
const machine_t *ms_machine_peek(const ms_machine_t *m);

#endif
