/* lmodules.c - the registry of built-in C module cores (see lmodules.h). */
#include "lmodules.h"

#include <lauxlib.h>

const lmodule_t lmodules[] = {
  {"moonstep.json", luaopen_moonstep_json},
  {"moonstep.core.http", luaopen_moonstep_core_http},
  {"moonstep.yaml", luaopen_moonstep_yaml},
  {"moonstep.lineedit", luaopen_moonstep_lineedit},
  {"moonstep.core.csv", luaopen_moonstep_core_csv},
  {"moonstep.core.tables", luaopen_moonstep_core_tables},
  {"moonstep.core.ddbexpr", luaopen_moonstep_core_ddbexpr},
  {"moonstep.core.s3", luaopen_moonstep_core_s3},
  {"moonstep.core.debug", luaopen_moonstep_core_debug},
  {"moonstep.keyset", luaopen_moonstep_keyset},
  /* one line per core: {"moonstep.core.NAME", luaopen_moonstep_core_NAME} */
  {NULL, NULL},
};

void lmodules_preload(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const lmodule_t *m = lmodules; m->name; m++) {
    lua_pushcfunction(L, m->open);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
}
