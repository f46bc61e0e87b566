/* tables_ops.c - DynamoDB's item operations over the store of tables.c:
 * PutItem, GetItem, UpdateItem, DeleteItem (ConditionExpression,
 * ReturnValues, ReturnValuesOnConditionCheckFailure), Query and Scan
 * (KeyConditionExpression, FilterExpression, ProjectionExpression,
 * Select, Limit, ScanIndexForward, ExclusiveStartKey/LastEvaluatedKey,
 * IndexName, Segment/TotalSegments), BatchWriteItem, BatchGetItem and
 * TransactWriteItems. Expressions are ddbexpr.c's.
 *
 * Every write runs in one transaction (BEGIN IMMEDIATE): an operation, a
 * batch and a transaction are all or nothing. Rules followed (DynamoDB
 * developer guide and API reference): Limit counts items read before the
 * filter; a page stops at 1 MB read; LastEvaluatedKey is returned when a
 * page stopped at Limit or 1 MB even if nothing follows; unused
 * ExpressionAttributeNames/Values are refused; key attributes cannot be
 * updated; items over 400 KB are refused; a transaction checks every
 * condition and reports every reason. Messages are DynamoDB's as
 * documented or as its SDKs quote them; UPDATED_OLD / UPDATED_NEW return
 * whole top-level attributes (DynamoDB returns only the updated nested
 * paths: a simplification). Scan order is key order (DynamoDB's is by
 * hash); Segment n of TotalSegments m takes the partition keys whose hash
 * is n mod m. The Lua face's batches (no AWS limits) do not refuse two
 * requests for one key: the last wins.
 */
#include <stdlib.h>
#include <string.h>

#include "ddbexpr.h"
#include "tables_int.h"

static const char *str(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

static void bind_blob(sqlite3_stmt *st, int i, const buf_t *b) {
  sqlite3_bind_blob(st, i, b->data ? b->data : "", (int)b->len,
                    SQLITE_STATIC);
}

static json_t *parse_item(sqlite3_stmt *st, int col) {
  return json_loadb((const char *)sqlite3_column_text(st, col),
                    (size_t)sqlite3_column_bytes(st, col), 0, NULL);
}

/* ---- expressions and their placeholders ------------------------------- */

typedef struct xctx {
  const json_t *names, *values;  /* the request's, borrowed */
  json_t *used_n, *used_v;       /* placeholders the expressions used */
  int nexpr;
} xctx_t;

static int xctx_init(xctx_t *x, const json_t *req, fault_t *f) {
  x->names = json_object_get(req, "ExpressionAttributeNames");
  x->values = json_object_get(req, "ExpressionAttributeValues");
  x->used_n = json_object();
  x->used_v = json_object();
  x->nexpr = 0;
  if (x->values && (!json_is_object(x->values) ||
                    json_object_size(x->values) == 0)) {
    tables_err(f, VALIDATION, "ExpressionAttributeValues must not be empty");
    return -1;
  }
  if (x->names && (!json_is_object(x->names) ||
                   json_object_size(x->names) == 0)) {
    tables_err(f, VALIDATION, "ExpressionAttributeNames must not be empty");
    return -1;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)x->values, k, v) {
    char *err = NULL;
    if (ddbval_check(v, &err) < 0) {
      tables_err(f, VALIDATION, "ExpressionAttributeValues contains "
                 "invalid value: %s for key %s", err ? err : "invalid", k);
      free(err);
      return -1;
    }
  }
  return 0;
}

static void xctx_free(xctx_t *x) {
  json_decref(x->used_n);
  json_decref(x->used_v);
}

/* Parse req's field as an expression of kind (NULL and no fault when the
 * field is absent). what names it in errors ("ConditionExpression"). */
static ddbexpr_t *xparse(xctx_t *x, ddbx_kind_t kind, const json_t *req,
                         const char *field, fault_t *f) {
  json_t *v = json_object_get(req, field);
  if (!v) return NULL;
  if (!json_is_string(v)) {
    tables_err(f, VALIDATION, "1 validation error detected: Value at '%s' "
               "failed to satisfy constraint: Member must be a string",
               field);
    return NULL;
  }
  char *err = NULL;
  ddbexpr_t *e = ddbexpr_parse(kind, json_string_value(v), x->names,
                               x->values, &err);
  if (!e) {
    tables_err(f, VALIDATION, "%s", err ? err : "Invalid expression");
    free(err);
    return NULL;
  }
  ddbexpr_used(e, x->used_n, x->used_v);
  x->nexpr++;
  return e;
}

/* Placeholders given but not used. */
static int xctx_check(xctx_t *x, fault_t *f) {
  if (!x->nexpr && x->values) {
    tables_err(f, VALIDATION, "ExpressionAttributeValues can only be "
               "specified when using expressions");
    return -1;
  }
  if (!x->nexpr && x->names) {
    tables_err(f, VALIDATION, "ExpressionAttributeNames can only be "
               "specified when using expressions");
    return -1;
  }
  const char *which[] = {"ExpressionAttributeNames",
                         "ExpressionAttributeValues"};
  const json_t *given[] = {x->names, x->values};
  json_t *used[] = {x->used_n, x->used_v};
  for (int i = 0; i < 2; i++) {
    buf_t b;
    buf_init(&b);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)given[i], k, v)
      if (!json_object_get(used[i], k))
        buf_printf(&b, "%s%s", b.len ? ", " : "", k);
    if (b.len) {
      tables_err(f, VALIDATION, "Value provided in %s unused in "
                 "expressions: keys: {%s}", which[i], b.data);
      buf_free(&b);
      return -1;
    }
    buf_free(&b);
  }
  return 0;
}

/* ---- items in requests -------------------------------------------------- */

