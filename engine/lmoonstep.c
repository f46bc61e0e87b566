/* lmoonstep.c - the `moonstep` Lua C module (luaopen_moonstep), loaded by
 * `require "moonstep"` from moonstep.so.
 *
 * A thin layer over the public API in moonstep.h and the JSON bridge in
 * luabridge.c: moonstep.json (decode/encode/null/array/equal), run,
 * validate, eval, template, path, locate, engine (a userdata reusing one
 * engine across runs; engine:reload reads handlers again) and version; a
 * run's `mocks`, `mock_config` and `test_case` options mock Task states
 * (mock.c) and `history` returns its events. State lives in userdata
 * and the registry, never in globals. Programming errors (bad arguments,
 * unconvertible values) raise; an invalid definition, template or path
 * and a failed eval or template return nil plus the reason.
 */
#include "moonstep.h"
#include "luabridge.h"
#include "lmodules.h"
#include "jsonata.h"  /* for moonstep.jsonata */

#include <lauxlib.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE_MT "moonstep.engine"

typedef struct engine_box {
  ms_engine_t *e;  /* NULL once closed */
} engine_box_t;

/* ---- helpers --------------------------------------------------------- */

/* Convert the value at idx or raise "who: message". New reference. */
static json_t *check_json(lua_State *L, int idx, const char *who) {
  char *err = NULL;
  json_t *v = luabridge_to_json(L, idx, &err);
  if (!v) {
    lua_pushfstring(L, "%s: %s", who, err ? err : "conversion failed");
    free(err);
    lua_error(L);
  }
  return v;
}

/* The value at idx as JSON: parsed from a string when text, else
 * converted. New reference, or NULL with *err (malloc'd). */
static json_t *to_json(lua_State *L, int idx, bool text, char **err) {
  if (!text) return luabridge_to_json(L, idx, err);
  if (lua_type(L, idx) != LUA_TSTRING) {
    *err = ms_asprintf("JSON text expected (got %s)",
                       luaL_typename(L, idx));
    return NULL;
  }
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  return jsonx_parse(s, len, err);
}

/* Convert the values at idx[0..n) into out[0..n) (index 0: absent, NULL);
 * those whose bit is set in text are JSON text to parse. Raises after
 * releasing what was already converted. */
static void check_jsons(lua_State *L, const int *idx, json_t **out, int n,
                        unsigned text, const char *who) {
  for (int i = 0; i < n; i++) {
    out[i] = NULL;
    if (idx[i] == 0) continue;
    char *err = NULL;
    out[i] = to_json(L, idx[i], (text >> i) & 1u, &err);
    if (!out[i]) {
      for (int j = 0; j < i; j++) json_decref(out[j]);
      lua_pushfstring(L, "%s: %s", who, err ? err : "conversion failed");
      free(err);
      lua_error(L);
    }
  }
}

/* The definition at idx as JSON text: a string as is, a table converted
 * and printed (pretty, so diagnostics have useful line numbers). The text
 * is left in slot idx, so it lives as long as the call. */
static const char *check_definition(lua_State *L, int idx, size_t *len,
                                    const char *who) {
  if (lua_type(L, idx) == LUA_TTABLE) {
    json_t *v = check_json(L, idx, who);
    char *text = jsonx_dump(v, JSONX_PRETTY);
    json_decref(v);
    lua_pushstring(L, text);
    free(text);
    lua_replace(L, idx);
  } else if (lua_type(L, idx) != LUA_TSTRING) {
    luaL_typeerror(L, idx, "JSON text or table");
  }
  return lua_tolstring(L, idx, len);
}


