/* api.c - the public C API (moonstep.h): engines, loaded machines, runs,
 * expression and template evaluation, JSONPath descriptions and source
 * locations, recorded executions, over machine.c, exec.c, task.c,
 * payload.c, jpath.c, jsonloc.c and store.c.
 *
 * The CLI, the REPL and the Lua module call only these functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moonstep.h"
#include "exec.h"
#include "jsonloc.h"
#include "jtmpl.h"
#include "mock.h"
#include "nested.h"
#include "payload.h"
#include "store.h"
#include "s3.h"
#include "tables.h"
#include "durable.h"
#include "inspect.h"  /* ms_exec_opts, ms_machine_peek */

struct ms_engine {
  task_host_t *tasks;
  bool virtual_clock;
  bool no_aws_limits;
  store_t *store;  /* NULL: nothing is recorded */
  nested_t *nested;  /* runs states:startExecution Tasks */
  char *err;       /* why the last call returned NULL */
};

struct ms_machine {
  machine_t *m;
  json_t *definition;
  char *text;      /* the definition as given, for the store */
};

ms_engine_t *ms_engine_new(const ms_options_t *o, char **err) {
  ms_options_t def = {0};
  if (!o) o = &def;
  task_host_t *h = task_host_new(o->tasks_dir ? o->tasks_dir : "tasks", err);
  if (!h) return NULL;
  store_t *s = NULL;
  if (o->buckets_dir) s3_set_root(o->buckets_dir);
  if (o->db_path) {
    tables_set_default_path(o->db_path);  /* handlers' and dynamodb's */
    s = store_open(o->db_path, o->db_sync_full, err);
    tables_share(o->db_path, store_sqlite(s));  /* no-op when s is NULL */
    if (!s) {
      task_host_free(h);
      return NULL;
    }
  }
  ms_engine_t *e = ms_calloc(1, sizeof *e);
  e->tasks = h;
  e->virtual_clock = o->virtual_clock;
  e->no_aws_limits = o->no_aws_limits;
  task_host_set_payload_limit(h, o->no_aws_limits ? 0 : MS_PAYLOAD_MAX);
  e->store = s;
  e->nested = nested_new(e, o->machines_dir);
  task_host_set_nested(h, nested_run, e->nested);
  return e;
}

void ms_engine_free(ms_engine_t *e) {
  if (!e) return;
  task_host_free(e->tasks);
  nested_free(e->nested);
  tables_unshare(store_sqlite(e->store));
  store_close(e->store);
  free(e->err);
  free(e);
}

void ms_engine_reload(ms_engine_t *e, const char *name) {
  task_host_reload(e->tasks, name);
}

const char *ms_engine_error(const ms_engine_t *e) {
  return e->err ? e->err : "no error";
}

static void set_error(ms_engine_t *e, const char *msg) {
  free(e->err);
  e->err = ms_strdup(msg);
}

/* jsonx_parse reports "line L column C: message"; keep the position. */
static void parse_error(diags_t *d, const char *err) {
  int line = 0, col = 0;
  const char *msg = err;
  if (sscanf(err, "line %d column %d:", &line, &col) == 2) {
    const char *colon = strchr(err, ':');
    if (colon) msg = colon + 2;
  }
  diags_add(d, false, "", "the definition is not valid JSON: %s", msg);
  d->v[d->n - 1].line = line;
  d->v[d->n - 1].col = col;
}

/* Diagnostics in the order of the text, so a reader goes top to bottom;
 * a stable insertion sort (there are few, and ties keep their order). */
static void diags_sort(diags_t *d, size_t from) {
  for (size_t i = from + 1; i < d->n; i++) {
    diag_t g = d->v[i];
    size_t j = i;
    while (j > from && (d->v[j - 1].line > g.line ||
                        (d->v[j - 1].line == g.line &&
                         d->v[j - 1].col > g.col))) {
      d->v[j] = d->v[j - 1];
      j--;
    }
    d->v[j] = g;
  }
}