static int item_check(const json_t *item, const char *what, fault_t *f) {
  if (!json_is_object(item)) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'%s' failed to satisfy constraint: Member must not be null",
               what);
    return -1;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)item, k, v) {
    char *err = NULL;
    if (ddbval_check(v, &err) < 0) {
      tables_err(f, VALIDATION, "One or more parameter values were "
                 "invalid: %s", err ? err : "invalid AttributeValue");
      free(err);
      return -1;
    }
  }
  return 0;
}

static int size_check(const json_t *item, bool update, fault_t *f) {
  if (tables_item_size(item) <= TABLES_ITEM_MAX) return 0;
  tables_err(f, VALIDATION, update ? "Item size to update has exceeded the "
             "maximum allowed size" : "Item size has exceeded the maximum "
             "allowed size");
  return -1;
}

/* ReturnValues of an operation: allowed is a list of the values it takes
 * besides NONE. */
static int rv_of(const json_t *req, const char *field, const char *allowed,
                 const char **out, fault_t *f) {
  const char *rv = str(req, field);
  *out = rv ? rv : "NONE";
  if (!rv || !strcmp(rv, "NONE")) return 0;
  const char *all[] = {"ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"};
  bool known = false;
  for (int i = 0; i < 4; i++) known |= !strcmp(rv, all[i]);
  if (!known) {
    tables_err(f, VALIDATION, "1 validation error detected: Value '%s' at "
               "'%s' failed to satisfy constraint: Member must satisfy enum "
               "value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, "
               "UPDATED_NEW]", rv, field[0] == 'R' && field[12] == 'O'
               ? "returnValuesOnConditionCheckFailure" : "returnValues");
    return -1;
  }
  size_t n = strlen(rv);
  for (const char *p = allowed; (p = strstr(p, rv)); p += n)
    if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || !p[n])) return 0;
  tables_err(f, VALIDATION, "ReturnValues can only be %s or NONE", allowed);
  return -1;
}

/* ---- one write: Put, Update, Delete, ConditionCheck --------------------- */

typedef enum { W_PUT, W_UPDATE, W_DELETE, W_CHECK } wkind_t;

typedef struct wop {
  wkind_t kind;
  tdef_t *td;
  kb_t k;
  const json_t *key;           /* Key (update, delete, check), borrowed */
  const json_t *item;          /* Item (put), borrowed */
  xctx_t x;
  ddbexpr_t *cond, *upd;
  const char *rv;              /* ReturnValues */
  bool rv_fail;                /* ReturnValuesOnConditionCheckFailure */
  json_t *old, *new_;          /* the item before and after */
} wop_t;

static void wop_free(wop_t *w) {
  kb_free(&w->k);
  xctx_free(&w->x);
  ddbexpr_free(w->cond);
  ddbexpr_free(w->upd);
  json_decref(w->old);
  json_decref(w->new_);
}

static bool names_has(const json_t *arr, const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v)
    if (json_string_value(v) && !strcmp(json_string_value(v), name))
      return true;
  return false;
}

/* Read and check one write request (no database access but the catalog).
 * in_tx: part of TransactWriteItems (no ReturnValues there). */
static int wop_prepare(tables_t *t, wop_t *w, wkind_t kind,
                       const json_t *req, bool in_tx, fault_t *f) {
  memset(w, 0, sizeof *w);
  w->kind = kind;
  kb_init(&w->k);
  w->x.used_n = w->x.used_v = NULL;
  if (xctx_init(&w->x, req, f) < 0) return -1;
  if (!(w->td = tables_def(t, str(req, "TableName"), f))) return -1;
  if (kind == W_PUT) {
    w->item = json_object_get(req, "Item");
    if (item_check(w->item, "item", f) < 0 ||
        tables_key_of(&w->td->ks, w->item, false, &w->k, f) < 0 ||
        size_check(w->item, false, f) < 0)
      return -1;
  } else {
    w->key = json_object_get(req, "Key");
    if (!w->key) {
      tables_err(f, VALIDATION, "1 validation error detected: Value null "
                 "at 'key' failed to satisfy constraint: Member must not be "
                 "null");
      return -1;
    }
    if (item_check(w->key, "key", f) < 0 ||
        tables_key_of(&w->td->ks, w->key, true, &w->k, f) < 0)
      return -1;
  }
  w->cond = xparse(&w->x, DDBX_CONDITION, req, "ConditionExpression", f);
  if (fault_is_set(f)) return -1;
  if (kind == W_CHECK && !w->cond) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'conditionExpression' failed to satisfy constraint: Member "
               "must not be null");
    return -1;
  }
  if (kind == W_UPDATE) {
    w->upd = xparse(&w->x, DDBX_UPDATE, req, "UpdateExpression", f);
    if (fault_is_set(f)) return -1;
    if (w->upd) {
      json_t *targets = json_array();
      ddbexpr_update_targets(w->upd, targets);
      const char *bad = names_has(targets, w->td->ks.pk) ? w->td->ks.pk
          : w->td->ks.sk && names_has(targets, w->td->ks.sk) ? w->td->ks.sk
          : NULL;
      if (bad)
        tables_err(f, VALIDATION, "One or more parameter values were "
                   "invalid: Cannot update attribute %s. This attribute is "
                   "part of the key", bad);
      json_decref(targets);
      if (bad) return -1;
    }
  }
  if (xctx_check(&w->x, f) < 0) return -1;
  const char *allowed = kind == W_UPDATE
      ? "ALL_OLD ALL_NEW UPDATED_OLD UPDATED_NEW" : "ALL_OLD";
  if (!in_tx && rv_of(req, "ReturnValues", allowed, &w->rv, f) < 0)
    return -1;
  if (in_tx) w->rv = "NONE";
  const char *rvf;
  if (rv_of(req, "ReturnValuesOnConditionCheckFailure", "ALL_OLD", &rvf,
            f) < 0)
    return -1;
  w->rv_fail = !strcmp(rvf, "ALL_OLD");
  return 0;
}

