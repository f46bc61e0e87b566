/* exec.c - executions: frames, the per-state I/O pipeline, Retry/Catch,
 * variables, the context object, and the cooperative scheduler that steps
 * them.
 *
 * An execution is a tree of frames: the top level, each Parallel branch and
 * each Map iteration. Ready frames wait in a FIFO run queue; frames in a
 * Wait state or a retry backoff sleep on a timer list. exec_step takes one
 * frame and runs it one transition; when nothing is ready it sleeps until
 * the next timer (or, with the virtual clock, moves time forward to it).
 *
 * Values flowing between states are shared jansson references and are never
 * mutated once built; ResultPath copies along its path (jpath_set). The
 * states themselves are compiled (machine.c), so nothing is parsed here.
 * JSONata states take the same path; where they differ (Arguments,
 * Output, Assign, Conditions, ...) exec_jsonata.c evaluates.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "exec_int.h"
#include "history.h"
#include "itemreader.h"
#include "resultwriter.h"
#include "retry.h"
#include "sched.h"


/* ---- clock and identity ------------------------------------------------ */

double exec_now(const exec_t *x) { return sched_now(&x->sched); }

static uint64_t rng_next(uint64_t *s) {
  uint64_t v = *s;
  v ^= v << 13;
  v ^= v >> 7;
  v ^= v << 17;
  return *s = v;
}

uint64_t exec_seed(void) {
  uint64_t s = 0;
  FILE *fp = fopen("/dev/urandom", "rb");
  if (fp) {
    if (fread(&s, sizeof s, 1, fp) != 1) s = 0;
    fclose(fp);
  }
  if (!s) s = (uint64_t)(sched_wall_now() * 1e6) ^ 0x9e3779b97f4a7c15ULL;
  return s ? s : 1;
}

static char *uuid4(uint64_t *rng) {
  uint64_t a = rng_next(rng), b = rng_next(rng);
  a = (a & ~0xf000ULL) | 0x4000ULL;
  b = (b & ~(3ULL << 62)) | (2ULL << 62);
  return ms_asprintf("%08x-%04x-%04x-%04x-%012llx",
                     (unsigned)(a >> 32), (unsigned)((a >> 16) & 0xffff),
                     (unsigned)(a & 0xffff), (unsigned)(b >> 48),
                     (unsigned long long)(b & 0xffffffffffffULL));
}

json_t *exec_time_string(double ts) {
  char buf[32];
  history_time(ts, buf);
  return json_string(buf);
}

/* ---- scheduling ------------------------------------------------------- */

static frame_t *frame_of(sched_item_t *it) { return (frame_t *)it; }

/* f changed since the last checkpoint (see exec_checkpoint). */
void exec_touch(frame_t *f) {
  exec_t *x = f->x;
  if (!x->ckpt || f->dirty) return;
  f->dirty = true;
  f->dprev = NULL;
  f->dnext = x->dirty;
  if (x->dirty) x->dirty->dprev = f;
  x->dirty = f;
}

void exec_untouch(frame_t *f) {
  if (!f->dirty) return;
  if (f->dprev) f->dprev->dnext = f->dnext; else f->x->dirty = f->dnext;
  if (f->dnext) f->dnext->dprev = f->dprev;
  f->dprev = f->dnext = NULL;
  f->dirty = false;
}


/* Slot of f's results was set: the checkpoint records it. */
void exec_ck_result(frame_t *f, size_t slot) {
  if (!f->x->ckpt) return;
  json_array_append_new(f->x->ck_results,
                        json_pack("[IIO]", (json_int_t)f->fid,
                                  (json_int_t)slot,
                                  json_array_get(f->results, slot)));
}

void exec_make_ready(frame_t *f) {
  exec_touch(f);
  f->rseq = ++f->x->rseq;
  sched_ready(&f->x->sched, &f->item);
}

static void sleep_until(frame_t *f, double when) {
  exec_touch(f);
  sched_sleep(&f->x->sched, &f->item, when);
}

void exec_unqueue(frame_t *f) { sched_remove(&f->x->sched, &f->item); }

/* ---- task tokens --------------------------------------------------------- */

/* A frame starts waiting for token (stolen, already opened). */
void exec_token_wait(frame_t *f, char *token) {
  exec_t *x = f->x;
  exec_unqueue(f);
  f->token = token;
  f->stage = AT_TOKEN;
  f->beats = 0;
  f->wprev = NULL;
  f->wnext = x->waiting;
  if (x->waiting) x->waiting->wprev = f;
  x->waiting = f;
  double soon = sched_wall_now() + EXEC_TOKEN_POLL_S;
  if (x->next_poll <= 0 || x->next_poll > soon) x->next_poll = soon;
}

/* f no longer waits (done, timed out or cancelled); the token is closed
 * unless it was completed (completed: the caller says so by clearing
 * f->token's status first, see token_done). */
static void token_unlink(frame_t *f) {
  exec_t *x = f->x;
  if (f->wprev) f->wprev->wnext = f->wnext; else x->waiting = f->wnext;
  if (f->wnext) f->wnext->wprev = f->wprev;
  f->wprev = f->wnext = NULL;
  free(f->token);
  f->token = NULL;
}

static void token_stop(frame_t *f) {
  if (!f->token) return;
  if (f->x->token_close) f->x->token_close(f->x->hook_ud, f->token);
  token_unlink(f);
}

/* Point $$.Task.Token at token, or drop $$.Task (token NULL); the
 * context is copied first when a value captured it. */
static void context_token(frame_t *f, const char *token) {
  if (f->ctx->refcount > 1) {
    json_t *ctx = json_copy(f->ctx);
    json_decref(f->ctx);
    f->ctx = ctx;
  }
  if (token)
    json_object_set_new(f->ctx, "Task", json_pack("{ss}", "Token", token));
  else
    json_object_del(f->ctx, "Task");
}

/* ---- frames -------------------------------------------------------------- */


void exec_kids_cancel(frame_t *f) {
  for (size_t i = 0; i < f->total && f->kids; i++) {
    if (f->kids[i]) {
      exec_frame_free(f->kids[i]);
      f->kids[i] = NULL;
    }
  }
}

/* Release the children bookkeeping of the current state. */
void exec_kids_reset(frame_t *f) {
  exec_kids_cancel(f);
  if (f->x->ckpt && f->results)
    json_array_append_new(f->x->ck_results,
                          json_pack("[I]", (json_int_t)f->fid));
  free(f->kids);
  f->kids = NULL;
  exec_map_close(f);
  json_decref(f->items);
  json_decref(f->results);
  f->items = f->results = NULL;
  f->total = f->started = f->finished = f->running = f->failures = 0;
  fault_clear(&f->child_fault);
  f->tolerate = f->object_items = false;
  f->tol_pct = 0;
  f->tol_count = -1;
}

static void token_stop(frame_t *f);

void exec_frame_free(frame_t *f) {
  if (!f) return;
  if (f->x->ckpt)
    json_array_append_new(f->x->ck_gone, json_integer(f->fid));
  exec_untouch(f);
  json_decref(f->ck_in);
  json_decref(f->ck_eff);
  token_stop(f);
  exec_unqueue(f);
  if (f->pend) {  /* abandon the call it waits on */
    task_pending_cancel(f->pend);
    f->pend = NULL;
    f->x->nparked--;
  }
  exec_kids_reset(f);
  json_decref(f->input);
  json_decref(f->effective);
  json_decref(f->vars);
  json_decref(f->ctx);
  fault_clear(&f->pending);
  free(f->attempts);
  free(f);
}

