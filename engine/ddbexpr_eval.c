/* ddbexpr_eval.c - a parsed DynamoDB expression (ddbexpr_int.h) applied to
 * an item: conditions and filters, updates, projections, and the key
 * condition matched against a key schema. Parsing is ddbexpr_parse.c.
 *
 * Semantics, from the developer guide unless marked: a comparison across
 * types, or with a missing operand, is false, except that a <> b is true
 * then (checked against DynamoDB by the ExtendDB emulator, PR 5); <, <=,
 * >, >=, BETWEEN order S, N and B only; contains works on strings, sets
 * and lists; size() of a number, boolean or null is an error (wording
 * from other emulators), of a string its length in UTF-16 units. An update
 * computes every SET value from the item as it was, then applies SET,
 * REMOVE, ADD and DELETE; list indexes in REMOVE refer to the list as it
 * was; SET past a list's end appends. The update messages ("An operand in
 * the update expression has an incorrect data type", "The provided
 * expression refers to an attribute that does not exist in the item",
 * "The document path provided in the update expression is invalid for
 * update") are DynamoDB's as moto reproduces them, without the "Invalid
 * UpdateExpression:" prefix, as DynamoDB sends them.
 */
#include "ddbexpr_int.h"

#include <stdlib.h>
#include <string.h>

#define MSG_DATA_TYPE "An operand in the update expression has an " \
                      "incorrect data type"
#define MSG_NO_ATTR   "The provided expression refers to an attribute " \
                      "that does not exist in the item"
#define MSG_BAD_PATH  "The document path provided in the update " \
                      "expression is invalid for update"

/* ---- paths ------------------------------------------------------------ */

static json_t *inner(const json_t *av, const char *type) {
  const char *t = ddbval_type(av);
  return t && strcmp(t, type) == 0 ? json_object_get(av, t) : NULL;
}

/* The element el of v (an item when top, else an AV), or NULL. */
static json_t *step(json_t *v, bool top, const ddbx_elem_t *el) {
  if (!v) return NULL;
  if (top) return el->name ? json_object_get(v, el->name) : NULL;
  if (el->name) return json_object_get(inner(v, "M"), el->name);
  json_t *l = inner(v, "L");
  return l && el->index >= 0 ? json_array_get(l, (size_t)el->index) : NULL;
}

/* The value at path in item (borrowed), or NULL. */
static json_t *lookup(const json_t *item, const ddbx_path_t *p) {
  json_t *v = (json_t *)item;
  for (int i = 0; v && i < p->n; i++) v = step(v, i == 0, &p->v[i]);
  return v;
}

/* ---- conditions ------------------------------------------------------- */

static const char *const kind_word[] = {
  "ConditionExpression", "KeyConditionExpression", "UpdateExpression",
  "ProjectionExpression", "FilterExpression",
};

/* The length of UTF-8 text in UTF-16 code units, as DynamoDB's size()
 * counts a string (checked against DynamoDB by ExtendDB, PR 67). */
static size_t utf16_units(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char b = (unsigned char)s[i];
    if ((b & 0xc0) != 0x80) c += b >= 0xf0 ? 2 : 1;
  }
  return c;
}

/* An operand's value as a new reference; NULL when it has none (a missing
 * path). -1 with *err for size() of the wrong type. */
