/* ltables.c - the C core of moonstep.tables (luaopen_moonstep_core_tables,
 * "moonstep.core.tables"): a store handle (userdata over tables.h) whose
 * call runs one DynamoDB action. Requests and responses are in the
 * DocumentClient's form: items, keys and ExpressionAttributeValues are
 * plain Lua values, converted here to AttributeValues and back
 * (ddbval_from_plain / ddbval_to_plain), so lua/moonstep/tables.lua only
 * shapes the friendly API.
 *
 *   core.open([path])            -> handle (nil path: the default database)
 *   handle:call(action, request) -> response, or nil, name, message, detail
 *   handle:raw(action, request)  -> the same with AttributeValue JSON
 *   core.default_path()          -> the database used when none is named
 */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmodules.h"
#include "luabridge.h"
#include "tables.h"

#define HANDLE_MT "moonstep.tables"

typedef struct handle {
  tables_t *t;                 /* NULL once closed */
} handle_t;

/* ---- the DocumentClient mapping over a request or response ------------ */

typedef json_t *(*conv_fn)(const json_t *v, char **err);

static json_t *to_av(const json_t *v, char **err) {
  return ddbval_from_plain(v, err);
}

static json_t *to_plain(const json_t *v, char **err) {
  (void)err;
  return ddbval_to_plain(v);
}

/* An object of attribute -> value, each converted. */
static json_t *conv_map(const json_t *m, conv_fn fn, char **err) {
  if (!json_is_object(m)) return json_incref((json_t *)m);
  json_t *o = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)m, k, v) {
    json_t *c = fn(v, err);
    if (!c) {
      json_decref(o);
      return NULL;
    }
    json_object_set_new(o, k, c);
  }
  return o;
}

static bool is_map_field(const char *k) {
  static const char *maps[] = {"Item", "Key", "ExclusiveStartKey",
                               "LastEvaluatedKey", "Attributes",
                               "ExpressionAttributeValues", NULL};
  for (int i = 0; maps[i]; i++)
    if (!strcmp(maps[i], k)) return true;
  return false;
}

static bool is_list_field(const char *k) {
  return !strcmp(k, "Items") || !strcmp(k, "Keys");
}

/* Walk a request or response, converting the fields that hold items. */
static json_t *conv(const json_t *v, conv_fn fn, int depth, char **err) {
  if (depth > 16) return json_incref((json_t *)v);
  if (json_is_array(v)) {
    json_t *a = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      json_t *c = conv(x, fn, depth + 1, err);
      if (!c) {
        json_decref(a);
        return NULL;
      }
      json_array_append_new(a, c);
    }
    return a;
  }
  if (!json_is_object(v)) return json_incref((json_t *)v);
  json_t *o = json_object();
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)v, k, x) {
    json_t *c;
    if (is_map_field(k)) {
      c = conv_map(x, fn, err);
    } else if (is_list_field(k) && json_is_array(x)) {
      c = json_array();
      size_t i;
      json_t *m;
      json_array_foreach(x, i, m) {
        json_t *cm = conv_map(m, fn, err);
        if (!cm) {
          json_decref(c);
          c = NULL;
          break;
        }
        json_array_append_new(c, cm);
      }
    } else if (!strcmp(k, "Responses") && json_is_object(x)) {
      c = json_object();  /* table -> items */
      const char *tn;
      json_t *items;
      json_object_foreach(x, tn, items) {
        json_t *wrap = json_pack("{s:O}", "Items", items);
        json_t *cw = wrap ? conv(wrap, fn, depth + 1, err) : NULL;
        json_decref(wrap);
        if (!cw) {
          json_decref(c);
          c = NULL;
          break;
        }
        json_object_set(c, tn, json_object_get(cw, "Items"));
        json_decref(cw);
      }
    } else {
      c = conv(x, fn, depth + 1, err);
    }
    if (!c) {
      json_decref(o);
      return NULL;
    }
    json_object_set_new(o, k, c);
  }
  return o;
}

/* ---- the bulk path: Lua items straight to AttributeValue JSON text ------ */

#define NEST_MAX 32   /* DynamoDB: 32 levels of nested documents */

/* Append s as a JSON string; false when s is not valid UTF-8. */
static bool put_string(buf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_putc(b, '"');
  size_t run = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      run++;
      continue;
    }
    buf_append(b, s + i - run, run);
    run = 0;
    if (c < 0x80) {
      char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
      if (c == '"' || c == '\\') buf_putc(b, '\\'), buf_putc(b, (char)c);
      else buf_append(b, esc, 6);
      i++;
      continue;
    }
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (!len || c > 0xf4 || i + (size_t)len > n) return false;
    for (int j = 1; j < len; j++)
      if (((unsigned char)s[i + j] & 0xc0) != 0x80) return false;
    unsigned char c1 = (unsigned char)s[i + 1];
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) ||
        (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
      return false;
    buf_append(b, s + i, (size_t)len);
    i += (size_t)len;
  }
  buf_append(b, s + n - run, run);
  buf_putc(b, '"');
  return true;
}