json_t *exec_context_new(exec_t *x) {
  json_t *ctx = json_object();
  json_object_set(ctx, "Execution", x->ctx_execution);
  json_object_set(ctx, "StateMachine", x->ctx_machine);
  return ctx;
}

frame_t *exec_frame_new(exec_t *x, const machine_t *m, frame_t *parent,
                          size_t slot, json_t *input) {
  frame_t *f = ms_calloc(1, sizeof *f);
  f->x = x;
  f->m = m;
  f->parent = parent;
  f->slot = slot;
  f->cur = m->start;
  f->stage = AT_ENTER;
  f->input = json_incref(input);
  f->ctx = exec_context_new(x);
  f->own = parent ? parent->own : NULL;
  f->last_id = parent ? parent->last_id : 0;
  f->fid = ++x->next_fid;
  f->items_dirty = true;
  exec_touch(f);
  return f;
}

/* Variables: this scope first, then the enclosing ones (read-only). */
json_t *exec_var_lookup(const void *ud, const char *name) {
  for (const frame_t *f = ud; f; f = f->parent) {
    if (f->vars) {
      json_t *v = json_object_get(f->vars, name);
      if (v) return v;
    }
  }
  return NULL;
}

jscope_t exec_scope_of(const frame_t *f, json_t *input) {
  jscope_t s = {input, f->ctx, exec_var_lookup, f};
  return s;
}

/* Show the inspect observer one step of the current state's data flow. */
static void seen(const frame_t *f, const char *field, const json_t *v) {
  if (f->x->inspect)
    f->x->inspect(f->x->inspect_ud, f->m->states[f->cur].name, field, v);
}

/* The timestamp string for when, shared while the millisecond lasts:
 * formatting a time is the costliest part of entering a state. */
static json_t *entered_time(exec_t *x, double when) {
  int64_t ms = (int64_t)floor(when * 1000.0);
  if (!x->time_text || ms != x->time_ms) {
    json_decref(x->time_text);
    x->time_text = exec_time_string(when);
    x->time_ms = ms;
  }
  return json_incref(x->time_text);
}

/* Point $$.State at the current state (copy-on-write: a value captured
 * earlier, e.g. by "ctx.$": "$$", keeps what it saw). */
static void context_enter(frame_t *f, double when) {
  if (f->ctx->refcount > 1) {
    json_t *ctx = json_copy(f->ctx);
    json_decref(f->ctx);
    f->ctx = ctx;
  } else if (f->ctx_state && f->ctx_state->refcount == 1) {
    /* nobody captured the last State object: update it in place */
    json_object_set_new(f->ctx_state, "EnteredTime",
                        entered_time(f->x, when));
    json_object_set_new(f->ctx_state, "Name",
                        json_string(f->m->states[f->cur].name));
    json_object_set_new(f->ctx_state, "RetryCount",
                        json_integer(f->retry_count));
    return;
  }
  json_t *st = json_object();
  json_object_set_new(st, "EnteredTime", entered_time(f->x, when));
  json_object_set_new(st, "Name", json_string(f->m->states[f->cur].name));
  json_object_set_new(st, "RetryCount", json_integer(f->retry_count));
  json_object_set_new(f->ctx, "State", st);
  f->ctx_state = st;
}

static void context_retry(frame_t *f) {
  if (f->ctx->refcount > 1 || f->ctx_state->refcount > 1) {
    json_t *ctx = json_copy(f->ctx);
    json_decref(f->ctx);
    f->ctx = ctx;
    json_t *st = json_copy(json_object_get(ctx, "State"));
    json_object_set_new(ctx, "State", st);
    f->ctx_state = st;
  }
  json_object_set_new(f->ctx_state, "RetryCount",
                      json_integer(f->retry_count));
}

/* ---- history ----------------------------------------------------------- */

/* History event types of each state type: [type][entered]. */
static const char *const state_event[][2] = {
  [ST_PASS] = {"PassStateExited", "PassStateEntered"},
  [ST_TASK] = {"TaskStateExited", "TaskStateEntered"},
  [ST_CHOICE] = {"ChoiceStateExited", "ChoiceStateEntered"},
  [ST_WAIT] = {"WaitStateExited", "WaitStateEntered"},
  [ST_SUCCEED] = {"SucceedStateExited", "SucceedStateEntered"},
  [ST_FAIL] = {"FailStateExited", "FailStateEntered"},
  [ST_PARALLEL] = {"ParallelStateExited", "ParallelStateEntered"},
  [ST_MAP] = {"MapStateExited", "MapStateEntered"},
};

static json_t *text_of(const json_t *v) {
  char *s = jsonx_dump(v, JSONX_COMPACT);
  json_t *j = json_string(s);
  free(s);
  return j;
}

/* Emit an event in f's chain; details is stolen. */
int64_t exec_emit(frame_t *f, const char *type, const char *key,
                    json_t *details) {
  exec_t *x = f->x;
  if (f->own) {
    json_decref(details);
    return f->last_id = ++f->own->events;
  }
  f->last_id = history_add(&x->hist, type, f->last_id, exec_now(x), key,
                           details);
  return f->last_id;
}

bool exec_keeps(const frame_t *f) {
  return !f->own && history_keeps(&f->x->hist);
}

static void emit_state(frame_t *f, bool entered, const json_t *data) {
  const mstate_t *st = &f->m->states[f->cur];
  json_t *d = NULL;
  if (exec_keeps(f)) {
    d = json_object();
    json_object_set_new(d, "name", json_string(st->name));
    json_object_set_new(d, entered ? "input" : "output", text_of(data));
    json_object_set_new(d, entered ? "inputDetails" : "outputDetails",
                        json_pack("{sb}", "truncated", 0));
    if (!entered && f->x->assigned) {
      /* AWS: name -> the value's JSON text */
      json_t *av = json_object();
      const char *k;
      json_t *v;
      json_object_foreach(f->x->assigned, k, v)
        json_object_set_new(av, k, text_of(v));
      json_object_set_new(d, "assignedVariables", av);
      json_object_set_new(d, "assignedVariablesDetails",
                          json_pack("{sb}", "truncated", 0));
    }
  }
  if (!entered) {
    json_decref(f->x->assigned);
    f->x->assigned = NULL;
  }
  int64_t id = exec_emit(f, state_event[st->type][entered],
                    entered ? "stateEnteredEventDetails"
                            : "stateExitedEventDetails", d);
  if (entered) f->entered_id = id;
}

static json_t *fault_details(const fault_t *e) {
  json_t *d = json_object();
  if (e->error && *e->error)
    json_object_set_new(d, "error", json_string(e->error));
  if (e->cause) json_object_set_new(d, "cause", json_string(e->cause));
  return d;
}

/* ---- the I/O pipeline ---------------------------------------------------- */

/* Apply an InputPath/OutputPath-style field. New reference or NULL + f. */
static json_t *apply_path(const frame_t *fr, const opt_path_t *p,
                          json_t *value, fault_t *f) {
  if (p->is_null) return json_object();
  if (!p->path) return json_incref(value);
  jscope_t s = exec_scope_of(fr, value);
  char *why = NULL;
  json_t *r = jpath_eval(p->path, &s, &why);
  if (!r) {
    fault_runtime(f, "Invalid path '%s' : %s", jpath_text(p->path),
                  why ? why : "No results");
    free(why);
  }
  return r;
}

