/* exec_checkpoint.c - the durable side of an execution: each frame saved
 * as a checkpoint row and an execution restored from them (resume after a
 * crash), aborting a running execution (stop), and redriving a failed one
 * from where it failed, keeping the results of the children that
 * succeeded. The store that keeps the rows is durable.c's; this file
 * knows the frames. Part of the interpreter (exec.c, exec_int.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exec_int.h"

/* ---- checkpoints ---------------------------------------------------------
 * durable.c owns the design (why per-frame rows, when they are written);
 * this section only turns frames into JSON and back. A frame is saved as an
 * object of its fields; its context's Execution and StateMachine members
 * are the execution's and not saved. Values are shared references, so
 * saving costs the sink's serialization, not a copy. */

static const char *stage_name(stage_t s) {
  switch (s) {
  case AT_ENTER: return "enter";
  case AT_WAIT_DONE: return "wait";
  case AT_RETRY: return "retry";
  case AT_CHILDREN: return "children";
  case AT_CHILDREN_DONE: return "children_done";
  case AT_FAIL: return "fail";
  case AT_TOKEN: return "token";
  default: return "inflight";  /* a Task call in flight: run it again */
  }
}

static bool stage_of(const char *name, stage_t *s) {
  static const struct { const char *name; stage_t s; } t[] = {
    {"enter", AT_ENTER}, {"wait", AT_WAIT_DONE}, {"retry", AT_RETRY},
    {"children", AT_CHILDREN}, {"children_done", AT_CHILDREN_DONE},
    {"fail", AT_FAIL}, {"token", AT_TOKEN}, {"inflight", AT_RETRY},
  };
  for (size_t i = 0; name && i < sizeof t / sizeof *t; i++)
    if (!strcmp(t[i].name, name)) {
      *s = t[i].s;
      return true;
    }
  return false;
}

static json_t *ck_num(double d) {
  return isfinite(d) ? json_real(d) : json_null();
}

static double ck_dbl(const json_t *o, const char *k, double dflt) {
  double d;
  json_t *v = json_object_get(o, k);
  return v && jsonx_number(v, &d) ? d : dflt;
}

static int64_t ck_int(const json_t *o, const char *k) {
  return json_integer_value(json_object_get(o, k));
}

static json_t *ck_fault(const fault_t *e) {
  return fault_is_set(e) ? json_pack("[ss?]", e->error, e->cause)
                         : json_null();
}

static void ck_fault_load(const json_t *v, fault_t *e) {
  if (!json_is_array(v)) return;
  const char *err = json_string_value(json_array_get(v, 0));
  const char *cause = json_string_value(json_array_get(v, 1));
  fault_set(e, err ? err : "", cause ? "%s" : NULL, cause);
}

static void ck_set(json_t *o, const char *k, json_t *v) {
  json_object_set(o, k, v ? v : json_null());
}