/* Keep MS_DIAGS_MAX of the diagnostics added since from, errors before
 * warnings, as AWS keeps maxResults: locating each one scans the text, so
 * thousands would take quadratic time. d->nerrors still counts every
 * error. Returns how many were dropped. */
static size_t drop_extra(diags_t *d, size_t from) {
  size_t keep = from + MS_DIAGS_MAX, dropped = 0;
  if (d->n <= keep) return 0;
  diag_t *tmp = ms_malloc((d->n - from) * sizeof *tmp);
  size_t k = 0;
  for (int pass = 0; pass < 2; pass++)  /* errors, then warnings */
    for (size_t i = from; i < d->n; i++)
      if (d->v[i].warning == (pass == 1)) tmp[k++] = d->v[i];
  memcpy(d->v + from, tmp, k * sizeof *tmp);
  free(tmp);
  for (; d->n > keep; dropped++) {
    d->n--;
    free(d->v[d->n].ptr);
    free(d->v[d->n].msg);
  }
  return dropped;
}

ms_machine_t *ms_machine_load(const char *text, size_t len, diags_t *d) {
  if (len > MS_DEFINITION_MAX) {
    diags_add(d, false, "", "the definition is %zu bytes; the limit is %d",
              len, MS_DEFINITION_MAX);
    return NULL;
  }
  char *err = NULL;
  json_t *def = jsonx_parse(text, len, &err);
  if (!def) {
    parse_error(d, err ? err : "invalid JSON");
    free(err);
    return NULL;
  }
  size_t before = d->nerrors, first = d->n;
  machine_t *m = machine_compile(def, d);
  size_t dropped = drop_extra(d, first);
  jsonloc_fill(text, len, d);
  jtmpl_locate(text, len, d);  /* where a JSONata syntax error is */
  diags_sort(d, first);
  if (dropped)
    diags_add(d, true, "", "%zu more problems not shown (the first %d "
              "are)", dropped, MS_DIAGS_MAX);
  if (!m || d->nerrors > before) {
    machine_free(m);
    json_decref(def);
    return NULL;
  }
  ms_machine_t *mm = ms_calloc(1, sizeof *mm);
  mm->m = m;
  mm->definition = def;
  mm->text = ms_strndup(text, len);
  return mm;
}

void ms_machine_free(ms_machine_t *m) {
  if (!m) return;
  machine_free(m->m);
  json_decref(m->definition);
  free(m->text);
  free(m);
}

void ms_diags_print(const diags_t *d, const char *filename, void *stream) {
  FILE *out = stream;
  for (size_t i = 0; i < d->n; i++) {
    const diag_t *g = &d->v[i];
    fprintf(out, "%s:%d:%d: %s: %s: %s\n", filename, g->line, g->col,
            g->warning ? "warning" : "error", *g->ptr ? g->ptr : "/",
            g->msg);
  }
}

/* ---- runs ---------------------------------------------------------------
 * A STANDARD run with a store is recorded by durable.c (events, group
 * commits, checkpoints); others run in memory. */

#define INTERRUPT_CAUSE "The execution was interrupted (SIGINT or SIGTERM)."

static void log_event(void *ud, const json_t *event) {
  FILE *fp = ud;
  char *s = jsonx_dump(event, JSONX_COMPACT);
  fputs(s, fp);
  fputc('\n', fp);
  fflush(fp);
  free(s);
}

/* --log: a Distributed Map's failed child, whose events are not in the
 * stream, as one line {"childExecutionFailed": note} (not an event). */
static void log_child(void *ud, const json_t *note) {
  json_t *line = json_pack("{sO}", "childExecutionFailed", note);
  log_event(ud, line);
  json_decref(line);
}

/* The options every run shares. */
static void run_opts(ms_engine_t *e, const ms_run_options_t *o,
                     exec_opts_t *xo) {
  *xo = (exec_opts_t){
    .on_child_failed = o->log ? log_child : NULL, .child_ud = o->log,
    .tasks = e->tasks, .virtual_clock = e->virtual_clock,
    .no_aws_limits = e->no_aws_limits,
    .express = o->express, .name = o->name, .machine_name = o->machine_name,
    .mock = o->mock, .mock_ud = o->mock_ud,
    .stream_events = !o->history,  /* asked for: kept as well */
    .max_events = o->max_events,
  };
}