/* Load the old item and test the condition: 1 holds, 0 failed, -1. */
static int wop_check(tables_t *t, wop_t *w, fault_t *f) {
  bool need_old = w->cond || w->kind == W_UPDATE || w->td->nix ||
                  strcmp(w->rv, "NONE");
  if (need_old && tables_load(t, w->td, &w->k, &w->old, f) < 0) return -1;
  if (!w->cond) return 1;
  char *err = NULL;
  int r = ddbexpr_test(w->cond, w->old, &err);
  if (r < 0) {
    tables_err(f, VALIDATION, "%s", err ? err : "Invalid ConditionExpression");
    free(err);
  }
  return r;
}

/* Compute the new item and write it. */
static int wop_apply(tables_t *t, wop_t *w, fault_t *f) {
  switch (w->kind) {
  case W_CHECK:
    return 0;
  case W_DELETE:
    if (!w->old && !w->td->nix && !w->cond && !strcmp(w->rv, "NONE")) {
      /* nothing was loaded: delete blindly */
    } else if (!w->old) {
      return 0;
    }
    return tables_store(t, w->td, &w->k, w->old, NULL, f);
  case W_PUT:
    w->new_ = tables_normalize(w->item);
    break;
  case W_UPDATE:
    if (w->upd) {
      char *err = NULL;
      w->new_ = ddbexpr_update(w->upd, w->old, &err);
      if (!w->new_) {
        tables_err(f, VALIDATION, "%s", err ? err : "Invalid "
                   "UpdateExpression");
        free(err);
        return -1;
      }
    } else {
      w->new_ = w->old ? json_deep_copy(w->old) : json_object();
    }
    json_object_update(w->new_, (json_t *)w->key);  /* a new item's key */
    json_t *norm = tables_normalize(w->new_);
    json_decref(w->new_);
    w->new_ = norm;
    if (size_check(w->new_, true, f) < 0) return -1;
    break;
  }
  return tables_store(t, w->td, &w->k, w->old, w->new_, f);
}

/* The attributes of src named by the update's targets. */
static json_t *updated(const wop_t *w, const json_t *src) {
  json_t *names = json_array(), *o = json_object();
  ddbexpr_update_targets(w->upd, names);
  size_t i;
  json_t *n;
  json_array_foreach(names, i, n) {
    json_t *v = json_object_get(src, json_string_value(n));
    if (v) json_object_set(o, json_string_value(n), v);
  }
  json_decref(names);
  return o;
}

static json_t *wop_response(const wop_t *w) {
  json_t *r = json_object(), *a = NULL;
  if (!strcmp(w->rv, "ALL_OLD") && w->old) a = json_incref(w->old);
  else if (!strcmp(w->rv, "ALL_NEW") && w->new_) a = json_incref(w->new_);
  else if (!strcmp(w->rv, "UPDATED_OLD") && w->upd && w->old)
    a = updated(w, w->old);
  else if (!strcmp(w->rv, "UPDATED_NEW") && w->upd && w->new_)
    a = updated(w, w->new_);
  if (a && json_object_size(a)) json_object_set_new(r, "Attributes", a);
  else json_decref(a);
  return r;
}

static void cond_failed(const wop_t *w, json_t **detail, fault_t *f) {
  tables_err(f, "ConditionalCheckFailedException", "The conditional request "
             "failed");
  if (w->rv_fail && w->old) *detail = json_pack("{s:O}", "Item", w->old);
}

static json_t *single(tables_t *t, wkind_t kind, const json_t *req,
                      json_t **detail, fault_t *f) {
  wop_t w;
  json_t *r = NULL;
  if (wop_prepare(t, &w, kind, req, false, f) < 0) goto done;
  if (tables_begin(t, f) < 0) goto done;
  int ok = wop_check(t, &w, f);
  if (ok == 0) cond_failed(&w, detail, f);
  if (ok <= 0 || wop_apply(t, &w, f) < 0 || tables_commit(t, f) < 0) {
    tables_rollback(t);
    goto done;
  }
  r = wop_response(&w);
done:
  wop_free(&w);
  return r;
}

json_t *tables_op_put(tables_t *t, const json_t *req, json_t **detail,
                      fault_t *f) {
  return single(t, W_PUT, req, detail, f);
}

json_t *tables_op_update(tables_t *t, const json_t *req, json_t **detail,
                         fault_t *f) {
  return single(t, W_UPDATE, req, detail, f);
}

json_t *tables_op_delete(tables_t *t, const json_t *req, json_t **detail,
                         fault_t *f) {
  return single(t, W_DELETE, req, detail, f);
}

/* ---- GetItem, BatchGetItem --------------------------------------------- */

/* Whether key k is in seen (keys by their bytes: pk's length, pk, sk);
 * adds it when not. */
static bool seen_key(json_t *seen, const kb_t *k) {
  buf_t b;
  buf_init(&b);
  uint32_t n = (uint32_t)k->pk.len;
  buf_append(&b, (const char *)&n, sizeof n);
  if (k->pk.len) buf_append(&b, k->pk.data, k->pk.len);
  if (k->sk.len) buf_append(&b, k->sk.data, k->sk.len);
  bool dup = json_object_getn(seen, b.data, b.len) != NULL;
  if (!dup) json_object_setn_new_nocheck(seen, b.data, b.len, json_true());
  buf_free(&b);
  return dup;
}

/* Get the item at key of td, projected; *item NULL when there is none.
 * seen (NULL: not checked): the keys so far; a duplicate is refused. */
static int get_one(tables_t *t, tdef_t *td, const json_t *key,
                   const ddbexpr_t *proj, json_t *seen, json_t **item,
                   fault_t *f) {
  kb_t k;
  kb_init(&k);
  *item = NULL;
  int rc = -1;
  const char *names[TABLES_ATTRS_MAX];
  int n = proj ? ddbexpr_top_names(proj, names, TABLES_ATTRS_MAX) : 0;
  if (item_check(key, "key", f) == 0 &&
      tables_key_of(&td->ks, key, true, &k, f) == 0) {
    if (seen && seen_key(seen, &k)) {
      tables_err(f, VALIDATION, "Provided list of item keys contains "
                 "duplicates");
      kb_free(&k);
      return -1;
    }
    /* a projection of a few top-level names: only those are read */
    rc = n > 0 ? tables_load_attrs(t, td, &k, names, n, item, f) : 1;
    if (rc == 1) {
      rc = tables_load(t, td, &k, item, f);
      n = 0;
    }
  }
  if (rc == 0 && n == 0) {
    if (*item && proj) {
      json_t *p = ddbexpr_project(proj, *item);
      json_decref(*item);
      *item = p;
    }
  }
  kb_free(&k);
  return rc;
}

