/* exec_jsonata.c - the data flow of JSONata states (QueryLanguage
 * "JSONata"): the bindings their expressions see ($states.input, .result,
 * .errorOutput, .context and the workflow variables), Arguments, Output,
 * Assign, Choice Conditions, Wait's Seconds/Timestamp, Fail's Error/Cause,
 * a Task's TimeoutSeconds/HeartbeatSeconds and a Map's Items, ItemSelector,
 * MaxConcurrency and tolerated failures, and the EvaluationFailed event
 * of a failed evaluation. Part of the interpreter (exec.c calls in here
 * where a JSONPath state would use paths and templates; exec_kids.c for
 * the Map's items); the templates are jtmpl.c's.
 *
 * What AWS does is confirmed by the recorded conformance cases where they
 * show it (messages of Items, Timestamp, undefined results); the rest of
 * the wording is marked as a guess where it is written.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec_int.h"

/* Put f's variables into b, the outermost scope first so that inner ones
 * win (exec_var_lookup's order). */
static void add_vars(const frame_t *f, json_t *b) {
  if (!f) return;
  add_vars(f->parent, b);
  if (f->vars) json_object_update(b, f->vars);
}

json_t *exec_js_bindings(const frame_t *f, json_t *input, json_t *ctx,
                         json_t *result, json_t *error_output) {
  json_t *b = json_object(), *st = json_object();
  add_vars(f, b);
  json_object_set(st, "input", input ? input : json_null());
  json_object_set(st, "context", ctx ? ctx : f->ctx);
  if (result) json_object_set(st, "result", result);
  if (error_output) json_object_set(st, "errorOutput", error_output);
  json_object_set_new(b, "states", st);
  return b;
}

/* Evaluate Assign (if any) and Output (default dflt) with bindings b. */
static bool assign_output(const jtmpl_t *assign, const jtmpl_t *output,
                          json_t *dflt, const json_t *b, json_t **out,
                          json_t **assigned, fault_t *e) {
  *out = *assigned = NULL;
  if (assign && !(*assigned = jtmpl_eval(assign, b, e))) return false;
  *out = output ? jtmpl_eval(output, b, e) : json_incref(dflt);
  if (!*out) {
    json_decref(*assigned);
    *assigned = NULL;
    return false;
  }
  return true;
}

bool exec_js_result(frame_t *f, json_t *result, json_t **out,
                    json_t **assigned, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  bool has_result = st->type == ST_TASK || st->type == ST_PARALLEL ||
                    st->type == ST_MAP;
  json_t *b = exec_js_bindings(f, f->input, NULL,
                               has_result ? result : NULL, NULL);
  bool ok = assign_output(st->js->assign, st->js->output,
                          has_result ? result : f->input, b, out,
                          assigned, e);
  json_decref(b);
  return ok;
}

bool exec_js_pass_on(frame_t *f, const choice_branch_t *rule, json_t **out,
                     json_t **assigned, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  const jtmpl_t *output = rule && rule->joutput ? rule->joutput
                                                : st->js->output;
  bool ok = assign_output(st->js->assign, output, f->input, b, out,
                          assigned, e);
  json_t *more = NULL;
  if (ok && rule && rule->jassign) {
    /* the rule's Assign applies with the state's; it wins on a clash */
    if (!(more = jtmpl_eval(rule->jassign, b, e))) {
      json_decref(*out);
      json_decref(*assigned);
      *out = *assigned = NULL;
      ok = false;
    } else if (*assigned) {
      json_object_update(*assigned, more);
      json_decref(more);
    } else {
      *assigned = more;
    }
  }
  json_decref(b);
  return ok;
}

bool exec_js_catch(frame_t *f, const catcher_t *ct, json_t *eo,
                   json_t **out, json_t **assigned, fault_t *e) {
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, eo);
  bool ok = assign_output(ct->jassign, ct->joutput, eo, b, out, assigned,
                          e);
  json_decref(b);
  return ok;
}

bool exec_js_arguments(frame_t *f, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  if (!st->js->arguments) return true;
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  json_t *a = jtmpl_eval(st->js->arguments, b, e);
  json_decref(b);
  if (!a) return false;
  json_decref(f->effective);
  f->effective = a;
  return true;
}

int exec_js_choose(frame_t *f, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  int r = -1;
  for (size_t i = 0; i < st->nchoices && r == -1; i++) {
    const jtmpl_t *c = st->choices[i].jcond;
    json_t *v = c ? jtmpl_eval(c, b, e) : json_false();
    if (!v) {
      r = -2;
    } else if (!json_is_boolean(v)) {
      jtmpl_type_fault(c, "boolean", v, e);
      r = -2;
    } else if (json_is_true(v)) {
      r = (int)i;
    }
    json_decref(v);
  }
  json_decref(b);
  return r;
}

