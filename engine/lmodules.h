/* lmodules.h - the C cores of the built-in Lua modules, by name, so that
 * `require` finds them both in a handler run by the engine (the binary has
 * no moonstep.so to load) and in Lua code that loaded moonstep.so.
 *
 * A built-in module is a friendly Lua layer in lua/moonstep/NAME.lua over a
 * C core registered here as "moonstep.core.NAME". In a host made by
 * luahost.c the cores are in package.preload; from moonstep.so Lua's
 * all-in-one C loader finds luaopen_moonstep_core_NAME by itself, and
 * luaopen_moonstep preloads them too.
 */
#ifndef MS_LMODULES_H
#define MS_LMODULES_H

#include <lua.h>

typedef struct lmodule {
  const char *name;            /* "moonstep.core.csv" */
  lua_CFunction open;          /* its luaopen_ function */
} lmodule_t;

/* The registered cores, ended by {NULL, NULL}. */
extern const lmodule_t lmodules[];

/* Put every core into package.preload of L. */
void lmodules_preload(lua_State *L);

/* The cores' open functions (one per engine/l<NAME>.c). */
int luaopen_moonstep_json(lua_State *L);
int luaopen_moonstep_core_tables(lua_State *L);
int luaopen_moonstep_core_ddbexpr(lua_State *L);
int luaopen_moonstep_core_s3(lua_State *L);
int luaopen_moonstep_core_csv(lua_State *L);
int luaopen_moonstep_core_http(lua_State *L);
int luaopen_moonstep_yaml(lua_State *L);
int luaopen_moonstep_lineedit(lua_State *L);
int luaopen_moonstep_core_debug(lua_State *L);
int luaopen_moonstep_keyset(lua_State *L);

#endif