/* The N text of the number at idx (canonical), into out; -1 + *err. */
static int number_text(lua_State *L, int idx, buf_t *out, char **err) {
  if (lua_isinteger(L, idx)) {  /* the common case, without printf */
    lua_Integer v = lua_tointeger(L, idx);
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    do *--p = (char)('0' + u % 10); while (u /= 10);
    if (v < 0) *--p = '-';
    return buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
  }
  lua_Number d = lua_tonumber(L, idx);
  if (!isfinite(d)) {
    *err = ms_strdup("NaN and infinity are not numbers DynamoDB keeps");
    return -1;
  }
  /* the shortest of 15 or 17 significant digits that reads back the same;
   * plain decimal text ("1234.56", "100") is already DynamoDB's canonical
   * form, so only exponents and -0 go through the normalizer */
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d) snprintf(tmp, sizeof tmp, "%.17g", d);
  if (!strchr(tmp, 'e') && strcmp(tmp, "-0")) return buf_puts(out, tmp);
  char *n = ddbnum_normalize(tmp, err);
  if (!n) return -1;
  buf_puts(out, n);
  free(n);
  return 0;
}

typedef struct ser {
  lua_State *L;
  buf_t *b;
  size_t size;                 /* DynamoDB's size of the item so far */
  char *err;
} ser_t;

static int ser_value(ser_t *s, int idx, int depth);

/* A Lua table: 1 array (keys 1..n, or the array marker), 0 map (string
 * keys), -1 neither. */
static int table_kind(lua_State *L, int idx) {
  if (lua_getmetatable(L, idx)) {
    luaL_getmetatable(L, LUABRIDGE_ARRAY_MT);
    bool marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (marked) return 1;
  }
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
  bool strings = true, ints = true;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (lua_type(L, -1) != LUA_TSTRING) strings = false;
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        lua_tointeger(L, -1) > n)
      ints = false;
  }
  if (count > 0 && ints && count == n) return 1;
  return strings ? 0 : -1;
}

/* The members of the map at idx as {"k":AV,...}. */
/* A map's attribute names, sorted so that an item is stored (and printed
 * back) the same way whatever order Lua's hash table holds them in. The
 * names stay alive in the table while we use them. */
typedef struct mkey {
  const char *s;
  size_t n;
} mkey_t;

static int mkey_cmp(const void *a, const void *b) {
  const mkey_t *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int ser_map(ser_t *s, int idx, int depth) {
  lua_State *L = s->L;
  mkey_t small[16], *keys = small;
  size_t nk = 0, cap = sizeof small / sizeof *small;
  int rc = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      s->err = ms_strdup("an item's attribute names must be strings");
      lua_pop(L, 2);
      rc = -1;
      break;
    }
    if (nk == cap) {
      cap *= 2;
      mkey_t *k2 = ms_malloc(cap * sizeof *k2);
      memcpy(k2, keys, nk * sizeof *k2);
      if (keys != small) free(keys);
      keys = k2;
    }
    keys[nk].s = lua_tolstring(L, -2, &keys[nk].n);
    nk++;
    lua_pop(L, 1);
  }
  if (rc == 0) {
    qsort(keys, nk, sizeof *keys, mkey_cmp);
    buf_putc(s->b, '{');
    for (size_t i = 0; i < nk && rc == 0; i++) {
      if (i) buf_putc(s->b, ',');
      if (!put_string(s->b, keys[i].s, keys[i].n)) {
        s->err = ms_strdup("an attribute name is not valid UTF-8");
        rc = -1;
        break;
      }
      buf_putc(s->b, ':');
      s->size += keys[i].n + (depth ? 1 : 0);
      lua_pushlstring(L, keys[i].s, keys[i].n);
      lua_rawget(L, idx);
      rc = ser_value(s, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
    }
    if (rc == 0) buf_putc(s->b, '}');
  }
  if (keys != small) free(keys);
  return rc;
}