/* Evaluate a number field t with bindings b into *out: an integer (or
 * any number when !integral) within [lo, hi]. The wording of the range
 * message is a guess. */
static bool num_of(const jtmpl_t *t, const json_t *b, bool integral,
                   double lo, double hi, double *out, fault_t *e) {
  json_t *v = jtmpl_eval(t, b, e);
  if (!v) return false;
  double x = 0;
  bool ok = integral ? json_is_integer(v) ||
                           (json_is_real(v) &&
                            exec_is_integral(json_real_value(v)))
                     : json_is_number(v);
  if (!ok) {
    jtmpl_type_fault(t, integral ? "integer" : "number", v, e);
  } else {
    x = json_number_value(v);
    if (x < lo || x > hi) {
      char *txt = exec_value_text(v);
      fault_set(e, "States.QueryEvaluationError", "The value of the field "
                "'%s' must be between %g and %g, but was: %s",
                jtmpl_field(t), lo, hi, txt);
      e->in_state = true;
      free(txt);
      ok = false;
    }
  }
  json_decref(v);
  *out = x;
  return ok;
}

#define INT_MAX_FIELD 99999999.0  /* AWS: bound of the integer fields */

bool exec_js_task_seconds(frame_t *f, double *timeout, double *heartbeat,
                          fault_t *e) {
  const jstate_t *j = f->m->states[f->cur].js;
  *timeout = *heartbeat = 0;
  if (!j->timeout_seconds && !j->heartbeat_seconds) return true;
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  bool ok = (!j->timeout_seconds ||
             num_of(j->timeout_seconds, b, true, 1, INT_MAX_FIELD, timeout,
                    e)) &&
            (!j->heartbeat_seconds ||
             num_of(j->heartbeat_seconds, b, true, 1, INT_MAX_FIELD,
                    heartbeat, e));
  json_decref(b);
  return ok;
}

bool exec_js_wait_until(frame_t *f, double now, double *until, fault_t *e) {
  const jstate_t *j = f->m->states[f->cur].js;
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  bool ok = true;
  *until = now;
  if (j->seconds) {
    double s;
    ok = num_of(j->seconds, b, true, 0, INT_MAX_FIELD, &s, e);
    if (ok) *until = now + s;
  } else if (j->timestamp) {
    json_t *v = jtmpl_eval(j->timestamp, b, e);
    double epoch;
    if (!v) {
      ok = false;
    } else if (!json_is_string(v) ||
               !choice_parse_timestamp(json_string_value(v), &epoch)) {
      char *txt = exec_value_text(v);
      fault_set(e, "States.QueryEvaluationError", "The Timestamp field "
                "cannot be parsed as an ISO-8601 extended offset date-time "
                "format string: %s", txt);
      e->in_state = true;
      free(txt);
      ok = false;
    } else {
      *until = epoch;
    }
    json_decref(v);
  }
  json_decref(b);
  return ok;
}

/* A Fail state's Error or Cause: a string, or NULL (absent). */
static bool fail_text(const jtmpl_t *t, const json_t *b, char **out,
                      fault_t *e) {
  *out = NULL;
  if (!t) return true;
  json_t *v = jtmpl_eval(t, b, e);
  if (!v) return false;
  bool ok = json_is_string(v);
  if (ok) *out = ms_strdup(json_string_value(v));
  else jtmpl_type_fault(t, "string", v, e);
  json_decref(v);
  return ok;
}

bool exec_js_fail(frame_t *f, char **error, char **cause, fault_t *e) {
  const jstate_t *j = f->m->states[f->cur].js;
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  bool ok = fail_text(j->error, b, error, e);
  if (ok && !(ok = fail_text(j->cause, b, cause, e))) {
    free(*error);
    *error = NULL;
  }
  json_decref(b);
  return ok;
}