static bool opt_bool(lua_State *L, int opts, const char *field) {
  if (opts == 0) return false;
  lua_getfield(L, opts, field);
  bool b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

/* Index of an optional options table at idx, 0 when absent. */
static int opt_table(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  return lua_absindex(L, idx);
}

static void push_array_mt(lua_State *L) {
  luaL_getmetatable(L, LUABRIDGE_ARRAY_MT);
}

/* Push diagnostics as an array of {pointer, message, line, col, warning}. */
static void push_diags(lua_State *L, const diags_t *d) {
  lua_createtable(L, (int)d->n, 0);
  for (size_t i = 0; i < d->n; i++) {
    const diag_t *g = &d->v[i];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, g->ptr ? g->ptr : "");
    lua_setfield(L, -2, "pointer");
    lua_pushstring(L, g->msg ? g->msg : "");
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, g->line);
    lua_setfield(L, -2, "line");
    lua_pushinteger(L, g->col);
    lua_setfield(L, -2, "col");
    lua_pushboolean(L, g->warning);
    lua_setfield(L, -2, "warning");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  push_array_mt(L);
  lua_setmetatable(L, -2);
}

/* ---- moonstep.json --------------------------------------------------- */

static int j_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  char *err = NULL;
  json_t *v = jsonx_parse(text, len, &err);
  if (!v) {
    lua_pushfstring(L, "json.decode: %s", err ? err : "invalid JSON");
    free(err);
    return lua_error(L);
  }
  luabridge_push(L, v);
  json_decref(v);
  return 1;
}

static int j_encode(lua_State *L) {
  luaL_checkany(L, 1);
  int opts = opt_table(L, 2);
  int flags = JSONX_COMPACT;
  if (opt_bool(L, opts, "pretty")) flags |= JSONX_PRETTY;
  if (opt_bool(L, opts, "sort")) flags |= JSONX_SORT;
  if (opt_bool(L, opts, "spaced")) flags |= JSONX_SPACED;
  json_t *v = check_json(L, 1, "json.encode");
  char *text = jsonx_dump(v, flags);
  json_decref(v);
  lua_pushstring(L, text);
  free(text);
  return 1;
}

static int j_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  push_array_mt(L);
  lua_setmetatable(L, 1);
  return 1;
}

static int j_equal(lua_State *L) {
  luaL_checkany(L, 1);
  luaL_checkany(L, 2);
  int idx[2] = {1, 2};
  json_t *v[2];
  check_jsons(L, idx, v, 2, 0, "json.equal");
  bool eq = jsonx_equal(v[0], v[1]);
  json_decref(v[0]);
  json_decref(v[1]);
  lua_pushboolean(L, eq);
  return 1;
}

static const luaL_Reg json_funcs[] = {
  {"decode", j_decode},
  {"encode", j_encode},
  {"array", j_array},
  {"equal", j_equal},
  {NULL, NULL},
};

static void push_json_lib(lua_State *L) {
  luaL_newlib(L, json_funcs);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  push_array_mt(L);
  lua_setfield(L, -2, "array_mt");
}

/* ---- engines and runs ------------------------------------------------ */

/* Push a new, empty engine userdata, then create its engine from the
 * options table at opts (0: defaults). Raises on failure (the userdata is
 * collected). */
static engine_box_t *push_engine(lua_State *L, int opts, const char *who) {
  const char *tasks_dir = luabridge_opt_string(L, opts, "tasks_dir");
  bool vclock = opt_bool(L, opts, "virtual_clock");
  bool no_limits = opt_bool(L, opts, "no_aws_limits");
  const char *machines_dir = luabridge_opt_string(L, opts, "machines_dir");
  const char *buckets_dir = luabridge_opt_string(L, opts, "buckets_dir");
  engine_box_t *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->e = NULL;
  luaL_setmetatable(L, ENGINE_MT);
  char *err = NULL;
  ms_options_t o = {.tasks_dir = tasks_dir ? tasks_dir : "tasks",
                    .virtual_clock = vclock, .machines_dir = machines_dir,
                    .no_aws_limits = no_limits,
                    .buckets_dir = buckets_dir};
  b->e = ms_engine_new(&o, &err);
  if (!b->e) {
    lua_pushfstring(L, "%s: %s", who, err ? err : "cannot create engine");
    free(err);
    lua_error(L);
  }
  return b;
}

static void engine_close(engine_box_t *b) {
  if (b->e) ms_engine_free(b->e);
  b->e = NULL;
}

