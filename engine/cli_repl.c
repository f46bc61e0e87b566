/* cli_repl.c - `moonstep repl`: a Lua state with the moonstep modules, the
 * line editor and Ctrl-C handling, running lua/moonstep/repl.lua (the
 * shell; see there for what the REPL does).
 *
 * repl.lua is found next to the binary (build/moonstep -> lua/, an
 * installed bin/moonstep -> share/lua/5.4/) before Lua's usual path, so a
 * checkout and an installation both work without MOONSTEP_HOME. Ctrl-C
 * while a chunk runs raises "interrupted" in it, as in `lua`; at the
 * prompt the line editor handles it.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "cli.h"
#include "lmodules.h"

int luaopen_moonstep(lua_State *L);

static lua_State *running;  /* the state a protected call runs in */

static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted");
}

/* As lua.c does: setting a hook is the one safe thing a handler can do. */
static void on_sigint(int sig) {
  (void)sig;
  if (running)
    lua_sethook(running, stop_hook,
                LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* protect(fn, handler) -> {n =, ok, results... | false, message}: fn
 * called with Ctrl-C armed. */
static int protect(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  lua_State *prev = running;
  running = L;
  sigaction(SIGINT, &sa, &old);
  int rc = lua_pcall(L, 0, LUA_MULTRET, 2);
  sigaction(SIGINT, &old, NULL);
  running = prev;
  lua_sethook(L, NULL, 0, 0);
  int n = lua_gettop(L) - 2;
  lua_createtable(L, n + 1, 1);
  lua_pushboolean(L, rc == LUA_OK);
  lua_rawseti(L, -2, 1);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(L, 2 + i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushinteger(L, n + 1);
  lua_setfield(L, -2, "n");
  return 1;
}

/* Put the folders next to the binary in front of package.path. */
static void add_paths(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = 0;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/../lua/?.lua;%s/../lua/?/init.lua;"
                  "%s/../share/lua/5.4/?.lua;%s/../share/lua/5.4/?/init.lua;"
                  "%s", exe, exe, exe, exe, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

static int msgh(lua_State *L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

int cli_repl(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%s: repl: cannot create a Lua state\n", cli_progname);
    return MS_EXIT_FAILED;
  }
  luaL_openlibs(L);
  add_paths(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_moonstep);
  lua_setfield(L, -2, "moonstep");
  lua_pop(L, 1);
  lmodules_preload(L);
  lua_pushcfunction(L, msgh);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "moonstep.repl");
  int rc = lua_pcall(L, 1, 1, 1);
  if (rc == LUA_OK) {
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc, 0);
    for (int i = 0; i < argc; i++) {
      lua_pushstring(L, argv[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_createtable(L, 0, 3);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonstep.lineedit");
    lua_call(L, 1, 1);
    lua_setfield(L, -2, "lineedit");
    lua_pushcfunction(L, protect);
    lua_setfield(L, -2, "protect");
    lua_pushliteral(L, MS_VERSION);
    lua_setfield(L, -2, "version");
    rc = lua_pcall(L, 2, 1, 1);
  }
  int status = MS_EXIT_OK;
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: repl: %s\n", cli_progname, msg ? msg : "error");
    status = MS_EXIT_FAILED;
  } else {
    status = (int)lua_tointeger(L, -1);
  }
  lua_close(L);
  return status;
}
