/* exec_kids.c - Parallel and Map states: their branches and iterations
 * (inline and distributed: ItemReader, ItemSelector, ItemBatcher,
 * MaxConcurrency, tolerated failures, ResultWriter), started as child
 * frames, their results collected by slot, and the state ended when all
 * are done or one failed. Part of the interpreter (exec.c, exec_int.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exec_int.h"
#include "itemreader.h"
#include "jtmpl.h"
#include "resultwriter.h"

void exec_run_parallel(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  fault_t e = FAULT_INIT;
  if (!exec_prepare_input(f, true, &e)) {
    exec_fail_now(f, &e);
    return;
  }
  exec_emit(f, "ParallelStateStarted", NULL, NULL);
  exec_kids_reset(f);
  f->total = st->nbranches;
  f->kids = ms_calloc(f->total ? f->total : 1, sizeof *f->kids);
  f->results = json_array();
  for (size_t i = 0; i < f->total; i++) json_array_append(f->results,
                                                          json_null());
  f->max_running = 0;
  f->stage = AT_CHILDREN;
  for (size_t i = 0; i < f->total; i++) exec_kid_start(f, i);
  if (f->total == 0) {
    f->stage = AT_CHILDREN_DONE;
    exec_make_ready(f);
  }
}

/* Resolve an integer-valued Map field given by path, with AWS's message. */
static bool map_int_field(frame_t *f, const num_field_t *n,
                          const char *field, bool integral, double *out,
                          fault_t *e) {
  json_t *found;
  if (exec_num_value(f, n, out, &found) &&
      (!integral || !n->path || json_is_integer(found) ||
       (json_is_string(found) && exec_is_integral(*out)))) {
    json_decref(found);
    return true;
  }
  char *txt = found ? exec_value_text(found) : ms_strdup("null");
  fault_runtime(e, "The %sPath field refers to value \"%s\" which is not a "
                "valid %s: %s", field, txt, integral ? "integer" : "float",
                jpath_text(n->path));
  free(txt);
  json_decref(found);
  return false;
}

/* ---- the item source ------------------------------------------------------
 * A Map's iteration inputs come from a source: the items in memory
 * (ItemsPath, the state input), or an ItemReader read as it goes; with an
 * ItemBatcher each input is a batch of items. The items in memory are
 * turned into inputs all at once (the total is known when the state
 * starts, as before). An ItemReader's are pulled one input at a time as
 * iterations start (map_pull), so only the batches in flight are held:
 * f->total counts the inputs pulled so far and f->src stays set until the
 * reader is read to its end (or fails). */

#define AWS_MAX_CONCURRENCY 10000  /* AWS: a Distributed Map runs up to
                                      10,000 child executions at once when
                                      MaxConcurrency is unset */

struct mapsrc {
  itemsrc_t *rd;          /* the ItemReader, or NULL: items in arr */
  json_t *arr;
  size_t pos;
  json_t *peek;           /* an item read but not batched yet */
  bool batch;             /* ItemBatcher */
  double max_items, max_bytes;
  json_t *batch_input;    /* BatchInput's value, or NULL */
  size_t cap;             /* slots allocated in f->kids */
  bool failed;            /* the reader failed: pull no more */
};

/* The source read to its end (or failed): closed. */
static void src_end(frame_t *f) {
  mapsrc_t *s = f->src;
  if (!s) return;
  itemreader_close(s->rd);
  json_decref(s->arr);
  json_decref(s->peek);
  json_decref(s->batch_input);
  free(s);
  f->src = NULL;
}

void exec_map_close(frame_t *f) {
  src_end(f);
  resultwriter_close(f->rw);  /* an export not finished is abandoned */
  f->rw = NULL;
}

/* ---- JSONata ItemReader, ItemBatcher and ResultWriter ---------------------
 * In a JSONata state the ItemReader's and ResultWriter's Arguments and the
 * ReaderConfig take "{% %}" expressions (machine.c checked that they
 * parse; they are compiled again here, once per Map run), and the
 * ItemBatcher's fields are jstate_t's. */