/* ResultPath: combine raw input and result. New reference or NULL + f. */
static json_t *apply_result_path(const frame_t *fr, const opt_path_t *p,
                                 json_t *raw, json_t *result, fault_t *f) {
  (void)fr;
  if (p->is_null) return json_incref(raw);
  if (!p->path) return json_incref(result);
  json_t *root = json_incref(raw);
  char *why = NULL;
  if (jpath_set(p->path, &root, result, &why) != MS_OK) {
    fault_runtime(f, "Invalid path '%s' : %s", jpath_text(p->path),
                  why ? why : "cannot be set");
    free(why);
    json_decref(root);
    return NULL;
  }
  return root;
}

/* Evaluate an Assign template; the new values go to *out (new object). */
static bool eval_assign(const frame_t *fr, const tmpl_t *assign,
                        json_t *dollar, json_t **out, fault_t *f) {
  *out = NULL;
  if (!assign) return true;
  jscope_t s = exec_scope_of(fr, dollar);
  *out = tmpl_eval(assign, &s, f);
  return *out != NULL;
}

/* Merge assigned variables into the frame's scope and take ownership. */
static void commit_vars(frame_t *f, json_t *assigned) {
  if (!assigned) return;
  if (exec_keeps(f)) {
    /* the state's exit event lists them (assignedVariables) */
    json_decref(f->x->assigned);
    f->x->assigned = json_incref(assigned);
  }
  if (!f->vars) f->vars = json_object();
  json_object_update(f->vars, assigned);
  json_decref(assigned);
}

/* ---- transitions ------------------------------------------------------- */

static void frame_finish(frame_t *f, json_t *output, fault_t *fault);
static void state_fail(frame_t *f, fault_t *e);

/* Cut a Cause to AWS's length limit, at a UTF-8 character boundary. */
static void clip_cause(fault_t *e) {
  if (!e->cause || strlen(e->cause) <= MS_CAUSE_MAX) return;
  size_t n = MS_CAUSE_MAX;
  while (n > 0 && ((unsigned char)e->cause[n] & 0xc0) == 0x80) n--;
  e->cause[n] = '\0';
}

/* The innermost state an uncaught failure came from, for messages: the
 * first to fail wins as the failure travels outwards; a Catch forgets it. */
static void note_failure(exec_t *x, const mstate_t *st) {
  if (!x->failed_state) x->failed_state = ms_strdup(st->name);
}

void exec_forget_failure(exec_t *x) {
  free(x->failed_state);
  x->failed_state = NULL;
  exec_rd_forget(x);
}

/* An engine-raised fault names the state it happened in, as AWS words it. */
void exec_cause_in_state(const frame_t *f, fault_t *e) {
  clip_cause(e);
  if (!e->in_state) return;
  char *c = ms_asprintf("An error occurred while executing the state '%s' "
                        "(entered at the event id #%lld). %s",
                        f->m->states[f->cur].name, (long long)f->entered_id,
                        e->cause ? e->cause : "");
  free(e->cause);
  e->cause = c;
  e->in_state = false;
  clip_cause(e);
}

/* The current state failed with e: Retry, Catch or end; e is cleared. */
void exec_fail_now(frame_t *f, fault_t *e) {
  state_fail(f, e);
  fault_clear(e);
}

/* Leave the current state with output (stolen) and go to next (or end). */
static void transition(frame_t *f, json_t *output, int next, bool end) {
  seen(f, "output", output);
  if (f->vars) seen(f, "variables", f->vars);
  emit_state(f, false, output);
  free(f->attempts);
  f->attempts = NULL;
  f->nattempts = 0;
  f->retry_count = 0;
  json_decref(f->effective);
  f->effective = NULL;
  exec_kids_reset(f);
  if (end || next < 0) {
    frame_finish(f, output, NULL);
    return;
  }
  json_decref(f->input);
  f->input = output;
  f->cur = next;
  f->stage = AT_ENTER;
  exec_make_ready(f);
}

/* A state's output over the payload limit, or nested deeper than
 * MS_JSON_DEPTH (a guess: AWS documents no depth limit; such a value
 * could not be recorded and read back), ends the frame with
 * States.DataLimitExceeded, which no Retry or Catch takes. Returns false
 * (and releases out) when it did. */
static bool output_fits(frame_t *f, json_t *out) {
  if (f->x->no_aws_limits ? jsonx_depth_within(out, MS_JSON_DEPTH)
                          : jsonx_size_within(out, MS_PAYLOAD_MAX))
    return true;
  bool deep = !jsonx_depth_within(out, MS_JSON_DEPTH);
  json_decref(out);
  fault_t e = FAULT_INIT;
  if (deep)
    fault_set(&e, "States.DataLimitExceeded", "The state/task '%s' "
              "returned a result nested deeper than %d levels.",
              f->m->states[f->cur].name, MS_JSON_DEPTH);
  else
    fault_set(&e, "States.DataLimitExceeded", "The state/task '%s' "
              "returned a result with a size exceeding the maximum number "
              "of bytes service limit.", f->m->states[f->cur].name);
  note_failure(f->x, &f->m->states[f->cur]);
  frame_finish(f, NULL, &e);
  fault_clear(&e);
  return false;
}

/* Finish a state that produced result (stolen): ResultSelector, Assign,
 * ResultPath, OutputPath, then move on. Used by Pass, Task, Parallel and
 * Map. */
void exec_state_result(frame_t *f, json_t *result) {
  const mstate_t *st = &f->m->states[f->cur];
  fault_t e = FAULT_INIT;
  json_t *assigned = NULL, *combined = NULL, *out = NULL;
  seen(f, "result", result);
  if (st->js) {  /* exec_jsonata.c: Assign and Output */
    bool ok = exec_js_result(f, result, &out, &assigned, &e);
    json_decref(result);
    if (!ok) {
      exec_fail_now(f, &e);
      return;
    }
    goto done;
  }
  if (st->result_selector) {
    jscope_t s = exec_scope_of(f, result);
    json_t *sel = tmpl_eval(st->result_selector, &s, &e);
    if (!sel) goto fail;
    json_decref(result);
    result = sel;
  }
  seen(f, "afterResultSelector", result);
  if (!eval_assign(f, st->assign, result, &assigned, &e)) goto fail;
  combined = apply_result_path(f, &st->result_path, f->input, result, &e);
  if (!combined) goto fail;
  seen(f, "afterResultPath", combined);
  out = apply_path(f, &st->output_path, combined, &e);
  if (!out) goto fail;
  json_decref(combined);
  json_decref(result);
done:
  if (!output_fits(f, out)) {
    json_decref(assigned);
    return;
  }
  commit_vars(f, assigned);
  transition(f, out, st->next, st->end);
  return;
fail:
  json_decref(assigned);
  json_decref(combined);
  json_decref(result);
  exec_fail_now(f, &e);
}

/* Finish a state that passes its effective input on (Choice, Wait,
 * Succeed): Assign sees the effective input; OutputPath shapes it. The
 * state's Assign applies whichever way it goes; a matched Choice rule's
 * own Assign (rule_assign) is evaluated with it and wins on a clash. */
