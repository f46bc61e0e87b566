/* lddbexpr.c - moonstep.core.ddbexpr: a thin Lua binding of DynamoDB's
 * expressions (ddbexpr.h) and values (ddbval.h), for specs and the REPL.
 * Values are AttributeValue JSON as moonstep.json values ({S = "x"},
 * {L = json.array{...}}, ...).
 *
 *   parse(kind, text [, names [, values]]) -> expr | nil, err
 *       kind: "condition", "key_condition", "update", "projection",
 *       "filter"
 *   expr:test([item]) -> boolean | nil, err
 *   expr:update([item]) -> item | nil, err
 *   expr:project(item) -> item
 *   expr:keycond(pk_name [, sk_name]) -> {pk, op, lo, hi} | nil, err
 *   expr:used() -> {names = {...}, values = {...}} (sorted)
 *   expr:targets() -> {name, ...}
 *   test(text, item, names, values), update(...), project(text, item,
 *   names), keycond(text, pk, sk, names, values): parse and apply at once
 *   num_normalize(s), num_add(a, b), num_sub(a, b) -> s | nil, err;
 *   num_cmp(a, b) -> -1|0|1; key_bytes(av) -> string | nil, err;
 *   check(av) -> true | nil, err; equal(a, b); compare(a, b);
 *   from_plain(v) -> av | nil, err; to_plain(av)
 *
 * Bad arguments raise; DynamoDB's validation errors return nil, message.
 */
#include "ddbexpr.h"
#include "luabridge.h"
#include "lmodules.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define EXPR_MT "moonstep.ddbexpr"

typedef struct box {
  ddbexpr_t *e;
} box_t;

/* The JSON at idx (nil or none: NULL). New reference; raises. */
static json_t *opt_json(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  char *err = NULL;
  json_t *v = luabridge_to_json(L, idx, &err);
  if (!v) {
    lua_pushfstring(L, "ddbexpr: argument #%d: %s", idx,
                    err ? err : "cannot convert");
    free(err);
    lua_error(L);
  }
  return v;
}

static int fail(lua_State *L, char *err) {
  lua_pushnil(L);
  lua_pushstring(L, err ? err : "error");
  free(err);
  return 2;
}

static int push_take(lua_State *L, json_t *v) {
  luabridge_push(L, v);
  json_decref(v);
  return 1;
}

static ddbx_kind_t check_kind(lua_State *L, int idx) {
  static const char *const kinds[] = {
    "condition", "key_condition", "update", "projection", "filter", NULL,
  };
  return (ddbx_kind_t)luaL_checkoption(L, idx, NULL, kinds);
}

/* Parse kind/text/names/values taken from the stack; NULL + *err. */
static ddbexpr_t *parse_at(lua_State *L, ddbx_kind_t kind, int text,
                           int names, int values, char **err) {
  const char *s = luaL_checkstring(L, text);
  json_t *n = names ? opt_json(L, names) : NULL;
  json_t *v = NULL;
  if (values && !lua_isnoneornil(L, values)) {
    char *cerr = NULL;
    if (!(v = luabridge_to_json(L, values, &cerr))) {
      json_decref(n);
      lua_pushfstring(L, "ddbexpr: argument #%d: %s", values,
                      cerr ? cerr : "cannot convert");
      free(cerr);
      lua_error(L);
    }
  }
  ddbexpr_t *e = ddbexpr_parse(kind, s, n, v, err);
  json_decref(n);
  json_decref(v);
  return e;
}

static ddbexpr_t *check_expr(lua_State *L) {
  box_t *b = luaL_checkudata(L, 1, EXPR_MT);
  if (!b->e) luaL_error(L, "ddbexpr: expression is freed");
  return b->e;
}

/* ---- the work, shared by methods and one-shot functions --------------- */

static int do_test(lua_State *L, ddbexpr_t *e, int item_idx) {
  json_t *item = opt_json(L, item_idx);
  char *err = NULL;
  int r = ddbexpr_test(e, item, &err);
  json_decref(item);
  if (r < 0) return fail(L, err);
  lua_pushboolean(L, r);
  return 1;
}

static int do_update(lua_State *L, ddbexpr_t *e, int item_idx) {
  json_t *item = opt_json(L, item_idx);
  char *err = NULL;
  json_t *out = ddbexpr_update(e, item, &err);
  json_decref(item);
  if (!out) return fail(L, err);
  return push_take(L, out);
}