/* v (a field of the definition) evaluated with f's bindings; field names
 * it in messages. New reference, or NULL with e set. */
static json_t *js_value(frame_t *f, json_t *v, const char *field,
                        fault_t *e) {
  diags_t d;
  diags_init(&d);
  jtmpl_t *t = jtmpl_compile(v, "", field, &d);
  diags_free(&d);
  if (!t) {
    fault_set(e, "States.QueryEvaluationError", "The %s field is not a "
              "valid JSONata template", field);
    e->in_state = true;
    return NULL;
  }
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  json_t *r = jtmpl_eval(t, b, e);
  json_decref(b);
  jtmpl_free(t);
  return r;
}

/* A JSONata state's ItemReader opened with its evaluated Arguments and
 * ReaderConfig. NULL with e set. */
static itemsrc_t *js_reader(frame_t *f, fault_t *e) {
  json_t *r = f->m->states[f->cur].item_reader;
  json_t *av = json_object_get(r, "Arguments");
  json_t *cv = json_object_get(r, "ReaderConfig");
  json_t *args = av ? js_value(f, av, "Arguments", e) : NULL;
  if (av && !args) return NULL;
  json_t *rc = cv ? js_value(f, cv, "ReaderConfig", e) : json_object();
  itemsrc_t *s = rc ? itemreader_open_with(r, args, rc, e) : NULL;
  json_decref(rc);
  json_decref(args);
  return s;
}

/* A JSONata ItemBatcher integer field: >= 1. false with e set. */
static bool js_batch_num(frame_t *f, const jtmpl_t *t, double *out,
                         fault_t *e) {
  json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
  json_t *v = jtmpl_eval(t, b, e);
  json_decref(b);
  if (!v) return false;
  bool ok = (json_is_integer(v) && json_integer_value(v) >= 1) ||
            (json_is_real(v) && exec_is_integral(json_real_value(v)) &&
             json_real_value(v) >= 1);
  if (ok) *out = json_number_value(v);
  else jtmpl_type_fault(t, "integer", v, e);
  json_decref(v);
  return ok;
}

/* The ResultWriter's evaluated Parameters (JSONPath) or Arguments
 * (JSONata). NULL with e set. */
static json_t *writer_params(frame_t *f, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  if (!st->js) {
    jscope_t sc = exec_scope_of(f, f->effective);
    return resultwriter_params(st->result_writer, &sc, e);
  }
  json_t *av = json_object_get(st->result_writer, "Arguments");
  return av ? js_value(f, av, "Arguments", e) : json_object();
}

/* The next item: 1 (*it a new reference), 0 at the end, -1 with e set. */
static int src_item(mapsrc_t *s, json_t **it, fault_t *e) {
  if (s->peek) {
    *it = s->peek;
    s->peek = NULL;
    return 1;
  }
  if (s->rd) return itemreader_next(s->rd, it, e);
  if (s->pos >= json_array_size(s->arr)) return 0;
  *it = json_incref(json_array_get(s->arr, s->pos++));
  return 1;
}

/* The next iteration input: an item, or a batch of them ({"BatchInput",
 * "Items"}) as ItemBatcher's limits allow. 1, 0 or -1 as src_item. The
 * item size is only measured when MaxInputBytesPerBatch asks for it. */
