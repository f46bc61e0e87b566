/* lteststate.c - moonstep.test_state, the Lua face of teststate.c (AWS's
 * TestState API): lmoonstep.c lists it in the moonstep module.
 *
 *   moonstep.test_state(definition_or_path, state, input, opts)
 *     -> response table | nil, "Code: message", code
 *
 * definition_or_path: a table, JSON text or a file's path; state: the
 * state of a whole machine (nil when the definition is one state); opts:
 * mock ({result = JSON text or value} | {errorOutput = {error, cause}}),
 * inspection_level, variables, context, retry_count,
 * state_configuration, tasks_dir, wire (values as AWS's JSON text).
 * Bad arguments and unconvertible values raise; a request AWS would
 * refuse (ValidationException, InvalidDefinition) returns nil, message,
 * code.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "luabridge.h"
#include "moonstep.h"
#include "teststate.h"

int lteststate_call(lua_State *L);

/* opts[field] (or opts[alt]) as JSON into *out (NULL when absent); false
 * with *err (malloc'd) when it does not convert. Never raises. */
static bool opt_json(lua_State *L, int opts, const char *field,
                     const char *alt, json_t **out, char **err) {
  *out = NULL;
  if (opts == 0 || *err) return !*err;
  if (lua_getfield(L, opts, field) == LUA_TNIL && alt) {
    lua_pop(L, 1);
    lua_getfield(L, opts, alt);
  }
  if (!lua_isnil(L, -1)) *out = luabridge_to_json(L, -1, err);
  lua_pop(L, 1);
  return *out || !*err;
}

/* The definition at idx: a table, JSON text or a file's path. New
 * reference, or NULL with *err (malloc'd). Never raises. */
static json_t *definition_at(lua_State *L, int idx, char **err) {
  if (lua_type(L, idx) != LUA_TSTRING)
    return luabridge_to_json(L, idx, err);
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  char *text = NULL;
  if (s[strspn(s, " \t\r\n")] != '{') {
    text = ms_read_file(s, MS_FILE_MAX, &len);
    if (!text) {
      *err = ms_asprintf("cannot read %s: %s", s, strerror(errno));
      return NULL;
    }
  }
  json_t *v = jsonx_parse(text ? text : s, len, err);
  free(text);
  return v;
}

/* moonstep.test_state (see the top of the file). */
int lteststate_call(lua_State *L) {
  lua_settop(L, 4);
  if (lua_type(L, 1) != LUA_TSTRING) luaL_checktype(L, 1, LUA_TTABLE);
  const char *state = luaL_optstring(L, 2, NULL);
  int opts = 0;
  if (!lua_isnil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    opts = 4;
  }
  const char *level = luabridge_opt_string(L, opts, "inspection_level");
  const char *tasks = luabridge_opt_string(L, opts, "tasks_dir");
  bool wire = false;
  if (opts) {
    lua_getfield(L, opts, "wire");
    wire = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  bool count = false;
  lua_Integer n = 0;
  if (opts && lua_getfield(L, opts, "retry_count") != LUA_TNIL) {
    n = luaL_checkinteger(L, -1);
    count = true;
  }
  /* from here on nothing raises until all is released */
  char *err = NULL;
  json_t *in = NULL, *mock = NULL, *vars = NULL, *ctx = NULL;
  json_t *config = NULL, *res = NULL;
  json_t *def = definition_at(L, 1, &err);
  if (def && !lua_isnil(L, 3)) in = luabridge_to_json(L, 3, &err);
  if (!err) {
    opt_json(L, opts, "mock", NULL, &mock, &err);
    opt_json(L, opts, "variables", NULL, &vars, &err);
    opt_json(L, opts, "context", NULL, &ctx, &err);
    opt_json(L, opts, "state_configuration", "stateConfiguration",
             &config, &err);
  }
  char *code = NULL, *message = NULL;
  if (!err) {
    if (count) {
      if (!config) config = json_object();
      json_object_set_new(config, "retrierRetryCount", json_integer(n));
    }
    teststate_req_t req = {
      .definition = def, .state = state, .input = in, .mock = mock,
      .level = level, .variables = vars, .context = ctx, .config = config,
      .tasks_dir = tasks,
    };
    res = teststate_run(&req, &code, &message);
  }
  json_decref(def);
  json_decref(in);
  json_decref(mock);
  json_decref(vars);
  json_decref(ctx);
  json_decref(config);
  if (err) {
    lua_pushfstring(L, "test_state: %s", err);
    free(err);
    return lua_error(L);
  }
  if (!res) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", code, message);
    lua_pushstring(L, code);
    free(code);
    free(message);
    return 3;
  }
  if (wire) {
    json_t *w = teststate_wire(res);
    json_decref(res);
    res = w;
  }
  luabridge_push(L, res);
  json_decref(res);
  return 1;
}