static int ser_value(ser_t *s, int idx, int depth) {
  lua_State *L = s->L;
  buf_t *b = s->b;
  size_t n;
  const char *p;
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    p = lua_tolstring(L, idx, &n);
    buf_append(b, "{\"S\":", 5);
    if (!put_string(b, p, n)) {
      s->err = ms_strdup("a string is not valid UTF-8");
      return -1;
    }
    s->size += n;
    return buf_putc(b, '}');
  case LUA_TNUMBER: {
    buf_append(b, "{\"N\":\"", 6);
    size_t at = b->len;
    if (number_text(L, idx, b, &s->err) < 0) return -1;
    s->size += (b->len - at + 1) / 2 + 1;
    return buf_append(b, "\"}", 2);
  }
  case LUA_TBOOLEAN:
    s->size += 1;
    return buf_puts(b, lua_toboolean(L, idx) ? "{\"BOOL\":true}"
                                             : "{\"BOOL\":false}");
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) {
      s->size += 1;
      return buf_puts(b, "{\"NULL\":true}");
    }
    break;
  case LUA_TTABLE: {
    if (depth > NEST_MAX) {
      s->err = ms_strdup("Nesting Levels have exceeded supported limits");
      return -1;
    }
    int kind = table_kind(L, idx);
    s->size += 3;
    if (kind == 0) {
      buf_append(b, "{\"M\":", 5);
      if (ser_map(s, idx, depth) < 0) return -1;
      return buf_putc(b, '}');
    }
    if (kind == 1) {
      buf_append(b, "{\"L\":[", 6);
      lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
      for (lua_Integer i = 1; i <= len; i++) {
        if (i > 1) buf_putc(b, ',');
        lua_rawgeti(L, idx, i);
        s->size += 1;
        int rc = ser_value(s, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (rc < 0) return -1;
      }
      return buf_append(b, "]}", 2);
    }
    s->err = ms_strdup("a table with keys that are neither 1..n nor "
                       "strings cannot be an attribute value");
    return -1;
  }
  default:
    break;
  }
  s->err = ms_asprintf("a %s cannot be an attribute value",
                       luaL_typename(L, idx));
  return -1;
}

/* The AttributeValue of a key attribute (a scalar). */
static json_t *key_av(lua_State *L, int idx, char **err) {
  buf_t b;
  buf_init(&b);
  json_t *v = NULL;
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    v = json_pack("{s:s%}", "S", s, n);
    break;
  }
  case LUA_TNUMBER:
    if (number_text(L, idx, &b, err) == 0) v = json_pack("{s:s}", "N",
                                                          b.data);
    break;
  case LUA_TBOOLEAN:
    v = json_pack("{s:b}", "BOOL", lua_toboolean(L, idx));
    break;
  default:
    v = json_pack("{s:{}}", "M");
    break;
  }
  buf_free(&b);
  if (!v && !*err) *err = ms_strdup("a key value is not valid");
  return v;
}

typedef struct rows {
  lua_State *L;
  int list;                    /* stack index of the items */
  const char *names[2];        /* the key attributes (names[1] may be NULL) */
  json_t *key;                 /* reused for every row: {name: AV} */
  json_t *av[2][2];            /* reused {"S": ..} and {"N": ..} per key */
  buf_t num;
} rows_t;

static void rows_init(rows_t *r, lua_State *L, int list) {
  memset(r, 0, sizeof *r);
  r->L = L;
  r->list = list;
  r->key = json_object();
  for (int k = 0; k < 2; k++) {
    r->av[k][0] = json_pack("{s:s}", "S", "");
    r->av[k][1] = json_pack("{s:s}", "N", "0");
  }
  buf_init(&r->num);
}

static void rows_free(rows_t *r) {
  json_decref(r->key);
  for (int k = 0; k < 2; k++) {
    json_decref(r->av[k][0]);
    json_decref(r->av[k][1]);
  }
  buf_free(&r->num);
}

/* Set key attribute k of r->key from the Lua value at idx, reusing the
 * row's AttributeValues for strings and numbers. */
static int set_key(rows_t *r, int k, int idx, char **err) {
  lua_State *L = r->L;
  const char *name = r->names[k];
  json_t *av;
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    av = r->av[k][0];
    json_string_setn(json_object_get(av, "S"), s, n);
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    r->num.len = 0;
    if (number_text(L, idx, &r->num, err) < 0) return -1;
    av = r->av[k][1];
    json_string_setn(json_object_get(av, "N"), r->num.data, r->num.len);
  } else if (!(av = key_av(L, idx, err))) {
    return -1;
  } else {
    json_object_set_new(r->key, name, av);
    return 0;
  }
  if (json_object_get(r->key, name) != av) json_object_set(r->key, name, av);
  return 0;
}