static int src_input(mapsrc_t *s, json_t **in, fault_t *e) {
  if (!s->batch) return src_item(s, in, e);
  json_t *items = NULL, *it;
  size_t bytes = 0;
  int rc;
  while ((rc = src_item(s, &it, e)) == 1) {
    size_t sz = s->max_bytes > 0 ? jsonx_size(it) : 0;
    if (items && s->max_bytes > 0 && bytes + sz > s->max_bytes) {
      s->peek = it;
      break;
    }
    if (!items) items = json_array();
    json_array_append_new(items, it);
    bytes += sz;
    if (s->max_items > 0 && json_array_size(items) >= s->max_items) break;
  }
  if (rc < 0 || !items) {
    json_decref(items);
    return rc < 0 ? -1 : 0;
  }
  json_t *b = json_object();
  if (s->batch_input) json_object_set(b, "BatchInput", s->batch_input);
  json_object_set_new(b, "Items", items);
  *in = b;
  return 1;
}

/* Open f's source: the ItemReader, or the items in memory (ItemsPath); an
 * object maps over its members; given (stolen, or NULL): the items
 * already evaluated (JSONata). NULL with e set. */
static mapsrc_t *src_open(frame_t *f, json_t *given, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  mapsrc_t *s = ms_calloc(1, sizeof *s);
  f->src = s;
  jscope_t sc = exec_scope_of(f, f->effective);
  if (given) {                 /* JSONata's Items */
    s->arr = given;
  } else if (st->item_reader) {  /* itemreader.c: items from a bucket */
    s->rd = st->js ? js_reader(f, e)
                   : itemreader_open(st->item_reader, &sc, e);
    if (!s->rd) goto fail;
  } else {
    json_t *items;
    if (st->items_path) {
      char *why = NULL;
      items = jpath_eval(st->items_path, &sc, &why);
      if (!items) {
        fault_runtime(e, "Invalid path '%s' : %s",
                      jpath_text(st->items_path), why ? why : "No results");
        free(why);
        goto fail;
      }
      free(why);
    } else {
      items = json_incref(f->effective);
    }
    if (json_is_object(items)) {
      /* an object maps over its members, each as {"Key": k, "Value": v};
       * $$.Map.Item.Key and .Value name the two halves */
      json_t *pairs = json_array();
      const char *k;
      json_t *v;
      json_object_foreach(items, k, v)
        json_array_append_new(pairs, json_pack("{sssO}", "Key", k, "Value",
                                               v));
      json_decref(items);
      items = pairs;
      f->object_items = true;
    }
    s->arr = items;
    if (!json_is_array(items)) {
      char *txt = jsonx_dump(items, JSONX_COMPACT);
      fault_runtime(e, "Item list '%s' is not a JSON array: %s",
                    st->items_path ? jpath_text(st->items_path) : "$", txt);
      free(txt);
      goto fail;
    }
  }
  if (!st->item_batcher || given) return s;  /* JSONata: batched */
  s->batch = true;
  if (st->js) {                /* JSONata with an ItemReader */
    const jstate_t *j = st->js;
    if ((j->max_items_per_batch &&
         !js_batch_num(f, j->max_items_per_batch, &s->max_items, e)) ||
        (j->max_bytes_per_batch &&
         !js_batch_num(f, j->max_bytes_per_batch, &s->max_bytes, e)))
      goto fail;
    if (j->batch_input) {
      json_t *b = exec_js_bindings(f, f->input, NULL, NULL, NULL);
      s->batch_input = jtmpl_eval(j->batch_input, b, e);
      json_decref(b);
      if (!s->batch_input) goto fail;
    }
    return s;
  }
  if (st->max_items_per_batch.present &&
      !map_int_field(f, &st->max_items_per_batch, "MaxItemsPerBatch", true,
                     &s->max_items, e))
    goto fail;
  if (st->max_bytes_per_batch.present &&
      !map_int_field(f, &st->max_bytes_per_batch, "MaxInputBytesPerBatch",
                     true, &s->max_bytes, e))
    goto fail;
  if (st->batch_input &&
      !(s->batch_input = tmpl_eval(st->batch_input, &sc, e)))
    goto fail;
  return s;
fail:
  src_end(f);
  return NULL;
}

