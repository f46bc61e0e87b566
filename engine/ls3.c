/* ls3.c - moonstep.core.s3: the Lua face of s3.c (the local buckets), for
 * lua/moonstep/s3.lua, which shapes the friendly API and raises errors.
 *
 *   core.get(b, k)            -> body, meta
 *   core.open(b, k)           -> reader, meta; reader:read(n) -> bytes or
 *                                nil at the end; reader:close()
 *   core.put(b, k, body[, content_type]) -> meta
 *   core.head(b, k)           -> meta
 *   core.delete(b, k)         -> true
 *   core.copy(sb, sk, b, k)   -> meta
 *   core.list(b, request)     -> ListObjectsV2 response (table)
 *   core.create_bucket(b)     -> true
 *   core.list_buckets()       -> array of names
 *   core.root([dir])          -> the buckets folder (dir sets it)
 * On failure each returns nil, S3's code ("NoSuchKey", ...), its message.
 * meta = {ContentLength=, ETag=, LastModified= (ISO 8601), ContentType=}.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lmodules.h"
#include "luabridge.h"
#include "s3.h"

#define READER_MT "moonstep.s3.reader"

static int fail(lua_State *L, const s3_error_t *e) {
  lua_pushnil(L);
  lua_pushstring(L, e->code);
  lua_pushstring(L, e->message);
  return 3;
}

static void push_meta(lua_State *L, const s3_meta_t *m) {
  char t[40];
  s3_time_iso(m->mtime, t, sizeof t);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)m->size);
  lua_setfield(L, -2, "ContentLength");
  lua_pushstring(L, m->etag);
  lua_setfield(L, -2, "ETag");
  lua_pushstring(L, t);
  lua_setfield(L, -2, "LastModified");
  lua_pushstring(L, m->content_type);
  lua_setfield(L, -2, "ContentType");
}

static int l_get(lua_State *L) {
  const char *b = luaL_checkstring(L, 1), *k = luaL_checkstring(L, 2);
  s3_error_t e;
  s3_meta_t m;
  char *data;
  size_t len;
  if (s3_get(b, k, &data, &len, &m, &e)) return fail(L, &e);
  lua_pushlstring(L, data, len);
  free(data);
  push_meta(L, &m);
  return 2;
}

typedef struct reader {
  FILE *f;
} reader_t;

static int l_open(lua_State *L) {
  const char *b = luaL_checkstring(L, 1), *k = luaL_checkstring(L, 2);
  s3_error_t e;
  s3_meta_t m;
  reader_t *r = lua_newuserdatauv(L, sizeof *r, 0);
  r->f = NULL;
  luaL_setmetatable(L, READER_MT);
  if (s3_open(b, k, &r->f, &m, &e)) return fail(L, &e);
  push_meta(L, &m);
  return 2;
}

static int l_read(lua_State *L) {
  reader_t *r = luaL_checkudata(L, 1, READER_MT);
  lua_Integer n = luaL_optinteger(L, 2, 65536);
  luaL_argcheck(L, n > 0, 2, "a positive byte count");
  if (!r->f) return luaL_error(L, "the reader is closed");
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)n);
  size_t got = fread(p, 1, (size_t)n, r->f);
  if (got == 0) {
    if (ferror(r->f)) return luaL_error(L, "read error");
    lua_pushnil(L);
    return 1;
  }
  luaL_pushresultsize(&b, got);
  return 1;
}

static int l_close(lua_State *L) {
  reader_t *r = luaL_checkudata(L, 1, READER_MT);
  if (r->f) fclose(r->f);
  r->f = NULL;
  return 0;
}

static int l_put(lua_State *L) {
  const char *b = luaL_checkstring(L, 1), *k = luaL_checkstring(L, 2);
  size_t len;
  const char *body = luaL_checklstring(L, 3, &len);
  const char *ct = luaL_optstring(L, 4, NULL);
  s3_error_t e;
  s3_meta_t m;
  if (s3_put(b, k, body, len, ct, &m, &e)) return fail(L, &e);
  push_meta(L, &m);
  return 1;
}

static int l_head(lua_State *L) {
  const char *b = luaL_checkstring(L, 1), *k = luaL_checkstring(L, 2);
  s3_error_t e;
  s3_meta_t m;
  if (s3_head(b, k, &m, &e)) return fail(L, &e);
  push_meta(L, &m);
  return 1;
}

static int l_delete(lua_State *L) {
  const char *b = luaL_checkstring(L, 1), *k = luaL_checkstring(L, 2);
  s3_error_t e;
  if (s3_delete(b, k, &e)) return fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_copy(lua_State *L) {
  const char *sb = luaL_checkstring(L, 1), *sk = luaL_checkstring(L, 2);
  const char *b = luaL_checkstring(L, 3), *k = luaL_checkstring(L, 4);
  s3_error_t e;
  s3_meta_t m;
  if (s3_copy(sb, sk, b, k, &m, &e)) return fail(L, &e);
  push_meta(L, &m);
  return 1;
}

static int l_list(lua_State *L) {
  const char *b = luaL_checkstring(L, 1);
  json_t *req = NULL;
  if (!lua_isnoneornil(L, 2)) {
    char *why = NULL;
    req = luabridge_to_json(L, 2, &why);
    if (!req) {
      lua_pushfstring(L, "bad request: %s", why ? why : "?");
      free(why);
      return lua_error(L);
    }
  }
  s3_error_t e;
  json_t *out = s3_list(b, req, &e);
  json_decref(req);
  if (!out) return fail(L, &e);
  luabridge_push(L, out);
  json_decref(out);
  return 1;
}

static int l_create_bucket(lua_State *L) {
  s3_error_t e;
  if (s3_create_bucket(luaL_checkstring(L, 1), &e)) return fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_list_buckets(lua_State *L) {
  json_t *v = s3_list_buckets();
  luabridge_push(L, v);
  json_decref(v);
  return 1;
}

static int l_root(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) s3_set_root(luaL_checkstring(L, 1));
  lua_pushstring(L, s3_root());
  return 1;
}

static const luaL_Reg reader_methods[] = {
  {"read", l_read}, {"close", l_close}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
  {"get", l_get}, {"open", l_open}, {"put", l_put}, {"head", l_head},
  {"delete", l_delete}, {"copy", l_copy}, {"list", l_list},
  {"create_bucket", l_create_bucket}, {"list_buckets", l_list_buckets},
  {"root", l_root}, {NULL, NULL}};

int luaopen_moonstep_core_s3(lua_State *L) {
  luabridge_init(L);
  if (luaL_newmetatable(L, READER_MT)) {
    luaL_newlib(L, reader_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