json_t *tables_op_get(tables_t *t, const json_t *req, fault_t *f) {
  xctx_t x;
  json_t *r = NULL, *item = NULL;
  ddbexpr_t *proj = NULL;
  if (xctx_init(&x, req, f) < 0) goto done;
  tdef_t *td = tables_def(t, str(req, "TableName"), f);
  if (!td) goto done;
  json_t *key = json_object_get(req, "Key");
  if (!key) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'key' failed to satisfy constraint: Member must not be "
               "null");
    goto done;
  }
  proj = xparse(&x, DDBX_PROJECTION, req, "ProjectionExpression", f);
  if (fault_is_set(f) || xctx_check(&x, f) < 0) goto done;
  if (get_one(t, td, key, proj, NULL, &item, f) < 0) goto done;
  r = json_object();
  if (item) json_object_set_new(r, "Item", item);
done:
  ddbexpr_free(proj);
  xctx_free(&x);
  return r;
}

json_t *tables_op_batch_get(tables_t *t, const json_t *req, int flags,
                            fault_t *f) {
  json_t *ri = json_object_get(req, "RequestItems");
  if (!json_is_object(ri) || json_object_size(ri) == 0) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'requestItems' failed to satisfy constraint: Member must "
               "not be null");
    return NULL;
  }
  const char *name;
  json_t *spec;
  size_t total = 0;
  json_object_foreach(ri, name, spec)
    total += json_array_size(json_object_get(spec, "Keys"));
  if ((flags & TABLES_AWS_LIMITS) && total > TABLES_BATCH_GET) {
    tables_err(f, VALIDATION, "Too many items requested for the "
               "BatchGetItem call");
    return NULL;
  }
  json_t *responses = json_object();
  json_object_foreach(ri, name, spec) {
    xctx_t x;
    ddbexpr_t *proj = NULL;
    json_t *keys = json_object_get(spec, "Keys"), *items = json_array();
    json_object_set_new(responses, name, items);
    tdef_t *td = NULL;
    int rc = xctx_init(&x, spec, f);
    if (rc == 0 && !(td = tables_def(t, name, f))) rc = -1;
    if (rc == 0) {
      proj = xparse(&x, DDBX_PROJECTION, spec, "ProjectionExpression", f);
      if (fault_is_set(f) || xctx_check(&x, f) < 0) rc = -1;
    }
    if (rc == 0 && (!json_is_array(keys) || !json_array_size(keys))) {
      tables_err(f, VALIDATION, "1 validation error detected: Value null "
                 "at 'requestItems.%s.member.keys' failed to satisfy "
                 "constraint: Member must have length greater than or equal "
                 "to 1", name);
      rc = -1;
    }
    size_t i;
    json_t *key;
    /* the keys so far: by their bytes when no key attribute is a number
     * (same string, same bytes), else by their sorted text as ever
     * ("1" and "1.0" stay two keys: not checked against AWS) */
    json_t *seen = json_object(), *seen_bytes = NULL;
    if (td && td->ks.pkt != 'N' && !(td->ks.sk && td->ks.skt == 'N'))
      seen_bytes = seen;
    json_array_foreach(keys, i, key) {
      if (rc < 0) break;
      json_t *item = NULL;
      if (seen_bytes) {
        if (get_one(t, td, key, proj, seen_bytes, &item, f) < 0) rc = -1;
        if (item) json_array_append_new(items, item);
        continue;
      }
      char *text = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
      if (text && json_object_get(seen, text)) {
        tables_err(f, VALIDATION, "Provided list of item keys contains "
                   "duplicates");
        rc = -1;
      } else if (text) {
        json_object_set_new(seen, text, json_true());
      }
      free(text);
      if (rc == 0 && get_one(t, td, key, proj, NULL, &item, f) < 0) rc = -1;
      if (item) json_array_append_new(items, item);
    }
    json_decref(seen);
    ddbexpr_free(proj);
    xctx_free(&x);
    if (rc < 0) {
      json_decref(responses);
      return NULL;
    }
  }
  return json_pack("{s:o,s:{}}", "Responses", responses, "UnprocessedKeys");
}

/* ---- BatchWriteItem ----------------------------------------------------- */

