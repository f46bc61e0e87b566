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
#include "mock.h"
#include "nested.h"
#include "payload.h"
#include "store.h"

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
  if (o->db_path) {
    s = store_open(o->db_path, o->db_sync_full, err);
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

/* A STANDARD run being recorded: its events go to the store only (the
 * execution keeps none in memory); those before the execution's row
 * exists (ExecutionStarted) wait in pending and go with the row. One
 * commit after each transition. */
typedef struct recorder {
  store_t *s;
  int64_t row;      /* 0 until the row is written */
  json_t *pending;  /* events before the row */
  bool failed;      /* a write failed: the run stops */
} recorder_t;

static void record_event(void *ud, const json_t *event) {
  recorder_t *r = ud;
  if (r->row == 0)
    json_array_append(r->pending, (json_t *)event);
  else if (!r->failed && store_event(r->s, r->row, event) < 0)
    r->failed = true;
}

/* Task tokens of a recorded run live in the store, so another process
 * (moonstep send-task-success ...) can complete them. */
static bool record_token_open(void *ud, const char *token, char **why) {
  recorder_t *r = ud;
  if (r->row > 0 && store_token_open(r->s, r->row, token) == 0) return true;
  *why = ms_strdup(r->row > 0 ? store_errmsg(r->s)
                              : "the execution is not recorded yet");
  return false;
}

static int record_token_poll(void *ud, const char *token, int64_t *beats,
                             json_t **output, fault_t *f) {
  recorder_t *r = ud;
  store_token_t t;
  if (store_token_check(r->s, token, &t) < 0) {
    fault_runtime(f, "reading the task token: %s", store_errmsg(r->s));
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

static void record_token_close(void *ud, const char *token) {
  recorder_t *r = ud;
  if (!r->failed && (store_token_close(r->s, token) < 0 ||
                     store_commit(r->s) < 0))
    r->failed = true;
}

/* Drive x to the end, committing each transition; false on a store
 * failure (the execution is left RUNNING in the store). */
static bool run_recorded(ms_engine_t *e, ms_machine_t *m, exec_t *x,
                         recorder_t *r, const char *machine) {
  json_t *d = exec_describe(x);
  bool dup;
  r->row = store_exec_begin(r->s, d, machine, m->text, r->pending, &dup);
  json_decref(d);
  if (r->row < 0) {
    r->row = 0;
    set_error(e, store_errmsg(r->s));
    return false;
  }
  bool more;
  do {
    more = exec_step(x);
    if (!r->failed && store_commit(r->s) < 0) r->failed = true;
  } while (more && !r->failed);
  if (!r->failed) {
    d = exec_describe(x);
    r->failed = store_exec_end(r->s, r->row, d) < 0;
    json_decref(d);
  }
  if (r->failed) set_error(e, store_errmsg(r->s));
  return !r->failed;
}

json_t *ms_run(ms_engine_t *e, ms_machine_t *m, json_t *input,
               const ms_run_options_t *o) {
  ms_run_options_t def = {0};
  if (!o) o = &def;
  recorder_t rec = {e->store, 0, NULL, false};
  bool record = e->store && !o->express;
  exec_opts_t xo = {
    .tasks = e->tasks, .virtual_clock = e->virtual_clock,
    .no_aws_limits = e->no_aws_limits,
    .express = o->express, .name = o->name, .machine_name = o->machine_name,
    .mock = o->mock, .mock_ud = o->mock_ud,
    .on_event = record ? record_event : NULL, .hook_ud = &rec,
    .token_open = record ? record_token_open : NULL,
    .token_poll = record ? record_token_poll : NULL,
    .token_close = record ? record_token_close : NULL,
    .stream_events = !o->history,  /* asked for: kept as well */
  };
  if (record) rec.pending = json_array();
  exec_t *x = exec_new(m->m, input, &xo);
  json_t *d = NULL;
  if (!record) {
    exec_run(x);
    d = exec_describe(x);
  } else if (run_recorded(e, m, x, &rec,
                          o->machine_name ? o->machine_name : "moonstep")) {
    d = exec_describe(x);
  }
  if (o->failed_state) {
    const char *fs = exec_failed_state(x);
    *o->failed_state = fs ? ms_strdup(fs) : NULL;
  }
  if (o->history) {
    json_t *h = exec_history_peek(x);  /* NULL for EXPRESS */
    *o->history = d ? (h ? json_incref(h) : json_array()) : NULL;
  }
  exec_free(x);
  json_decref(rec.pending);
  return d;
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