/* For the debugger (inspect.h). */
void ms_exec_opts(ms_engine_t *e, const ms_run_options_t *o,
                  exec_opts_t *xo) {
  run_opts(e, o, xo);
}

const machine_t *ms_machine_peek(const ms_machine_t *m) { return m->m; }

static durable_t *recorder(ms_engine_t *e, const ms_run_options_t *o) {
  durable_ctl_t ctl = {
    .interrupt = o->interrupt, .interrupt_cause = INTERRUPT_CAUSE,
    .group = !o->commit_each, .log = o->log ? log_event : NULL,
    .log_ud = o->log,
  };
  return durable_new(e->store, &ctl);
}

/* The results a run hands back, then x is freed. */
static json_t *finish(exec_t *x, json_t *d, const ms_run_options_t *o) {
  if (o->failed_state) {
    const char *fs = exec_failed_state(x);
    *o->failed_state = fs ? ms_strdup(fs) : NULL;
  }
  if (o->history) {
    json_t *h = exec_history_peek(x);  /* NULL for EXPRESS */
    *o->history = d ? (h ? json_incref(h) : json_array()) : NULL;
  }
  exec_free(x);
  return d;
}

json_t *ms_run(ms_engine_t *e, ms_machine_t *m, json_t *input,
               const ms_run_options_t *o) {
  ms_run_options_t def = {0};
  if (!o) o = &def;
  exec_opts_t xo;
  run_opts(e, o, &xo);
  if (!e->store || o->express) {
    if (o->log) {
      xo.on_event = log_event;
      xo.hook_ud = o->log;
    }
    exec_t *x = exec_new(m->m, input, &xo);
    bool more = true;
    while (more) {
      if (o->interrupt && *o->interrupt) {
        exec_abort(x, NULL, INTERRUPT_CAUSE);
        break;
      }
      more = exec_step(x);
    }
    return finish(x, exec_describe(x), o);
  }
  durable_t *r = recorder(e, o);
  durable_hook(r, &xo);
  exec_t *x = exec_new(m->m, input, &xo);
  bool dup;
  json_t *d = NULL;
  if (durable_begin(r, x, o->machine_name ? o->machine_name : "moonstep",
                    m->text, &dup) == 0 && durable_drive(r, x) == 0)
    d = exec_describe(x);
  else
    set_error(e, durable_error(r));
  durable_free(r);
  return finish(x, d, o);
}

/* What take_over does with an execution it rebuilds. */
typedef enum { TAKE_RESUME, TAKE_STOP, TAKE_REDRIVE } take_t;

/* Load execution id and rebuild it (from its checkpoint, or for a
 * redrive from where it stopped); then drive it (TAKE_STOP: abort it at
 * once with error and cause). */
static json_t *take_over(ms_engine_t *e, const char *id,
                         const ms_run_options_t *o, bool *missing,
                         take_t how, const char *error, const char *cause) {
  ms_run_options_t def = {0};
  if (!o) o = &def;
  if (missing) *missing = false;
  if (!e->store) {
    set_error(e, "no database is open (db_path is NULL)");
    return NULL;
  }
  durable_t *r = recorder(e, o);
  bool miss = false;
  json_t *row = durable_load(r, id, &miss);
  if (missing) *missing = miss;
  exec_t *x = NULL;
  json_t *d = NULL;
  ms_machine_t *mm = NULL;
  if (row) {
    const char *text = json_string_value(json_object_get(row,
                                                         "definition"));
    diags_t dg;
    diags_init(&dg);
    mm = text ? ms_machine_load(text, strlen(text), &dg) : NULL;
    diags_free(&dg);
    if (!mm) {
      set_error(e, "the recorded definition no longer loads");
    } else {
      exec_opts_t xo;
      ms_run_options_t o2 = *o;
      o2.name = json_string_value(json_object_get(row, "name"));
      o2.machine_name = json_string_value(json_object_get(row, "machine"));
      run_opts(e, &o2, &xo);
      xo.redrive_count = json_integer_value(json_object_get(row,
                                                            "redrive_count"));
      durable_hook(r, &xo);
      json_t *in = json_object_get(row, "input");
      x = how == TAKE_REDRIVE ? durable_redrive(r, row, mm->m, in, &xo)
                              : durable_attach(r, row, mm->m, in, &xo);
      if (x && how == TAKE_STOP) exec_abort(x, error, cause);
      if (x && durable_drive(r, x) == 0) d = exec_describe(x);
      if (!d) set_error(e, durable_error(r));
    }
  } else {
    set_error(e, durable_error(r));
  }
  durable_free(r);
  json_decref(row);
  if (x) d = finish(x, d, o);
  ms_machine_free(mm);
  return d;
}