json_t *tables_op_batch_write(tables_t *t, const json_t *req, int flags,
                              fault_t *f) {
  json_t *ri = json_object_get(req, "RequestItems");
  if (!json_is_object(ri) || json_object_size(ri) == 0) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'requestItems' failed to satisfy constraint: Member must "
               "not be null");
    return NULL;
  }
  const char *name;
  json_t *reqs;
  bool aws = flags & TABLES_AWS_LIMITS;
  json_object_foreach(ri, name, reqs) {
    size_t n = json_array_size(reqs);
    if (!json_is_array(reqs) || n < 1 || (aws && n > TABLES_BATCH_WRITE)) {
      tables_err(f, VALIDATION, "1 validation error detected: Value at "
                 "'requestItems' failed to satisfy constraint: Map value "
                 "must satisfy constraint: [Member must have length less "
                 "than or equal to 25, Member must have length greater than "
                 "or equal to 1]");
      return NULL;
    }
  }
  if (tables_begin(t, f) < 0) return NULL;
  kb_t k;
  kb_init(&k);
  buf_t seen;          /* key bytes already written (AWS face only) */
  buf_init(&seen);
  int rc = 0;
  json_object_foreach(ri, name, reqs) {
    tdef_t *td = tables_def(t, name, f);
    if (!td) {
      rc = -1;
      break;
    }
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
      json_t *put = json_object_get(r, "PutRequest");
      json_t *del = json_object_get(r, "DeleteRequest");
      if (!put == !del || json_object_size(r) != 1) {
        tables_err(f, VALIDATION, "Supplied AttributeValue has more than "
                   "one datatypes set, must contain exactly one of the "
                   "supported datatypes");
        rc = -1;
        break;
      }
      const json_t *item = put ? json_object_get(put, "Item")
                               : json_object_get(del, "Key");
      if (item_check(item, put ? "item" : "key", f) < 0 ||
          tables_key_of(&td->ks, item, !put, &k, f) < 0 ||
          (put && size_check(item, false, f) < 0)) {
        rc = -1;
        break;
      }
      if (aws) {  /* duplicates: a linear look over at most 25 keys */
        buf_t one;
        buf_init(&one);
        buf_printf(&one, "%s%c%zu:", name, 0, k.pk.len);
        buf_append(&one, k.pk.data ? k.pk.data : "", k.pk.len);
        buf_append(&one, k.sk.data ? k.sk.data : "", k.sk.len);
        uint32_t len = (uint32_t)one.len;
        for (size_t p = 0; p < seen.len;) {
          uint32_t l;
          memcpy(&l, seen.data + p, 4);
          if (l == len && !memcmp(seen.data + p + 4, one.data, len)) {
            tables_err(f, VALIDATION, "Provided list of item keys "
                       "contains duplicates");
            rc = -1;
          }
          p += 4 + l;
        }
        buf_append(&seen, (char *)&len, 4);
        buf_append(&seen, one.data, one.len);
        buf_free(&one);
        if (rc < 0) break;
      }
      json_t *old = NULL, *norm = put ? tables_normalize(item) : NULL;
      if (td->nix && tables_load(t, td, &k, &old, f) < 0) rc = -1;
      if (rc == 0 && tables_store(t, td, &k, old, norm, f) < 0) rc = -1;
      json_decref(old);
      json_decref(norm);
      if (rc < 0) break;
    }
    if (rc < 0) break;
  }
  kb_free(&k);
  buf_free(&seen);
  if (rc < 0 || tables_commit(t, f) < 0) {
    tables_rollback(t);
    return NULL;
  }
  return json_pack("{s:{}}", "UnprocessedItems");
}

/* ---- TransactWriteItems ------------------------------------------------- */