static int next_row(void *ud, size_t i, buf_t *text, json_t **key,
                    fault_t *f) {
  rows_t *r = ud;
  lua_State *L = r->L;
  lua_rawgeti(L, r->list, (lua_Integer)i + 1);
  int item = lua_gettop(L);
  ser_t s = {L, text, 0, NULL};
  int rc = 0;
  if (lua_type(L, item) != LUA_TTABLE) {
    s.err = ms_strdup("an item must be a table of attributes");
    rc = -1;
  }
  if (rc == 0) rc = ser_map(&s, item, 0);
  if (rc == 0 && s.size > TABLES_ITEM_MAX) {
    fault_set(f, "ValidationException", "Item size has exceeded the "
              "maximum allowed size");
    lua_pop(L, 1);
    return -1;
  }
  for (int k = 0; rc == 0 && k < 2 && r->names[k]; k++) {
    lua_getfield(L, item, r->names[k]);
    if (lua_isnil(L, -1)) json_object_del(r->key, r->names[k]);
    else rc = set_key(r, k, lua_gettop(L), &s.err);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (rc < 0) {
    fault_set(f, "ValidationException", "One or more parameter values were "
              "invalid: %s", s.err ? s.err : "invalid item");
    free(s.err);
    return -1;
  }
  *key = json_incref(r->key);
  return 0;
}

/* ---- the handle --------------------------------------------------------- */

static handle_t *check_handle(lua_State *L) {
  handle_t *h = luaL_checkudata(L, 1, HANDLE_MT);
  if (!h->t) luaL_error(L, "moonstep.tables: the store is closed");
  return h;
}

static int l_open(lua_State *L) {
  const char *path = luaL_optstring(L, 1, NULL);
  handle_t *h = lua_newuserdatauv(L, sizeof *h, 0);
  h->t = NULL;
  luaL_setmetatable(L, HANDLE_MT);
  char *err = NULL;
  h->t = tables_open(path, &err);
  if (!h->t) {
    lua_pushnil(L);
    lua_pushstring(L, err ? err : "cannot open the table store");
    free(err);
    return 2;
  }
  return 1;
}

static int l_gc(lua_State *L) {
  handle_t *h = luaL_checkudata(L, 1, HANDLE_MT);
  tables_close(h->t);
  h->t = NULL;
  return 0;
}

static int call(lua_State *L, bool plain) {
  handle_t *h = check_handle(L);
  const char *action = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  char *err = NULL;
  json_t *req = luabridge_to_json(L, 3, &err);
  if (req && plain) {
    json_t *c = conv(req, to_av, 0, &err);
    json_decref(req);
    req = c;
  }
  if (!req) {
    lua_pushnil(L);
    lua_pushstring(L, "ValidationException");
    lua_pushstring(L, err ? err : "the request cannot be converted");
    free(err);
    return 3;
  }
  fault_t f = FAULT_INIT;
  json_t *detail = NULL;
  json_t *r = tables_call(h->t, action, req, 0, &detail, &f);
  json_decref(req);
  if (r) {
    if (plain) {
      json_t *c = conv(r, to_plain, 0, &err);
      json_decref(r);
      r = c;
    }
    luabridge_push(L, r);
    json_decref(r);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, f.error);
  lua_pushstring(L, f.cause ? f.cause : "");
  fault_clear(&f);
  if (!detail) return 3;
  if (plain) {
    json_t *c = conv(detail, to_plain, 0, &err);
    json_decref(detail);
    detail = c;
  }
  luabridge_push(L, detail);
  json_decref(detail);
  return 4;
}

static int l_call(lua_State *L) { return call(L, true); }
static int l_raw(lua_State *L) { return call(L, false); }

/* handle:put_many(table, items) -> true; false when the table has
 * indexes (use call("BatchWriteItem")); nil, name, message on failure. */
static int l_put_many(lua_State *L) {
  handle_t *h = check_handle(L);
  const char *name = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  rows_t r;
  rows_init(&r, L, 3);
  fault_t f = FAULT_INIT;
  int rc = tables_key_names(h->t, name, &r.names[0], &r.names[1], &f);
  if (rc == 0)
    rc = tables_put_rows(h->t, name, (size_t)lua_rawlen(L, 3), next_row, &r,
                         &f);
  rows_free(&r);
  if (rc >= 0) {
    lua_pushboolean(L, rc == 0);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, f.error);
  lua_pushstring(L, f.cause ? f.cause : "");
  fault_clear(&f);
  return 3;
}

static int l_close(lua_State *L) { return l_gc(L); }

static int l_default_path(lua_State *L) {
  lua_pushstring(L, tables_default_path());
  return 1;
}

static const luaL_Reg handle_methods[] = {
  {"call", l_call},
  {"raw", l_raw},
  {"put_many", l_put_many},
  {"close", l_close},
  {NULL, NULL},
};

static const luaL_Reg funcs[] = {
  {"open", l_open},
  {"default_path", l_default_path},
  {NULL, NULL},
};

int luaopen_moonstep_core_tables(lua_State *L) {
  luabridge_init(L);
  if (luaL_newmetatable(L, HANDLE_MT)) {
    luaL_newlib(L, handle_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
