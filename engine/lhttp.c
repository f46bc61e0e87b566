/* lhttp.c - moonstep.core.http, the C core under lua/moonstep/http.lua:
 * one function, request, over http.c. The friendly API (query encoding,
 * JSON bodies, case-insensitive headers, errors as tables) is the Lua
 * layer's.
 *
 * core.request{method=, url=, headers={{name, value}, ...}, body=,
 * timeout=, follow=, max_body=} returns {status=, reason=, url=, body=,
 * headers={{name, value}, ...}}, or nil, KIND, MESSAGE where KIND is
 * http_err_name's ("Timeout", "DnsFailure", "ConnectionRefused", ...).
 *
 * Inside the engine the request does not block: task.c runs a handler as a
 * coroutine and names it in the registry (LHTTP_CO_KEY) beside the
 * engine's multi handle (LHTTP_MULTI_KEY). A request made by that very
 * coroutine starts a transfer and yields the transfer (a light userdata)
 * to task.c, which resumes the coroutine once it ended; anywhere else
 * (busted, scripts, a handler's own coroutines) the call blocks.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "lhttp.h"
#include "lmodules.h"

#define XFER_MT "moonstep.http.xfer"

typedef struct req {
  http_req_t r;
  http_header_t *h;
} req_t;

static void req_free(req_t *q) {
  free(q->h);
}

/* Read the request table at idx into q (strings stay on L's stack or in
 * the table, which stays alive during the call). Raises on bad fields. */
static void read_req(lua_State *L, int idx, req_t *q) {
  memset(q, 0, sizeof *q);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "method");
  q->r.method = luaL_optstring(L, -1, "GET");
  lua_getfield(L, idx, "url");
  q->r.url = luaL_checkstring(L, -1);
  lua_getfield(L, idx, "body");
  if (!lua_isnil(L, -1)) q->r.body = luaL_checklstring(L, -1, &q->r.body_len);
  lua_getfield(L, idx, "timeout");
  q->r.timeout = luaL_optnumber(L, -1, 0);
  lua_getfield(L, idx, "follow");
  q->r.follow = lua_toboolean(L, -1);
  lua_getfield(L, idx, "max_body");
  q->r.max_body = (size_t)luaL_optinteger(L, -1, 0);
  lua_pop(L, 6);  /* the strings are in the table: still alive */
  if (lua_getfield(L, idx, "headers") == LUA_TTABLE) {
    size_t n = (size_t)luaL_len(L, -1);
    q->h = calloc(n ? n : 1, sizeof *q->h);
    if (!q->h) luaL_error(L, "out of memory");
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      const char *name = lua_type(L, -2) == LUA_TSTRING
                             ? lua_tostring(L, -2) : NULL;
      const char *value = lua_type(L, -1) == LUA_TSTRING
                              ? lua_tostring(L, -1) : NULL;
      if (!name || !value) {
        req_free(q);
        luaL_error(L, "http: header %d is not a {name, value} pair",
                   (int)i + 1);
      }
      /* strings held by the pair tables, reachable from the argument */
      q->h[i].name = (char *)name;
      q->h[i].value = (char *)value;
      lua_pop(L, 3);
    }
    q->r.headers = q->h;
    q->r.nheaders = n;
  }
  lua_pop(L, 1);
}

/* Push the response table, or nil, KIND, MESSAGE. Returns the count. */
static int push_outcome(lua_State *L, http_err_t e, http_resp_t *r,
                        char *msg) {
  if (e != HTTP_OK) {
    lua_pushnil(L);
    lua_pushstring(L, http_err_name(e));
    lua_pushstring(L, msg ? msg : "request failed");
    free(msg);
    http_resp_free(r);
    return 3;
  }
  free(msg);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, r->status);
  lua_setfield(L, -2, "status");
  lua_pushstring(L, r->reason ? r->reason : "");
  lua_setfield(L, -2, "reason");
  lua_pushstring(L, r->url ? r->url : "");
  lua_setfield(L, -2, "url");
  lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
  lua_setfield(L, -2, "body");
  lua_createtable(L, (int)r->nheaders, 0);
  for (size_t i = 0; i < r->nheaders; i++) {
    lua_createtable(L, 2, 0);
    lua_pushstring(L, r->headers[i].name);
    lua_rawseti(L, -2, 1);
    lua_pushstring(L, r->headers[i].value);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "headers");
  http_resp_free(r);
  return 1;
}

/* ---- the engine's non-blocking path ------------------------------------- */

typedef struct box {
  http_xfer_t *x;  /* NULL once taken */
} box_t;

static int box_gc(lua_State *L) {
  box_t *b = luaL_checkudata(L, 1, XFER_MT);
  http_xfer_free(b->x);
  b->x = NULL;
  return 0;
}

/* Resumed by task.c once the transfer ended: the box is at ctx. */
static int resumed(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  box_t *b = luaL_checkudata(L, (int)ctx, XFER_MT);
  if (!b->x || !http_xfer_done(b->x))
    return luaL_error(L, "http: resumed before the transfer ended");
  http_resp_t r;
  char *msg;
  http_err_t e = http_xfer_result(b->x, &r, &msg);
  http_xfer_free(b->x);
  b->x = NULL;
  return push_outcome(L, e, &r, msg);
}

/* The engine's multi handle when L is the coroutine the engine runs
 * (and may suspend), else NULL. */
static http_multi_t *engine_multi(lua_State *L) {
  if (!lua_isyieldable(L)) return NULL;
  http_multi_t *m = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LHTTP_CO_KEY) == LUA_TTHREAD &&
      lua_tothread(L, -1) == L &&
      lua_getfield(L, LUA_REGISTRYINDEX, LHTTP_MULTI_KEY) ==
          LUA_TLIGHTUSERDATA) {
    m = lua_touserdata(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return m;
}

static int l_request(lua_State *L) {
  req_t q;
  read_req(L, 1, &q);
  http_multi_t *m = engine_multi(L);
  char *msg = NULL;
  if (m) {
    box_t *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->x = NULL;
    luaL_setmetatable(L, XFER_MT);
    int at = lua_gettop(L);
    b->x = http_start(m, &q.r, &msg);
    req_free(&q);
    if (!b->x) {
      http_resp_t none = {0};
      return push_outcome(L, HTTP_EURL, &none, msg);
    }
    lua_pushlightuserdata(L, b->x);
    return lua_yieldk(L, 1, (lua_KContext)at, resumed);
  }
  http_resp_t r;
  http_err_t e = http_perform(&q.r, &r, &msg);
  req_free(&q);
  return push_outcome(L, e, &r, msg);
}

static const luaL_Reg funcs[] = {
  {"request", l_request},
  {NULL, NULL},
};

int luaopen_moonstep_core_http(lua_State *L) {
  if (luaL_newmetatable(L, XFER_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