static int operand(const ddbexpr_t *e, const ddbx_node_t *n,
                   const json_t *item, json_t **out, char **err) {
  *out = NULL;
  if (n->op == X_VALUE) {
    *out = json_incref((json_t *)n->value);
    return MS_OK;
  }
  if (n->op == X_PATH) {
    *out = json_incref(lookup(item, n->path));
    return MS_OK;
  }
  if (n->op != X_SIZE) return MS_OK;
  json_t *v;
  if (operand(e, n->args[0], item, &v, err) != MS_OK) return MS_ERR;
  const char *t = ddbval_type(v);
  if (!t) {  /* missing, or no AttributeValue: no size */
    json_decref(v);
    return MS_OK;
  }
  json_t *x = json_object_get(v, t);
  size_t size = 0;
  if (strcmp(t, "S") == 0) {
    size = utf16_units(json_string_value(x), json_string_length(x));
  } else if (strcmp(t, "B") == 0) {
    buf_t b;
    buf_init(&b);
    char *ignored = NULL;
    ddbval_key_bytes(v, &b, &ignored);
    free(ignored);
    size = b.len;
    buf_free(&b);
  } else if (json_is_array(x)) {
    size = json_array_size(x);
  } else if (strcmp(t, "M") == 0) {
    size = json_object_size(x);
  } else {
    *err = ms_asprintf("Invalid %s: Incorrect operand type for operator or "
                       "function; operator or function: size, operand type: "
                       "%s", kind_word[e->kind], t);
    json_decref(v);
    return MS_ERR;
  }
  json_decref(v);
  *out = json_pack("{so}", "N", json_sprintf("%zu", size));
  return MS_OK;
}

/* Bytes of an S or B value for prefixes and substrings. */
static bool sb_bytes(const json_t *av, const char *type, buf_t *b) {
  const char *t = ddbval_type(av);
  if (!t || strcmp(t, type) != 0) return false;
  char *err = NULL;
  bool ok = ddbval_key_bytes(av, b, &err) == MS_OK;
  free(err);
  if (!b->data) buf_append(b, "", 0);
  return ok;
}

static bool begins_with(const json_t *a, const json_t *b) {
  const char *t = ddbval_type(a);
  if (!t || (strcmp(t, "S") != 0 && strcmp(t, "B") != 0)) return false;
  buf_t x, y;
  buf_init(&x), buf_init(&y);
  bool r = sb_bytes(a, t, &x) && sb_bytes(b, t, &y) && y.len <= x.len &&
           memcmp(x.data, y.data, y.len) == 0;
  buf_free(&x), buf_free(&y);
  return r;
}

static bool contains(const json_t *a, const json_t *b) {
  const char *t = ddbval_type(a), *tb = ddbval_type(b);
  if (!t || !tb) return false;
  json_t *x = json_object_get(a, t);
  if (strcmp(t, "S") == 0) {
    buf_t s, sub;
    buf_init(&s), buf_init(&sub);
    bool r = sb_bytes(a, "S", &s) && sb_bytes(b, "S", &sub) &&
             memmem(s.data, s.len, sub.data, sub.len) != NULL;
    buf_free(&s), buf_free(&sub);
    return r;
  }
  bool set = strlen(t) == 2 && t[1] == 'S';
  if (!set && strcmp(t, "L") != 0) return false;
  if (set && (strlen(tb) != 1 || tb[0] != t[0])) return false;
  size_t i;
  json_t *m;
  json_array_foreach(x, i, m) {
    if (set) {
      json_t *one = json_pack("{sO}", tb, m);
      bool eq = ddbval_equal(one, b);
      json_decref(one);
      if (eq) return true;
    } else if (ddbval_equal(m, b)) {
      return true;
    }
  }
  return false;
}

/* Order of two values when both are the same of S, N, B; else false. */
static bool ordered(const json_t *a, const json_t *b, int *c) {
  const char *ta = ddbval_type(a), *tb = ddbval_type(b);
  if (!ta || !tb || strcmp(ta, tb) != 0 || ta[1] != '\0' ||
      strchr("SNB", ta[0]) == NULL)
    return false;
  *c = ddbval_compare(a, b);
  return true;
}

static bool compare(ddbx_cmp_t op, const json_t *a, const json_t *b) {
  if (op == C_EQ) return a && b && ddbval_equal(a, b);
  if (op == C_NE) return !(a && b && ddbval_equal(a, b));
  int c;
  if (!a || !b || !ordered(a, b, &c)) return false;
  switch (op) {
  case C_LT: return c < 0;
  case C_LE: return c <= 0;
  case C_GT: return c > 0;
  default: return c >= 0;
  }
}