static json_t *frame_save(const frame_t *f) {
  json_t *o = json_object();
  json_object_set_new(o, "p", json_integer(f->parent ? f->parent->fid : 0));
  json_object_set_new(o, "slot", json_integer((json_int_t)f->slot));
  json_object_set_new(o, "cur", json_integer(f->cur));
  json_object_set_new(o, "stage", json_string(stage_name(f->stage)));
  ck_set(o, "in", f->input);
  ck_set(o, "eff", f->effective);
  ck_set(o, "vars", f->vars);
  ck_set(o, "state", json_object_get(f->ctx, "State"));
  ck_set(o, "task", json_object_get(f->ctx, "Task"));
  json_object_set_new(o, "eid", json_integer(f->entered_id));
  json_object_set_new(o, "lid", json_integer(f->last_id));
  json_object_set_new(o, "rc", json_integer(f->retry_count));
  if (f->attempts) {
    json_t *a = json_array();
    for (size_t i = 0; i < f->nattempts; i++)
      json_array_append_new(a, json_integer(f->attempts[i]));
    json_object_set_new(o, "att", a);
  }
  json_object_set_new(o, "pend", ck_fault(&f->pending));
  if (f->token) {
    json_object_set_new(o, "tok", json_string(f->token));
    json_object_set_new(o, "hbs", json_real(f->hb_seconds));
    json_object_set_new(o, "hbd", ck_num(f->hb_deadline));
    json_object_set_new(o, "tod", ck_num(f->to_deadline));
    json_object_set_new(o, "beats", json_integer(f->beats));
  }
  json_object_set_new(o, "own", json_integer(f->own ? f->own->fid : 0));
  json_object_set_new(o, "ev", json_integer(f->events));
  if (f->kids) {
    json_object_set_new(o, "kids", json_pack(
        "[IIIIII]", (json_int_t)f->total, (json_int_t)f->started,
        (json_int_t)f->finished, (json_int_t)f->running,
        (json_int_t)f->failures, (json_int_t)f->max_running));
    json_object_set_new(o, "cf", ck_fault(&f->child_fault));
    json_object_set_new(o, "tol", json_pack(
        "[bbfI]", f->tolerate, f->object_items, f->tol_pct,
        (json_int_t)f->tol_count));
    /* a streamed Map's reader is opened again on load (its items are
     * not saved), also once read to its end: a ResultWriter needs the
     * inputs again */
    const mstate_t *st = &f->m->states[f->cur];
    if (f->src || (st->type == ST_MAP && st->item_reader))
      json_object_set_new(o, "src", json_true());
  }
  /* a parked Task call is in flight: run again, from the run queue */
  json_object_set_new(o, "where", json_integer(f->stage == AT_TASK
                                               ? SCHED_READY
                                               : f->item.where));
  if (f->item.where == SCHED_SLEEP)
    json_object_set_new(o, "wake", json_real(f->item.wake));
  json_object_set_new(o, "rseq", json_integer((json_int_t)f->rseq));
  return o;
}

static json_t *exec_save(const exec_t *x) {
  const char *mname = json_string_value(json_object_get(x->ctx_machine,
                                                        "Name"));
  return json_pack("{sI,sI,sI,sI,sf,sf,sf,ss?,ss,ss,sb}",
                   "count", (json_int_t)x->hist.count,
                   "rng", (json_int_t)x->rng,
                   "fid", (json_int_t)x->next_fid,
                   "rseq", (json_int_t)x->rseq,
                   "vnow", x->sched.vnow, "start", x->start,
                   "deadline", x->deadline,
                   "failed", x->failed_state,
                   "name", x->name, "mname", mname ? mname : "moonstep",
                   "virtual", x->sched.virtual_clock);
}

int exec_checkpoint(exec_t *x, const exec_sink_t *k) {
  int rc = 0;
  size_t i;
  json_t *v;
  json_array_foreach(x->ck_gone, i, v)
    if (rc == 0) rc = k->gone(k->ud, json_integer_value(v));
  json_array_clear(x->ck_gone);
  json_array_foreach(x->ck_results, i, v) {
    if (rc != 0) break;
    int64_t fid = json_integer_value(json_array_get(v, 0));
    rc = json_array_size(v) == 1
             ? k->result(k->ud, fid, -1, NULL)
             : k->result(k->ud, fid,
                         json_integer_value(json_array_get(v, 1)),
                         json_array_get(v, 2));
  }
  json_array_clear(x->ck_results);
  while (x->dirty) {
    frame_t *f = x->dirty;
    exec_untouch(f);
    if (rc != 0) continue;
    json_t *st = frame_save(f);
    json_t *data = NULL;  /* input and effective, when they changed */
    if (f->ck_in != f->input || f->ck_eff != f->effective) {
      data = json_pack("{sOsO}", "in", json_object_get(st, "in"), "eff",
                       json_object_get(st, "eff"));
      json_decref(f->ck_in);
      json_decref(f->ck_eff);
      f->ck_in = json_incref(f->input);
      f->ck_eff = json_incref(f->effective);
    }
    json_object_del(st, "in");
    json_object_del(st, "eff");
    rc = k->frame(k->ud, f->fid, st, data,
                  f->items_dirty ? f->items : NULL);
    f->items_dirty = false;
    json_decref(data);
    json_decref(st);
  }
  if (rc == 0) {
    json_t *st = exec_save(x);
    rc = k->exec(k->ud, st);
    json_decref(st);
  }
  return rc;
}

static int by_rseq(const void *a, const void *b) {
  const frame_t *fa = *(frame_t *const *)a, *fb = *(frame_t *const *)b;
  return fa->rseq < fb->rseq ? -1 : fa->rseq > fb->rseq;
}