/* Room for slot f->total in kids and results. */
static void slot_add(frame_t *f, json_t *input) {
  mapsrc_t *s = f->src;
  if (f->total == s->cap) {
    size_t n = s->cap ? 2 * s->cap : 16;
    f->kids = ms_realloc(f->kids, n * sizeof *f->kids);
    memset(f->kids + s->cap, 0, (n - s->cap) * sizeof *f->kids);
    s->cap = n;
  }
  json_array_append_new(f->items, input);
  json_array_append(f->results, json_null());
  f->total++;
}

/* Over the tolerated failures? The percentage needs the total: while the
 * reader is still being read it is not known, and only the count is
 * checked (AWS: the percentage is of the total number of items, and child
 * executions may go on running past the threshold before the Map Run
 * fails). */
static bool over_threshold(const frame_t *f) {
  if (!f->tolerate) return f->failures > 0;
  if (f->tol_count >= 0 && (int64_t)f->failures > f->tol_count) return true;
  return !f->src && f->total &&
         (double)f->failures * 100.0 / (double)f->total > f->tol_pct &&
         !(f->tol_count >= 0 && f->tol_pct == 0);
}

static void kids_abort(frame_t *f);

/* The Map ends with fault e (moved) once its children are stopped. */
static void map_stop(frame_t *f, fault_t *e) {
  if (!fault_is_set(&f->child_fault)) fault_move(&f->child_fault, e);
  fault_clear(e);
  kids_abort(f);
  f->stage = AT_CHILDREN_DONE;
  exec_make_ready(f);
}

/* Pull the next input of a streamed Map into a new slot. false at the end
 * of the reader (f->src closed; the percentage threshold checked then) or
 * when it failed (the Map stopped). */
static bool map_pull(frame_t *f) {
  mapsrc_t *s = f->src;
  if (!s || s->failed) return false;
  fault_t e = FAULT_INIT;
  json_t *in;
  int rc = src_input(s, &in, &e);
  if (rc == 1) {
    slot_add(f, in);
    return true;
  }
  if (rc < 0) {          /* States.ItemReaderFailed further on */
    s->failed = true;
    map_stop(f, &e);
    return false;
  }
  src_end(f);
  if (f->failures && over_threshold(f)) {
    fault_set(&e, "States.ExceedToleratedFailureThreshold",
              "The specified tolerated failure threshold was exceeded");
    map_stop(f, &e);
  }
  return false;
}

/* Start what may start now: the inputs not started yet, within
 * MaxConcurrency. A streamed Map pulls one input a turn and comes back
 * after the iteration it started has had its turn, so an iteration that
 * does not wait finishes before the next batch is built. Ends the state
 * when every child is done. */
void exec_map_fill(frame_t *f) {
  if (f->stage != AT_CHILDREN) return;
  size_t max = f->max_running;
  for (;;) {
    if (fault_is_set(&f->child_fault)) break;
    if (max && f->running >= max) break;
    if (f->started == f->total) {
      if (!f->src || !map_pull(f)) break;
      exec_kid_start(f, f->started);
      if (f->src) exec_make_ready(f);
      break;
    }
    exec_kid_start(f, f->started);
  }
  if (f->stage == AT_CHILDREN && !f->src && f->finished == f->total) {
    f->stage = AT_CHILDREN_DONE;
    exec_make_ready(f);
  }
}

/* Resume or redrive of a streamed Map (exec_checkpoint.c): open the
 * reader again and skip the inputs already pulled (kept for the
 * ResultWriter). false with e set. */
bool exec_map_reopen(frame_t *f, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  src_end(f);
  size_t total = f->total;
  json_t *items = json_array();
  mapsrc_t *s = src_open(f, NULL, e);
  if (!s) {
    json_decref(items);
    return false;
  }
  s->cap = total;
  for (size_t i = 0; i < total; i++) {
    json_t *in;
    int rc = src_input(s, &in, e);
    if (rc != 1) {
      if (rc == 0)
        fault_set(e, "States.ItemReaderFailed", "The object has fewer "
                  "items than when the Map started");
      src_end(f);
      json_decref(items);
      return false;
    }
    json_array_append_new(items, st->result_writer ? in : json_null());
    if (!st->result_writer) json_decref(in);
  }
  json_decref(f->items);
  f->items = items;
  return true;
}

