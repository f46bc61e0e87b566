/* benchclock.c - the Lua module `benchclock`: a monotonic clock for the
 * bench's in-process timings (bench/ours.lua). Lua's os.clock is CPU time
 * and os.time whole seconds; the peer is timed with performance.now(), so
 * ours is timed on the same kind of clock.
 *
 *   benchclock.now() -> seconds (float) since an arbitrary start
 */
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

static int now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"now", now},
  {NULL, NULL},
};

int luaopen_benchclock(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