/* ---- mocks ----------------------------------------------------------- */

/* opts.mocks: State = function(input, n) | {Throw = {Error, Cause}} |
 * {Return = v} | any other value (returned as the result). A function is
 * called on the caller's lua_State while the run is in progress, with the
 * state's effective input and its 0-based invocation count; it returns
 * the result or raises: {Error=, Cause=} fails the Task with that Error
 * and Cause; {errorType=, errorMessage=} (or any other value, as
 * errorType "Error") with Error = errorType and Cause = Lambda's error
 * JSON {"errorMessage", "errorType"} (no handler ran: no requestId or
 * stackTrace). */
typedef struct lmock {
  lua_State *L;
  int fns;          /* absolute index of the mocks table */
} lmock_t;

typedef struct lcall {  /* one call of a mock function, for mock_call_p */
  const char *state;
  json_t *input;
  int n;
  json_t *result;       /* out: new reference */
  fault_t *f;           /* out: when it raised */
} lcall_t;

/* The raised value at idx (a table) as a fault; protected callers only
 * (its fields may have metamethods). */
static void raised_fault(lua_State *L, int idx, fault_t *f) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TTABLE) {
    int t = lua_getfield(L, idx, "Error");
    lua_getfield(L, idx, "Cause");
    if (t == LUA_TSTRING) {
      if (lua_type(L, -1) == LUA_TSTRING)
        fault_set(f, lua_tostring(L, -2), "%s", lua_tostring(L, -1));
      else
        fault_set(f, lua_tostring(L, -2), NULL);
      lua_pop(L, 2);
      return;
    }
    lua_pop(L, 2);
  }
  const char *type = "Error", *msg = NULL;
  if (lua_type(L, idx) == LUA_TTABLE) {
    if (lua_getfield(L, idx, "errorType") == LUA_TSTRING)
      type = lua_tostring(L, -1);
    if (lua_getfield(L, idx, "errorMessage") == LUA_TSTRING)
      msg = lua_tostring(L, -1);
  } else {
    msg = luaL_tolstring(L, idx, NULL);
  }
  json_t *o = json_pack("{s:s, s:s}", "errorMessage", msg ? msg : "",
                        "errorType", type);
  char *cause = jsonx_dump(o, JSONX_SPACED);
  fault_set(f, type, "%s", cause);
  free(cause);
  json_decref(o);
}

/* Protected: arg 1 the lcall_t, arg 2 the mocks table. */
static int mock_call_p(lua_State *L) {
  lcall_t *c = lua_touserdata(L, 1);
  lua_getfield(L, 2, c->state);
  luabridge_push(L, c->input);
  lua_pushinteger(L, c->n);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    raised_fault(L, -1, c->f);
    return 0;
  }
  char *err = NULL;
  c->result = luabridge_to_json(L, -1, &err);
  if (!c->result) {
    fault_set(c->f, "States.Runtime", "the mock of state '%s' returned a "
              "value that is not JSON: %s", c->state, err ? err : "?");
    free(err);
  }
  return 0;
}

static json_t *lmock_call(void *ud, const char *state, json_t *input, int n,
                          fault_t *f) {
  lmock_t *m = ud;
  lua_State *L = m->L;
  lcall_t c = {state, input, n, NULL, f};
  lua_pushcfunction(L, mock_call_p);
  lua_pushlightuserdata(L, &c);
  lua_pushvalue(L, m->fns);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    json_decref(c.result);
    c.result = NULL;
    fault_clear(f);
    fault_set(f, "States.Runtime", "the mock of state '%s' failed: %s",
              state, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                    : "?");
    lua_pop(L, 1);
  }
  return c.result;
}

/* The mocks the run options ask for (mock_config + test_case, then
 * mocks), checked against m. NULL with *err (malloc'd) on a problem;
 * NULL and no *err when there are none. */
