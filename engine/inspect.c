/* inspect.c - inspection and control of a live execution (see inspect.h):
 * walks the frame tree of exec_int.h, changes a paused frame's input or
 * state, and redrives a failed execution in memory through the
 * checkpoint rows exec.c keeps (exec_redrive_rows, exec_redrive).
 */
#include "inspect.h"
#include "exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inspect {
  exec_t *x;
  const machine_t *m;
  json_t *input;       /* the execution's input (owned) */
  exec_opts_t o;       /* with our hooks */
  json_t *events;      /* every event so far (owned) */
  json_t *entered;     /* "fid" -> [state index, input]: what each frame
                          last entered (owned) */
  int64_t redrives;
};

static void on_event(void *ud, const json_t *ev) {
  inspect_t *s = ud;
  json_array_append_new(s->events, json_deep_copy(ev));
}

inspect_t *inspect_new(const machine_t *m, json_t *input,
                       const exec_opts_t *o) {
  inspect_t *s = ms_calloc(1, sizeof *s);
  s->m = m;
  s->input = json_incref(input);
  s->o = *o;
  s->o.on_event = on_event;
  s->o.on_step = NULL;
  s->o.hook_ud = s;
  s->o.stream_events = true;
  s->o.checkpoint = true;  /* keeps the rows a redrive starts from */
  s->events = json_array();
  s->entered = json_object();
  s->redrives = o->redrive_count;
  s->x = exec_new(m, input, &s->o);
  return s;
}

void inspect_free(inspect_t *s) {
  if (!s) return;
  exec_free(s->x);
  json_decref(s->input);
  json_decref(s->events);
  json_decref(s->entered);
  free(s);
}

exec_t *inspect_exec(inspect_t *s) { return s->x; }

json_t *inspect_events_peek(const inspect_t *s) { return s->events; }

/* ---- checkpoints: drained after each step (nothing is stored) -------- */

static int nop_exec(void *ud, const json_t *st) {
  (void)ud; (void)st;
  return 0;
}
static int nop_frame(void *ud, int64_t fid, const json_t *st,
                     const json_t *data, const json_t *items) {
  (void)ud; (void)fid; (void)st; (void)data; (void)items;
  return 0;
}
static int nop_gone(void *ud, int64_t fid) {
  (void)ud; (void)fid;
  return 0;
}
static int nop_result(void *ud, int64_t fid, int64_t slot,
                      const json_t *v) {
  (void)ud; (void)fid; (void)slot; (void)v;
  return 0;
}

/* A frame that is gone can no longer be retried: forget its entry. */
static int drop_gone(void *ud, int64_t fid) {
  inspect_t *s = ud;
  char key[24];
  snprintf(key, sizeof key, "%lld", (long long)fid);
  json_object_del(s->entered, key);
  return 0;
}

static void drain(inspect_t *s) {
  exec_sink_t k = {nop_exec, nop_frame, drop_gone, nop_result, s};
  exec_checkpoint(s->x, &k);
}

/* ---- frames ------------------------------------------------------------ */

static frame_t *next_frame(const exec_t *x) {
  return x->sched.head ? (frame_t *)x->sched.head : NULL;
}

static void fid_key(const frame_t *f, char *key, size_t n) {
  snprintf(key, n, "%lld", (long long)f->fid);
}

bool inspect_step(inspect_t *s) {
  exec_t *x = s->x;
  if (x->status != EXEC_RUNNING) return false;
  frame_t *f = next_frame(x);
  if (f && f->stage == AT_ENTER) {
    char key[24];
    fid_key(f, key, sizeof key);
    json_object_set_new(s->entered, key, json_pack("[iO]", f->cur,
                                                   f->input));
  }
  bool more = exec_step(x);
  drain(s);
  return more;
}

static const char *stage_name(stage_t st) {
  switch (st) {
  case AT_ENTER: return "enter";
  case AT_WAIT_DONE: return "wait";
  case AT_RETRY: return "retry";
  case AT_CHILDREN: return "children";
  case AT_CHILDREN_DONE: return "children_done";
  case AT_FAIL: return "fail";
  case AT_TOKEN: return "token";
  case AT_TASK: return "task";
  }
  return "?";
}

static const char *state_of(const frame_t *f) {
  return f->cur >= 0 && (size_t)f->cur < f->m->nstates
             ? f->m->states[f->cur].name : "";
}

/* A walk over the frame tree: fn(f, path, ud) for each frame, parents
 * first; a non-NULL return stops the walk and is returned. */
typedef void *(*visit_fn)(frame_t *f, const char *path, void *ud);