json_t *ms_resume(ms_engine_t *e, const char *id, const ms_run_options_t *o,
                  bool *missing) {
  return take_over(e, id, o, missing, TAKE_RESUME, NULL, NULL);
}

json_t *ms_redrive(ms_engine_t *e, const char *id, const ms_run_options_t *o,
                   bool *missing) {
  return take_over(e, id, o, missing, TAKE_REDRIVE, NULL, NULL);
}

/* The input state last had in a history (events, borrowed): new
 * reference or NULL. */
static json_t *entered_input(const json_t *events, const char *state) {
  for (size_t i = json_array_size(events); i-- > 0;) {
    const json_t *ev = json_array_get(events, i);
    const json_t *d = json_object_get(ev, "stateEnteredEventDetails");
    const char *name = json_string_value(json_object_get(d, "name"));
    const char *in = json_string_value(json_object_get(d, "input"));
    if (name && in && !strcmp(name, state))
      return jsonx_parse(in, strlen(in), NULL);
  }
  return NULL;
}

json_t *ms_rerun(ms_engine_t *e, const char *id, const char *state,
                 json_t *input, const ms_run_options_t *o, bool *missing) {
  ms_run_options_t def = {0};
  if (!o) o = &def;
  *missing = false;
  if (!e->store) {
    set_error(e, "no database is open (db_path is NULL)");
    return NULL;
  }
  json_t *row = store_exec_load(e->store, id, missing);
  json_t *hist = row && !input ? store_history(e->store, id, false, missing)
                               : NULL;
  json_t *in = input ? json_incref(input)
               : hist ? entered_input(json_object_get(hist, "events"), state)
               : NULL;
  const char *text = json_string_value(json_object_get(row, "definition"));
  json_t *defn = text ? jsonx_parse(text, strlen(text), NULL) : NULL;
  json_t *d = NULL;
  char *msg = NULL;
  if (!row || (!input && !hist)) {
    set_error(e, store_errmsg(e->store));
  } else if (!json_is_object(json_object_get(json_object_get(defn, "States"),
                                             state))) {
    msg = ms_asprintf("%s has no top-level state named '%s' (rerun starts "
                      "at a state of the top level)", id, state);
  } else if (!in) {
    msg = ms_asprintf("the state '%s' was never entered in %s; give its "
                      "input with --input", state, id);
  } else {
    json_object_set_new(defn, "StartAt", json_string(state));
    char *t = jsonx_dump(defn, JSONX_COMPACT);
    diags_t dg;
    diags_init(&dg);
    ms_machine_t *mm = ms_machine_load(t, strlen(t), &dg);
    diags_free(&dg);
    free(t);
    if (!mm) {
      msg = ms_asprintf("the definition of %s does not load from '%s'", id,
                        state);
    } else {
      ms_run_options_t o2 = *o;
      o2.machine_name = json_string_value(json_object_get(row, "machine"));
      d = ms_run(e, mm, in, &o2);
      ms_machine_free(mm);
    }
  }
  if (msg) set_error(e, msg);
  free(msg);
  json_decref(defn);
  json_decref(in);
  json_decref(hist);
  json_decref(row);
  return d;
}