static int test(const ddbexpr_t *e, const ddbx_node_t *n,
                const json_t *item, char **err) {
  json_t *v[3] = {NULL, NULL, NULL};
  int r = 0, k;
  switch (n->op) {
  case X_AND:
    r = test(e, n->args[0], item, err);
    return r == 1 ? test(e, n->args[1], item, err) : r;
  case X_OR:
    r = test(e, n->args[0], item, err);
    return r == 0 ? test(e, n->args[1], item, err) : r;
  case X_NOT:
    r = test(e, n->args[0], item, err);
    return r < 0 ? r : !r;
  case X_EXISTS:
    return lookup(item, n->args[0]->path) != NULL;
  case X_NOT_EXISTS:
    return lookup(item, n->args[0]->path) == NULL;
  case X_TYPE: {
    const char *t = ddbval_type(lookup(item, n->args[0]->path));
    const char *want = json_string_value(json_object_get(n->args[1]->value,
                                                         "S"));
    return t && want && strcmp(t, want) == 0;
  }
  case X_IN:
    if (operand(e, n->args[0], item, &v[0], err) != MS_OK) return -1;
    for (k = 1; v[0] && !r && k < n->nargs; k++) {
      if (operand(e, n->args[k], item, &v[1], err) != MS_OK) {
        r = -1;
        break;
      }
      r = v[1] && ddbval_equal(v[0], v[1]);
      json_decref(v[1]);
      v[1] = NULL;
    }
    json_decref(v[0]);
    return r;
  default:
    break;
  }
  /* the operators with a fixed number of operands */
  for (k = 0; k < n->nargs && k < 3; k++)
    if (operand(e, n->args[k], item, &v[k], err) != MS_OK) {
      r = -1;
      goto done;
    }
  switch (n->op) {
  case X_CMP:
    r = compare(n->cmp, v[0], v[1]);
    break;
  case X_BETWEEN: {
    int lo, hi;
    r = v[0] && v[1] && v[2] && ordered(v[0], v[1], &lo) &&
        ordered(v[0], v[2], &hi) && lo >= 0 && hi <= 0;
    break;
  }
  case X_BEGINS:
    r = v[0] && v[1] && begins_with(v[0], v[1]);
    break;
  case X_CONTAINS:
    r = v[0] && v[1] && contains(v[0], v[1]);
    break;
  default:  /* an operand where a condition belongs: refused by the parser */
    r = 0;
  }
done:
  for (k = 0; k < 3; k++) json_decref(v[k]);
  return r;
}

int ddbexpr_test(const ddbexpr_t *e, const json_t *item, char **err) {
  if (!e->root) return 1;
  return test(e, e->root, item, err);
}

/* ---- updates ---------------------------------------------------------- */

/* The value of a SET operand over the item as it was (new reference), or
 * NULL + *err. */
static json_t *set_value(const ddbx_node_t *n, const json_t *item,
                         char **err) {
  json_t *a, *b, *r = NULL;
  switch (n->op) {
  case X_VALUE:
    return json_incref((json_t *)n->value);
  case X_PATH:
    if ((a = lookup(item, n->path))) return json_incref(a);
    *err = ms_strdup(MSG_NO_ATTR);
    return NULL;
  case X_IF_NOT_EXISTS:
    if ((a = lookup(item, n->args[0]->path))) return json_incref(a);
    return set_value(n->args[1], item, err);
  case X_LIST_APPEND: case X_PLUS: case X_MINUS:
    break;
  default:
    *err = ms_strdup(MSG_DATA_TYPE);
    return NULL;
  }
  if (!(a = set_value(n->args[0], item, err))) return NULL;
  if (!(b = set_value(n->args[1], item, err))) {
    json_decref(a);
    return NULL;
  }
  if (n->op == X_LIST_APPEND) {
    json_t *x = inner(a, "L"), *y = inner(b, "L");
    if (x && y) {
      json_t *l = json_deep_copy(x);
      json_array_extend(l, y);
      r = json_pack("{so}", "L", l);
    }
  } else {
    json_t *x = inner(a, "N"), *y = inner(b, "N");
    if (json_is_string(x) && json_is_string(y)) {
      char *s = n->op == X_PLUS ?
          ddbnum_add(json_string_value(x), json_string_value(y), err) :
          ddbnum_sub(json_string_value(x), json_string_value(y), err);
      if (s) r = json_pack("{ss}", "N", s);
      free(s);
      if (!s) goto out;
    }
  }
  if (!r) *err = ms_strdup(MSG_DATA_TYPE);
out:
  json_decref(a);
  json_decref(b);
  return r;
}