/* The machine a child of p in slot runs, or NULL. */
static const machine_t *kid_machine(const frame_t *p, size_t slot) {
  const mstate_t *st = &p->m->states[p->cur];
  if (st->type == ST_PARALLEL)
    return slot < st->nbranches ? st->branches[slot] : NULL;
  return st->type == ST_MAP ? st->iterator : NULL;
}

/* Rebuild one frame from its saved object o (see frame_save). */
static frame_t *frame_load(exec_t *x, const json_t *o, int64_t fid,
                           frame_t **byid, int64_t nid, json_t *items,
                           char **why) {
  int64_t p = ck_int(o, "p"), cur = ck_int(o, "cur");
  size_t slot = (size_t)ck_int(o, "slot");
  frame_t *parent = NULL;
  const machine_t *m = x->m;
  if (p) {
    parent = p > 0 && p < nid ? byid[p] : NULL;
    m = parent && parent->kids && slot < parent->total
            ? kid_machine(parent, slot) : NULL;
  }
  stage_t stage;
  if (!m || cur < 0 || (size_t)cur >= m->nstates ||
      !stage_of(json_string_value(json_object_get(o, "stage")), &stage)) {
    *why = ms_asprintf("frame %lld does not fit the definition",
                       (long long)fid);
    return NULL;
  }
  frame_t *f = ms_calloc(1, sizeof *f);
  f->x = x;
  f->m = m;
  f->parent = parent;
  f->slot = slot;
  f->cur = (int)cur;
  f->stage = stage;
  f->fid = fid;
  json_t *v = json_object_get(o, "in");
  f->input = json_incref(v ? v : json_null());
  v = json_object_get(o, "eff");
  f->effective = json_is_null(v) ? NULL : json_incref(v);
  v = json_object_get(o, "vars");
  f->vars = json_is_object(v) ? json_copy(v) : NULL;
  f->ctx = exec_context_new(x);
  v = json_object_get(o, "state");
  if (json_is_object(v)) {
    json_object_set_new(f->ctx, "State", json_copy(v));
    f->ctx_state = json_object_get(f->ctx, "State");
  }
  v = json_object_get(o, "task");
  if (json_is_object(v)) json_object_set(f->ctx, "Task", v);
  f->entered_id = ck_int(o, "eid");
  f->last_id = ck_int(o, "lid");
  f->retry_count = (int)ck_int(o, "rc");
  v = json_object_get(o, "att");
  if (json_is_array(v) && json_array_size(v) &&
      json_array_size(v) == m->states[cur].nretry) {
    f->nattempts = json_array_size(v);
    f->attempts = ms_calloc(f->nattempts, sizeof *f->attempts);
    for (size_t i = 0; i < f->nattempts; i++)
      f->attempts[i] = (int)json_integer_value(json_array_get(v, i));
  }
  ck_fault_load(json_object_get(o, "pend"), &f->pending);
  int64_t own = ck_int(o, "own");
  f->own = own == fid ? f : own > 0 && own < nid ? byid[own] : NULL;
  f->events = ck_int(o, "ev");
  f->tol_count = -1;
  v = json_object_get(o, "kids");
  if (json_is_array(v)) {
    f->total = (size_t)json_integer_value(json_array_get(v, 0));
    f->started = (size_t)json_integer_value(json_array_get(v, 1));
    f->finished = (size_t)json_integer_value(json_array_get(v, 2));
    f->running = (size_t)json_integer_value(json_array_get(v, 3));
    f->failures = (size_t)json_integer_value(json_array_get(v, 4));
    f->max_running = (size_t)json_integer_value(json_array_get(v, 5));
    f->kids = ms_calloc(f->total ? f->total : 1, sizeof *f->kids);
    f->results = json_array();
    for (size_t i = 0; i < f->total; i++)
      json_array_append(f->results, json_null());
    ck_fault_load(json_object_get(o, "cf"), &f->child_fault);
    json_t *t = json_object_get(o, "tol");
    f->tolerate = json_is_true(json_array_get(t, 0));
    f->object_items = json_is_true(json_array_get(t, 1));
    jsonx_number(json_array_get(t, 2), &f->tol_pct);
    f->tol_count = json_integer_value(json_array_get(t, 3));
    if (json_is_array(items)) f->items = json_incref(items);
  }
  json_t *res = json_object_get(o, "res");
  if (f->results && json_is_array(res) &&
      json_array_size(res) == json_array_size(f->results)) {
    json_decref(f->results);
    f->results = json_copy(res);
  }
  f->rseq = (uint64_t)ck_int(o, "rseq");
  if (parent) parent->kids[slot] = f;
  fault_t e = FAULT_INIT;
  if (f->kids && json_is_true(json_object_get(o, "src")) &&
      !exec_map_reopen(f, &e)) {
    *why = ms_asprintf("the Map's ItemReader could not be read again: "
                       "%s: %s", e.error ? e.error : "",
                       e.cause ? e.cause : "");
    fault_clear(&e);
    if (parent) parent->kids[slot] = NULL;
    exec_frame_free(f);
    return NULL;
  }
  return f;
}