json_t *tables_op_transact(tables_t *t, const json_t *req, int flags,
                           json_t **detail, fault_t *f) {
  json_t *items = json_object_get(req, "TransactItems");
  size_t n = json_array_size(items);
  if (!json_is_array(items) || n < 1 ||
      ((flags & TABLES_AWS_LIMITS) && n > TABLES_TRANSACT)) {
    tables_err(f, VALIDATION, "1 validation error detected: Value at "
               "'transactItems' failed to satisfy constraint: Member must "
               "have length %s", n < 1 ? "greater than or equal to 1"
                                       : "less than or equal to 100");
    return NULL;
  }
  static const struct { const char *name; wkind_t kind; } kinds[] = {
    {"Put", W_PUT}, {"Update", W_UPDATE}, {"Delete", W_DELETE},
    {"ConditionCheck", W_CHECK},
  };
  wop_t *w = ms_calloc(n, sizeof *w);
  size_t ready = 0;
  json_t *r = NULL, *reasons = NULL;
  for (; ready < n; ready++) {
    json_t *it = json_array_get(items, ready), *body = NULL;
    int kind = -1;
    for (int k = 0; k < 4; k++)
      if ((body = json_object_get(it, kinds[k].name))) {
        kind = k;
        break;
      }
    if (kind < 0 || json_object_size(it) != 1) {
      tables_err(f, VALIDATION, "TransactItems can only contain one of "
                 "Check, Put, Update or Delete");
      goto done;
    }
    if (wop_prepare(t, &w[ready], kinds[kind].kind, body, true, f) < 0) {
      ready++;
      goto done;
    }
    for (size_t j = 0; j < ready; j++)
      if (w[j].td == w[ready].td && w[j].k.pk.len == w[ready].k.pk.len &&
          w[j].k.sk.len == w[ready].k.sk.len &&
          !memcmp(w[j].k.pk.data, w[ready].k.pk.data, w[j].k.pk.len) &&
          (!w[j].k.sk.len || !memcmp(w[j].k.sk.data, w[ready].k.sk.data,
                                     w[j].k.sk.len))) {
        tables_err(f, VALIDATION, "Transaction request cannot include "
                   "multiple operations on one item");
        ready++;
        goto done;
      }
  }
  if (tables_begin(t, f) < 0) goto done;
  reasons = json_array();
  bool failed = false;
  for (size_t i = 0; i < n; i++) {
    int ok = wop_check(t, &w[i], f);
    if (ok < 0) {
      tables_rollback(t);
      goto done;
    }
    if (ok) {
      json_array_append_new(reasons, json_pack("{s:s}", "Code", "None"));
    } else {
      failed = true;
      json_t *why = json_pack("{s:s,s:s}", "Code", "ConditionalCheckFailed",
                              "Message", "The conditional request failed");
      if (w[i].rv_fail && w[i].old)
        json_object_set(why, "Item", w[i].old);
      json_array_append_new(reasons, why);
    }
  }
  if (failed) {
    tables_rollback(t);
    buf_t b;
    buf_init(&b);
    size_t i;
    json_t *why;
    json_array_foreach(reasons, i, why)
      buf_printf(&b, "%s%s", i ? ", " : "", str(why, "Code"));
    tables_err(f, "TransactionCanceledException", "Transaction cancelled, "
               "please refer cancellation reasons for specific reasons [%s]",
               b.data);
    buf_free(&b);
    *detail = json_pack("{s:O}", "CancellationReasons", reasons);
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    if (wop_apply(t, &w[i], f) < 0) {
      tables_rollback(t);
      goto done;
    }
  if (tables_commit(t, f) < 0) {
    tables_rollback(t);
    goto done;
  }
  r = json_object();
done:
  json_decref(reasons);
  for (size_t i = 0; i < ready; i++) wop_free(&w[i]);
  free(w);
  return r;
}

/* ---- Query and Scan ----------------------------------------------------- */

typedef struct reader {
  tables_t *t;
  tdef_t *td;
  tindex_t *ix;                /* NULL: the table itself */
  const keyschema_t *ks;       /* of the index or the table */
  xctx_t x;
  ddbexpr_t *filter, *proj, *keyexpr;
  json_int_t limit;            /* 0: none */
  bool forward, count_only;
  int segment, segments;       /* Scan's Segment / TotalSegments */
  kb_t esk, esk_base;          /* ExclusiveStartKey, encoded */
  bool has_esk;
  json_t *keep;                /* an index's projected attributes (a set);
                                  NULL: ALL */
} reader_t;

static void reader_free(reader_t *r) {
  xctx_free(&r->x);
  ddbexpr_free(r->filter);
  ddbexpr_free(r->proj);
  ddbexpr_free(r->keyexpr);
  kb_free(&r->esk);
  kb_free(&r->esk_base);
  json_decref(r->keep);
}

/* The attributes an index's Projection keeps: NULL for ALL, else the
 * table's and the index's keys plus INCLUDE's NonKeyAttributes. */
static json_t *projected(const tdef_t *td, const tindex_t *ix) {
  json_t *p = json_object_get(ix->desc, "Projection");
  const char *ty = json_string_value(json_object_get(p, "ProjectionType"));
  if (!ty || !strcmp(ty, "ALL")) return NULL;
  json_t *keep = json_object();
  const char *names[] = {td->ks.pk, td->ks.sk, ix->ks.pk, ix->ks.sk};
  for (int i = 0; i < 4; i++)
    if (names[i]) json_object_set_new(keep, names[i], json_true());
  size_t i;
  json_t *n;
  if (!strcmp(ty, "INCLUDE"))
    json_array_foreach(json_object_get(p, "NonKeyAttributes"), i, n)
      if (json_is_string(n))
        json_object_set_new(keep, json_string_value(n), json_true());
  return keep;
}

/* The options Query and Scan share. */
static int reader_init(tables_t *t, reader_t *r, const json_t *req,
                       fault_t *f) {
  memset(r, 0, sizeof *r);
  r->t = t;
  kb_init(&r->esk);
  kb_init(&r->esk_base);
  if (xctx_init(&r->x, req, f) < 0) return -1;
  if (!(r->td = tables_def(t, str(req, "TableName"), f))) return -1;
  r->ks = &r->td->ks;
  const char *in = str(req, "IndexName");
  if (in) {
    if (!(r->ix = tables_index(r->td, in, f))) return -1;
    r->ks = &r->ix->ks;
    r->keep = projected(r->td, r->ix);
  }
  json_t *lim = json_object_get(req, "Limit");
  if (lim) {
    r->limit = json_integer_value(lim);
    if (!json_is_integer(lim) || r->limit < 1) {
      tables_err(f, VALIDATION, "1 validation error detected: Value '%lld' "
                 "at 'limit' failed to satisfy constraint: Member must have "
                 "value greater than or equal to 1", (long long)r->limit);
      return -1;
    }
  }
  json_t *fwd = json_object_get(req, "ScanIndexForward");
  r->forward = !fwd || json_is_true(fwd);
  const char *sel = str(req, "Select");
  if (sel && strcmp(sel, "ALL_ATTRIBUTES") && strcmp(sel, "COUNT") &&
      strcmp(sel, "SPECIFIC_ATTRIBUTES") &&
      strcmp(sel, "ALL_PROJECTED_ATTRIBUTES")) {
    tables_err(f, VALIDATION, "1 validation error detected: Value '%s' at "
               "'select' failed to satisfy constraint: Member must satisfy "
               "enum value set: [SPECIFIC_ATTRIBUTES, COUNT, "
               "ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", sel);
    return -1;
  }
  r->count_only = sel && !strcmp(sel, "COUNT");
  r->filter = xparse(&r->x, DDBX_FILTER, req, "FilterExpression", f);
  if (fault_is_set(f)) return -1;
  r->proj = xparse(&r->x, DDBX_PROJECTION, req, "ProjectionExpression", f);
  if (fault_is_set(f)) return -1;
  if (r->proj && sel && strcmp(sel, "SPECIFIC_ATTRIBUTES")) {
    tables_err(f, VALIDATION, "Cannot specify the ProjectionExpression "
               "when choosing to get %s", sel);
    return -1;
  }
  json_t *esk = json_object_get(req, "ExclusiveStartKey");
  if (esk) {
    r->has_esk = true;
    int ok = json_is_object(esk) && item_check(esk, "exclusiveStartKey",
                                               f) == 0;
    if (fault_is_set(f)) fault_clear(f);
    if (ok && r->ix) {
      json_t *base = tables_key_attrs(&r->td->ks, esk);
      ok = tables_key_of(&r->td->ks, base, true, &r->esk_base, f) == 0 &&
           tables_index_key(r->ix, esk, &r->esk, f) == 1;
      json_decref(base);
      /* the index's keys and the table's (some may be the same) */
      json_t *all = tables_key_attrs(r->ks, esk);
      json_t *b2 = tables_key_attrs(&r->td->ks, esk);
      json_object_update(all, b2);
      ok = ok && json_object_size(all) == json_object_size(esk);
      json_decref(all);
      json_decref(b2);
    } else if (ok) {
      ok = tables_key_of(r->ks, esk, true, &r->esk, f) == 0;
    }
    if (!ok) {
      fault_clear(f);
      tables_err(f, VALIDATION, "The provided starting key is invalid: The "
                 "provided key element does not match the schema");
      return -1;
    }
  }
  return 0;
}

/* LastEvaluatedKey for item. */
static json_t *last_key(const reader_t *r, const json_t *item) {
  json_t *k = tables_key_attrs(&r->td->ks, item);
  if (r->ix) {
    json_t *x = tables_key_attrs(r->ks, item);
    json_object_update(k, x);
    json_decref(x);
  }
  return k;
}

static uint32_t fnv(const buf_t *b) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < b->len; i++)
    h = (h ^ (unsigned char)b->data[i]) * 16777619u;
  return h;
}