static void *walk(frame_t *f, const char *prefix, visit_fn fn, void *ud) {
  if (!f) return NULL;
  char *path = ms_asprintf("%s%s", prefix, state_of(f));
  void *r = fn(f, path, ud);
  for (size_t i = 0; !r && f->kids && i < f->total; i++) {
    if (!f->kids[i]) continue;
    char *p = ms_asprintf("%s[%zu]/", path, i);
    r = walk(f->kids[i], p, fn, ud);
    free(p);
  }
  free(path);
  return r;
}

static char *path_of(const frame_t *f);

static json_t *frame_json(const frame_t *f, const char *path) {
  const char *status = f->item.where == SCHED_READY ? "ready"
                       : f->item.where == SCHED_SLEEP ? "sleeping"
                       : "waiting";
  return json_pack("{ss,ss,ss,ss,sO?,sb}", "path", path, "state",
                   state_of(f), "stage", stage_name(f->stage), "status",
                   status, "input", f->input,
                   "next", f == next_frame(f->x));
}

static void *add_frame(frame_t *f, const char *path, void *ud) {
  json_array_append_new(ud, frame_json(f, path));
  return NULL;
}

json_t *inspect_frames(const inspect_t *s) {
  json_t *a = json_array();
  if (s->x->status == EXEC_RUNNING) walk(s->x->top, "", add_frame, a);
  return a;
}

json_t *inspect_next(const inspect_t *s) {
  frame_t *f = s->x->status == EXEC_RUNNING ? next_frame(s->x) : NULL;
  if (!f) return NULL;
  char *path = path_of(f);
  json_t *o = frame_json(f, path);
  free(path);
  return o;
}

typedef struct find {
  const char *path;
  char *found;  /* the full path of the frame found (malloc'd) */
} find_t;

static void *match(frame_t *f, const char *path, void *ud) {
  find_t *q = ud;
  size_t n = strlen(path) - strlen(state_of(f));  /* without the state */
  bool hit = strcmp(q->path, path) == 0 ||
             (n > 0 && strlen(q->path) == n - 1 &&
              strncmp(q->path, path, n - 1) == 0);
  if (!hit) return NULL;
  q->found = ms_strdup(path);
  return f;
}

/* The full path of f. malloc'd. */
static char *path_of(const frame_t *f) {
  char *p = ms_strdup(state_of(f));
  for (const frame_t *c = f; c->parent; c = c->parent) {
    char *np = ms_asprintf("%s[%zu]/%s", state_of(c->parent), c->slot, p);
    free(p);
    p = np;
  }
  return p;
}

/* The frame at path (see inspect.h), or NULL with *why. *full (may be
 * NULL) gets its full path (malloc'd). */
static frame_t *find(const inspect_t *s, const char *path, char **full,
                     char **why) {
  exec_t *x = s->x;
  if (x->status != EXEC_RUNNING) {
    *why = ms_asprintf("the execution has ended (%s)",
                       exec_status_name(x->status));
    return NULL;
  }
  frame_t *f;
  if (!path || !*path) {
    f = next_frame(x);
    if (!f) f = x->top;
  } else {
    find_t q = {path, NULL};
    f = walk(x->top, "", match, &q);
    free(q.found);
  }
  if (!f) {
    *why = ms_asprintf("no frame at '%s' (see where())", path);
    return NULL;
  }
  if (full) *full = path_of(f);
  return f;
}

/* The variables f sees: its own scope over the enclosing ones. */
static json_t *visible_vars(const frame_t *f) {
  json_t *v = json_object();
  for (; f; f = f->parent)
    if (f->vars) json_object_update_missing(v, f->vars);
  return v;
}

json_t *inspect_frame(const inspect_t *s, const char *path, char **why) {
  char *full = NULL;
  frame_t *f = find(s, path, &full, why);
  if (!f) return NULL;
  json_t *o = frame_json(f, full);
  free(full);
  json_object_set(o, "context", f->ctx);
  json_object_set_new(o, "vars", visible_vars(f));
  return o;
}

/* ---- control ----------------------------------------------------------- */

int inspect_set_input(inspect_t *s, const char *path, json_t *v,
                      char **why) {
  frame_t *f = find(s, path, NULL, why);
  if (!f) return -1;
  if (f->stage != AT_ENTER) {
    *why = ms_asprintf("the frame is in state '%s' (stage %s), not about "
                       "to enter it: its input is set", state_of(f),
                       stage_name(f->stage));
    return -1;
  }
  json_decref(f->input);
  f->input = json_deep_copy(v);
  return 0;
}