static void state_pass_on(frame_t *f, const choice_branch_t *branch,
                          int next, bool end) {
  const mstate_t *st = &f->m->states[f->cur];
  const tmpl_t *rule_assign = branch ? branch->assign : NULL;
  fault_t e = FAULT_INIT;
  json_t *assigned = NULL, *rule = NULL, *out = NULL;
  if (st->js) {  /* exec_jsonata.c: Assign and Output (the rule's too) */
    if (!exec_js_pass_on(f, branch, &out, &assigned, &e)) goto fail;
    goto done;
  }
  if (!eval_assign(f, st->assign, f->effective, &assigned, &e) ||
      !eval_assign(f, rule_assign, f->effective, &rule, &e))
    goto fail;
  if (rule && assigned) {
    /* tmpl_eval may hand back the template's own literal object: merge
     * into a copy, never into it */
    json_t *both = json_copy(assigned);
    json_decref(assigned);
    json_object_update(both, rule);
    json_decref(rule);
    assigned = both;
  } else if (rule) {
    assigned = rule;
  }
  rule = NULL;
  out = apply_path(f, &st->output_path, f->effective, &e);
  if (!out) goto fail;
done:
  if (!output_fits(f, out)) {
    json_decref(assigned);
    return;
  }
  commit_vars(f, assigned);
  transition(f, out, next, end);
  return;
fail:
  json_decref(assigned);
  json_decref(rule);
  exec_fail_now(f, &e);
}

json_t *exec_error_output(const fault_t *e) {
  json_t *o = json_object();
  if (e->error && *e->error)
    json_object_set_new(o, "Error", json_string(e->error));
  /* the error output always has a Cause; AWS gives "" when none */
  json_object_set_new(o, "Cause", json_string(e->cause ? e->cause : ""));
  return o;
}

static bool retryable_type(state_type_t t) {
  return t == ST_TASK || t == ST_PARALLEL || t == ST_MAP;
}

/* A state failed with e (borrowed): retry, catch, or fail the frame. */
static void state_fail(frame_t *f, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  exec_t *x = f->x;
  if (st->js && e->in_state && e->error &&
      !strcmp(e->error, "States.QueryEvaluationError"))
    exec_js_evaluation_failed(f, e);  /* exec_jsonata.c */
  exec_cause_in_state(f, e);
  if (x->inspect) {
    json_t *eo = exec_error_output(e);
    seen(f, "error", eo);
    json_decref(eo);
  }
  exec_kids_reset(f);
  const char *err = e->error ? e->error : "";
  if (retryable_type(st->type) && retry_allowed(err)) {
    int r = retry_find(st->retry, st->nretry, err);
    if (r >= 0) {
      if (!f->attempts) {
        f->nattempts = st->nretry;
        f->attempts = ms_calloc(st->nretry, sizeof *f->attempts);
      }
      const retrier_t *rt = &st->retry[r];
      if (f->attempts[r] < rt->max_attempts) {
        double delay = retry_delay(rt, f->attempts[r], &x->rng);
        f->attempts[r]++;
        f->retry_count++;
        f->stage = AT_RETRY;
        exec_rd_forget(x);
        sleep_until(f, exec_now(x) + delay);
        return;
      }
    }
  }
  int c = retryable_type(st->type)
              ? retry_find_catch(st->catch, st->ncatch, err) : -1;
  if (c >= 0) {
    const catcher_t *ct = &st->catch[c];
    fault_t e2 = FAULT_INIT;
    json_t *eo = exec_error_output(e);
    json_t *assigned = NULL;
    json_t *out = NULL;
    if (st->js)  /* exec_jsonata.c: the catcher's Assign and Output */
      exec_js_catch(f, ct, eo, &out, &assigned, &e2);
    else if (eval_assign(f, ct->assign, eo, &assigned, &e2))
      out = apply_result_path(f, &ct->result_path, f->input, eo, &e2);
    json_decref(eo);
    if (!out) {
      /* a failure while catching ends the frame; no second catch */
      json_decref(assigned);
      exec_cause_in_state(f, &e2);
      note_failure(x, st);
      frame_finish(f, NULL, &e2);
      fault_clear(&e2);
      return;
    }
    commit_vars(f, assigned);
    exec_forget_failure(x);
    transition(f, out, ct->next, false);
    return;
  }
  note_failure(x, st);
  frame_finish(f, NULL, e);
}

/* ---- state types ----------------------------------------------------------- */

/* Parameters over f->effective (which it replaces), when given. */
static bool apply_parameters(frame_t *f, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  if (st->js) {  /* exec_jsonata.c: Arguments */
    if (!exec_js_arguments(f, e)) return false;
  } else if (st->parameters) {
    jscope_t s = exec_scope_of(f, f->effective);
    json_t *p = tmpl_eval(st->parameters, &s, e);
    if (!p) return false;
    json_decref(f->effective);
    f->effective = p;
  }
  seen(f, "afterParameters", f->effective);
  return true;
}

/* InputPath then (when given) Parameters into f->effective. */
bool exec_prepare_input(frame_t *f, bool parameters, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  json_t *in = apply_path(f, &st->input_path, f->input, e);
  if (!in) return false;
  json_decref(f->effective);
  f->effective = in;
  seen(f, "afterInputPath", in);
  return !parameters || apply_parameters(f, e);
}

static void run_pass(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  fault_t e = FAULT_INIT;
  if (!exec_prepare_input(f, true, &e)) {
    exec_fail_now(f, &e);
    return;
  }
  json_t *result = st->result ? json_incref(st->result)
                              : json_incref(f->effective);
  exec_state_result(f, result);
}

/* Resolve a number field given literally or by a path on the effective
 * input. Returns false when the path is missing or not a number (why set
 * to the raw value found, or NULL when missing). */
bool exec_num_value(const frame_t *f, const num_field_t *n, double *out,
                      json_t **found) {
  *found = NULL;
  if (!n->path) {
    *out = n->value;
    return true;
  }
  jscope_t s = exec_scope_of(f, f->effective);
  json_t *v = jpath_eval(n->path, &s, NULL);
  *found = v;
  if (v && json_is_string(v)) {
    /* AWS reads a numeric string as the number it spells ("1") */
    const char *t = json_string_value(v);
    char *end;
    double d = strtod(t, &end);
    if (end != t && !*end && isfinite(d)) {
      *out = d;
      return true;
    }
    return false;
  }
  return v && jsonx_number(v, out);
}

bool exec_is_integral(double d) {
  return d == floor(d) && fabs(d) < 9.2e18;
}

/* History event types of a Task's call: [lambda][which]; a Lambda
 * function ARN records LambdaFunction* events, other resources Task*. */
enum { TE_SCHEDULED, TE_STARTED, TE_SUCCEEDED, TE_FAILED, TE_TIMED_OUT };
static const char *const task_events[2][5] = {
  {"TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskFailed",
   "TaskTimedOut"},
  {"LambdaFunctionScheduled", "LambdaFunctionStarted",
   "LambdaFunctionSucceeded", "LambdaFunctionFailed",
   "LambdaFunctionTimedOut"},
};

/* A Task's TimeoutSeconds or HeartbeatSeconds (field names it), given
 * literally or by path: *out stays 0 when absent. false with e set when
 * the path does not give a positive number. */
static bool positive_seconds(const frame_t *f, const num_field_t *n,
                             const char *field, double *out, fault_t *e) {
  if (!n->present) return true;
  json_t *found;
  bool ok = exec_num_value(f, n, out, &found) && *out > 0;
  json_decref(found);
  if (!ok)
    fault_runtime(e, "The %sPath parameter does not reference a positive "
                  "integer: %s", field, n->path ? jpath_text(n->path) : "");
  return ok;
}

