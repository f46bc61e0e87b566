/* ldebug.c - "moonstep.core.debug", the C core of the REPL's debugger
 * (lua/moonstep/debug.lua): a debugger object owning an engine (handlers,
 * optional store) that starts paused executions, reloads handlers,
 * invokes one handler and reaches recorded executions (describe,
 * history, redrive, rerun); and the paused execution object over
 * inspect.h (step, frames, input, jump, retry, redrive, events).
 *
 * Errors the user can cause return nil plus a message; bad arguments
 * raise.
 */
#include "inspect.h"
#include "luabridge.h"
#include "lmodules.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define DEBUGGER_MT "moonstep.debugger"
#define EXEC_MT "moonstep.debugger.execution"

typedef struct dbg {
  ms_engine_t *e;  /* NULL once closed */
} dbg_t;

typedef struct dx {
  inspect_t *s;         /* NULL once closed */
  ms_machine_t *mm;
} dx_t;

static int fail(lua_State *L, const char *why) {
  lua_pushnil(L);
  lua_pushstring(L, why ? why : "failed");
  return 2;
}

static int fail_free(lua_State *L, char *why) {
  lua_pushnil(L);
  lua_pushstring(L, why ? why : "failed");
  free(why);
  return 2;
}

/* The value at idx as JSON (nil: NULL), or raise. New reference. */
static json_t *arg_json(lua_State *L, int idx, const char *who) {
  if (lua_isnoneornil(L, idx)) return NULL;
  char *err = NULL;
  json_t *v = luabridge_to_json(L, idx, &err);
  if (!v) {
    lua_pushfstring(L, "%s: %s", who, err ? err : "not JSON");
    free(err);
    lua_error(L);
  }
  return v;
}

static int push_json_take(lua_State *L, json_t *v) {
  luabridge_push(L, v);
  json_decref(v);
  return 1;
}

/* ---- the debugger ------------------------------------------------------ */

static const char *opt_str(lua_State *L, int t, const char *k) {
  if (!t) return NULL;
  lua_getfield(L, t, k);
  const char *s = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1);  /* the options table keeps it */
  return s;
}

static int opt_flag(lua_State *L, int t, const char *k, int dflt) {
  if (!t) return dflt;
  lua_getfield(L, t, k);
  int b = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

/* debug.debugger([{tasks_dir, db_path, machines_dir, virtual_clock
 * (default true), no_aws_limits}]) */
static int l_debugger(lua_State *L) {
  int t = lua_istable(L, 1) ? 1 : 0;
  const char *tasks = opt_str(L, t, "tasks_dir");
  ms_options_t o = {
    .tasks_dir = tasks ? tasks : "tasks",
    .db_path = opt_str(L, t, "db_path"),
    .machines_dir = opt_str(L, t, "machines_dir"),
    .virtual_clock = opt_flag(L, t, "virtual_clock", 1),
    .no_aws_limits = opt_flag(L, t, "no_aws_limits", 0),
  };
  dbg_t *d = lua_newuserdatauv(L, sizeof *d, 0);
  d->e = NULL;
  luaL_setmetatable(L, DEBUGGER_MT);
  char *err = NULL;
  d->e = ms_engine_new(&o, &err);
  if (!d->e) {
    lua_pushfstring(L, "debugger: %s", err ? err : "cannot create engine");
    free(err);
    return lua_error(L);
  }
  return 1;
}

static dbg_t *check_dbg(lua_State *L) {
  dbg_t *d = luaL_checkudata(L, 1, DEBUGGER_MT);
  luaL_argcheck(L, d->e != NULL, 1, "debugger is closed");
  return d;
}

/* d:start(definition_text, input [, {name=, machine_name=}]) -> execution
 * paused before its first state | nil, why */
static int d_start(lua_State *L) {
  dbg_t *d = check_dbg(L);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  int t = lua_istable(L, 4) ? 4 : 0;
  ms_run_options_t ro = {.name = opt_str(L, t, "name"),
                         .machine_name = opt_str(L, t, "machine_name")};
  dx_t *x = lua_newuserdatauv(L, sizeof *x, 1);
  x->s = NULL;
  x->mm = NULL;
  luaL_setmetatable(L, EXEC_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);  /* the engine outlives the execution */
  json_t *input = arg_json(L, 3, "start");
  if (!input) input = json_object();
  diags_t dg;
  diags_init(&dg);
  x->mm = ms_machine_load(text, len, &dg);
  if (!x->mm) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "invalid definition:");
    for (size_t i = 0; i < dg.n && i < 5; i++) {
      luaL_addstring(&b, i ? "; " : " ");
      luaL_addstring(&b, dg.v[i].ptr ? dg.v[i].ptr : "");
      luaL_addstring(&b, ": ");
      luaL_addstring(&b, dg.v[i].msg ? dg.v[i].msg : "");
    }
    diags_free(&dg);
    json_decref(input);
    luaL_pushresult(&b);
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  diags_free(&dg);
  exec_opts_t xo;
  ms_exec_opts(d->e, &ro, &xo);
  x->s = inspect_new(ms_machine_peek(x->mm), input, &xo);
  json_decref(input);
  return 1;
}