/* Run the prepared statement st (columns: ... item last) and page its
 * rows. prefix: begins_with's operand when rows past it must be skipped
 * (key bytes that do not keep prefixes). */
static json_t *page(reader_t *r, sqlite3_stmt *st, int item_col,
                    const json_t *prefix, const char *sk_name, fault_t *f) {
  json_t *items = json_array(), *lek = NULL;
  json_int_t count = 0, scanned = 0;
  size_t bytes = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (r->segments) {
      buf_t pk = {(char *)sqlite3_column_blob(st, 0),
                  (size_t)sqlite3_column_bytes(st, 0), 0};
      if (fnv(&pk) % (uint32_t)r->segments != (uint32_t)r->segment)
        continue;
    }
    json_t *item = parse_item(st, item_col);
    if (!item) continue;
    if (r->keep) {  /* what the index holds of the item */
      json_t *cut = json_object(), *v;
      const char *k;
      json_object_foreach(item, k, v)
        if (json_object_get(r->keep, k)) json_object_set(cut, k, v);
      json_decref(item);
      item = cut;
    }
    if (prefix) {
      json_t *v = json_object_get(item, sk_name);
      const char *ty = ddbval_type(prefix);
      const char *a = str(v, ty), *p = str(prefix, ty);
      if (!a || !p || strncmp(a, p, strlen(p))) {
        json_decref(item);
        if (r->forward) break;
        continue;
      }
    }
    scanned++;
    bytes += (size_t)sqlite3_column_bytes(st, item_col);
    int keep = 1;
    if (r->filter) {
      char *err = NULL;
      keep = ddbexpr_test(r->filter, item, &err);
      if (keep < 0) {
        tables_err(f, VALIDATION, "%s", err ? err : "Invalid "
                   "FilterExpression");
        free(err);
        json_decref(item);
        json_decref(items);
        sqlite3_reset(st);
        return NULL;
      }
    }
    bool stop = (r->limit && scanned >= r->limit) || bytes >= TABLES_PAGE_MAX;
    if (stop) lek = last_key(r, item);
    if (keep) {
      count++;
      if (!r->count_only) {
        if (r->proj) {
          json_t *p = ddbexpr_project(r->proj, item);
          json_decref(item);
          item = p;
        }
        json_array_append(items, item);
      }
    }
    json_decref(item);
    if (stop) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    tables_fail_db(r->t, f, "reading items");
    sqlite3_reset(st);
    json_decref(items);
    json_decref(lek);
    return NULL;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  json_t *res = json_object();
  if (!r->count_only) json_object_set(res, "Items", items);
  json_decref(items);
  json_object_set_new(res, "Count", json_integer(count));
  json_object_set_new(res, "ScannedCount", json_integer(scanned));
  if (lek) json_object_set_new(res, "LastEvaluatedKey", lek);
  return res;
}

/* The successor of a byte string: the smallest string greater than every
 * string it prefixes; false when there is none (all 0xff). */
static bool successor(buf_t *b) {
  while (b->len && (unsigned char)b->data[b->len - 1] == 0xff) b->len--;
  if (!b->len) return false;
  b->data[b->len - 1]++;
  return true;
}

static const char *cmp_op(ddbx_skop_t op) {
  switch (op) {
  case DDBX_SK_EQ: return "=";
  case DDBX_SK_LT: return "<";
  case DDBX_SK_LE: return "<=";
  case DDBX_SK_GT: return ">";
  case DDBX_SK_GE: return ">=";
  default: return NULL;
  }
}

static bool type_is(const json_t *av, char type) {
  const char *ty = ddbval_type(av);
  return ty && ty[0] == type && !ty[1];
}

