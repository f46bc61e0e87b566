/* durable.c - a STANDARD execution recorded in the store (see durable.h):
 * events as they come, checkpoints, group commits, the owner's lease,
 * stop requests and resume.
 *
 * Design: resume from checkpoint rows, not from a replay of the events.
 * The execution is a tree of frames (the top level, Parallel branches,
 * Map iterations) with timers and waiting tokens; a replay would have to
 * re-run that scheduler deterministically against recorded results
 * (timestamps, timer order, interleaved iterations, tokens), which the
 * engine was not built for. Instead each frame is a row (frames: its
 * state, input, variables, context, retry counts, children counters,
 * queue position or wake time, token), Map items are written once with
 * their frame, and each finished child's output is a row of results, so
 * a checkpoint writes only what changed (exec.c tracks dirty frames): a
 * Map of 10,000 iterations does not rewrite 10,000 rows per transition.
 * The rows are written in the same transaction as the events of the
 * transitions they follow, so the two always agree; resume rebuilds the
 * frames (exec_restore) and the history goes on from the recorded count.
 *
 * Group commits: a transaction covers several transitions and is
 * committed (1) before a transition that may reach outside the execution
 * (a Task call, a token handed out) and right after it, so a completed
 * call is never run again and only the call in flight is (at-least-once,
 * as on AWS); (2) before the execution waits for time or the outside
 * world; (3) at least every DURABLE_GROUP_S; (4) at the end. A crash loses
 * only side-effect-free transitions (Pass, Choice, Wait entry...) that
 * resume redoes the same way. A transition that committed on its own
 * (a task token is committed as soon as it is recorded, so another
 * process can answer it at once) may leave events ahead of the
 * checkpoint: resume drops the events after the checkpoint's count and
 * closes tokens no frame waits for. Measured reason: one commit per
 * transition kept 0.02x of EXPRESS speed on a Pass/Choice loop; see
 * /work/notes/readme/durable-design-note.md.
 *
 * The lease: the owner's pid and its start time (from /proc, so a reused
 * pid does not count) are on the execution's row, with a heartbeat at
 * every commit; resume refuses an execution whose owner still runs.
 * Stop requests are a column the owner reads at every commit.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "durable.h"
#include "history.h"
#include "sched.h"

#define DURABLE_GROUP_S 0.1  /* longest time between two commits */
#define DURABLE_REDRIVE_MAX 1000  /* AWS: redrives of one execution */

struct durable {
  store_t *s;
  durable_ctl_t ctl;
  int64_t row;      /* 0 until the row is written */
  json_t *pending;  /* events before the row */
  bool failed;      /* a write failed: the run stops */
  int64_t steps;    /* transitions since the last commit */
  double last;      /* wall time of the last commit */
  bool stop;        /* a stop request was read */
  char *stop_error, *stop_cause;
  char *err;
};

static void set_err(durable_t *d, const char *msg) {
  free(d->err);
  d->err = ms_strdup(msg);
}

static void set_store_err(durable_t *d) { set_err(d, store_errmsg(d->s)); }

durable_t *durable_new(store_t *s, const durable_ctl_t *ctl) {
  durable_t *d = ms_calloc(1, sizeof *d);
  d->s = s;
  if (ctl) d->ctl = *ctl;
  d->pending = json_array();
  return d;
}

void durable_free(durable_t *d) {
  if (!d) return;
  json_decref(d->pending);
  free(d->stop_error);
  free(d->stop_cause);
  free(d->err);
  free(d);
}

const char *durable_error(const durable_t *d) {
  return d->err ? d->err : "no error";
}

/* ---- hooks -------------------------------------------------------------- */

static void on_event(void *ud, const json_t *event) {
  durable_t *d = ud;
  if (d->ctl.log) d->ctl.log(d->ctl.log_ud, event);
  if (d->row == 0)
    json_array_append(d->pending, (json_t *)event);
  else if (!d->failed && store_event(d->s, d->row, event) < 0)
    d->failed = true;
}

/* Task tokens of a recorded run live in the store, so another process
 * (moonstep send-task-success ...) can complete them. */