static ms_mocks_t *opt_mocks(lua_State *L, int opts, const ms_machine_t *m,
                             const char *mname, lmock_t *lm, char **err) {
  if (opts == 0) return NULL;
  int top = lua_gettop(L);
  int tcfg = lua_getfield(L, opts, "mock_config");
  int ttc = lua_getfield(L, opts, "test_case");
  int tm = lua_getfield(L, opts, "mocks");
  const char *cfg = tcfg == LUA_TSTRING ? lua_tostring(L, top + 1) : NULL;
  const char *tc = ttc == LUA_TSTRING ? lua_tostring(L, top + 2) : NULL;
  if (tcfg == LUA_TNIL && ttc == LUA_TNIL && tm == LUA_TNIL) {
    lua_settop(L, top);
    return NULL;
  }
  ms_mocks_t *k = ms_mocks_new();
  if ((tcfg != LUA_TNIL || ttc != LUA_TNIL) && (!cfg || !tc)) {
    *err = ms_strdup("options mock_config and test_case go together (as "
                     "strings)");
  } else if (cfg && !mname) {
    *err = ms_strdup("option mock_config needs machine_name (the state "
                     "machine's name in StateMachines)");
  } else if (cfg) {
    size_t len;
    char *text = ms_read_file(cfg, MS_FILE_MAX, &len);
    char *e = NULL;
    if (!text)
      *err = ms_asprintf("mock_config: cannot read %s: %s", cfg,
                         strerror(errno));
    else if (!ms_mocks_load(k, text, len, mname, tc, &e))
      *err = ms_asprintf("mock_config %s: %s", cfg, e ? e : "invalid");
    free(e);
    free(text);
  }
  if (!*err && tm != LUA_TNIL && tm != LUA_TTABLE)
    *err = ms_asprintf("option 'mocks' must be a table (got %s)",
                       luaL_typename(L, top + 3));
  if (!*err && tm == LUA_TTABLE) {
    lm->L = L;
    lm->fns = top + 3;
    lua_pushnil(L);
    while (!*err && lua_next(L, top + 3)) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        *err = ms_strdup("mocks: keys are state names (strings)");
      } else if (lua_type(L, -1) == LUA_TFUNCTION) {
        ms_mocks_set_call(k, lua_tostring(L, -2), lmock_call, lm);
      } else {
        char *e = NULL;
        json_t *v = luabridge_to_json(L, -1, &e);
        json_t *r = NULL;
        if (!v) {
          *err = ms_asprintf("mocks.%s: %s", lua_tostring(L, -2), e);
        } else if (json_is_object(v) && json_object_size(v) == 1 &&
                   (json_object_get(v, "Throw") ||
                    json_object_get(v, "Return"))) {
          r = json_incref(v);
        } else {
          r = json_pack("{s:O}", "Return", v);
        }
        free(e);
        e = NULL;
        if (r && !ms_mocks_set(k, lua_tostring(L, -2), r, &e))
          *err = ms_asprintf("mocks: %s", e ? e : "invalid");
        free(e);
        json_decref(r);
        json_decref(v);
      }
      lua_pop(L, 1);
    }
    if (*err) lua_pop(L, 1);  /* the key lua_next left */
  }
  if (!*err) ms_mocks_check(k, m, err);
  if (*err) {
    ms_mocks_free(k);
    lua_settop(L, top);
    return NULL;
  }
  return k;  /* the mocks table stays at top + 3 for the run */
}

/* Run definition (at def) on input (at in) with run options (at opts,
 * 0: none) in engine e. Pushes the DescribeExecution-shaped table, or nil
 * and the diagnostics when the definition is invalid. opts.history adds
 * `history`: the execution's events as GetExecutionHistory's "events"
 * array ([] for an EXPRESS run: AWS keeps no history of those). */
/* Replace the options table at opts by a plain copy of the fields a run
 * reads. Its metamethods run here, before any C allocation: once the
 * machine and input are held, a raising __index would leak them. */
static void plain_opts(lua_State *L, int opts) {
  static const char *const fields[] = {
    "name", "express", "machine_name", "input_text", "mock_config",
    "test_case", "mocks", "history", NULL
  };
  if (opts == 0) return;
  lua_createtable(L, 0, 8);
  for (int i = 0; fields[i]; i++) {
    lua_getfield(L, opts, fields[i]);
    lua_setfield(L, -2, fields[i]);
  }
  lua_replace(L, opts);
}

