/* lmodules.c - the registry of built-in C module cores (see lmodules.h). */
#include "lmodules.h"

#include <lauxlib.h>

const lmodule_t lmodules[] = {
  {"moonstep.json", luaopen_moonstep_json},
  {"moonstep.yaml", luaopen_moonstep_yaml},
  {"moonstep.lineedit", luaopen_moonstep_lineedit},
  {"moonstep.core.csv", luaopen_moonstep_core_csv},
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