exec_t *exec_restore(const machine_t *m, json_t *input, const json_t *ck,
                     const exec_opts_t *o, char **why) {
  const json_t *xs = json_object_get(ck, "exec");
  const json_t *frames = json_object_get(ck, "frames");
  const char *name = json_string_value(json_object_get(xs, "name"));
  if (!json_is_object(xs) || !json_is_array(frames) || !name ||
      !json_array_size(frames)) {
    *why = ms_strdup("the execution has no checkpoint to resume from");
    return NULL;
  }
  exec_opts_t o2 = *o;
  o2.name = name;
  o2.machine_name = json_string_value(json_object_get(xs, "mname"));
  o2.on_event = NULL;
  o2.stream_events = false;
  o2.checkpoint = false;
  exec_t *x = exec_new(m, input, &o2);
  exec_frame_free(x->top);
  x->top = NULL;
  if (x->hist.events) json_array_clear(x->hist.events);
  x->hist.sink = o->on_event;
  x->hist.stream = o->stream_events && o->on_event;
  x->hist.count = ck_int(xs, "count");
  x->rng = (uint64_t)ck_int(xs, "rng");
  if (!x->rng) x->rng = exec_seed();
  x->next_fid = ck_int(xs, "fid");
  x->rseq = (uint64_t)ck_int(xs, "rseq");
  x->start = ck_dbl(xs, "start", x->start);
  x->deadline = ck_dbl(xs, "deadline", 0);
  if (x->sched.virtual_clock)
    x->sched.vnow = ck_dbl(xs, "vnow", x->sched.vnow);
  json_object_set_new(x->ctx_execution, "StartTime",
                      exec_time_string(x->start));
  const char *failed = json_string_value(json_object_get(xs, "failed"));
  if (failed) x->failed_state = ms_strdup(failed);

  int64_t nid = x->next_fid + 1;
  frame_t **byid = ms_calloc((size_t)nid, sizeof *byid);
  const json_t **rowof = ms_calloc((size_t)nid, sizeof *rowof);
  frame_t **ready = ms_calloc(json_array_size(frames) + 1, sizeof *ready);
  size_t nready = 0, i;
  json_t *row;
  bool ok = true;
  json_array_foreach(frames, i, row) {
    int64_t fid = json_integer_value(json_array_get(row, 0));
    json_t *st = json_array_get(row, 1);
    json_t *data = json_array_get(row, 3);
    if (json_is_object(st) && json_is_object(data))
      json_object_update(st, data);  /* the row is ours to change */
    frame_t *f = fid > 0 && fid < nid && !byid[fid]
                     ? frame_load(x, st, fid, byid, nid,
                                  json_array_get(row, 2), why)
                     : NULL;
    if (f && json_is_object(data)) {  /* the row has them apart */
      f->ck_in = json_incref(f->input);
      f->ck_eff = json_incref(f->effective);
    }
    if (!f) {
      if (!*why) *why = ms_strdup("the checkpoint is damaged");
      ok = false;
      break;
    }
    byid[fid] = f;
    rowof[fid] = st;
    if (!f->parent) {
      if (x->top) {
        *why = ms_strdup("the checkpoint has two top frames");
        exec_frame_free(f);
        ok = false;
        break;
      }
      x->top = f;
    }
  }
  if (ok && !x->top) {
    *why = ms_strdup("the checkpoint has no top frame");
    ok = false;
  }
  json_array_foreach(json_object_get(ck, "results"), i, row) {
    if (!ok) break;
    int64_t fid = json_integer_value(json_array_get(row, 0));
    size_t slot = (size_t)json_integer_value(json_array_get(row, 1));
    frame_t *f = fid > 0 && fid < nid ? byid[fid] : NULL;
    if (f && f->results && slot < json_array_size(f->results))
      json_array_set(f->results, slot, json_array_get(row, 2));
  }
  /* queue them as they were: sleepers by wake time, ready ones in order,
   * token waiters on the waiting list */
  for (int64_t id = 1; ok && id < nid; id++) {
    frame_t *f = byid[id];
    if (!f) continue;
    const json_t *st = rowof[id];
    if (f->stage == AT_TOKEN) {
      const char *tok = json_string_value(json_object_get(st, "tok"));
      int64_t beats = ck_int(st, "beats");
      exec_token_wait(f, ms_strdup(tok ? tok : ""));
      f->beats = beats;
      f->hb_seconds = ck_dbl(st, "hbs", 0);
      f->hb_deadline = ck_dbl(st, "hbd", INFINITY);
      f->to_deadline = ck_dbl(st, "tod", INFINITY);
      continue;
    }
    int where = (int)ck_int(st, "where");
    if (where == SCHED_SLEEP)
      sched_sleep(&x->sched, &f->item, ck_dbl(st, "wake", exec_now(x)));
    else if (where == SCHED_READY)
      ready[nready++] = f;
  }
  qsort(ready, nready, sizeof *ready, by_rseq);
  for (size_t k = 0; k < nready; k++) sched_ready(&x->sched, &ready[k]->item);
  free(ready);
  free(rowof);
  free(byid);
  if (!ok) {
    if (x->top) {
      exec_frame_free(x->top);
      x->top = NULL;
    }
    exec_free(x);
    return NULL;
  }
  x->ckpt = o->checkpoint;
  return x;
}