/* The container (an item or an M's or L's inner JSON) holding the last
 * element of path in root, or NULL. */
static json_t *parent_of(json_t *root, const ddbx_path_t *p) {
  json_t *v = root;
  for (int i = 0; v && i < p->n - 1; i++) v = step(v, i == 0, &p->v[i]);
  if (!v || p->n == 1) return v;
  const ddbx_elem_t *last = &p->v[p->n - 1];
  return inner(v, last->name ? "M" : "L");
}

/* Put val (stolen) at path in root. */
static int put(json_t *root, const ddbx_path_t *p, json_t *val, char **err) {
  json_t *c = parent_of(root, p);
  const ddbx_elem_t *last = &p->v[p->n - 1];
  if (!c) {
    json_decref(val);
    *err = ms_strdup(MSG_BAD_PATH);
    return MS_ERR;
  }
  if (last->name) {
    json_object_set_new(c, last->name, val);
  } else if ((size_t)last->index < json_array_size(c)) {
    json_array_set_new(c, (size_t)last->index, val);
  } else {
    json_array_append_new(c, val);
  }
  return MS_OK;
}

typedef struct touched {
  json_t **v;
  size_t n, cap;
} touched_t;

/* REMOVE: members go at once; list elements become null (never an AV) and
 * the lists are compacted after every REMOVE is done. */
static void remove_at(json_t *root, const ddbx_path_t *p, touched_t *t) {
  json_t *c = parent_of(root, p);
  const ddbx_elem_t *last = &p->v[p->n - 1];
  if (!c) return;
  if (last->name) {
    json_object_del(c, last->name);
  } else if ((size_t)last->index < json_array_size(c)) {
    json_array_set_new(c, (size_t)last->index, json_null());
    if (t->n == t->cap)
      t->v = ms_realloc(t->v, (t->cap = t->cap ? 2 * t->cap : 4) *
                              sizeof *t->v);
    t->v[t->n++] = c;
  }
}

static void compact(touched_t *t) {
  for (size_t i = 0; i < t->n; i++)
    for (size_t j = json_array_size(t->v[i]); j-- > 0;)
      if (json_is_null(json_array_get(t->v[i], j)))
        json_array_remove(t->v[i], j);
  free(t->v);
}

static bool is_set(const char *t) {
  return t && strlen(t) == 2 && t[1] == 'S';
}

/* ADD and DELETE on the value at the action's path. */
static int add_delete(json_t *root, const ddbx_action_t *a, char **err) {
  const json_t *val = a->value->value;
  const char *tv = ddbval_type(val);
  json_t *cur = lookup(root, a->path);
  if (!cur) {
    if (a->clause == U_DELETE) return MS_OK;
    return put(root, a->path, json_deep_copy(val), err);
  }
  const char *tc = ddbval_type(cur);
  if (!tc || !tv || strcmp(tc, tv) != 0) {
    *err = ms_strdup(MSG_DATA_TYPE);
    return MS_ERR;
  }
  if (strcmp(tc, "N") == 0) {
    char *s = ddbnum_add(json_string_value(inner(cur, "N")),
                         json_string_value(inner(val, "N")), err);
    if (!s) return MS_ERR;
    json_object_set_new(cur, "N", json_string(s));
    free(s);
    return MS_OK;
  }
  if (!is_set(tc)) {
    *err = ms_strdup(MSG_DATA_TYPE);
    return MS_ERR;
  }
  const char st[2] = {tc[0], '\0'};
  json_t *have = inner(cur, tc), *x;
  size_t i;
  json_t *one = json_object();
  json_array_foreach(inner(val, tv), i, x) {
    json_object_set(one, st, x);
    bool found = false;
    for (size_t j = 0; j < json_array_size(have) && !found; j++) {
      json_t *other = json_pack("{sO}", st, json_array_get(have, j));
      found = ddbval_equal(one, other);
      json_decref(other);
      if (found && a->clause == U_DELETE) json_array_remove(have, j);
    }
    if (!found && a->clause == U_ADD) json_array_append(have, x);
  }
  json_decref(one);
  if (json_array_size(have) == 0) {  /* an empty set is no set */
    touched_t none = {NULL, 0, 0};
    remove_at(root, a->path, &none);
    compact(&none);
  }
  return MS_OK;
}

