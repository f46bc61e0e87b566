/* luabridge.c - jansson json_t <-> Lua values, directly, with no JSON text
 * in between (see luabridge.h for the mapping).
 *
 * Owns the array marker metatable and the rules that decide whether a Lua
 * table is a JSON array or object. Lua -> JSON never raises a Lua error
 * (except on out-of-memory): problems come back as a message naming the
 * path of the offending value, e.g. "table at .a.b has a non-string key".
 * The Lua module (lmoonstep.c) and the handler host (luahost.c) use it.
 */
#include "luabridge.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_SHOWN 200  /* bytes of a key path quoted in an error message */

void luabridge_init(lua_State *L) {
  if (luaL_newmetatable(L, LUABRIDGE_ARRAY_MT)) {
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__jsontype");
  }
  lua_pop(L, 1);
}

/* Push the array marker metatable (creating it on first use). */
static void push_array_mt(lua_State *L) {
  if (luaL_getmetatable(L, LUABRIDGE_ARRAY_MT) != LUA_TTABLE) {
    lua_pop(L, 1);
    luabridge_init(L);
    luaL_getmetatable(L, LUABRIDGE_ARRAY_MT);
  }
}

/* ---- JSON -> Lua ----------------------------------------------------- */

void luabridge_push(lua_State *L, const json_t *v) {
  luaL_checkstack(L, 3, "JSON value nested too deeply");
  if (!v) {
    lua_pushnil(L);
    return;
  }
  switch (json_typeof(v)) {
  case JSON_NULL: lua_pushlightuserdata(L, NULL); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  case JSON_INTEGER: lua_pushinteger(L, json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    break;
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      luabridge_push(L, json_array_get(v, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    push_array_mt(L);
    lua_setmetatable(L, -2);
    break;
  }
  case JSON_OBJECT: {
    size_t n = json_object_size(v);
    const char *k;
    size_t klen;
    json_t *x;
    lua_createtable(L, 0, n > INT32_MAX ? INT32_MAX : (int)n);
    json_object_keylen_foreach((json_t *)v, k, klen, x) {
      lua_pushlstring(L, k, klen);
      luabridge_push(L, x);
      lua_rawset(L, -3);
    }
    break;
  }
  }
}

/* ---- Lua -> JSON ----------------------------------------------------- */

/* One step of the path from the top-level value to the current one. */
typedef struct seg {
  const char *key;  /* string key (owned by the table), or NULL */
  size_t klen;
  lua_Integer idx;  /* Lua index when key is NULL */
} seg_t;

#define SHALLOW 32  /* levels kept on the C stack before a heap copy */

typedef struct conv {
  lua_State *L;
  char *err;            /* first error, malloc'd */
  int depth;            /* tables currently entered */
  const void **open;    /* those tables, for cycles */
  seg_t *path;          /* path[0..npath), npath <= depth */
  int npath;
  int cap;              /* room in open and path */
  const void *open_s[SHALLOW];  /* open and path while they fit */
  seg_t path_s[SHALLOW];
} conv_t;

/* Room for MS_JSON_DEPTH + 2 levels, on the heap (deep values only). */
static void conv_deepen(conv_t *c) {
  const void **open = ms_malloc((MS_JSON_DEPTH + 2) * sizeof *open);
  seg_t *path = ms_malloc((MS_JSON_DEPTH + 2) * sizeof *path);
  memcpy(open, c->open, (size_t)c->depth * sizeof *open);
  memcpy(path, c->path, (size_t)c->npath * sizeof *path);
  c->open = open;
  c->path = path;
  c->cap = MS_JSON_DEPTH + 2;
}

static bool is_ident(const char *s, size_t n) {
  if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

/* The current path as ".a.b[2][\"x y\"]" (Lua indices), "(top level)"
 * when empty; long paths are cut to PATH_SHOWN bytes. */
static char *path_text(const conv_t *c) {
  buf_t b;
  buf_init(&b);
  if (c->npath == 0) buf_puts(&b, "(top level)");
  for (int i = 0; i < c->npath && b.len < PATH_SHOWN; i++) {
    const seg_t *s = &c->path[i];
    if (!s->key) {
      buf_printf(&b, "[%lld]", (long long)s->idx);
    } else if (is_ident(s->key, s->klen)) {
      buf_putc(&b, '.');
      buf_append(&b, s->key, s->klen);
    } else {
      buf_puts(&b, "[\"");
      for (size_t j = 0; j < s->klen; j++) {
        unsigned char ch = (unsigned char)s->key[j];
        if (ch == '"' || ch == '\\') buf_printf(&b, "\\%c", ch);
        else if (ch < 0x20) buf_printf(&b, "\\x%02x", ch);
        else buf_putc(&b, (char)ch);
      }
      buf_puts(&b, "\"]");
    }
  }
  if (b.len > PATH_SHOWN) {
    b.len = PATH_SHOWN;
    b.data[b.len] = '\0';
    buf_puts(&b, "...");
  }
  return buf_steal(&b);
}

/* Record the first error: "cannot convert to JSON: WHAT at PATH REST". */
static json_t *fail(conv_t *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *fail(conv_t *c, const char *what, const char *fmt, ...) {
  if (c->err) return NULL;
  buf_t b;
  va_list ap;
  char *p = path_text(c);
  buf_init(&b);
  buf_printf(&b, "cannot convert to JSON: %s at %s ", what, p);
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  free(p);
  c->err = buf_steal(&b);
  return NULL;
}

static json_t *conv(conv_t *c, int idx);

/* Describe a non-string key for an error message. */
static void key_desc(lua_State *L, int idx, char *out, size_t n) {
  switch (lua_type(L, idx)) {
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      snprintf(out, n, "integer %lld", (long long)lua_tointeger(L, idx));
    else
      snprintf(out, n, "number %.14g", lua_tonumber(L, idx));
    break;
  default:
    snprintf(out, n, "%s", luaL_typename(L, idx));
  }
}

/* Convert the element at t[i] for i = 1..n (t at absolute index t). */
static json_t *conv_array(conv_t *c, int t, lua_Integer n) {
  lua_State *L = c->L;
  json_t *a = json_array();
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, t, i);
    c->path[c->npath++] = (seg_t){NULL, 0, i};
    json_t *x = conv(c, lua_gettop(L));
    c->npath--;
    lua_pop(L, 1);
    if (!x) {
      json_decref(a);
      return NULL;
    }
    json_array_append_new(a, x);
  }
  return a;
}

typedef struct skey {
  const char *s;
  size_t n;
} skey_t;

static int skey_cmp(const void *pa, const void *pb) {
  const skey_t *a = pa, *b = pb;
  int r = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
  if (r) return r;
  return a->n < b->n ? -1 : a->n > b->n;
}

/* Convert a string-keyed table, keys in byte order. The key strings stay
 * alive while the table (on the stack) holds them. */
static json_t *conv_object(conv_t *c, int t, skey_t *keys, size_t n) {
  lua_State *L = c->L;
  json_t *o = json_object();
  if (n > 1) qsort(keys, n, sizeof *keys, skey_cmp);
  for (size_t i = 0; i < n; i++) {
    c->path[c->npath++] = (seg_t){keys[i].s, keys[i].n, 0};
    if (memchr(keys[i].s, '\0', keys[i].n)) {
      fail(c, "key", "contains a NUL byte");
      c->npath--;
      json_decref(o);
      return NULL;
    }
    lua_pushlstring(L, keys[i].s, keys[i].n);
    lua_rawget(L, t);
    json_t *x = conv(c, lua_gettop(L));
    lua_pop(L, 1);
    if (!x) {
      c->npath--;
      json_decref(o);
      return NULL;
    }
    if (json_object_setn_new(o, keys[i].s, keys[i].n, x)) {
      fail(c, "key", "is not valid UTF-8");
      c->npath--;
      json_decref(o);
      return NULL;
    }
    c->npath--;
  }
  return o;
}

/* Decide array or object, then convert. t is an absolute index. */
static json_t *conv_table(conv_t *c, int t) {
  lua_State *L = c->L;
  const void *self = lua_topointer(L, t);
  for (int i = 0; i < c->depth; i++)
    if (c->open[i] == self)
      return fail(c, "table", "contains itself (a reference cycle)");
  if (c->depth >= MS_JSON_DEPTH)
    return fail(c, "table", "is nested deeper than %d levels",
                MS_JSON_DEPTH);
  if (!lua_checkstack(L, 4))
    return fail(c, "table", "is nested too deeply for the Lua stack");

  bool marked = false;
  if (lua_getmetatable(L, t)) {
    push_array_mt(L);
    marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }

  if (c->depth + 1 >= c->cap) conv_deepen(c);  /* path may go one deeper */
  c->open[c->depth++] = self;
  json_t *r = NULL;
  if (marked) {
    r = conv_array(c, t, (lua_Integer)lua_rawlen(L, t));
    c->depth--;
    return r;
  }

  /* Scan the keys: all strings (object), or exactly 1..n (array). */
  size_t nstr = 0, nother = 0, cap = 0;
  lua_Integer maxi = 0;
  bool seq = true;
  char bad[64] = "";
  skey_t *keys = NULL;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      if (nstr == cap) {
        cap = cap ? 2 * cap : 8;
        keys = ms_realloc(keys, cap * sizeof *keys);
      }
      keys[nstr].s = lua_tolstring(L, -1, &keys[nstr].n);
      nstr++;
      continue;
    }
    if (nother++ == 0) key_desc(L, -1, bad, sizeof bad);
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      lua_Integer k = lua_tointeger(L, -1);
      if (k > maxi) maxi = k;
    } else {
      seq = false;
    }
  }

  if (nother == 0) {
    r = conv_object(c, t, keys, nstr);
  } else if (nstr > 0) {
    r = fail(c, "table", "mixes string keys with a non-string key (%s)",
             bad);
  } else if (seq && (lua_Unsigned)maxi == nother) {
    r = conv_array(c, t, maxi);
  } else if (seq) {
    r = fail(c, "table", "has integer keys that are not a sequence 1..n "
             "(use moonstep.json.array for arrays with holes)");
  } else {
    r = fail(c, "table", "has a non-string key (%s)", bad);
  }
  free(keys);
  c->depth--;
  return r;
}

