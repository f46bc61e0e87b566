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

/* Build the list of iteration inputs: ItemsPath, ItemBatcher. */
static json_t *map_items(frame_t *f, fault_t *e) {
  const mstate_t *st = &f->m->states[f->cur];
  json_t *items;
  if (st->item_reader) {       /* itemreader.c: the items from a bucket */
    jscope_t s = exec_scope_of(f, f->effective);
    if (!(items = itemreader_read(st->item_reader, &s, e))) return NULL;
  } else if (st->items_path) {
    jscope_t s = exec_scope_of(f, f->effective);
    char *why = NULL;
    items = jpath_eval(st->items_path, &s, &why);
    if (!items) {
      fault_runtime(e, "Invalid path '%s' : %s", jpath_text(st->items_path),
                    why ? why : "No results");
      free(why);
      return NULL;
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
      json_array_append_new(pairs, json_pack("{sssO}", "Key", k, "Value", v));
    json_decref(items);
    items = pairs;
    f->object_items = true;
  }
  if (!json_is_array(items)) {
    char *txt = jsonx_dump(items, JSONX_COMPACT);
    fault_runtime(e, "Item list '%s' is not a JSON array: %s",
                  st->items_path ? jpath_text(st->items_path) : "$", txt);
    free(txt);
    json_decref(items);
    return NULL;
  }
  if (!st->item_batcher) return items;

  double max_items = 0, max_bytes = 0;
  if (st->max_items_per_batch.present &&
      !map_int_field(f, &st->max_items_per_batch, "MaxItemsPerBatch", true,
                     &max_items, e))
    goto fail;
  if (st->max_bytes_per_batch.present &&
      !map_int_field(f, &st->max_bytes_per_batch, "MaxInputBytesPerBatch",
                     true, &max_bytes, e))
    goto fail;
  json_t *batch_input = NULL;
  if (st->batch_input) {
    jscope_t s = exec_scope_of(f, f->effective);
    batch_input = tmpl_eval(st->batch_input, &s, e);
    if (!batch_input) goto fail;
  }
  json_t *batches = json_array();
  json_t *cur = NULL;
  size_t bytes = 0;
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    size_t sz = jsonx_size(it);
    if (cur && ((max_items > 0 && json_array_size(cur) >= max_items) ||
                (max_bytes > 0 && bytes + sz > max_bytes))) {
      cur = NULL;
    }
    if (!cur) {
      json_t *b = json_object();
      if (batch_input) json_object_set(b, "BatchInput", batch_input);
      cur = json_array();
      json_object_set_new(b, "Items", cur);
      json_array_append_new(batches, b);
      bytes = 0;
    }
    json_array_append(cur, it);
    bytes += sz;
  }
  json_decref(batch_input);
  json_decref(items);
  return batches;
fail:
  json_decref(items);
  return NULL;
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
  json_t *items = map_items(f, &e);
  if (!items) goto fail;
  f->items = items;
  f->items_dirty = true;
  f->total = json_array_size(items);
  f->max_running = conc > 0 ? (size_t)conc : 0;
  exec_emit(f, "MapStateStarted", "mapStateStartedEventDetails",
            exec_keeps(f) ? json_pack("{sI}", "length",
                                      (json_int_t)f->total)
                          : NULL);
  if (st->distributed) exec_emit(f, "MapRunStarted", NULL, NULL);
  f->kids = ms_calloc(f->total ? f->total : 1, sizeof *f->kids);
  f->results = json_array();
  for (size_t i = 0; i < f->total; i++)
    json_array_append(f->results, json_null());
  f->stage = AT_CHILDREN;
  while (f->started < f->total && !fault_is_set(&f->child_fault) &&
         (!f->max_running || f->running < f->max_running))
    exec_kid_start(f, f->started);
  if (f->total == 0) {
    f->stage = AT_CHILDREN_DONE;
    exec_make_ready(f);
  }
  return;
fail:
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
  json_t *item = json_array_get(f->items, i);
  json_t *input = NULL;
  if (st->parameters) {
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
    input = tmpl_eval(st->parameters, &s, &e);
    json_decref(ctx);
    if (!input) {
      /* the selector failed: the iteration fails with it */
      exec_cause_in_state(f, &e);
      frame_t *k = exec_frame_new(x, st->iterator, f, i, json_null());
      f->kids[i] = k;
      k->stage = AT_FAIL;
      fault_move(&k->pending, &e);
      exec_make_ready(k);
      return;
    }
  } else {
    input = json_incref(item);
  }
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
  if (e) {
    f->failures++;
    bool over = true;
    if (f->tolerate) {
      over = false;
      if (f->tol_count >= 0 && (int64_t)f->failures > f->tol_count)
        over = true;
      if (!over && f->total &&
          (double)f->failures * 100.0 / (double)f->total > f->tol_pct &&
          !(f->tol_count >= 0 && f->tol_pct == 0))
        over = true;
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
  while (st->type == ST_MAP && f->started < f->total &&
         (!f->max_running || f->running < f->max_running) &&
         !fault_is_set(&f->child_fault))
    exec_kid_start(f, f->started);
  if (f->finished == f->total) {
    f->stage = AT_CHILDREN_DONE;
    exec_make_ready(f);
  }
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
    jscope_t s = exec_scope_of(f, f->effective);
    fault_t e = FAULT_INIT;
    json_t *w = resultwriter_write(st->result_writer, &s, f->x->machine_arn,
                                   st->name, f->items, results, &e);
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