void exec_run_map(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  fault_t e = FAULT_INIT;
  if (!exec_prepare_input(f, false, &e)) goto fail;
  exec_kids_reset(f);
  double conc = 0;
  if (st->max_concurrency.present &&
      !map_int_field(f, &st->max_concurrency, "MaxConcurrency", true, &conc,
                     &e))
    goto fail;
  f->tolerate = false;
  f->object_items = false;
  f->tol_pct = 0;
  f->tol_count = -1;
  if (st->tolerated_pct.present) {
    double v;
    if (!map_int_field(f, &st->tolerated_pct, "ToleratedFailurePercentage",
                       false, &v, &e))
      goto fail;
    if (v < 0 || v > 100) {
      fault_runtime(&e, "ToleratedFailurePercentage must be between 0 and "
                    "100.");
      goto fail;
    }
    f->tolerate = true;
    f->tol_pct = v;
  }
  if (st->tolerated_count.present) {
    double v;
    if (!map_int_field(f, &st->tolerated_count, "ToleratedFailureCount",
                       true, &v, &e))
      goto fail;
    if (v < 0) {
      fault_runtime(&e, "ToleratedFailureCount cannot be negative.");
      goto fail;
    }
    f->tolerate = true;
    f->tol_count = (int64_t)v;
  }
  json_t *js_items = NULL;      /* exec_jsonata.c: Items and the rest */
  if (st->js && !(js_items = exec_js_map_items(f, &conc, &e))) goto fail;
  if (json_is_null(js_items)) js_items = NULL;  /* read by the ItemReader */
  mapsrc_t *s = src_open(f, js_items, &e);
  if (!s) goto fail;
  f->items = json_array();
  f->results = json_array();
  bool stream = s->rd != NULL;
  if (stream) {
    /* the first input now: a reader that fails on it fails the state
     * before it starts, as when the items were read whole */
    json_t *in;
    int rc = src_input(s, &in, &e);
    if (rc < 0) goto fail;
    if (rc == 1) slot_add(f, in);
    else src_end(f);
    f->items_dirty = false;   /* resume reads the object again */
  } else {
    json_t *in;
    int rc;
    while ((rc = src_input(s, &in, &e)) == 1)
      json_array_append_new(f->items, in);
    src_end(f);
    if (rc < 0) goto fail;
    f->total = json_array_size(f->items);
    f->kids = ms_calloc(f->total ? f->total : 1, sizeof *f->kids);
    for (size_t i = 0; i < f->total; i++)
      json_array_append(f->results, json_null());
    f->items_dirty = true;
  }
  if (st->result_writer && st->distributed && !f->x->ckpt) {
    /* resultwriter.c: each iteration's record is written as it ends, and
     * its input and result are not kept. A durable execution keeps them
     * instead (resume and redrive need them) and writes at the end. */
    json_t *params = writer_params(f, &e);
    if (!params) goto fail;
    f->rw = resultwriter_open(st->result_writer, params, f->x->machine_arn,
                              st->name, &e);
    json_decref(params);
    if (!f->rw) goto fail;
  }
  f->max_running = conc > 0 ? (size_t)conc : 0;
  if (stream && !f->max_running && st->distributed)
    f->max_running = AWS_MAX_CONCURRENCY;
  /* the length of a streamed Map is not known when it starts: left out
   * (a guess at what AWS shows) */
  exec_emit(f, "MapStateStarted", "mapStateStartedEventDetails",
            exec_keeps(f) && !f->src
                ? json_pack("{sI}", "length", (json_int_t)f->total)
                : NULL);
  if (st->distributed) exec_emit(f, "MapRunStarted", NULL, NULL);
  if (!f->kids) f->kids = ms_calloc(1, sizeof *f->kids);
  f->stage = AT_CHILDREN;
  exec_map_fill(f);
  return;
fail:
  exec_map_close(f);
  exec_fail_now(f, &e);
}