/* Record the states in progress under f as aborted, innermost first. */
static void abort_frames(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  for (size_t i = 0; f->kids && i < f->total; i++) {
    frame_t *k = f->kids[i];
    if (!k) continue;
    abort_frames(k);
    if (k->own == f->own) f->last_id = k->last_id;
    if (st->type == ST_MAP && !st->distributed)
      exec_emit(f, "MapIterationAborted", "mapIterationAbortedEventDetails",
           exec_keeps(f) ? json_pack("{sssI}", "name", st->name, "index",
                                (json_int_t)i) : NULL);
  }
  if (f->stage == AT_ENTER || f->stage == AT_FAIL) return;
  const char *t = st->type == ST_TASK ? "TaskStateAborted"
                  : st->type == ST_WAIT ? "WaitStateAborted"
                  : st->type == ST_PARALLEL ? "ParallelStateAborted"
                  : st->type == ST_MAP ? "MapStateAborted" : NULL;
  if (t) exec_emit(f, t, NULL, NULL);
}

void exec_abort(exec_t *x, const char *error, const char *cause) {
  if (x->status != EXEC_RUNNING) return;
  exec_rd_forget(x);
  exec_rd_tree(x->top);
  abort_frames(x->top);
  fault_t e = FAULT_INIT;
  fault_set(&e, error ? error : "", cause ? "%s" : NULL, cause);
  exec_kids_cancel(x->top);
  exec_unqueue(x->top);
  exec_touch(x->top);
  exec_end(x, EXEC_ABORTED, NULL, &e);
  fault_clear(&e);
}

bool exec_next_effect(const exec_t *x) {
  if (x->status != EXEC_RUNNING || !x->sched.head) return true;
  const frame_t *f = (const frame_t *)x->sched.head;
  const mstate_t *st = &f->m->states[f->cur];
  /* a parked call going on ends with its outcome: committed at once */
  return st->type == ST_TASK && (f->stage == AT_ENTER ||
                                 f->stage == AT_RETRY || f->stage == AT_TASK);
}

int64_t exec_event_count(const exec_t *x) { return x->hist.count; }

double exec_idle_until(const exec_t *x) {
  if (x->status != EXEC_RUNNING || x->sched.head || x->waiting ||
      x->nparked || x->sched.virtual_clock)
    return 0;
  double w = sched_next_wake(&x->sched);
  if (x->deadline > 0 && x->deadline < w) w = x->deadline;
  return w == INFINITY ? 0 : w;
}