static bool token_open(void *ud, const char *token, char **why) {
  durable_t *d = ud;
  if (d->row > 0 && store_token_open(d->s, d->row, token) == 0) return true;
  *why = ms_strdup(d->row > 0 ? store_errmsg(d->s)
                              : "the execution is not recorded yet");
  return false;
}

static int token_poll(void *ud, const char *token, int64_t *beats,
                      json_t **output, fault_t *f) {
  durable_t *d = ud;
  store_token_t t;
  if (store_token_check(d->s, token, &t) < 0) {
    fault_runtime(f, "reading the task token: %s", store_errmsg(d->s));
    return EXEC_TOKEN_ERROR;
  }
  int rc = EXEC_TOKEN_WAITING;
  switch (t.status) {
  case STORE_TOKEN_WAITING:
    *beats = t.heartbeats;
    break;
  case STORE_TOKEN_SUCCEEDED:
    *output = t.output ? jsonx_parse(t.output, strlen(t.output), NULL)
                       : NULL;
    if (!*output) *output = json_null();
    rc = EXEC_TOKEN_SUCCEEDED;
    break;
  case STORE_TOKEN_FAILED:
    fault_set(f, t.error ? t.error : "", t.cause ? "%s" : NULL, t.cause);
    rc = EXEC_TOKEN_FAILED;
    break;
  default:
    fault_runtime(f, "the task token %s is no longer in the database",
                  token);
    rc = EXEC_TOKEN_ERROR;
  }
  store_token_free(&t);
  return rc;
}

static void token_close(void *ud, const char *token) {
  durable_t *d = ud;
  if (!d->failed && (store_token_close(d->s, token) < 0 ||
                     store_commit(d->s) < 0))
    d->failed = true;
}

void durable_hook(durable_t *d, exec_opts_t *xo) {
  xo->on_event = on_event;
  xo->hook_ud = d;
  xo->token_open = token_open;
  xo->token_poll = token_poll;
  xo->token_close = token_close;
  xo->checkpoint = true;
}

/* ---- checkpoints -------------------------------------------------------- */

static int sink_exec(void *ud, const json_t *state) {
  durable_t *d = ud;
  return store_ck_exec(d->s, d->row, state, sched_wall_now());
}

static int sink_frame(void *ud, int64_t fid, const json_t *state,
                      const json_t *data, const json_t *items) {
  durable_t *d = ud;
  return store_ck_frame(d->s, d->row, fid, state, data, items);
}

static int sink_gone(void *ud, int64_t fid) {
  durable_t *d = ud;
  return store_ck_gone(d->s, d->row, fid);
}

static int sink_result(void *ud, int64_t fid, int64_t slot,
                       const json_t *value) {
  durable_t *d = ud;
  return store_ck_result(d->s, d->row, fid, slot, value);
}

/* Write the checkpoint and commit it with the events; read a stop
 * request. -1 (d->failed) on a store failure. */
static int commit_point(durable_t *d, exec_t *x) {
  if (d->failed) return -1;
  exec_sink_t k = {sink_exec, sink_frame, sink_gone, sink_result, d};
  if (exec_checkpoint(x, &k) < 0 || store_commit(d->s) < 0) {
    d->failed = true;
    return -1;
  }
  d->steps = 0;
  d->last = sched_wall_now();
  if (!d->stop) {
    if (store_stop_check(d->s, d->row, &d->stop, &d->stop_error,
                         &d->stop_cause) < 0) {
      d->failed = true;
      return -1;
    }
  }
  return 0;
}

/* ---- the owner ---------------------------------------------------------- */

/* The start time of process pid in clock ticks since boot (field 22 of
 * /proc/PID/stat), or 0 when unknown. */
static int64_t proc_start(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *fp = fopen(path, "r");
  if (!fp) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');  /* the command name may hold spaces */
  if (!p) return 0;
  /* after ") " come fields 3, 4, ...: skip to field 22 */
  int field = 2;
  for (p++; *p && field < 22; p++)
    if (*p == ' ') field++;
  return field == 22 ? strtoll(p, NULL, 10) : 0;
}

/* Whether the process that owns an execution still runs. */
static bool owner_alive(int64_t pid, int64_t start) {
  if (pid <= 0) return false;
  if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return false;
  int64_t now = proc_start((long)pid);
  return !start || !now || now == start;
}

