/* api.c - the public C API (moonstep.h): engines, loaded machines, runs and
 * expression evaluation, over machine.c, exec.c and task.c.
 *
 * The CLI, the REPL and the Lua module call only these functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moonstep.h"
#include "exec.h"
#include "jsonloc.h"
#include "payload.h"

struct ms_engine {
  task_host_t *tasks;
  bool virtual_clock;
};

struct ms_machine {
  machine_t *m;
  json_t *definition;
};

ms_engine_t *ms_engine_new(const ms_options_t *o, char **err) {
  ms_options_t def = {0};
  if (!o) o = &def;
  task_host_t *h = task_host_new(o->tasks_dir ? o->tasks_dir : "tasks", err);
  if (!h) return NULL;
  ms_engine_t *e = ms_calloc(1, sizeof *e);
  e->tasks = h;
  e->virtual_clock = o->virtual_clock;
  return e;
}

void ms_engine_free(ms_engine_t *e) {
  if (!e) return;
  task_host_free(e->tasks);
  free(e);
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
  size_t before = d->nerrors;
  machine_t *m = machine_compile(def, d);
  jsonloc_fill(text, len, d);
  if (!m || d->nerrors > before) {
    machine_free(m);
    json_decref(def);
    return NULL;
  }
  ms_machine_t *mm = ms_calloc(1, sizeof *mm);
  mm->m = m;
  mm->definition = def;
  return mm;
}

void ms_machine_free(ms_machine_t *m) {
  if (!m) return;
  machine_free(m->m);
  json_decref(m->definition);
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

json_t *ms_run(ms_engine_t *e, ms_machine_t *m, json_t *input,
               const ms_run_options_t *o) {
  ms_run_options_t def = {0};
  if (!o) o = &def;
  exec_opts_t xo = {e->tasks, e->virtual_clock, o->express, o->name,
                    o->machine_name};
  exec_t *x = exec_new(m->m, input, &xo);
  exec_run(x);
  json_t *d = exec_describe(x);
  exec_free(x);
  return d;
}

static json_t *vars_lookup(const void *ud, const char *name) {
  return ud ? json_object_get(ud, name) : NULL;
}

json_t *ms_eval(const char *expr, json_t *input, json_t *context,
                json_t *vars, fault_t *f) {
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
  json_t *r = jexpr_eval(e, &s, NULL, f);
  jexpr_free(e);
  json_decref(empty);
  return r;
}