/* A Task's call ended (not a callback's submission): result (stolen) or
 * e; record it and move on. */
static void task_outcome(frame_t *f, json_t *result, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  bool lambda = task_kind(st->resource) == TASK_LAMBDA_ARN;
  const char *const *ev = task_events[lambda];
  char rtype[64];
  const char *rname = task_resource_names(st->resource, rtype, sizeof rtype);
  if (!result) {
    bool timed_out = e->error && !strcmp(e->error, "States.Timeout");
    json_t *fd = exec_keeps(f) ? fault_details(e) : NULL;
    if (fd && !lambda) {
      json_object_set_new(fd, "resourceType", json_string(rtype));
      json_object_set_new(fd, "resource", json_string(rname));
    }
    exec_emit(f, ev[timed_out ? TE_TIMED_OUT : TE_FAILED],
         lambda ? (timed_out ? "lambdaFunctionTimedOutEventDetails"
                             : "lambdaFunctionFailedEventDetails")
                : (timed_out ? "taskTimedOutEventDetails"
                             : "taskFailedEventDetails"), fd);
    exec_fail_now(f, e);
    return;
  }
  json_t *sd = NULL;
  if (exec_keeps(f)) {
    sd = json_object();
    if (!lambda) {
      json_object_set_new(sd, "resourceType", json_string(rtype));
      json_object_set_new(sd, "resource", json_string(rname));
    }
    json_object_set_new(sd, "output", text_of(result));
    json_object_set_new(sd, "outputDetails",
                        json_pack("{sb}", "truncated", 0));
  }
  exec_emit(f, ev[TE_SUCCEEDED], lambda ? "lambdaFunctionSucceededEventDetails"
                       : "taskSucceededEventDetails", sd);
  exec_state_result(f, result);
}

#define NET_POLL_S 0.001  /* seconds between looks at the network while
                            frames run (parked frames exist) */
#define NET_WAIT_S 1.0    /* longest wait on the network in one step */

/* The scheduler's idle hook: while frames are parked, wait on the
 * network (at most seconds) instead of sleeping. */
static bool net_idle(void *ud, double seconds) {
  exec_t *x = ud;
  if (!x->nparked || !x->tasks) return false;
  x->net_at = sched_wall_now();
  task_host_wait(x->tasks, seconds);
  return true;
}

/* The pending call of a parked frame can go on: queue the frame. */
static void task_woke(void *ud) { exec_make_ready(ud); }

/* f's Task call waits on the network: out of the scheduler until the
 * call wakes (its transfer ended, or its deadline came). */
static void task_park(frame_t *f, task_pending_t *pend) {
  exec_unqueue(f);
  exec_touch(f);
  f->pend = pend;
  f->stage = AT_TASK;
  f->x->nparked++;
  task_pending_on_wake(pend, task_woke, f);
}

/* A parked frame woke: go on with its call. */
static void task_resume(frame_t *f) {
  fault_t e = FAULT_INIT;
  bool again;
  json_t *result = task_pending_resume(f->pend, &e, &again);
  if (again) return;  /* waits once more; stays out of the scheduler */
  f->pend = NULL;
  f->x->nparked--;
  f->stage = AT_ENTER;  /* what follows sets it */
  task_outcome(f, result, &e);
  fault_clear(&e);
}

static void run_task(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  exec_t *x = f->x;
  fault_t e = FAULT_INIT;
  if (!exec_prepare_input(f, false, &e)) {
    exec_fail_now(f, &e);
    return;
  }
  /* TimeoutSecondsPath reads the input, before Parameters */
  double timeout = 0;
  double js_heartbeat = 0;
  if (!positive_seconds(f, &st->timeout_seconds, "TimeoutSeconds", &timeout,
                        &e) ||
      (st->js && !exec_js_task_seconds(f, &timeout, &js_heartbeat, &e))) {
    exec_fail_now(f, &e);
    return;
  }
  /* the callback pattern: a token in $$.Task.Token for Parameters */
  bool callback = task_waits_for_token(st->resource);
  double heartbeat = 0;
  char *token = NULL;
  if (callback) {
    if (x->express) {
      /* AWS: EXPRESS workflows support only Request Response (its
       * CreateStateMachine rejects the definition; moonstep checks when
       * the Task runs, as the type is not known when validating) */
      fault_runtime(&e, "The resource '%s' uses the .waitForTaskToken "
                    "integration pattern, which EXPRESS state machines "
                    "do not support", st->resource);
      exec_fail_now(f, &e);
      return;
    }
    heartbeat = js_heartbeat;
    if (!positive_seconds(f, &st->heartbeat_seconds, "HeartbeatSeconds",
                          &heartbeat, &e)) {
      exec_fail_now(f, &e);
      return;
    }
    char *a = uuid4(&x->rng), *b = uuid4(&x->rng);
    token = ms_asprintf("mstt1-%s-%s", a, b);
    free(a);
    free(b);
    context_token(f, token);
  }
  bool params_ok = apply_parameters(f, &e);
  if (!params_ok) {
    if (token) context_token(f, NULL);
    free(token);
    exec_fail_now(f, &e);
    return;
  }
  task_kind_t kind = task_kind(st->resource);
  bool lambda = kind == TASK_LAMBDA_ARN;
  char rtype[64];  /* resourceType and resource, as AWS records them */
  const char *rname = task_resource_names(st->resource, rtype, sizeof rtype);
  const char *const *ev = task_events[lambda];
  json_t *d = NULL;
  if (exec_keeps(f)) {
    d = json_object();
    json_object_set_new(d, "resource", json_string(rname));
    if (lambda) {
      json_object_set_new(d, "input", text_of(f->effective));
      json_object_set_new(d, "inputDetails",
                          json_pack("{sb}", "truncated", 0));
    } else {
      json_object_set_new(d, "resourceType", json_string(rtype));
      json_object_set_new(d, "region", json_string("us-east-1"));
      json_object_set_new(d, "parameters", text_of(f->effective));
    }
    if (timeout > 0)
      json_object_set_new(d, "timeoutInSeconds",
                          json_integer((json_int_t)timeout));
    if (heartbeat > 0)
      json_object_set_new(d, "heartbeatInSeconds",
                          json_integer((json_int_t)heartbeat));
  }
  exec_emit(f, ev[TE_SCHEDULED], lambda ? "lambdaFunctionScheduledEventDetails"
                       : "taskScheduledEventDetails", d);
  exec_emit(f, ev[TE_STARTED], lambda ? NULL : "taskStartedEventDetails",
       exec_keeps(f) && !lambda
           ? json_pack("{ss,ss}", "resourceType", rtype, "resource",
                       rname)
           : NULL);

  task_call_t call = {st->resource, st->name, f->effective, f->ctx, timeout,
                      NULL, NULL};
  json_t *result = NULL;
  bool waits = false;  /* the callback's token is open: wait for it */
  double called = exec_now(x);
  char *why = NULL;
  if (x->mock && x->mock(x->mock_ud, st->name, f->effective, &result, &e))
    ; /* the mock answered (result or e); with a token, as Step Functions
       * Local does, the mocked response is the callback's */
  else if (!x->tasks)
    fault_runtime(&e, "no task host to run resource '%s'", st->resource);
  else if (token && !x->token_open)
    fault_runtime(&e, "The resource '%s' needs the durable store (run "
                  "with --db) so its task token can be completed",
                  st->resource);
  else if (token && !x->token_open(x->hook_ud, token, &why)) {
    fault_runtime(&e, "The task token could not be recorded: %s",
                  why ? why : "unknown error");
    free(why);
  } else {
    waits = token != NULL;
    task_pending_t *pend = NULL;
    result = task_start(x->tasks, &call, &e, waits ? NULL : &pend);
    if (pend) {  /* it waits on the network: parked until it wakes */
      task_park(f, pend);
      return;
    }
  }
  if (token) context_token(f, NULL);
  if (!result && waits && x->token_close)
    x->token_close(x->hook_ud, token);
  if (result && waits) {
    /* the call's result is recorded, then ignored: the token's is the
     * Task's (AWS: TaskSubmitted, then TaskSucceeded/Failed/TimedOut) */
    exec_emit(f, "TaskSubmitted", "taskSubmittedEventDetails",
         exec_keeps(f) ? json_pack("{ss,ss,so,s{sb}}", "resourceType", rtype,
                              "resource", rname, "output",
                              text_of(result), "outputDetails",
                              "truncated", 0) : NULL);
    json_decref(result);
    f->hb_seconds = heartbeat;
    f->hb_deadline = heartbeat > 0 ? exec_now(x) + heartbeat : INFINITY;
    f->to_deadline = timeout > 0 ? called + timeout : INFINITY;
    exec_token_wait(f, token);
    return;
  }
  free(token);
  task_outcome(f, result, &e);
}