int ms_stop(ms_engine_t *e, const char *id, const char *error,
            const char *cause, bool *missing, bool *running) {
  *running = false;
  json_t *d = ms_execution_describe(e, id, missing);
  if (!d) return -1;
  const char *st = json_string_value(json_object_get(d, "status"));
  bool open = st && !strcmp(st, "RUNNING");
  if (!open) {
    char *msg = ms_asprintf("the execution %s is not running (%s)", id,
                            st ? st : "?");
    set_error(e, msg);
    free(msg);
    json_decref(d);
    return -1;
  }
  json_decref(d);
  /* an execution whose process died is aborted here at once; a live
   * owner reads the request at its next commit */
  d = take_over(e, id, NULL, NULL, TAKE_STOP, error, cause);
  if (d) {
    json_decref(d);
    return 0;
  }
  int64_t row = 0;
  bool miss;
  json_t *r = store_exec_load(e->store, id, &miss);
  row = json_integer_value(json_object_get(r, "row"));
  json_decref(r);
  if (row <= 0 || store_stop_request(e->store, row, error, cause) < 0) {
    set_error(e, store_errmsg(e->store));
    return -1;
  }
  *running = true;
  return 0;
}

char *ms_db_check(ms_engine_t *e) {
  char *r = NULL;
  if (!e->store) set_error(e, "no database is open (db_path is NULL)");
  else if (store_check(e->store, &r) < 0) set_error(e, store_errmsg(e->store));
  return r;
}

/* The store's readers, with its errors passed on. */
static store_t *store_of(ms_engine_t *e, bool *missing) {
  if (missing) *missing = false;
  if (!e->store) set_error(e, "no database is open (db_path is NULL)");
  return e->store;
}

static json_t *passed(ms_engine_t *e, json_t *v, bool *missing, bool miss) {
  if (missing) *missing = miss;
  if (!v) set_error(e, store_errmsg(e->store));
  return v;
}

json_t *ms_execution_describe(ms_engine_t *e, const char *id,
                              bool *missing) {
  bool miss = false;
  if (!store_of(e, missing)) return NULL;
  return passed(e, store_describe(e->store, id, &miss), missing, miss);
}

json_t *ms_execution_history(ms_engine_t *e, const char *id, bool reverse,
                             bool *missing) {
  bool miss = false;
  if (!store_of(e, missing)) return NULL;
  return passed(e, store_history(e->store, id, reverse, &miss), missing,
                miss);
}

json_t *ms_executions_list(ms_engine_t *e, const char *status,
                           const char *machine) {
  if (!store_of(e, NULL)) return NULL;
  return passed(e, store_list(e->store, status, machine), NULL, false);
}

int ms_task_send(ms_engine_t *e, ms_token_op_t op, const char *token,
                 json_t *output, const char *error, const char *cause,
                 const char **code) {
  *code = NULL;
  if (!store_of(e, NULL)) return -1;
  /* AWS's answers (SendTaskSuccess and friends): InvalidToken for a
   * token that is not one, TaskDoesNotExist for one it does not know,
   * TaskTimedOut for one already closed */
  if (!token || strncmp(token, "mstt1-", 6) != 0) {
    *code = "InvalidToken";
    set_error(e, "Invalid Token: 'Invalid token'");
    return -1;
  }
  char *out = output ? jsonx_dump(output, JSONX_COMPACT) : NULL;
  store_token_status_t to = op == MS_TOKEN_SUCCESS ? STORE_TOKEN_SUCCEEDED
                            : op == MS_TOKEN_FAILURE ? STORE_TOKEN_FAILED
                            : STORE_TOKEN_WAITING;
  store_token_status_t was;
  int rc = store_token_send(e->store, token, to, out, error, cause, &was);
  free(out);
  if (rc < 0) {
    set_error(e, store_errmsg(e->store));
    return -1;
  }
  if (was == STORE_TOKEN_MISSING) {
    *code = "TaskDoesNotExist";
    set_error(e, "Task Does Not Exist: 'Provided task does not exist'");
    return -1;
  }
  if (was != STORE_TOKEN_WAITING) {
    *code = "TaskTimedOut";
    set_error(e, "Task Timed Out: 'Provided task does not exist anymore'");
    return -1;
  }
  return 0;
}