/* ---- redrive ------------------------------------------------------------
 * While an uncaught failure travels outwards, each frame it passes is kept
 * as it stood (rd_keep): the frame that failed at the state it failed in,
 * branches and iterations aborted because of it with what is under them
 * (rd_tree), and each Parallel or Map on the way with the results of its
 * children that succeeded. A Catch or a Retry forgets them (rd_forget).
 * When the execution ends unsuccessfully they are the rows a redrive
 * starts from (exec_redrive_rows, exec_redrive): frames that were in a
 * state enter it again; a Parallel or Map waits for the children kept,
 * starts those it had not started, and keeps the other results. */

void exec_rd_forget(exec_t *x) {
  if (x->redrive) json_object_clear(x->redrive);
}

void exec_rd_keep(frame_t *f) {
  exec_t *x = f->x;
  if (!x->ckpt || !x->redrive) return;
  char key[24];
  snprintf(key, sizeof key, "%lld", (long long)f->fid);
  if (json_object_get(x->redrive, key)) return;
  json_t *o = frame_save(f);
  bool waits = f->kids && f->results && f->stage != AT_ENTER;
  if (waits) {
    json_object_set_new(o, "stage", json_string("children"));
    json_object_set(o, "res", f->results);
    json_object_set_new(o, "where", json_integer(SCHED_NONE));
  } else {
    json_object_set_new(o, "stage", json_string("enter"));
    json_object_set_new(o, "where", json_integer(SCHED_READY));
    json_object_del(o, "kids");
    json_object_del(o, "tok");
  }
  json_object_del(o, "att");
  json_object_set_new(o, "rc", json_integer(0));
  json_object_set_new(o, "pend", json_null());
  json_object_set_new(x->redrive, key, json_pack("[oO?]", o,
                                                 waits ? f->items : NULL));
}

void exec_rd_tree(frame_t *f) {
  if (!f || !f->x->ckpt) return;
  exec_rd_keep(f);
  for (size_t i = 0; f->kids && i < f->total; i++) exec_rd_tree(f->kids[i]);
}

int exec_redrive_rows(exec_t *x, const exec_sink_t *k) {
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach(x->redrive, key, v) {
    if (rc != 0) break;
    rc = k->frame(k->ud, strtoll(key, NULL, 10), json_array_get(v, 0),
                  NULL, json_array_get(v, 1));
  }
  if (rc == 0) {
    json_t *st = exec_save(x);
    rc = k->exec(k->ud, st);
    json_decref(st);
  }
  return rc;
}

exec_t *exec_redrive(const machine_t *m, json_t *input, const json_t *ck,
                     const exec_opts_t *o, char **why) {
  exec_t *x = exec_restore(m, input, ck, o, why);
  if (!x) return NULL;
  exec_forget_failure(x);
  if (m->timeout_seconds.present && m->timeout_seconds.value > 0)
    x->deadline = exec_now(x) + m->timeout_seconds.value;  /* a guess: AWS's
                                                       * timeout restarts */
  /* the record of the end is undone: ExecutionRedriven follows it */
  frame_t *top = x->top;
  top->last_id = x->hist.count;
  exec_emit(top, "ExecutionRedriven", "executionRedrivenEventDetails",
       exec_keeps(top) ? json_pack("{sI}", "redriveCount",
                              (json_int_t)o->redrive_count) : NULL);
  /* Parallel and Map frames wait for the children kept and start the
   * ones never started; a frame is visited after its parent (by id) */
  frame_t **todo = ms_calloc((size_t)x->next_fid + 1, sizeof *todo);
  size_t n = 0;
  todo[n++] = top;
  for (size_t i = 0; i < n; i++) {
    frame_t *f = todo[i];
    if (!f->own) f->last_id = top->last_id;  /* events follow the redrive */
    if (!f->kids) continue;
    size_t running = 0;
    for (size_t s = 0; f->kids && s < f->total; s++)
      if (f->kids[s]) {
        running++;
        todo[n++] = f->kids[s];
      }
    if (f->stage != AT_CHILDREN) continue;
    fault_clear(&f->child_fault);
    f->running = running;
    f->failures = 0;
    f->finished = f->started - running;
    exec_map_fill(f);  /* exec_kids.c: a streamed Map reads on */
  }
  free(todo);
  return x;
}