/* d:run(definition_text, input [, {name=, machine_name=}]) -> the
 * description (recorded when the debugger has a store) | nil, why */
static int d_run(lua_State *L) {
  dbg_t *d = check_dbg(L);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  int t = lua_istable(L, 4) ? 4 : 0;
  ms_run_options_t ro = {.name = opt_str(L, t, "name"),
                         .machine_name = opt_str(L, t, "machine_name")};
  json_t *input = arg_json(L, 3, "run");
  if (!input) input = json_object();
  diags_t dg;
  diags_init(&dg);
  ms_machine_t *mm = ms_machine_load(text, len, &dg);
  diags_free(&dg);
  if (!mm) {
    json_decref(input);
    return fail(L, "invalid definition");
  }
  json_t *r = ms_run(d->e, mm, input, &ro);
  ms_machine_free(mm);
  json_decref(input);
  return r ? push_json_take(L, r) : fail(L, ms_engine_error(d->e));
}

static int d_reload(lua_State *L) {
  dbg_t *d = check_dbg(L);
  ms_engine_reload(d->e, luaL_optstring(L, 2, NULL));
  return 0;
}

/* d:invoke(name, event) -> result | nil, error object */
static int d_invoke(lua_State *L) {
  dbg_t *d = check_dbg(L);
  const char *name = luaL_checkstring(L, 2);
  json_t *ev = arg_json(L, 3, "invoke");
  if (!ev) ev = json_object();
  json_t *err = NULL;
  json_t *r = ms_invoke(d->e, name, ev, &err);
  json_decref(ev);
  if (!r) {
    lua_pushnil(L);
    if (err) push_json_take(L, err);
    else lua_pushliteral(L, "the handler failed");
    return 2;
  }
  return push_json_take(L, r);
}

static int recorded(lua_State *L, json_t *r, dbg_t *d, bool missing,
                    const char *id) {
  if (r) return push_json_take(L, r);
  if (missing) {
    lua_pushnil(L);
    lua_pushfstring(L, "no execution '%s'", id);
    return 2;
  }
  return fail(L, ms_engine_error(d->e));
}

/* d:describe(id), d:history(id) -> table | nil, why */
static int d_describe(lua_State *L) {
  dbg_t *d = check_dbg(L);
  const char *id = luaL_checkstring(L, 2);
  bool missing = false;
  return recorded(L, ms_execution_describe(d->e, id, &missing), d, missing,
                  id);
}

static int d_history(lua_State *L) {
  dbg_t *d = check_dbg(L);
  const char *id = luaL_checkstring(L, 2);
  bool missing = false;
  json_t *h = ms_execution_history(d->e, id, false, &missing);
  if (h) {
    json_t *ev = json_incref(json_object_get(h, "events"));
    json_decref(h);
    h = ev ? ev : json_array();
  }
  return recorded(L, h, d, missing, id);
}

/* d:redrive(id) -> description | nil, why */
static int d_redrive(lua_State *L) {
  dbg_t *d = check_dbg(L);
  const char *id = luaL_checkstring(L, 2);
  bool missing = false;
  return recorded(L, ms_redrive(d->e, id, NULL, &missing), d, missing, id);
}

/* d:rerun(id, state [, input]) -> description | nil, why */
static int d_rerun(lua_State *L) {
  dbg_t *d = check_dbg(L);
  const char *id = luaL_checkstring(L, 2);
  const char *state = luaL_checkstring(L, 3);
  json_t *in = arg_json(L, 4, "rerun");
  bool missing = false;
  json_t *r = ms_rerun(d->e, id, state, in, NULL, &missing);
  json_decref(in);
  return recorded(L, r, d, missing, id);
}

static int d_gc(lua_State *L) {
  dbg_t *d = luaL_checkudata(L, 1, DEBUGGER_MT);
  if (d->e) ms_engine_free(d->e);
  d->e = NULL;
  return 0;
}

static const luaL_Reg dbg_methods[] = {
  {"start", d_start}, {"run", d_run}, {"reload", d_reload},
  {"invoke", d_invoke},
  {"describe", d_describe}, {"history", d_history},
  {"redrive", d_redrive}, {"rerun", d_rerun},
  {NULL, NULL},
};

/* ---- the paused execution ---------------------------------------------- */

static dx_t *check_dx(lua_State *L) {
  dx_t *x = luaL_checkudata(L, 1, EXEC_MT);
  luaL_argcheck(L, x->s != NULL, 1, "execution is closed");
  return x;
}

static const char *opt_path(lua_State *L, int idx) {
  return luaL_optstring(L, idx, NULL);
}

/* x:step() -> true while it runs */
static int x_step(lua_State *L) {
  dx_t *x = check_dx(L);
  lua_pushboolean(L, inspect_step(x->s));
  return 1;
}