/* Start child i of f (a branch or an iteration). */
void exec_kid_start(frame_t *f, size_t i) {
  const mstate_t *st = &f->m->states[f->cur];
  exec_t *x = f->x;
  f->started++;
  f->running++;
  if (st->type == ST_PARALLEL) {
    frame_t *k = exec_frame_new(x, st->branches[i], f, i, f->effective);
    f->kids[i] = k;
    exec_make_ready(k);
    return;
  }
  /* a streamed Map holds the input only until its iteration starts
   * (unless the ResultWriter wants it at the end) */
  json_t *item = json_incref(json_array_get(f->items, i));
  if (f->src && !st->result_writer)
    json_array_set(f->items, i, json_null());
  json_t *input = NULL;
  if (st->parameters || (st->js && st->js->item_selector)) {
    json_t *ctx = json_copy(f->ctx);
    json_t *mi = json_pack("{sI}", "Index", (json_int_t)i);
    if (f->object_items) {
      json_object_set(mi, "Key", json_object_get(item, "Key"));
      json_object_set(mi, "Value", json_object_get(item, "Value"));
    } else {
      json_object_set(mi, "Value", item);
    }
    json_object_set_new(ctx, "Map", json_pack("{so}", "Item", mi));
    jscope_t s = {f->effective, ctx, exec_var_lookup, f};
    fault_t e = FAULT_INIT;
    input = st->js ? exec_js_item_selector(f, ctx, &e)  /* JSONata */
                   : tmpl_eval(st->parameters, &s, &e);
    json_decref(ctx);
    if (!input) {
      /* the selector failed: the iteration fails with it */
      exec_cause_in_state(f, &e);
      frame_t *k = exec_frame_new(x, st->iterator, f, i, json_null());
      f->kids[i] = k;
      k->stage = AT_FAIL;
      fault_move(&k->pending, &e);
      exec_make_ready(k);
      json_decref(item);
      return;
    }
  } else {
    input = json_incref(item);
  }
  json_decref(item);
  frame_t *k = exec_frame_new(x, st->iterator, f, i, input);
  json_decref(input);
  f->kids[i] = k;
  if (st->distributed) {
    k->own = k;                  /* its ExecutionStarted is event #1 */
    k->events = k->last_id = 1;
  } else {
    exec_emit(f, "MapIterationStarted", "mapIterationStartedEventDetails",
         exec_keeps(f) ? json_pack("{sssI}", "name", st->name, "index",
                              (json_int_t)i) : NULL);
  }
  exec_make_ready(k);
}

/* Stop the children still running after one failed; inline Map
 * iterations are recorded as aborted. */
static void kids_abort(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  for (size_t i = 0; i < f->total; i++) {
    if (!f->kids[i]) continue;
    exec_rd_tree(f->kids[i]);
    if (st->type == ST_MAP && !st->distributed)
      exec_emit(f, "MapIterationAborted", "mapIterationAbortedEventDetails",
           exec_keeps(f) ? json_pack("{sssI}", "name", st->name, "index",
                                (json_int_t)i) : NULL);
    exec_frame_free(f->kids[i]);
    f->kids[i] = NULL;
  }
}

/* Tell the observer (run --log) that a Distributed Map's child execution
 * failed: AWS keeps a child's events in its own execution, so the
 * parent's history (and stream) does not show why. Its name is the Map
 * Run's label and the index ("M/3"; AWS's are ids moonstep does not
 * make). */