/* A waiting Task's token ended: result (stolen) or e (TaskFailed, or
 * TaskTimedOut for States.Timeout / States.HeartbeatTimeout). */
static void token_done(frame_t *f, json_t *result, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  char rtype[64];
  const char *rname = task_resource_names(st->resource, rtype, sizeof rtype);
  token_unlink(f);
  exec_touch(f);
  if (f->parent) exec_touch(f->parent);
  f->stage = AT_ENTER;  /* no longer AT_TOKEN; what follows sets it */
  if (result) {
    exec_emit(f, "TaskSucceeded", "taskSucceededEventDetails",
         exec_keeps(f) ? json_pack("{ss,ss,so,s{sb}}", "resourceType", rtype,
                              "resource", rname, "output",
                              text_of(result), "outputDetails",
                              "truncated", 0) : NULL);
    exec_state_result(f, result);
    return;
  }
  bool timed_out = e->error && (!strcmp(e->error, "States.Timeout") ||
                                !strcmp(e->error, "States.HeartbeatTimeout"));
  json_t *fd = exec_keeps(f) ? fault_details(e) : NULL;
  if (fd) {
    json_object_set_new(fd, "resourceType", json_string(rtype));
    json_object_set_new(fd, "resource", json_string(rname));
  }
  exec_emit(f, timed_out ? "TaskTimedOut" : "TaskFailed",
       timed_out ? "taskTimedOutEventDetails" : "taskFailedEventDetails", fd);
  exec_fail_now(f, e);
}

/* Look at every waiting token once. Returns true when one ended (the
 * list may have changed: the caller comes back for the others). */
static bool tokens_poll(exec_t *x) {
  for (frame_t *f = x->waiting; f; f = f->wnext) {
    int64_t beats = f->beats;
    json_t *out = NULL;
    fault_t e = FAULT_INIT;
    int r = x->token_poll ? x->token_poll(x->hook_ud, f->token, &beats,
                                          &out, &e)
                          : EXEC_TOKEN_WAITING;
    if (r == EXEC_TOKEN_SUCCEEDED) {
      token_done(f, out, NULL);
      return true;
    }
    if (r == EXEC_TOKEN_WAITING) {
      double t = exec_now(x);
      if (beats != f->beats) {
        f->beats = beats;
        if (f->hb_seconds > 0) f->hb_deadline = t + f->hb_seconds;
      }
      if (t >= f->to_deadline)
        fault_set(&e, "States.Timeout", NULL);
      else if (t >= f->hb_deadline)
        fault_set(&e, "States.HeartbeatTimeout", NULL);
      else
        continue;
      if (x->token_close) x->token_close(x->hook_ud, f->token);
    }
    token_done(f, NULL, &e);
    fault_clear(&e);
    return true;
  }
  x->next_poll = sched_wall_now() + EXEC_TOKEN_POLL_S;
  return false;
}

static void run_choice(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  fault_t e = FAULT_INIT;
  if (!exec_prepare_input(f, false, &e)) {
    exec_fail_now(f, &e);
    return;
  }
  jscope_t s = exec_scope_of(f, f->effective);
  int js = st->js ? exec_js_choose(f, &e) : -1;  /* exec_jsonata.c */
  if (js == -2) {
    exec_fail_now(f, &e);
    return;
  }
  if (js >= 0) {
    state_pass_on(f, &st->choices[js], st->choices[js].next, false);
    return;
  }
  for (size_t i = 0; i < st->nchoices && !st->js; i++) {
    int r = choice_eval(st->choices[i].rule, &s, &e);
    if (r < 0) {
      exec_fail_now(f, &e);
      return;
    }
    if (r) {
      const choice_branch_t *b = &st->choices[i];
      state_pass_on(f, b, b->next, false);
      return;
    }
  }
  if (st->default_next >= 0) {
    state_pass_on(f, NULL, st->default_next, false);
    return;
  }
  fault_set(&e, "States.NoChoiceMatched", "No Matches!");
  exec_fail_now(f, &e);
}

char *exec_value_text(const json_t *v) {
  if (json_is_string(v)) return ms_strdup(json_string_value(v));
  return jsonx_dump(v, JSONX_COMPACT);
}

static void run_wait(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  exec_t *x = f->x;
  fault_t e = FAULT_INIT;
  if (!exec_prepare_input(f, false, &e)) goto fail;
  double t = exec_now(x), until = t;
  if (st->seconds.present && !st->seconds.path) {
    until = t + st->seconds.value;
  } else if (st->seconds.path) {
    const char *p = jpath_text(st->seconds.path);
    jscope_t s = exec_scope_of(f, f->effective);
    json_t *v = jpath_eval(st->seconds.path, &s, NULL);
    if (!v) {
      fault_runtime(&e, "The SecondsPath parameter does not reference an "
                    "input value: %s", p);
      goto fail;
    }
    if (!json_is_integer(v)) {
      char *txt = exec_value_text(v);
      fault_runtime(&e, "The SecondsPath parameter cannot be parsed as a "
                    "long value: %s == %s", p, txt);
      free(txt);
      json_decref(v);
      goto fail;
    }
    json_int_t n = json_integer_value(v);
    json_decref(v);
    if (n < 0) {
      fault_runtime(&e, "The SecondsPath parameter references a negative "
                    "value: %s == %lld", p, (long long)n);
      goto fail;
    }
    until = t + (double)n;
  } else if (st->timestamp) {
    until = st->timestamp_epoch;
  } else if (st->timestamp_path) {
    const char *p = jpath_text(st->timestamp_path);
    jscope_t s = exec_scope_of(f, f->effective);
    json_t *v = jpath_eval(st->timestamp_path, &s, NULL);
    double epoch;
    if (!v || !json_is_string(v) ||
        !choice_parse_timestamp(json_string_value(v), &epoch)) {
      if (!v) {
        fault_runtime(&e, "The TimestampPath parameter does not reference "
                      "an input value: %s", p);
      } else {
        char *txt = exec_value_text(v);
        fault_runtime(&e, "The TimestampPath parameter does not reference "
                      "a valid ISO-8601 extended offset date-time format "
                      "string: %s == %s", p, txt);
        free(txt);
      }
      json_decref(v);
      goto fail;
    }
    json_decref(v);
    until = epoch;
  }
  if (st->js && !exec_js_wait_until(f, t, &until, &e)) goto fail;
  if (until - t > 2147483647.0) {
    fault_runtime(&e, "Wait state delay is too long.");
    goto fail;
  }
  f->stage = AT_WAIT_DONE;
  if (until <= t) exec_make_ready(f);
  else sleep_until(f, until);
  return;
fail:
  exec_fail_now(f, &e);
}