static int run_in(lua_State *L, ms_engine_t *e, int def, int in, int opts,
                  const char *who) {
  size_t len;
  plain_opts(L, opts);
  const char *text = check_definition(L, def, &len, who);
  ms_run_options_t ro = {
    .name = luabridge_opt_string(L, opts, "name"),
    .express = opt_bool(L, opts, "express"),
    .machine_name = luabridge_opt_string(L, opts, "machine_name"),
  };
  json_t *input;
  if (opt_bool(L, opts, "input_text")) {
    size_t n;
    const char *s = luaL_checklstring(L, in, &n);
    char *err = NULL;
    input = jsonx_parse(s, n, &err);
    if (!input) {
      lua_pushfstring(L, "%s: input: %s", who, err ? err : "invalid JSON");
      free(err);
      return lua_error(L);
    }
  } else if (lua_isnoneornil(L, in)) {
    input = json_object();  /* StartExecution's default input is {} */
  } else {
    input = check_json(L, in, who);
  }

  diags_t d;
  diags_init(&d);
  ms_machine_t *m = ms_machine_load(text, len, &d);
  if (!m) {
    json_decref(input);
    lua_pushnil(L);
    push_diags(L, &d);
    diags_free(&d);
    return 2;
  }
  diags_free(&d);
  char *err = NULL;
  lmock_t lm = {L, 0};
  ms_mocks_t *mocks = opt_mocks(L, opts, m, ro.machine_name, &lm, &err);
  if (err) {
    ms_machine_free(m);
    json_decref(input);
    lua_pushfstring(L, "%s: %s", who, err);
    free(err);
    return lua_error(L);
  }
  if (mocks) {
    ro.mock = ms_mocks_answer;
    ro.mock_ud = mocks;
  }
  json_t *hist = NULL;
  if (opt_bool(L, opts, "history")) ro.history = &hist;
  json_t *r = ms_run(e, m, input, &ro);
  ms_mocks_free(mocks);
  ms_machine_free(m);
  json_decref(input);
  if (!r) return luaL_error(L, "%s: the engine failed to run", who);
  if (hist) json_object_set_new(r, "history", hist);
  luabridge_push(L, r);
  json_decref(r);
  return 1;
}

/* moonstep.run(definition, input [, opts]) */
static int l_run(lua_State *L) {
  int opts = opt_table(L, 3);
  lua_settop(L, 3);
  engine_box_t *b = push_engine(L, opts, "moonstep.run");
  int nres = run_in(L, b->e, 1, 2, opts, "moonstep.run");
  engine_close(b);
  return nres;
}

/* moonstep.engine([opts]) */
static int l_engine(lua_State *L) {
  int opts = opt_table(L, 1);
  push_engine(L, opts, "moonstep.engine");
  return 1;
}

static engine_box_t *check_engine(lua_State *L) {
  return luaL_checkudata(L, 1, ENGINE_MT);
}

/* engine:run(definition, input [, opts]) */
static int engine_run(lua_State *L) {
  engine_box_t *b = check_engine(L);
  luaL_argcheck(L, b->e != NULL, 1, "engine is closed");
  int opts = opt_table(L, 4);
  lua_settop(L, 4);
  return run_in(L, b->e, 2, 3, opts, "engine:run");
}

/* engine:reload([name]): forget the loaded handler module of function
 * name (all when absent), so its next call reads the file again at once. */
static int engine_reload(lua_State *L) {
  engine_box_t *b = check_engine(L);
  luaL_argcheck(L, b->e != NULL, 1, "engine is closed");
  ms_engine_reload(b->e, luaL_optstring(L, 2, NULL));
  return 0;
}

static int engine_gc(lua_State *L) {
  engine_close(check_engine(L));
  return 0;
}

static int engine_tostring(lua_State *L) {
  engine_box_t *b = check_engine(L);
  if (b->e) lua_pushfstring(L, "moonstep.engine (%p)", (void *)b->e);
  else lua_pushliteral(L, "moonstep.engine (closed)");
  return 1;
}