json_t *exec_js_map_items(frame_t *f, double *conc, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  const jstate_t *j = st->js;
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  json_t *items = NULL;
  double v;
  if (j->max_concurrency &&
      !num_of(j->max_concurrency, b, true, 0, INT_MAX_FIELD, conc, e))
    goto done;
  if (j->tolerated_pct) {
    if (!num_of(j->tolerated_pct, b, false, 0, 100, &v, e)) goto done;
    f->tolerate = true;
    f->tol_pct = v;
  }
  if (j->tolerated_count) {
    if (!num_of(j->tolerated_count, b, true, 0, INT_MAX_FIELD, &v, e))
      goto done;
    f->tolerate = true;
    f->tol_count = (int64_t)v;
  }
  if (st->item_reader) {  /* exec_kids.c reads and batches them */
    items = json_null();
    goto done;
  }
  if (j->items) {
    if (!(items = jtmpl_eval(j->items, b, e))) goto done;
    if (!json_is_array(items)) {
      jtmpl_type_fault(j->items, "array", items, e);
      json_decref(items);
      items = NULL;
      goto done;
    }
  } else if (!json_is_array(f->input)) {
    char *txt = jsonx_dump(f->input, JSONX_COMPACT);
    fault_set(e, "States.QueryEvaluationError", "Map state input must be "
              "an array but was: %s", txt);
    e->in_state = true;
    free(txt);
    goto done;
  } else {
    items = json_incref(f->input);
  }
  if (st->item_batcher) {
    double max_items = 0, max_bytes = 0;
    json_t *batch_input = NULL;
    if ((j->max_items_per_batch &&
         !num_of(j->max_items_per_batch, b, true, 1, INT_MAX_FIELD,
                 &max_items, e)) ||
        (j->max_bytes_per_batch &&
         !num_of(j->max_bytes_per_batch, b, true, 1, INT_MAX_FIELD,
                 &max_bytes, e)) ||
        (j->batch_input &&
         !(batch_input = jtmpl_eval(j->batch_input, b, e)))) {
      json_decref(items);
      items = NULL;
      goto done;
    }
    json_t *batches = json_array(), *cur = NULL, *it;
    size_t i, bytes = 0;
    json_array_foreach(items, i, it) {
      size_t sz = jsonx_size(it);
      if (cur && ((max_items > 0 && json_array_size(cur) >= max_items) ||
                  (max_bytes > 0 && bytes + sz > max_bytes)))
        cur = NULL;
      if (!cur) {
        json_t *bt = json_object();
        if (batch_input) json_object_set(bt, "BatchInput", batch_input);
        cur = json_array();
        json_object_set_new(bt, "Items", cur);
        json_array_append_new(batches, bt);
        bytes = 0;
      }
      json_array_append(cur, it);
      bytes += sz;
    }
    json_decref(batch_input);
    json_decref(items);
    items = batches;
  }
done:
  json_decref(b);
  return items;
}

/* Where a States.QueryEvaluationError happened, for the EvaluationFailed
 * event's "location" (AWS's API reference: "the location of the field in
 * the state in which the evaluation error occurred"). The field the cause
 * names ("Output/result"); a guess beyond LocalStack's "Items" for the
 * Items field, since no recorded event shows one. */
static char *location(const char *cause) {
  static const char *const marks[] = {"for the field '", "of the field '",
                                      NULL};
  if (!cause) return NULL;
  for (int i = 0; marks[i]; i++) {
    const char *p = strstr(cause, marks[i]);
    if (!p) continue;
    p += strlen(marks[i]);
    const char *q = strchr(p, '\'');
    if (q) return ms_strndup(p, (size_t)(q - p));
  }
  if (strstr(cause, "Map state input must be an array") ||
      strstr(cause, "ItemReader"))
    return ms_strdup("Items");
  if (strstr(cause, "The Timestamp field")) return ms_strdup("Timestamp");
  return NULL;
}

/* AWS records a JSONata evaluation error as an EvaluationFailed event
 * before the state fails, with error, cause, location and state (AWS's
 * EvaluationFailedEventDetails). Guesses: the cause is the state's
 * without the "An error occurred while executing the state" prefix, and
 * location's form (location above). */
void exec_js_evaluation_failed(frame_t *f, const fault_t *e) {
  json_t *d = NULL;
  if (exec_keeps(f)) {
    d = json_object();
    if (e->error && *e->error)
      json_object_set_new(d, "error", json_string(e->error));
    if (e->cause) json_object_set_new(d, "cause", json_string(e->cause));
    char *loc = location(e->cause);
    if (loc) json_object_set_new(d, "location", json_string(loc));
    free(loc);
    json_object_set_new(d, "state",
                        json_string(f->m->states[f->cur].name));
  }
  exec_emit(f, "EvaluationFailed", "evaluationFailedEventDetails", d);
}

json_t *exec_js_item_selector(frame_t *f, json_t *ctx, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  json_t *b = exec_js_bindings(f, f->input, ctx, NULL, NULL);
  json_t *r = jtmpl_eval(st->js->item_selector, b, e);
  json_decref(b);
  /* the Map's iteration fails with it (exec_kids.c); the event is the
   * Map state's, as for its other fields (a guess) */
  if (!r) exec_js_evaluation_failed(f, e);
  return r;
}