static int do_project(lua_State *L, ddbexpr_t *e, int item_idx) {
  json_t *item = opt_json(L, item_idx);
  json_t *out = ddbexpr_project(e, item);
  json_decref(item);
  return push_take(L, out);
}

static int do_keycond(lua_State *L, ddbexpr_t *e, int pk, int sk) {
  static const char *const ops[] = {
    "NONE", "EQ", "LT", "LE", "GT", "GE", "BETWEEN", "BEGINS_WITH",
  };
  const char *pk_name = luaL_checkstring(L, pk);
  const char *sk_name = luaL_optstring(L, sk, NULL);
  ddbx_keycond_t k;
  char *err = NULL;
  if (ddbexpr_keycond(e, pk_name, sk_name, &k, &err) != MS_OK)
    return fail(L, err);
  lua_createtable(L, 0, 4);
  luabridge_push(L, k.pk_value);
  lua_setfield(L, -2, "pk");
  lua_pushstring(L, ops[k.op]);
  lua_setfield(L, -2, "op");
  if (k.sk_lo) {
    luabridge_push(L, k.sk_lo);
    lua_setfield(L, -2, "lo");
  }
  if (k.sk_hi) {
    luabridge_push(L, k.sk_hi);
    lua_setfield(L, -2, "hi");
  }
  return 1;
}

/* ---- expression userdata ---------------------------------------------- */

static int l_parse(lua_State *L) {
  ddbx_kind_t kind = check_kind(L, 1);
  luaL_checkstring(L, 2);
  box_t *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->e = NULL;
  luaL_setmetatable(L, EXPR_MT);
  char *err = NULL;
  b->e = parse_at(L, kind, 2, 3, 4, &err);
  if (!b->e) return fail(L, err);
  return 1;
}

static int m_test(lua_State *L) { return do_test(L, check_expr(L), 2); }
static int m_update(lua_State *L) { return do_update(L, check_expr(L), 2); }
static int m_project(lua_State *L) {
  return do_project(L, check_expr(L), 2);
}
static int m_keycond(lua_State *L) {
  return do_keycond(L, check_expr(L), 2, 3);
}

/* Push the keys of object o as a sorted array. */
static void push_keys(lua_State *L, json_t *o) {
  json_t *a = json_array();
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) json_array_append_new(a, json_string(k));
  size_t n = json_array_size(a);
  for (size_t i = 1; i < n; i++)  /* insertion sort: a few keys */
    for (size_t j = i; j > 0 &&
         strcmp(json_string_value(json_array_get(a, j - 1)),
                json_string_value(json_array_get(a, j))) > 0; j--) {
      json_t *x = json_incref(json_array_get(a, j));
      json_array_remove(a, j);
      json_array_insert_new(a, j - 1, x);
    }
  push_take(L, a);
}

static int m_used(lua_State *L) {
  ddbexpr_t *e = check_expr(L);
  json_t *names = json_object(), *values = json_object();
  ddbexpr_used(e, names, values);
  lua_createtable(L, 0, 2);
  push_keys(L, names);
  lua_setfield(L, -2, "names");
  push_keys(L, values);
  lua_setfield(L, -2, "values");
  json_decref(names);
  json_decref(values);
  return 1;
}

static int m_targets(lua_State *L) {
  ddbexpr_t *e = check_expr(L);
  json_t *a = json_array();
  ddbexpr_update_targets(e, a);
  return push_take(L, a);
}

static int m_gc(lua_State *L) {
  box_t *b = luaL_checkudata(L, 1, EXPR_MT);
  ddbexpr_free(b->e);
  b->e = NULL;
  return 0;
}

/* ---- one-shot functions ----------------------------------------------- */

/* Parse from (text, names, values) positions and run fn on it. */
static int one_shot(lua_State *L, ddbx_kind_t kind, int text, int names,
                    int values, int (*fn)(lua_State *, ddbexpr_t *, int),
                    int item) {
  char *err = NULL;
  ddbexpr_t *e = parse_at(L, kind, text, names, values, &err);
  if (!e) return fail(L, err);
  box_t *b = lua_newuserdatauv(L, sizeof *b, 0);  /* freed if fn raises */
  b->e = e;
  luaL_setmetatable(L, EXPR_MT);
  return fn(L, e, item);
}