/* Mocks: thin over mock.c. */
ms_mocks_t *ms_mocks_new(void) { return mock_new(); }
void ms_mocks_free(ms_mocks_t *k) { mock_free(k); }

bool ms_mocks_load(ms_mocks_t *k, const char *text, size_t len,
                   const char *machine_name, const char *test_case,
                   char **err) {
  char *perr = NULL;
  json_t *cfg = jsonx_parse(text, len, &perr);
  if (!cfg) {
    *err = ms_asprintf("not valid JSON: %s", perr ? perr : "?");
    free(perr);
    return false;
  }
  bool ok = mock_load(k, cfg, machine_name, test_case, err);
  json_decref(cfg);
  return ok;
}

bool ms_mocks_set(ms_mocks_t *k, const char *state, json_t *response,
                  char **err) {
  return mock_set_response(k, state, response, err);
}

void ms_mocks_set_call(ms_mocks_t *k, const char *state, ms_mock_call_fn fn,
                       void *ud) {
  mock_set_call(k, state, fn, ud);
}

bool ms_mocks_check(const ms_mocks_t *k, const ms_machine_t *m, char **err) {
  return mock_check(k, m->m, err);
}

bool ms_mocks_answer(void *ud, const char *state, json_t *input,
                     json_t **result, fault_t *f) {
  return mock_answer(ud, state, input, result, f);
}

json_t *ms_invoke(ms_engine_t *e, const char *function, json_t *event,
                  json_t **error) {
  return task_invoke(e->tasks, function, event, error);
}

static json_t *vars_lookup(const void *ud, const char *name) {
  return ud ? json_object_get(ud, name) : NULL;
}

json_t *ms_eval(const char *expr, const char *field, json_t *input,
                json_t *context, json_t *vars, fault_t *f) {
  char *err = NULL;
  jexpr_t *e = jexpr_compile(expr, &err);
  if (!e) {
    fault_set(f, "States.Runtime", "%s", err ? err : "invalid expression");
    free(err);
    return NULL;
  }
  json_t *empty = NULL;
  if (!input) input = empty = json_object();
  jscope_t s = {input, context, vars_lookup, vars};
  json_t *r = jexpr_eval(e, &s, field, f);
  jexpr_free(e);
  json_decref(empty);
  return r;
}

json_t *ms_template(json_t *tpl, bool assign, json_t *input,
                    json_t *context, json_t *vars, diags_t *d, fault_t *f) {
  const char *ptr = assign ? "/Assign" : "/Parameters";
  if (!tpl) {
    diags_add(d, false, ptr, "no template given");
    return NULL;
  }
  size_t before = d->nerrors;
  tmpl_t *t = assign ? tmpl_compile_assign(tpl, ptr, d)
                     : tmpl_compile(tpl, ptr, d);
  if (!t || d->nerrors > before) {
    tmpl_free(t);
    return NULL;
  }
  json_t *empty = NULL;
  if (!input) input = empty = json_object();
  jscope_t s = {input, context, vars_lookup, vars};
  json_t *r = tmpl_eval(t, &s, f);
  tmpl_free(t);
  json_decref(empty);
  return r;
}

/* How ms_path names a path's root. */
static const char *const root_names[] = {
  [JPATH_INPUT] = "input", [JPATH_CONTEXT] = "context",
  [JPATH_VAR] = "variable",
};

json_t *ms_path(const char *text, char **err) {
  jpath_t *p = jpath_compile(text, err);
  if (!p) return NULL;
  char *norm = jpath_normalized(p);
  json_t *r = json_pack("{s:s, s:s, s:b, s:s}", "text", jpath_text(p),
                        "normalized", norm, "reference",
                        jpath_is_reference(p), "root",
                        root_names[jpath_root(p)]);
  free(norm);
  jpath_free(p);
  if (!r && err) *err = ms_strdup("the path is not valid UTF-8");
  return r;
}

bool ms_locate(const char *text, size_t len, const char *ptr, int *line,
               int *col) {
  return jsonloc_find(text, len, ptr, line, col);
}
