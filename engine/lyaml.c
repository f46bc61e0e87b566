/* lyaml.c - the moonstep.yaml Lua module: yaml.decode(text) -> value, for
 * handlers and scripts that read YAML (templates, configs). Values come
 * out as moonstep.json gives them (arrays marked, null as json.null).
 */
#include <lauxlib.h>

#include "lmodules.h"
#include "luabridge.h"
#include "yaml.h"

/* yaml.decode(text) -> value | nil, "LINE:COL: message" */
static int decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  char *err = NULL;
  json_t *v = yaml_parse(text, len, &err);
  if (!v) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    free(err);
    return 2;
  }
  luabridge_push(L, v);
  json_decref(v);
  return 1;
}

int luaopen_moonstep_yaml(lua_State *L) {
  luabridge_init(L);
  static const luaL_Reg fns[] = {{"decode", decode}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