static int f_test(lua_State *L) {
  return one_shot(L, DDBX_CONDITION, 1, 3, 4, do_test, 2);
}
static int f_update(lua_State *L) {
  return one_shot(L, DDBX_UPDATE, 1, 3, 4, do_update, 2);
}
static int f_project(lua_State *L) {
  return one_shot(L, DDBX_PROJECTION, 1, 3, 0, do_project, 2);
}

static int f_keycond(lua_State *L) {
  char *err = NULL;
  ddbexpr_t *e = parse_at(L, DDBX_KEY_CONDITION, 1, 4, 5, &err);
  if (!e) return fail(L, err);
  box_t *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->e = e;
  luaL_setmetatable(L, EXPR_MT);
  return do_keycond(L, e, 2, 3);
}

/* ---- values and numbers ----------------------------------------------- */

static int num_result(lua_State *L, char *s, char *err) {
  if (!s) return fail(L, err);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

static int f_num_normalize(lua_State *L) {
  char *err = NULL;
  char *s = ddbnum_normalize(luaL_checkstring(L, 1), &err);
  return num_result(L, s, err);
}

static int f_num_add(lua_State *L) {
  char *err = NULL;
  char *s = ddbnum_add(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err);
  return num_result(L, s, err);
}

static int f_num_sub(lua_State *L) {
  char *err = NULL;
  char *s = ddbnum_sub(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err);
  return num_result(L, s, err);
}

static int f_num_cmp(lua_State *L) {
  int c = ddbnum_cmp(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
  lua_pushinteger(L, (c > 0) - (c < 0));
  return 1;
}

static int f_key_bytes(lua_State *L) {
  json_t *av = opt_json(L, 1);
  buf_t b;
  buf_init(&b);
  char *err = NULL;
  int rc = ddbval_key_bytes(av, &b, &err);
  json_decref(av);
  if (rc != MS_OK) {
    buf_free(&b);
    return fail(L, err);
  }
  lua_pushlstring(L, b.data ? b.data : "", b.len);
  buf_free(&b);
  return 1;
}

static int f_check(lua_State *L) {
  json_t *av = opt_json(L, 1);
  char *err = NULL;
  int rc = ddbval_check(av, &err);
  json_decref(av);
  if (rc != MS_OK) return fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int f_equal(lua_State *L) {
  json_t *a = opt_json(L, 1), *b = opt_json(L, 2);
  lua_pushboolean(L, ddbval_equal(a, b));
  json_decref(a);
  json_decref(b);
  return 1;
}

static int f_compare(lua_State *L) {
  json_t *a = opt_json(L, 1), *b = opt_json(L, 2);
  int c = ddbval_compare(a, b);
  json_decref(a);
  json_decref(b);
  lua_pushinteger(L, (c > 0) - (c < 0));
  return 1;
}

static int f_from_plain(lua_State *L) {
  luaL_checkany(L, 1);
  json_t *v = opt_json(L, 1);
  if (!v) v = json_null();
  char *err = NULL;
  json_t *av = ddbval_from_plain(v, &err);
  json_decref(v);
  if (!av) return fail(L, err);
  return push_take(L, av);
}

static int f_to_plain(lua_State *L) {
  json_t *av = opt_json(L, 1);
  json_t *v = ddbval_to_plain(av);
  json_decref(av);
  return push_take(L, v);
}

static const luaL_Reg methods[] = {
  {"test", m_test},
  {"update", m_update},
  {"project", m_project},
  {"keycond", m_keycond},
  {"used", m_used},
  {"targets", m_targets},
  {"free", m_gc},
  {NULL, NULL},
};

static const luaL_Reg funcs[] = {
  {"parse", l_parse},
  {"test", f_test},
  {"update", f_update},
  {"project", f_project},
  {"keycond", f_keycond},
  {"num_normalize", f_num_normalize},
  {"num_add", f_num_add},
  {"num_sub", f_num_sub},
  {"num_cmp", f_num_cmp},
  {"key_bytes", f_key_bytes},
  {"check", f_check},
  {"equal", f_equal},
  {"compare", f_compare},
  {"from_plain", f_from_plain},
  {"to_plain", f_to_plain},
  {NULL, NULL},
};

int luaopen_moonstep_core_ddbexpr(lua_State *L) {
  luabridge_init(L);
  if (luaL_newmetatable(L, EXPR_MT)) {
    lua_pushcfunction(L, m_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