static void child_failed(frame_t *f, size_t slot, const fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  const char *label = st->label ? st->label : st->name;
  char *name = ms_asprintf("%s/%zu", label, slot);
  json_t *note = json_pack("{sssIssss?ss?}", "state", st->name, "index",
                           (json_int_t)slot, "name", name, "error",
                           e->error, "cause", e->cause);
  f->x->on_child_failed(f->x->child_ud, note);
  json_decref(note);
  free(name);
}

/* A child of f ended (output stolen, or fault). The child frame is freed
 * by the caller. */
void exec_kid_done(frame_t *f, size_t slot, json_t *output, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  f->kids[slot] = NULL;
  f->finished++;
  f->running--;
  if (st->type == ST_MAP && !st->distributed) {
    const char *t = e ? "MapIterationFailed" : "MapIterationSucceeded";
    exec_emit(f, t, e ? "mapIterationFailedEventDetails"
                 : "mapIterationSucceededEventDetails",
         exec_keeps(f) ? json_pack("{sssI}", "name", st->name, "index",
                              (json_int_t)slot) : NULL);
  }
  if (e && st->distributed && f->x->on_child_failed)
    child_failed(f, slot, e);
  if (e) {
    f->failures++;
    bool over = over_threshold(f);
    if (f->tolerate) {
      if (over) {
        fault_clear(e);
        fault_set(e, "States.ExceedToleratedFailureThreshold",
                  "The specified tolerated failure threshold was "
                  "exceeded");
      } else {
        json_array_set_new(f->results, slot, exec_error_output(e));
        exec_forget_failure(f->x);
        exec_ck_result(f, slot);
      }
    }
    if (over) {
      if (!fault_is_set(&f->child_fault)) {
        f->child_fault.error = ms_strdup(e->error ? e->error : "");
        f->child_fault.cause = e->cause ? ms_strdup(e->cause) : NULL;
      }
      kids_abort(f);
      f->stage = AT_CHILDREN_DONE;
      exec_make_ready(f);
      return;
    }
  } else {
    json_array_set_new(f->results, slot, output);
    exec_ck_result(f, slot);
  }
  if (f->rw) {  /* its record now; its input and result are let go */
    fault_t we = FAULT_INIT;
    if (resultwriter_add(f->rw, json_array_get(f->items, slot),
                         json_array_get(f->results, slot), &we)) {
      map_stop(f, &we);
      return;
    }
    json_array_set(f->items, slot, json_null());
    json_array_set(f->results, slot, json_null());
  }
  exec_map_fill(f);
}

void exec_children_done(frame_t *f) {
  const mstate_t *st = &f->m->states[f->cur];
  bool map = st->type == ST_MAP;
  if (map && st->distributed)
    exec_emit(f, fault_is_set(&f->child_fault) ? "MapRunFailed"
                                                : "MapRunSucceeded",
              NULL, NULL);
  if (fault_is_set(&f->child_fault)) {
    fault_t e = FAULT_INIT;
    fault_move(&e, &f->child_fault);
    exec_rd_keep(f);
    exec_emit(f, map ? "MapStateFailed" : "ParallelStateFailed",
         NULL, NULL);
    exec_fail_now(f, &e);
    return;
  }
  json_t *results = json_incref(f->results);
  if (map && st->result_writer) {  /* resultwriter.c: results to a bucket */
    fault_t e = FAULT_INIT;
    json_t *w = NULL, *params;
    if (f->rw) {
      w = resultwriter_finish(f->rw, &e);
      f->rw = NULL;
    } else if ((params = writer_params(f, &e))) {
      w = resultwriter_write(st->result_writer, params, f->x->machine_arn,
                             st->name, f->items, results, &e);
      json_decref(params);
    }
    json_decref(results);
    if (!(results = w)) {
      exec_emit(f, "MapStateFailed", NULL, NULL);
      exec_fail_now(f, &e);
      return;
    }
  }
  exec_emit(f, map ? "MapStateSucceeded" : "ParallelStateSucceeded", NULL,
            NULL);
  exec_state_result(f, results);
}