static const luaL_Reg engine_methods[] = {
  {"run", engine_run},
  {"reload", engine_reload},
  {"close", engine_gc},
  {NULL, NULL},
};

static const luaL_Reg engine_meta[] = {
  {"__gc", engine_gc},
  {"__close", engine_gc},
  {"__tostring", engine_tostring},
  {"__index", NULL},  /* placeholder, set below */
  {NULL, NULL},
};

/* ---- validate, eval, template, path and locate ----------------------- */

/* moonstep.validate(definition) -> true|false, diagnostics */
static int l_validate(lua_State *L) {
  size_t len;
  lua_settop(L, 1);
  const char *text = check_definition(L, 1, &len, "moonstep.validate");
  diags_t d;
  diags_init(&d);
  ms_machine_t *m = ms_machine_load(text, len, &d);
  lua_pushboolean(L, m != NULL);
  if (m) ms_machine_free(m);
  push_diags(L, &d);
  diags_free(&d);
  return 2;
}

/* Push nil, the fault's error and cause (nil when it has none), and
 * clear f. Returns the number of values pushed. */
static int push_fault(lua_State *L, fault_t *f) {
  lua_pushnil(L);
  lua_pushstring(L, f->error ? f->error : "States.Runtime");
  if (f->cause) lua_pushstring(L, f->cause);
  else lua_pushnil(L);
  fault_clear(f);
  return 3;
}

/* moonstep.eval(expr, input [, {context=, vars=, field=}]) -> value |
 * nil, error, cause. field names the ".$" field (or ErrorPath, ...) that
 * the cause of a missing path mentions. */
static int l_eval(lua_State *L) {
  size_t elen;
  const char *expr = luaL_checklstring(L, 1, &elen);
  if (strlen(expr) != elen) {
    lua_pushnil(L);
    lua_pushliteral(L, "States.Runtime");
    lua_pushliteral(L, "the expression contains a NUL byte");
    return 3;
  }
  int opts = opt_table(L, 3);
  lua_settop(L, 3);
  int idx[3] = {2, 0, 0};
  if (opts) {
    if (lua_getfield(L, opts, "context") != LUA_TNIL) idx[1] = 4;
    if (lua_getfield(L, opts, "vars") != LUA_TNIL) idx[2] = 5;
  }
  const char *field = luabridge_opt_string(L, opts, "field");
  json_t *v[3];
  check_jsons(L, idx, v, 3, 0, "moonstep.eval");
  fault_t f = FAULT_INIT;
  json_t *r = ms_eval(expr, field, v[0], v[1], v[2], &f);
  for (int i = 0; i < 3; i++) json_decref(v[i]);
  if (!r) return push_fault(L, &f);
  fault_clear(&f);
  luabridge_push(L, r);
  json_decref(r);
  return 1;
}

/* moonstep.template(tpl, input [, {context=, vars=, assign=, text=}]) ->
 * value | nil, error, cause | nil, "invalid", diagnostics. assign: tpl is
 * an Assign object (diagnostics under /Assign, else /Parameters). text:
 * tpl and input are JSON text and the value comes back as compact JSON
 * text, so object key order survives both ways. A nil input is {}. */
static int l_template(lua_State *L) {
  luaL_checkany(L, 1);
  int opts = opt_table(L, 3);
  lua_settop(L, 3);
  bool text = opt_bool(L, opts, "text");
  bool assign = opt_bool(L, opts, "assign");
  int idx[4] = {1, lua_isnil(L, 2) ? 0 : 2, 0, 0};
  if (opts) {
    if (lua_getfield(L, opts, "context") != LUA_TNIL) idx[2] = 4;
    if (lua_getfield(L, opts, "vars") != LUA_TNIL) idx[3] = 5;
  }
  json_t *v[4];
  check_jsons(L, idx, v, 4, text ? 3u : 0u, "moonstep.template");
  diags_t d;
  diags_init(&d);
  fault_t f = FAULT_INIT;
  json_t *r = ms_template(v[0], assign, v[1], v[2], v[3], &d, &f);
  for (int i = 0; i < 4; i++) json_decref(v[i]);
  if (!r && d.nerrors > 0) {
    fault_clear(&f);
    lua_pushnil(L);
    lua_pushliteral(L, "invalid");
    push_diags(L, &d);
    diags_free(&d);
    return 3;
  }
  diags_free(&d);
  if (!r) return push_fault(L, &f);
  fault_clear(&f);
  if (text) {
    char *s = jsonx_dump(r, JSONX_COMPACT);
    lua_pushstring(L, s);
    free(s);
  } else {
    luabridge_push(L, r);
  }
  json_decref(r);
  return 1;
}

