/* luabridge.h - JSON (jansson json_t) <-> Lua values, with no JSON text in
 * between. The only file besides luahost.c and lmoonstep.c that sees Lua.
 *
 * Mapping: null <-> cjson.null (a NULL light userdata); true/false <->
 * booleans; JSON integers <-> Lua integers; JSON reals <-> Lua floats
 * (an integral float prints as "2.0"); strings <-> strings (binary safe);
 * arrays <-> sequences carrying the array marker metatable (so [] survives
 * a round trip); objects <-> tables. A Lua table is an array when it has
 * the marker, or when its keys are exactly 1..n (n > 0); otherwise an
 * object, whose keys are written sorted so output is deterministic. An
 * empty table without the marker is {}.
 */
#ifndef MS_LUABRIDGE_H
#define MS_LUABRIDGE_H

#include <lua.h>
#include "jsonx.h"

/* Registry name of the array marker metatable. */
#define LUABRIDGE_ARRAY_MT "moonstep.array"

/* Create the array marker metatable in L's registry (idempotent). */
void luabridge_init(lua_State *L);

/* Push v (borrowed) as a Lua value. NULL pushes nil. */
void luabridge_push(lua_State *L, const json_t *v);

/* Convert the value at idx into JSON. Returns a new reference, or NULL with
 * *err (malloc'd), e.g. for functions, userdata other than null, tables
 * with mixed or non-string keys, cycles, NaN/inf, or nesting deeper than
 * MS_JSON_DEPTH. nil converts to JSON null. */
json_t *luabridge_to_json(lua_State *L, int idx, char **err);

/* An options table's string field: opts[field] (left on the stack; opts an
 * absolute index, 0 for none) or NULL when absent; raises a Lua error
 * naming the option when it is not a string. */
const char *luabridge_opt_string(lua_State *L, int opts, const char *field);

#endif