static int x_status(lua_State *L) {
  dx_t *x = check_dx(L);
  lua_pushstring(L, exec_status_name(exec_status(inspect_exec(x->s))));
  return 1;
}

static int x_describe(lua_State *L) {
  dx_t *x = check_dx(L);
  return push_json_take(L, exec_describe(inspect_exec(x->s)));
}

/* x:count() -> number of events so far */
static int x_count(lua_State *L) {
  dx_t *x = check_dx(L);
  lua_pushinteger(L, (lua_Integer)json_array_size(
                         inspect_events_peek(x->s)));
  return 1;
}

/* x:events([after]) -> the events after the first `after` (default 0) */
static int x_events(lua_State *L) {
  dx_t *x = check_dx(L);
  lua_Integer after = luaL_optinteger(L, 2, 0);
  json_t *all = inspect_events_peek(x->s);
  json_t *a = json_array();
  for (size_t i = after > 0 ? (size_t)after : 0; i < json_array_size(all);
       i++)
    json_array_append(a, json_array_get(all, i));
  return push_json_take(L, a);
}

static int x_frames(lua_State *L) {
  dx_t *x = check_dx(L);
  return push_json_take(L, inspect_frames(x->s));
}

/* x:next() -> the frame that runs next | nil */
static int x_next(lua_State *L) {
  dx_t *x = check_dx(L);
  json_t *f = inspect_next(x->s);
  if (!f) return 0;
  return push_json_take(L, f);
}

/* x:frame([path]) -> frame with context and vars | nil, why */
static int x_frame(lua_State *L) {
  dx_t *x = check_dx(L);
  char *why = NULL;
  json_t *f = inspect_frame(x->s, opt_path(L, 2), &why);
  return f ? push_json_take(L, f) : fail_free(L, why);
}

static int done(lua_State *L, int rc, char *why) {
  if (rc < 0) return fail_free(L, why);
  lua_pushboolean(L, 1);
  return 1;
}

/* x:set_input(path|nil, value) */
static int x_set_input(lua_State *L) {
  dx_t *x = check_dx(L);
  luaL_checkany(L, 3);
  json_t *v = arg_json(L, 3, "set_input");
  if (!v) v = json_null();
  char *why = NULL;
  int rc = inspect_set_input(x->s, opt_path(L, 2), v, &why);
  json_decref(v);
  return done(L, rc, why);
}

/* x:jump(path|nil, state) */
static int x_jump(lua_State *L) {
  dx_t *x = check_dx(L);
  const char *state = luaL_checkstring(L, 3);
  char *why = NULL;
  int rc = inspect_jump(x->s, opt_path(L, 2), state, &why);
  return done(L, rc, why);
}

static int x_retry(lua_State *L) {
  dx_t *x = check_dx(L);
  char *why = NULL;
  int rc = inspect_retry(x->s, opt_path(L, 2), &why);
  return done(L, rc, why);
}

static int x_redrive(lua_State *L) {
  dx_t *x = check_dx(L);
  char *why = NULL;
  int rc = inspect_redrive(x->s, &why);
  return done(L, rc, why);
}

/* x:abort([error [, cause]]) */
static int x_abort(lua_State *L) {
  dx_t *x = check_dx(L);
  exec_t *e = inspect_exec(x->s);
  if (exec_status(e) == EXEC_RUNNING)
    exec_abort(e, luaL_optstring(L, 2, NULL), luaL_optstring(L, 3, NULL));
  return 0;
}

static int x_gc(lua_State *L) {
  dx_t *x = luaL_checkudata(L, 1, EXEC_MT);
  inspect_free(x->s);
  ms_machine_free(x->mm);
  x->s = NULL;
  x->mm = NULL;
  return 0;
}

static const luaL_Reg dx_methods[] = {
  {"step", x_step}, {"status", x_status}, {"describe", x_describe},
  {"count", x_count}, {"events", x_events}, {"frames", x_frames},
  {"next", x_next},
  {"frame", x_frame}, {"set_input", x_set_input}, {"jump", x_jump},
  {"retry", x_retry}, {"redrive", x_redrive}, {"abort", x_abort},
  {"close", x_gc}, {NULL, NULL},
};

/* The debugger has no close: its engine must outlive the executions
 * (their uservalue keeps it alive until they are collected). */
static void new_mt(lua_State *L, const char *name, const luaL_Reg *m,
                   lua_CFunction gc, bool closable) {
  if (luaL_newmetatable(L, name)) {
    lua_newtable(L);
    luaL_setfuncs(L, m, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    if (closable) {
      lua_pushcfunction(L, gc);
      lua_setfield(L, -2, "__close");
    }
  }
  lua_pop(L, 1);
}

int luaopen_moonstep_core_debug(lua_State *L) {
  luabridge_init(L);
  new_mt(L, DEBUGGER_MT, dbg_methods, d_gc, false);
  new_mt(L, EXEC_MT, dx_methods, x_gc, true);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_debugger);
  lua_setfield(L, -2, "debugger");
  return 1;
}