static void run_fail(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  fault_t e = FAULT_INIT;
  jscope_t s = exec_scope_of(f, f->input);
  char *error = NULL, *cause = NULL;
  if (st->error_path) {
    json_t *v = jexpr_eval(st->error_path, &s, "ErrorPath", &e);
    if (!v) goto fail;
    error = exec_value_text(v);
    json_decref(v);
  } else if (st->error) {
    error = ms_strdup(st->error);
  }
  if (st->cause_path) {
    json_t *v = jexpr_eval(st->cause_path, &s, "CausePath", &e);
    if (!v) goto fail;
    cause = exec_value_text(v);
    json_decref(v);
  } else if (st->cause) {
    cause = ms_strdup(st->cause);
  }
  if (st->js && !exec_js_fail(f, &error, &cause, &e)) goto fail;
  e.error = error ? error : ms_strdup("");
  e.cause = cause;
  note_failure(f->x, st);
  frame_finish(f, NULL, &e);
  fault_clear(&e);
  return;
fail:
  free(error);
  exec_fail_now(f, &e);
}

/* ---- frames end --------------------------------------------------------- */

void exec_end(exec_t *x, exec_status_t status, json_t *output,
                     fault_t *e) {
  x->status = status;
  x->stop = exec_now(x);
  frame_t *top = x->top;
  if (status == EXEC_SUCCEEDED) {
    x->output = output;
    exec_emit(top, "ExecutionSucceeded", "executionSucceededEventDetails",
         exec_keeps(top) ? json_pack("{so,s{sb}}", "output", text_of(output),
                                "outputDetails", "truncated", 0) : NULL);
  } else {
    json_decref(output);
    fault_move(&x->fault, e);
    clip_cause(&x->fault);
    const char *type = status == EXEC_TIMED_OUT ? "ExecutionTimedOut"
                       : status == EXEC_ABORTED ? "ExecutionAborted"
                       : "ExecutionFailed";
    const char *key = status == EXEC_TIMED_OUT
                          ? "executionTimedOutEventDetails"
                      : status == EXEC_ABORTED ? "executionAbortedEventDetails"
                      : "executionFailedEventDetails";
    exec_emit(top, type, key,
              exec_keeps(top) ? fault_details(&x->fault) : NULL);
  }
}

/* The frame ran to its end: output (stolen) or fault. */
static void frame_finish(frame_t *f, json_t *output, fault_t *e) {
  exec_t *x = f->x;
  if (e) exec_rd_keep(f);
  if (!f->parent) {
    exec_end(x, e ? EXEC_FAILED : EXEC_SUCCEEDED, output, e);
    return;
  }
  frame_t *p = f->parent;
  if (f->own == p->own) p->last_id = f->last_id;
  exec_unqueue(f);
  exec_kid_done(p, f->slot, output, e);
  exec_frame_free(f);
}

/* ---- stepping --------------------------------------------------------- */

static void enter_state(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  double t = exec_now(f->x);
  f->retry_count = 0;
  context_enter(f, t);
  emit_state(f, true, f->input);
  switch (st->type) {
  case ST_PASS: run_pass(f); break;
  case ST_TASK: run_task(f); break;
  case ST_CHOICE: run_choice(f); break;
  case ST_WAIT: run_wait(f); break;
  case ST_SUCCEED: {
    fault_t e = FAULT_INIT;
    if (!exec_prepare_input(f, false, &e)) {
      state_fail(f, &e);
      fault_clear(&e);
      break;
    }
    state_pass_on(f, NULL, -1, true);
    break;
  }
  case ST_FAIL: run_fail(f); break;
  case ST_PARALLEL:
    exec_run_parallel(f);
    break;
  case ST_MAP: exec_run_map(f); break;
  }
}

static void frame_step(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  exec_touch(f);
  if (f->parent) exec_touch(f->parent);
  switch (f->stage) {
  case AT_ENTER:
    enter_state(f);
    break;
  case AT_WAIT_DONE:
    state_pass_on(f, NULL, st->next, st->end);
    break;
  case AT_RETRY:
    context_retry(f);
    if (st->type == ST_TASK) run_task(f);
    else if (st->type == ST_PARALLEL) exec_run_parallel(f);
    else exec_run_map(f);
    break;
  case AT_CHILDREN:
    if (f->src) exec_map_fill(f);  /* a streamed Map starts the next */
    break; /* else woken by a child; nothing to do until they finish */
  case AT_TOKEN:
    break; /* never queued: tokens_poll ends the wait */
  case AT_TASK:
    task_resume(f);
    break;
  case AT_CHILDREN_DONE:
    exec_children_done(f);
    break;
  case AT_FAIL: {
    fault_t e = FAULT_INIT;
    fault_move(&e, &f->pending);
    frame_finish(f, NULL, &e);
    fault_clear(&e);
    break;
  }
  }
}

/* End the whole execution from outside its states (timeout, limits). */
static void stop_all(exec_t *x, exec_status_t status, const char *error,
                     const char *cause) {
  fault_t e = FAULT_INIT;
  fault_set(&e, error, cause ? "%s" : NULL, cause);
  exec_rd_forget(x);
  exec_rd_tree(x->top);
  exec_kids_cancel(x->top);
  exec_unqueue(x->top);
  exec_end(x, status, NULL, &e);
  fault_clear(&e);
}

static void time_out(exec_t *x) {
  stop_all(x, EXEC_TIMED_OUT, "States.Timeout", NULL);
}