static int own(durable_t *d, int64_t expect) {
  bool lost;
  long pid = (long)getpid();
  if (store_exec_own(d->s, d->row, pid, proc_start(pid), expect, &lost) < 0)
    return -1;
  if (lost) {
    set_err(d, "another process took the execution over first");
    return -1;
  }
  return 0;
}

int durable_begin(durable_t *d, exec_t *x, const char *machine,
                  const char *definition, bool *dup) {
  json_t *desc = exec_describe(x);
  d->row = store_exec_begin(d->s, desc, machine, definition, d->pending,
                            dup);
  json_decref(desc);
  json_array_clear(d->pending);
  if (d->row < 0) {
    d->row = 0;
    set_store_err(d);
    return -1;
  }
  if (own(d, 0) < 0) {
    if (!d->err) set_store_err(d);
    return -1;
  }
  if (commit_point(d, x) < 0) {
    set_store_err(d);
    return -1;
  }
  return 0;
}

/* ---- resume ------------------------------------------------------------- */

json_t *durable_load(durable_t *d, const char *id, bool *missing) {
  json_t *row = store_exec_load(d->s, id, missing);
  if (!row) set_store_err(d);
  return row;
}

static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static int64_t num(const json_t *o, const char *k) {
  return json_integer_value(json_object_get(o, k));
}

exec_t *durable_attach(durable_t *d, const json_t *row, const machine_t *m,
                       json_t *input, const exec_opts_t *xo) {
  const char *status = str(row, "status");
  const char *name = str(row, "name");
  if (!status || strcmp(status, "RUNNING")) {
    char *msg = ms_asprintf("the execution %s is not running (%s)", name,
                            status ? status : "?");
    set_err(d, msg);
    free(msg);
    return NULL;
  }
  int64_t pid = num(row, "owner_pid");
  if (pid == (int64_t)getpid() ||
      owner_alive(pid, num(row, "owner_start"))) {
    char *msg = ms_asprintf("the execution %s is still running in process "
                            "%lld", name, (long long)pid);
    set_err(d, msg);
    free(msg);
    return NULL;
  }
  d->row = num(row, "row");
  if (own(d, pid) < 0) {
    if (!d->err) set_store_err(d);
    return NULL;
  }
  exec_t *x = NULL;
  char *why = NULL;
  if (!json_is_object(json_object_get(row, "state"))) {
    /* killed between its row and its first checkpoint: start it again
     * (its ExecutionStarted is written anew) */
    if (store_events_after(d->s, d->row, 0) < 0) {
      set_store_err(d);
      return NULL;
    }
    x = exec_new(m, input, xo);
  } else {
    json_t *ck = json_pack("{sOsOsO}", "exec",
                           json_object_get(row, "state"), "frames",
                           json_object_get(row, "frames"), "results",
                           json_object_get(row, "results"));
    x = exec_restore(m, input, ck, xo, &why);
    json_decref(ck);
  }
  if (!x) {
    set_err(d, why ? why : "the checkpoint cannot be resumed");
    free(why);
    return NULL;
  }
  /* events of a transition lost in the crash, tokens of a lost call */
  json_t *waiting = NULL;
  int rc = store_events_after(d->s, d->row, exec_event_count(x));
  if (rc == 0) rc = store_tokens_waiting(d->s, d->row, &waiting);
  size_t i, j;
  json_t *t, *f;
  json_array_foreach(waiting, i, t) {
    const char *tok = json_string_value(json_array_get(t, 0));
    bool kept = false;
    json_array_foreach(json_object_get(row, "frames"), j, f)
      if (tok && str(json_array_get(f, 1), "tok") &&
          !strcmp(str(json_array_get(f, 1), "tok"), tok))
        kept = true;
    if (!kept && rc == 0) rc = store_token_close(d->s, tok);
  }
  json_decref(waiting);
  if (rc == 0) rc = store_commit(d->s);
  if (rc < 0) {
    set_store_err(d);
    exec_free(x);
    return NULL;
  }
  if (num(row, "stop_requested")) {
    d->stop = true;
    d->stop_error = str(row, "stop_error") ? ms_strdup(str(row, "stop_error"))
                                           : NULL;
    d->stop_cause = str(row, "stop_cause") ? ms_strdup(str(row, "stop_cause"))
                                           : NULL;
  }
  d->last = sched_wall_now();
  return x;
}