static json_t *conv(conv_t *c, int idx) {
  lua_State *L = c->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return json_null();
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER: {
    if (lua_isinteger(L, idx)) return json_integer(lua_tointeger(L, idx));
    double d = lua_tonumber(L, idx);
    if (isnan(d)) return fail(c, "number", "is NaN");
    if (isinf(d)) return fail(c, "number", "is %s", d > 0 ? "inf" : "-inf");
    return json_real(d);
  }
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    json_t *x = json_stringn(s, n);
    return x ? x : fail(c, "string", "is not valid UTF-8");
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) return json_null();
    return fail(c, "value", "is a light userdata other than null");
  case LUA_TTABLE: return conv_table(c, idx);
  default:
    return fail(c, "value", "is a %s", luaL_typename(L, idx));
  }
}

json_t *luabridge_to_json(lua_State *L, int idx, char **err) {
  /* open[] and path[] are only read below depth and npath: leave them
   * unzeroed; they start on the stack and move to the heap past SHALLOW
   * levels */
  conv_t c;
  c.L = L;
  c.err = NULL;
  c.depth = 0;
  c.npath = 0;
  c.open = c.open_s;
  c.path = c.path_s;
  c.cap = SHALLOW;
  json_t *r = NULL;
  if (!lua_checkstack(L, 4))
    fail(&c, "value", "cannot be converted: Lua stack exhausted");
  else
    r = conv(&c, lua_absindex(L, idx));
  if (!r) {
    if (err) *err = c.err;
    else free(c.err);
  }
  if (c.open != c.open_s) {
    free(c.open);
    free(c.path);
  }
  return r;
}

const char *luabridge_opt_string(lua_State *L, int opts, const char *field) {
  if (opts == 0) return NULL;
  int t = lua_getfield(L, opts, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TSTRING)
    luaL_error(L, "option '%s' must be a string (got %s)", field,
               luaL_typename(L, -1));
  return lua_tostring(L, -1);
}