bool exec_step(exec_t *x) {
  if (x->status != EXEC_RUNNING) return false;
  if (x->deadline > 0 && exec_now(x) >= x->deadline) {
    time_out(x);
    return false;
  }
  if (x->waiting && sched_wall_now() >= x->next_poll && tokens_poll(x))
    return x->status == EXEC_RUNNING;
  if (x->nparked && sched_wall_now() - x->net_at >= NET_POLL_S) {
    /* transfers move on while other frames run */
    x->net_at = sched_wall_now();
    task_host_wait(x->tasks, 0);
  }
  sched_item_t *it = sched_pop(&x->sched);
  if (!it && x->waiting) {
    /* only the outside world can move things on: let real time pass
     * until the next look (on the virtual clock too, which then moves
     * at the real pace) or the next timer, whichever is first */
    double t = exec_now(x), nap = x->next_poll - sched_wall_now();
    double until = t + (nap > 0 ? nap : 0);
    double w = sched_next_wake(&x->sched);
    if (w < until) until = w;
    if (x->deadline > 0 && x->deadline < until) until = x->deadline;
    if (x->sched.virtual_clock && until > t) {
      double d = until - t;
      if (!net_idle(x, d)) {
        struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
        nanosleep(&ts, NULL);
      }
    }
    sched_wait(&x->sched, until);
    return true;
  }
  if (!it) {
    double w = sched_next_wake(&x->sched);
    if (x->nparked && (w == INFINITY || !x->sched.virtual_clock)) {
      /* frames wait on the network: until a transfer ends or a timer is
       * due (the virtual clock jumps to timers instead), NET_WAIT_S at
       * most so that the caller sees a step now and then */
      double cap = exec_now(x) + NET_WAIT_S;
      if (w > cap) w = cap;
      if (x->deadline > 0 && w > x->deadline) w = x->deadline;
      if (x->sched.virtual_clock) {
        /* the virtual clock moves at the real pace meanwhile */
        double t0 = sched_wall_now();
        net_idle(x, NET_WAIT_S);
        w = exec_now(x) + (sched_wall_now() - t0);
        if (x->deadline > 0 && w > x->deadline) w = x->deadline;
      }
      sched_wait(&x->sched, w);
      return true;
    }
    if (w == INFINITY) {
      fault_t e = FAULT_INIT;
      fault_set(&e, "States.Runtime", "the execution has nothing to run");
      exec_end(x, EXEC_FAILED, NULL, &e);
      fault_clear(&e);
      return false;
    }
    if (x->deadline > 0 && w > x->deadline) w = x->deadline;
    sched_wait(&x->sched, w);
    return true;
  }
  frame_step(frame_of(it));
  if (x->status == EXEC_RUNNING && !x->no_aws_limits && !x->express &&
      history_keeps(&x->hist) && x->max_events > 0 &&
      x->hist.count >= x->max_events) {
    char cause[96];
    snprintf(cause, sizeof cause, "The execution reached the maximum "
             "number of history events (%lld).", (long long)x->max_events);
    stop_all(x, EXEC_FAILED, "States.Runtime", cause);
  }
  return x->status == EXEC_RUNNING;
}

exec_status_t exec_run(exec_t *x) {
  bool more;
  do {
    more = exec_step(x);
    if (x->on_step) x->on_step(x->hook_ud, x);
  } while (more);
  return x->status;
}

/* ---- lifecycle ----------------------------------------------------------- */

exec_t *exec_new(const machine_t *m, json_t *input, const exec_opts_t *o) {
  exec_t *x = ms_calloc(1, sizeof *x);
  x->m = m;
  x->tasks = o->tasks;
  x->mock = o->mock;
  x->no_aws_limits = o->no_aws_limits;
  x->mock_ud = o->mock_ud;
  x->inspect = o->inspect;
  x->inspect_ud = o->inspect_ud;
  x->on_child_failed = o->on_child_failed;  /* exec_kids.c */
  x->child_ud = o->child_ud;
  sched_init(&x->sched, o->virtual_clock);
  x->sched.idle = net_idle;  /* parked frames: wait on the network */
  x->sched.idle_ud = x;
  x->express = o->express;
  x->rng = exec_seed();
  x->name = o->name ? ms_strdup(o->name) : uuid4(&x->rng);
  const char *mname = o->machine_name ? o->machine_name : "moonstep";
  x->machine_arn = ms_asprintf("arn:aws:states:us-east-1:123456789012:"
                               "stateMachine:%s", mname);
  x->arn = ms_asprintf("arn:aws:states:us-east-1:123456789012:%s:%s:%s",
                       o->express ? "express" : "execution", mname, x->name);
  x->input = json_incref(input);
  x->status = EXEC_RUNNING;
  x->start = exec_now(x);
  if (m->timeout_seconds.present && m->timeout_seconds.value > 0)
    x->deadline = x->start + m->timeout_seconds.value;
  history_init(&x->hist, !o->express || o->on_event);  /* --log */
  x->hist.sink = o->on_event;
  x->hist.sink_ud = o->hook_ud;
  x->hist.stream = o->stream_events && o->on_event;
  x->on_step = o->on_step;
  x->hook_ud = o->hook_ud;
  x->token_open = o->token_open;
  x->token_poll = o->token_poll;
  x->token_close = o->token_close;
  x->ckpt = o->checkpoint;
  x->ck_gone = json_array();
  x->ck_results = json_array();
  x->redrive = json_object();
  x->max_events = o->max_events > 0 ? o->max_events : MS_HISTORY_MAX;
  x->redrive_count = o->redrive_count;
  x->ctx_execution = json_object();
  json_object_set_new(x->ctx_execution, "Id", json_string(x->arn));
  json_object_set(x->ctx_execution, "Input", input);
  json_object_set_new(x->ctx_execution, "Name", json_string(x->name));
  json_object_set_new(x->ctx_execution, "RoleArn",
                      json_string("arn:aws:iam::123456789012:role/moonstep"));
  json_object_set_new(x->ctx_execution, "StartTime",
                      exec_time_string(x->start));
  json_object_set_new(x->ctx_execution, "RedriveCount",
                      json_integer(o->redrive_count));
  x->ctx_machine = json_pack("{ssss}", "Id", x->machine_arn, "Name", mname);
  x->top = exec_frame_new(x, m, NULL, 0, input);
  exec_emit(x->top, "ExecutionStarted", "executionStartedEventDetails",
       history_keeps(&x->hist)
           ? json_pack("{so,s{sb},ss}", "input", text_of(input),
                       "inputDetails", "truncated", 0, "roleArn",
                       "arn:aws:iam::123456789012:role/moonstep")
           : NULL);
  exec_make_ready(x->top);
  return x;
}

void exec_free(exec_t *x) {
  if (!x) return;
  exec_frame_free(x->top);
  json_decref(x->input);
  json_decref(x->output);
  fault_clear(&x->fault);
  history_free(&x->hist);
  json_decref(x->ctx_execution);
  json_decref(x->ctx_machine);
  json_decref(x->time_text);
  json_decref(x->ck_gone);
  json_decref(x->ck_results);
  json_decref(x->assigned);
  json_decref(x->redrive);
  sched_free(&x->sched);
  free(x->failed_state);
  free(x->name);
  free(x->arn);
  free(x->machine_arn);
  free(x);
}

exec_status_t exec_status(const exec_t *x) { return x->status; }

const char *exec_status_name(exec_status_t s) {
  static const char *names[] = {"RUNNING", "SUCCEEDED", "FAILED",
                                "TIMED_OUT", "ABORTED"};
  return names[s];
}

json_t *exec_describe(const exec_t *x) {
  json_t *d = json_object();
  json_object_set_new(d, "executionArn", json_string(x->arn));
  json_object_set_new(d, "stateMachineArn", json_string(x->machine_arn));
  json_object_set_new(d, "name", json_string(x->name));
  json_object_set_new(d, "status",
                      json_string(exec_status_name(x->status)));
  json_object_set_new(d, "startDate", exec_time_string(x->start));
  if (x->status != EXEC_RUNNING)
    json_object_set_new(d, "stopDate", exec_time_string(x->stop));
  json_object_set(d, "input", x->input);
  if (x->redrive_count > 0)
    json_object_set_new(d, "redriveCount",
                        json_integer(x->redrive_count));
  if (x->status == EXEC_SUCCEEDED) {
    json_object_set(d, "output", x->output);
  } else if (x->status != EXEC_RUNNING) {
    if (x->fault.error && *x->fault.error)
      json_object_set_new(d, "error", json_string(x->fault.error));
    if (x->fault.cause)
      json_object_set_new(d, "cause", json_string(x->fault.cause));
  }
  return d;
}

const char *exec_failed_state(const exec_t *x) {
  return x->status == EXEC_FAILED ? x->failed_state : NULL;
}

json_t *exec_history_peek(const exec_t *x) {
  return x->hist.events;
}