/* moonstep.path(text) -> {text=, normalized=, reference=, root=} | nil,
 * err */
static int l_path(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  if (strlen(text) != len) {
    lua_pushnil(L);
    lua_pushliteral(L, "the path contains a NUL byte");
    return 2;
  }
  char *err = NULL;
  json_t *r = ms_path(text, &err);
  if (!r) {
    lua_pushnil(L);
    lua_pushstring(L, err ? err : "invalid JSONPath");
    free(err);
    return 2;
  }
  luabridge_push(L, r);
  json_decref(r);
  return 1;
}

/* moonstep.locate(text, pointer) -> line, col | nil (the text breaks off
 * before the position; it is not validated) */
static int l_locate(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *ptr = luaL_checkstring(L, 2);
  int line, col;
  if (!ms_locate(text, len, ptr, &line, &col)) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, line);
  lua_pushinteger(L, col);
  return 2;
}

/* ---- the module ------------------------------------------------------ */

/* ---- task tokens -------------------------------------------------------- */

/* moonstep.send_task_success(token, output [, {db=}]),
 * moonstep.send_task_failure(token [, {error=, cause=, db=}]),
 * moonstep.send_task_heartbeat(token [, {db=}]): complete or touch a
 * .waitForTaskToken Task waiting in the database db (default: MOONSTEP_DB,
 * else .moonstep/moonstep.db), as the send-task-* commands do. Returns
 * true, or nil, code, message (code: AWS's error name such as
 * "TaskDoesNotExist", or "StoreError"). The upvalue is the ms_token_op_t. */
static int l_send_task(lua_State *L) {
  ms_token_op_t op = (ms_token_op_t)lua_tointeger(L, lua_upvalueindex(1));
  const char *token = luaL_checkstring(L, 1);
  int opts = opt_table(L, op == MS_TOKEN_SUCCESS ? 3 : 2);
  if (op == MS_TOKEN_SUCCESS) luaL_checkany(L, 2);
  /* every option is read before anything is allocated (they may raise) */
  const char *db = luabridge_opt_string(L, opts, "db");
  const char *error = luabridge_opt_string(L, opts, "error");
  const char *cause = luabridge_opt_string(L, opts, "cause");
  if (!db) db = getenv("MOONSTEP_DB");
  if (!db || !*db) db = MS_DB_DEFAULT;
  char *err = NULL;
  json_t *output = NULL;
  if (op == MS_TOKEN_SUCCESS && !(output = luabridge_to_json(L, 2, &err))) {
    lua_pushnil(L);
    lua_pushliteral(L, "InvalidOutput");
    lua_pushstring(L, err ? err : "the output is not JSON");
    free(err);
    return 3;
  }
  ms_options_t o = {.tasks_dir = "tasks", .db_path = db};
  ms_engine_t *e = ms_engine_new(&o, &err);
  if (!e) {
    json_decref(output);
    lua_pushnil(L);
    lua_pushliteral(L, "StoreError");
    lua_pushstring(L, err ? err : "cannot open the database");
    free(err);
    return 3;
  }
  const char *code = NULL;
  int rc = ms_task_send(e, op, token, output, error, cause, &code);
  json_decref(output);
  if (rc == 0) {
    ms_engine_free(e);
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, code ? code : "StoreError");
  lua_pushstring(L, ms_engine_error(e));
  ms_engine_free(e);
  return 3;
}