/* f enters state cur next with input (borrowed). */
static int restart(frame_t *f, int cur, json_t *input, char **why) {
  if (f->stage != AT_ENTER && f->stage != AT_RETRY &&
      f->stage != AT_WAIT_DONE) {
    *why = ms_asprintf("the frame is busy in state '%s' (stage %s); step "
                       "until it is about to enter a state",
                       state_of(f), stage_name(f->stage));
    return -1;
  }
  exec_t *x = f->x;
  json_incref(input);
  json_decref(f->input);
  f->input = input;
  json_decref(f->effective);
  f->effective = NULL;
  free(f->attempts);
  f->attempts = NULL;
  f->nattempts = 0;
  f->retry_count = 0;
  f->cur = cur;
  f->stage = AT_ENTER;
  f->rseq = ++x->rseq;
  /* at the front of the run queue: the frame changed runs next */
  sched_t *q = &x->sched;
  sched_item_t *it = &f->item;
  sched_remove(q, it);
  it->where = SCHED_READY;
  it->prev = NULL;
  it->next = q->head;
  if (q->head) q->head->prev = it; else q->tail = it;
  q->head = it;
  return 0;
}

int inspect_jump(inspect_t *s, const char *path, const char *state,
                 char **why) {
  frame_t *f = find(s, path, NULL, why);
  if (!f) return -1;
  int cur = machine_find(f->m, state);
  if (cur < 0) {
    *why = ms_asprintf("no state '%s' here (the frame runs states of its "
                       "own machine)", state);
    return -1;
  }
  return restart(f, cur, f->input, why);
}

int inspect_retry(inspect_t *s, const char *path, char **why) {
  exec_status_t st = s->x->status;
  if (st != EXEC_RUNNING && st != EXEC_SUCCEEDED)
    return inspect_redrive(s, why);
  frame_t *f = find(s, path, NULL, why);
  if (!f) return -1;
  char key[24];
  fid_key(f, key, sizeof key);
  json_t *e = json_object_get(s->entered, key);
  if (!e) {
    *why = ms_asprintf("the frame has not entered a state yet");
    return -1;
  }
  return restart(f, (int)json_integer_value(json_array_get(e, 0)),
                 json_array_get(e, 1), why);
}

/* ---- redrive in memory ------------------------------------------------- */

typedef struct rows {
  json_t *exec;    /* the execution's state */
  json_t *frames;  /* [[fid, state, items, null], ...] */
} rows_t;

static int row_exec(void *ud, const json_t *st) {
  rows_t *r = ud;
  r->exec = json_deep_copy(st);
  return 0;
}

static int row_frame(void *ud, int64_t fid, const json_t *st,
                     const json_t *data, const json_t *items) {
  rows_t *r = ud;
  (void)data;
  json_array_append_new(r->frames, json_pack("[IOO?n]", (json_int_t)fid,
                                             (json_t *)st,
                                             (json_t *)items));
  return 0;
}

static int by_fid(const void *a, const void *b) {
  json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a,
                                                   0));
  json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b,
                                                   0));
  return (x > y) - (x < y);
}

int inspect_redrive(inspect_t *s, char **why) {
  exec_status_t st = s->x->status;
  if (st == EXEC_RUNNING || st == EXEC_SUCCEEDED) {
    *why = ms_asprintf("only an execution that failed, timed out or was "
                       "aborted can be redriven (this one is %s)",
                       exec_status_name(st));
    return -1;
  }
  rows_t r = {NULL, json_array()};
  exec_sink_t k = {row_exec, row_frame, nop_gone, nop_result, &r};
  exec_redrive_rows(s->x, &k);
  size_t n = json_array_size(r.frames);
  json_t **v = ms_calloc(n ? n : 1, sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = json_array_get(r.frames, i);
  qsort(v, n, sizeof *v, by_fid);
  json_t *frames = json_array();
  for (size_t i = 0; i < n; i++) json_array_append(frames, v[i]);
  free(v);
  json_decref(r.frames);
  if (!n || !r.exec) {
    json_decref(frames);
    json_decref(r.exec);
    *why = ms_strdup("nothing to redrive from (the failure left no state "
                     "to run again)");
    return -1;
  }
  json_t *ck = json_pack("{soso s[]}", "exec", r.exec, "frames", frames,
                         "results");
  exec_opts_t o = s->o;
  o.redrive_count = s->redrives + 1;
  exec_t *x = exec_redrive(s->m, s->input, ck, &o, why);
  json_decref(ck);
  if (!x) return -1;
  exec_free(s->x);
  s->x = x;
  s->redrives++;
  drain(s);
  return 0;
}