json_t *ddbexpr_update(const ddbexpr_t *e, const json_t *item, char **err) {
  json_t *out = item ? json_deep_copy(item) : json_object();
  json_t **vals = ms_calloc((size_t)e->nacts + 1, sizeof *vals);
  touched_t t = {NULL, 0, 0};
  int i;
  for (i = 0; i < e->nacts; i++)
    if (e->acts[i].clause == U_SET &&
        !(vals[i] = set_value(e->acts[i].value, item, err)))
      goto fail;
  for (i = 0; i < e->nacts; i++)
    if (e->acts[i].clause == U_SET) {
      json_t *v = json_deep_copy(vals[i]);
      if (put(out, e->acts[i].path, v, err) != MS_OK) goto fail;
    }
  for (i = 0; i < e->nacts; i++)
    if (e->acts[i].clause == U_REMOVE) remove_at(out, e->acts[i].path, &t);
  compact(&t);
  t.v = NULL;
  for (int c = U_ADD; c <= U_DELETE; c++)
    for (i = 0; i < e->nacts; i++)
      if ((int)e->acts[i].clause == c &&
          add_delete(out, &e->acts[i], err) != MS_OK)
        goto fail;
  for (i = 0; i < e->nacts; i++) json_decref(vals[i]);
  free(vals);
  return out;
fail:
  for (i = 0; i < e->nacts; i++) json_decref(vals[i]);
  free(vals);
  free(t.v);
  json_decref(out);
  return NULL;
}

void ddbexpr_update_targets(const ddbexpr_t *e, json_t *names) {
  for (int i = 0; i < e->nacts; i++) {
    const char *n = e->acts[i].path->v[0].name;
    bool have = false;
    for (size_t j = 0; j < json_array_size(names) && !have; j++)
      have = strcmp(json_string_value(json_array_get(names, j)) ?
                    json_string_value(json_array_get(names, j)) : "", n) == 0;
    if (!have) json_array_append_new(names, json_string(n));
  }
}

void ddbexpr_used(const ddbexpr_t *e, json_t *used_names,
                  json_t *used_values) {
  const char *k;
  json_t *v;
  if (used_names)
    json_object_foreach(e->used_names, k, v)
      json_object_set_new(used_names, k, json_true());
  if (used_values)
    json_object_foreach(e->used_values, k, v)
      json_object_set_new(used_values, k, json_true());
}

/* ---- projections ------------------------------------------------------ */

/* The requested paths as a tree: a leaf takes the whole value. */
typedef struct pnode {
  const ddbx_elem_t *el;
  bool leaf;
  struct pnode *kids;
  int n, cap;
} pnode_t;

static pnode_t *kid(pnode_t *t, const ddbx_elem_t *el) {
  for (int i = 0; i < t->n; i++) {
    const ddbx_elem_t *o = t->kids[i].el;
    if (el->name ? o->name && strcmp(o->name, el->name) == 0 :
        !o->name && o->index == el->index)
      return &t->kids[i];
  }
  if (t->n == t->cap)
    t->kids = ms_realloc(t->kids, (size_t)(t->cap = t->cap ? 2 * t->cap : 4)
                                  * sizeof *t->kids);
  t->kids[t->n] = (pnode_t){el, false, NULL, 0, 0};
  return &t->kids[t->n++];
}

static void pfree(pnode_t *t) {
  for (int i = 0; i < t->n; i++) pfree(&t->kids[i]);
  free(t->kids);
}