/* moonstep.jsonata(expr, input [, bindings [, {text=, timeout=, depth=,
 * reference=}]]) -> value | nil (undefined) | nil, code, message,
 * position. text: input and bindings are JSON text and the value comes
 * back as compact JSON text. A nil input is undefined. Step Functions'
 * dialect ($partition, $hash, ..., no $eval) unless reference is true. */
static int l_jsonata(lua_State *L) {
  const char *expr = luaL_checkstring(L, 1);
  int opts = opt_table(L, 4);
  lua_settop(L, 4);
  bool text = opt_bool(L, opts, "text");
  jsonata_limits_t lim = {0, 0, JSONATA_STEP_FUNCTIONS};
  if (opt_bool(L, opts, "reference")) lim.flags = 0;
  if (opts) {
    lua_getfield(L, opts, "timeout");
    lim.timeout_ms = (long)luaL_optinteger(L, -1, 0);
    lua_getfield(L, opts, "depth");
    lim.max_depth = (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 2);
  }
  int idx[2] = {lua_isnil(L, 2) ? 0 : 2, lua_isnil(L, 3) ? 0 : 3};
  json_t *v[2];
  check_jsons(L, idx, v, 2, text ? 3u : 0u, "moonstep.jsonata");
  jsonata_err_t err;
  jsonata_t *c = jsonata_compile(expr, &err);
  json_t *r = NULL;
  int rc = c ? jsonata_eval(c, v[0], v[1], &lim, &r, &err) : JSONATA_ERROR;
  jsonata_free(c);
  json_decref(v[0]);
  json_decref(v[1]);
  if (rc == JSONATA_ERROR) {
    lua_pushnil(L);
    lua_pushstring(L, err.code);
    lua_pushstring(L, err.message ? err.message : err.code);
    lua_pushinteger(L, err.position);
    jsonata_err_clear(&err);
    return 4;
  }
  if (rc == JSONATA_UNDEFINED) {
    lua_pushnil(L);
    return 1;
  }
  if (text) {
    char *t = jsonx_dump(r, JSONX_COMPACT);
    lua_pushstring(L, t);
    free(t);
  } else {
    luabridge_push(L, r);
  }
  json_decref(r);
  return 1;
}

/* moonstep.test_state: lteststate.c */
int lteststate_call(lua_State *L);

static const luaL_Reg ms_funcs[] = {
  {"run", l_run},
  {"engine", l_engine},
  {"validate", l_validate},
  {"eval", l_eval},
  {"jsonata", l_jsonata},
  {"template", l_template},
  {"path", l_path},
  {"locate", l_locate},
  {"test_state", lteststate_call},
  {NULL, NULL},
};

static void init_metatables(lua_State *L) {
  luabridge_init(L);
  if (luaL_newmetatable(L, ENGINE_MT)) {
    luaL_setfuncs(L, engine_meta, 0);
    luaL_newlib(L, engine_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

int luaopen_moonstep(lua_State *L) {
  init_metatables(L);
  lmodules_preload(L);
  luaL_newlib(L, ms_funcs);
  push_json_lib(L);
  lua_setfield(L, -2, "json");
  static const struct { const char *name; ms_token_op_t op; } sends[] = {
    {"send_task_success", MS_TOKEN_SUCCESS},
    {"send_task_failure", MS_TOKEN_FAILURE},
    {"send_task_heartbeat", MS_TOKEN_HEARTBEAT},
  };
  for (size_t i = 0; i < sizeof sends / sizeof *sends; i++) {
    lua_pushinteger(L, sends[i].op);
    lua_pushcclosure(L, l_send_task, 1);
    lua_setfield(L, -2, sends[i].name);
  }
  lua_pushliteral(L, MS_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

/* require "moonstep.json" finds this in moonstep.so (Lua's all-in-one
 * loader): a table with the same functions as moonstep.json. */
int luaopen_moonstep_json(lua_State *L) {
  init_metatables(L);
  push_json_lib(L);
  return 1;
}