json_t *tables_op_query(tables_t *t, const json_t *req, fault_t *f) {
  reader_t r;
  json_t *res = NULL;
  buf_t lo, hi, pk, sql;
  buf_init(&lo);
  buf_init(&hi);
  buf_init(&pk);
  buf_init(&sql);
  if (reader_init(t, &r, req, f) < 0) goto done;
  if (!json_object_get(req, "KeyConditionExpression")) {
    tables_err(f, VALIDATION, "Either the KeyConditions or "
               "KeyConditionExpression parameter must be specified in the "
               "request.");
    goto done;
  }
  r.keyexpr = xparse(&r.x, DDBX_KEY_CONDITION, req,
                     "KeyConditionExpression", f);
  if (!r.keyexpr || xctx_check(&r.x, f) < 0) goto done;
  ddbx_keycond_t kc;
  char *err = NULL;
  if (ddbexpr_keycond(r.keyexpr, r.ks->pk, r.ks->sk, &kc, &err) < 0) {
    tables_err(f, VALIDATION, "%s", err ? err : "Invalid "
               "KeyConditionExpression");
    free(err);
    goto done;
  }
  if (!type_is(kc.pk_value, r.ks->pkt) ||
      (kc.op != DDBX_SK_NONE && (!type_is(kc.sk_lo, r.ks->skt) ||
       (kc.sk_hi && !type_is(kc.sk_hi, r.ks->skt))))) {
    tables_err(f, VALIDATION, "One or more parameter values were invalid: "
               "Condition parameter type does not match schema type");
    goto done;
  }
  if (kc.op == DDBX_SK_BEGINS_WITH && r.ks->skt == 'N') {
    tables_err(f, VALIDATION, "Invalid KeyConditionExpression: Incorrect "
               "operand type for operator or function; operator or "
               "function: begins_with, operand type: N");
    goto done;
  }
  if (ddbval_key_bytes(kc.pk_value, &pk, &err) < 0 ||
      (kc.sk_lo && ddbval_key_bytes(kc.sk_lo, &lo, &err) < 0) ||
      (kc.sk_hi && ddbval_key_bytes(kc.sk_hi, &hi, &err) < 0)) {
    tables_err(f, VALIDATION, "%s", err ? err : "invalid key");
    free(err);
    goto done;
  }
  if (r.has_esk && (r.esk.pk.len != pk.len ||
                    memcmp(r.esk.pk.data, pk.data, pk.len))) {
    tables_err(f, VALIDATION, "The provided starting key is outside query "
               "boundaries based on provided conditions");
    goto done;
  }
  bool ix = r.ix != NULL;
  const char *skc = ix ? "x.isk" : "sk";
  long long id = (long long)r.td->id;
  if (ix)
    buf_printf(&sql, "SELECT x.pk, b.item FROM ddb_t%lld_i%d x JOIN "
               "ddb_t%lld b ON b.pk = x.pk AND b.sk = x.sk WHERE x.ipk = ?1",
               id, r.ix->no, id);
  else
    buf_printf(&sql, "SELECT pk, item FROM ddb_t%lld WHERE pk = ?1", id);
  const json_t *prefix = NULL;
  bool has_hi = false;
  if (cmp_op(kc.op)) {
    buf_printf(&sql, " AND %s %s ?2", skc, cmp_op(kc.op));
  } else if (kc.op == DDBX_SK_BETWEEN) {
    buf_printf(&sql, " AND %s >= ?2 AND %s <= ?3", skc, skc);
    has_hi = true;
  } else if (kc.op == DDBX_SK_BEGINS_WITH) {
    buf_printf(&sql, " AND %s >= ?2", skc);
    if (tables_raw_prefix(r.ks->skt)) {
      buf_free(&hi);
      buf_append(&hi, lo.data ? lo.data : "", lo.len);
      if (successor(&hi)) {
        buf_printf(&sql, " AND %s < ?3", skc);
        has_hi = true;
      }
    } else {
      prefix = kc.sk_lo;
    }
  }
  const char *gt = r.forward ? ">" : "<", *dir = r.forward ? "" : " DESC";
  if (r.has_esk) {
    if (ix)
      buf_printf(&sql, " AND (x.isk, x.pk, x.sk) %s (?4, ?5, ?6)", gt);
    else
      buf_printf(&sql, " AND sk %s ?4", gt);
  }
  if (ix)
    buf_printf(&sql, " ORDER BY x.isk%s, x.pk%s, x.sk%s", dir, dir, dir);
  else
    buf_printf(&sql, " ORDER BY sk%s", dir);
  sqlite3_stmt *st = tables_stmt(t, sql.data, f);
  if (!st) goto done;
  bind_blob(st, 1, &pk);
  if (kc.op != DDBX_SK_NONE) bind_blob(st, 2, &lo);
  if (has_hi) bind_blob(st, 3, &hi);
  if (r.has_esk) {
    bind_blob(st, 4, &r.esk.sk);
    if (ix) {
      bind_blob(st, 5, &r.esk_base.pk);
      bind_blob(st, 6, &r.esk_base.sk);
    }
  }
  res = page(&r, st, 1, prefix, r.ks->sk, f);
done:
  buf_free(&lo);
  buf_free(&hi);
  buf_free(&pk);
  buf_free(&sql);
  reader_free(&r);
  return res;
}

json_t *tables_op_scan(tables_t *t, const json_t *req, fault_t *f) {
  reader_t r;
  json_t *res = NULL;
  buf_t sql;
  buf_init(&sql);
  if (reader_init(t, &r, req, f) < 0 || xctx_check(&r.x, f) < 0) goto done;
  r.forward = true;
  json_t *seg = json_object_get(req, "Segment");
  json_t *tot = json_object_get(req, "TotalSegments");
  if (seg || tot) {
    json_int_t s = json_integer_value(seg), n = json_integer_value(tot);
    if (!json_is_integer(seg) || !json_is_integer(tot) || n < 1 ||
        n > 1000000 || s < 0 || s >= n) {
      tables_err(f, VALIDATION, "The Segment parameter is required but was "
                 "not present in the request when parameter TotalSegments "
                 "is present");
      goto done;
    }
    r.segment = (int)s;
    r.segments = (int)n;
  }
  long long id = (long long)r.td->id;
  if (r.ix) {
    buf_printf(&sql, "SELECT x.pk, b.item FROM ddb_t%lld_i%d x JOIN "
               "ddb_t%lld b ON b.pk = x.pk AND b.sk = x.sk", id, r.ix->no,
               id);
    if (r.has_esk)
      buf_printf(&sql, " WHERE (x.ipk, x.isk, x.pk, x.sk) > (?1, ?2, ?3, "
                 "?4)");
    buf_printf(&sql, " ORDER BY x.ipk, x.isk, x.pk, x.sk");
  } else {
    buf_printf(&sql, "SELECT pk, item FROM ddb_t%lld", id);
    if (r.has_esk) buf_printf(&sql, " WHERE (pk, sk) > (?1, ?2)");
    buf_printf(&sql, " ORDER BY pk, sk");
  }
  sqlite3_stmt *st = tables_stmt(t, sql.data, f);
  if (!st) goto done;
  if (r.has_esk) {
    bind_blob(st, 1, &r.esk.pk);
    bind_blob(st, 2, &r.esk.sk);
    if (r.ix) {
      bind_blob(st, 3, &r.esk_base.pk);
      bind_blob(st, 4, &r.esk_base.sk);
    }
  }
  res = page(&r, st, 1, NULL, NULL, f);
done:
  buf_free(&sql);
  reader_free(&r);
  return res;
}
