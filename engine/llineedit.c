/* llineedit.c - the moonstep.lineedit Lua module over lineedit.c, for the
 * REPL:
 *
 *   local le = lineedit.new()
 *   le:read(prompt) -> line | nil, "interrupted" | nil (end of input)
 *   le:add_history(line); le:load_history(path); le:save_history(path)
 *   le:history_max(n)
 *   le:set_completer(function(line, cursor) return start, {cands} end)
 *     (start: 1-based index of the first byte the candidates replace)
 *   le:is_tty() -> boolean
 */
#include <lauxlib.h>
#include <stdlib.h>

#include "lineedit.h"
#include "lmodules.h"

#define LE_MT "moonstep.lineedit"

typedef struct box {
  lineedit_t *le;
  lua_State *L;      /* during a read, for the completer */
  int completer;     /* registry ref or LUA_NOREF */
} box_t;

static box_t *check(lua_State *L) {
  box_t *b = luaL_checkudata(L, 1, LE_MT);
  if (!b->le) luaL_error(L, "lineedit: closed");
  return b;
}

/* The C completion callback calls the Lua completer. Errors in it are
 * swallowed (a completer must never break the prompt). */
static void complete(void *ud, lineedit_t *le, const char *line,
                     size_t cursor, size_t *word_start) {
  box_t *b = ud;
  lua_State *L = b->L;
  if (!L || b->completer == LUA_NOREF) return;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->completer);
  lua_pushstring(L, line);
  lua_pushinteger(L, (lua_Integer)cursor);
  if (lua_pcall(L, 2, 2, 0) == LUA_OK && lua_istable(L, -1)) {
    lua_Integer start = lua_tointeger(L, -2);
    if (start >= 1 && (size_t)start <= cursor + 1)
      *word_start = (size_t)start - 1;
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      const char *s = lua_tostring(L, -1);
      if (s) lineedit_add_completion(le, s);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, top);
}

static int l_new(lua_State *L) {
  box_t *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->le = lineedit_new();
  b->L = NULL;
  b->completer = LUA_NOREF;
  luaL_setmetatable(L, LE_MT);
  lineedit_set_completion(b->le, complete, b);
  return 1;
}

static int l_read(lua_State *L) {
  box_t *b = check(L);
  const char *prompt = luaL_optstring(L, 2, "> ");
  bool interrupted;
  b->L = L;
  char *line = lineedit_read(b->le, prompt, &interrupted);
  b->L = NULL;
  if (!line) {
    lua_pushnil(L);
    if (!interrupted) return 1;
    lua_pushliteral(L, "interrupted");
    return 2;
  }
  lua_pushstring(L, line);
  free(line);
  return 1;
}

static int l_add_history(lua_State *L) {
  lineedit_history_add(check(L)->le, luaL_checkstring(L, 2));
  return 0;
}

static int l_history_max(lua_State *L) {
  lineedit_history_max(check(L)->le, (size_t)luaL_checkinteger(L, 2));
  return 0;
}

static int file_result(lua_State *L, int rc, const char *path) {
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return luaL_fileresult(L, 0, path);
}

static int l_load_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 2);
  return file_result(L, lineedit_history_load(check(L)->le, path), path);
}

static int l_save_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 2);
  return file_result(L, lineedit_history_save(check(L)->le, path), path);
}

static int l_set_completer(lua_State *L) {
  box_t *b = check(L);
  luaL_unref(L, LUA_REGISTRYINDEX, b->completer);
  b->completer = LUA_NOREF;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    b->completer = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 0;
}

static int l_is_tty(lua_State *L) {
  lua_pushboolean(L, lineedit_is_tty(check(L)->le));
  return 1;
}

static int l_gc(lua_State *L) {
  box_t *b = luaL_checkudata(L, 1, LE_MT);
  luaL_unref(L, LUA_REGISTRYINDEX, b->completer);
  b->completer = LUA_NOREF;
  lineedit_free(b->le);
  b->le = NULL;
  return 0;
}

int luaopen_moonstep_lineedit(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"read", l_read}, {"add_history", l_add_history},
    {"history_max", l_history_max}, {"load_history", l_load_history},
    {"save_history", l_save_history}, {"set_completer", l_set_completer},
    {"is_tty", l_is_tty}, {NULL, NULL}};
  if (luaL_newmetatable(L, LE_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"new", l_new}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