static int by_index(const void *a, const void *b) {
  long x = ((const pnode_t *)a)->el->index;
  long y = ((const pnode_t *)b)->el->index;
  return (x > y) - (x < y);
}

/* The part of av t asks for (new reference), or NULL when none of it is
 * there. */
static json_t *extract(const json_t *av, pnode_t *t) {
  if (t->leaf) return json_deep_copy(av);
  json_t *m = inner(av, "M"), *l = inner(av, "L"), *out = NULL;
  if (t->n && t->kids[0].el->name && m) {
    json_t *o = json_object();
    for (int i = 0; i < t->n; i++) {
      json_t *v = json_object_get(m, t->kids[i].el->name);
      json_t *x = v ? extract(v, &t->kids[i]) : NULL;
      if (x) json_object_set_new(o, t->kids[i].el->name, x);
    }
    out = json_object_size(o) ? json_pack("{so}", "M", o) : NULL;
    if (!out) json_decref(o);
  } else if (t->n && !t->kids[0].el->name && l) {
    qsort(t->kids, (size_t)t->n, sizeof *t->kids, by_index);
    json_t *a = json_array();
    for (int i = 0; i < t->n; i++) {
      json_t *v = json_array_get(l, (size_t)t->kids[i].el->index);
      json_t *x = v ? extract(v, &t->kids[i]) : NULL;
      if (x) json_array_append_new(a, x);
    }
    out = json_array_size(a) ? json_pack("{so}", "L", a) : NULL;
    if (!out) json_decref(a);
  }
  return out;
}

json_t *ddbexpr_project(const ddbexpr_t *e, const json_t *item) {
  pnode_t root = {NULL, false, NULL, 0, 0};
  for (int i = 0; i < e->nproj; i++) {
    pnode_t *t = &root;
    for (int k = 0; k < e->proj[i]->n; k++) t = kid(t, &e->proj[i]->v[k]);
    t->leaf = true;
  }
  json_t *out = json_object();
  for (int i = 0; item && i < root.n; i++) {
    json_t *v = json_object_get(item, root.kids[i].el->name);
    json_t *x = v ? extract(v, &root.kids[i]) : NULL;
    if (x) json_object_set_new(out, root.kids[i].el->name, x);
  }
  pfree(&root);
  return out;
}

int ddbexpr_top_names(const ddbexpr_t *e, const char **names, int max) {
  if (e->nproj > max) return 0;
  for (int i = 0; i < e->nproj; i++) {
    if (e->proj[i]->n != 1 || !e->proj[i]->v[0].name) return 0;
    names[i] = e->proj[i]->v[0].name;
  }
  return e->nproj;
}

/* ---- key conditions --------------------------------------------------- */

int ddbexpr_keycond(const ddbexpr_t *e, const char *pk_name,
                    const char *sk_name, ddbx_keycond_t *k, char **err) {
  const ddbx_kterm_t *pk = NULL, *sk = NULL;
  memset(k, 0, sizeof *k);
  for (int i = 0; i < e->nkterms; i++) {
    const ddbx_kterm_t *t = &e->kterms[i];
    if (strcmp(t->name, pk_name) == 0) pk = t;
    else if (sk_name && strcmp(t->name, sk_name) == 0) sk = t;
  }
  if (!pk) {
    *err = ms_asprintf("Query condition missed key schema element: %s",
                       pk_name);
    return MS_ERR;
  }
  if (pk->op != DDBX_SK_EQ) {
    *err = ms_strdup("Query key condition not supported");
    return MS_ERR;
  }
  if (e->nkterms == 2 && !sk) {
    if (sk_name)
      *err = ms_asprintf("Query condition missed key schema element: %s",
                         sk_name);
    else
      *err = ms_strdup("Query key condition not supported");
    return MS_ERR;
  }
  k->pk_value = pk->lo;
  k->op = sk ? sk->op : DDBX_SK_NONE;
  k->sk_lo = sk ? sk->lo : NULL;
  k->sk_hi = sk ? sk->hi : NULL;
  return MS_OK;
}