exec_t *durable_redrive(durable_t *d, const json_t *row,
                        const machine_t *m, json_t *input, exec_opts_t *xo) {
  const char *status = str(row, "status");
  const char *name = str(row, "name");
  if (!status || (strcmp(status, "FAILED") && strcmp(status, "TIMED_OUT") &&
                  strcmp(status, "ABORTED"))) {
    /* AWS: ExecutionNotRedrivable for RUNNING and SUCCEEDED ones */
    char *msg = ms_asprintf("the execution %s cannot be redriven: its "
                            "status is %s (ExecutionNotRedrivable)", name,
                            status ? status : "?");
    set_err(d, msg);
    free(msg);
    return NULL;
  }
  if (!json_array_size(json_object_get(row, "frames"))) {
    char *msg = ms_asprintf("the execution %s cannot be redriven: nothing "
                            "was kept of where it stopped "
                            "(ExecutionNotRedrivable)", name);
    set_err(d, msg);
    free(msg);
    return NULL;
  }
  int64_t count = num(row, "redrive_count") + 1;
  if (count > DURABLE_REDRIVE_MAX) {
    set_err(d, "the execution was redriven 1000 times already "
            "(ExecutionLimitExceeded)");
    return NULL;
  }
  d->row = num(row, "row");
  xo->redrive_count = count;
  json_t *ck = json_pack("{sOsOs[]}", "exec", json_object_get(row, "state"),
                         "frames", json_object_get(row, "frames"),
                         "results");
  char *why = NULL;
  exec_t *x = exec_redrive(m, input, ck, xo, &why);
  json_decref(ck);
  if (!x) {
    set_err(d, why ? why : "the execution cannot be redriven");
    free(why);
    return NULL;
  }
  /* RUNNING again, ExecutionRedriven and the owner in one commit */
  char when[32];
  history_time(sched_wall_now(), when);
  if (store_exec_reopen(d->s, d->row, count, when) < 0 ||
      own(d, num(row, "owner_pid")) < 0) {
    if (!d->err) set_store_err(d);
    exec_free(x);
    return NULL;
  }
  d->last = sched_wall_now();
  return x;
}

/* ---- driving ------------------------------------------------------------ */

int durable_drive(durable_t *d, exec_t *x) {
  bool more = exec_status(x) == EXEC_RUNNING;
  while (more && !d->failed) {
    if (d->ctl.interrupt && *d->ctl.interrupt) {
      exec_abort(x, NULL, d->ctl.interrupt_cause);
      break;
    }
    if (d->stop) {
      exec_abort(x, d->stop_error, d->stop_cause);
      break;
    }
    double idle = exec_idle_until(x);
    if (idle > 0 && idle - sched_wall_now() > DURABLE_GROUP_S) {
      /* a long wait: nap in slices, watching for a stop request */
      if (d->steps) commit_point(d, x);
      else if (store_stop_check(d->s, d->row, &d->stop, &d->stop_error,
                                &d->stop_cause) < 0)
        d->failed = true;
      struct timespec nap = {0, (long)(DURABLE_GROUP_S * 1e9)};
      nanosleep(&nap, NULL);
      continue;
    }
    bool effect = exec_next_effect(x);
    if (d->steps && (effect || !d->ctl.group ||
                     sched_wall_now() - d->last >= DURABLE_GROUP_S))
      commit_point(d, x);
    more = exec_step(x);
    d->steps++;
    if (effect || !d->ctl.group) commit_point(d, x);
  }
  if (!d->failed && commit_point(d, x) == 0) {
    json_t *desc = exec_describe(x);
    /* an unsuccessful end keeps the frames a redrive starts from */
    exec_sink_t k = {sink_exec, sink_frame, sink_gone, sink_result, d};
    if (store_ck_clear(d->s, d->row) < 0 ||
        (exec_status(x) != EXEC_SUCCEEDED &&
         exec_redrive_rows(x, &k) < 0) ||
        store_exec_end(d->s, d->row, desc) < 0)
      d->failed = true;
    json_decref(desc);
  }
  if (d->failed) {
    set_store_err(d);
    return -1;
  }
  return 0;
}
