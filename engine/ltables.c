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
 *   handle:put_many(table, items) -> batch_write's bulk path
 *   handle:writer(table)         -> writer: add(item), flush(), #writer
 *   handle:batch_get(table, keys[, projection]) -> items (string keys;
 *                                  false: use call)
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

/* Room for n more bytes (and the NUL buf_t keeps) at the end of b; the
 * caller writes there and moves b->len itself. */
static char *room(buf_t *b, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    b->data = ms_realloc(b->data, cap);
    b->cap = cap;
  }
  return b->data + b->len;
}

/* Bytes that stand for themselves inside a JSON string (printable ASCII
 * but '"' and '\\'). */
static const unsigned char plain[256] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};  /* 0x80 and up: 0 */

/* Append s as a JSON string; false when s is not valid UTF-8. */
static bool put_string(buf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n && plain[u[i]]) i++;
  if (i == n) {  /* the common case: nothing to escape or check */
    char *w = room(b, n + 2);
    w[0] = '"';
    memcpy(w + 1, s, n);
    w[n + 1] = '"';
    b->len += n + 2;
    b->data[b->len] = '\0';
    return true;
  }
  buf_putc(b, '"');
  size_t run = i;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (plain[c]) {
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

/* Append the digits of u, zero-padded to at least min (1..20) digits. */
static void put_digits(buf_t *out, unsigned long long u, int min) {
  char tmp[24], *p = tmp + sizeof tmp;
  do *--p = (char)('0' + u % 10); while (u /= 10);
  while (tmp + sizeof tmp - p < min) *--p = '0';
  buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
}

/* The text "%.15g" gives for d when d has a short decimal form (most
 * prices, amounts and measures: "1918.59"), without printf: the fewest
 * decimals k <= 8 such that r = d * 10^k rounded is an integer under
 * 10^15 and r / 10^k == d. The division is correctly rounded, as strtod
 * is, so that text reads back as d; a decimal of at most 15 significant
 * digits that reads back as d is unique (DBL_DIG is 15), so it is what
 * %.15g prints with its trailing zeros cut. Only 1e-4 <= |d| < 1e15,
 * where %g prints no exponent. Returns false (nothing written)
 * otherwise. */
static bool short_decimal(double d, buf_t *out) {
  static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
  double a = fabs(d);
  if (!(a >= 1e-4 && a < 1e15)) return false;
  for (int k = 0; k <= 8; k++) {
    double r = nearbyint(a * p10[k]);
    if (r >= 1e15) return false;
    if (r / p10[k] != a) continue;
    unsigned long long u = (unsigned long long)r;
    unsigned long long ip = u, fp = 0;
    for (int j = 0; j < k; j++) ip /= 10;
    unsigned long long scale = 1;
    for (int j = 0; j < k; j++) scale *= 10;
    fp = u - ip * scale;
    if (d < 0) buf_putc(out, '-');
    put_digits(out, ip, 1);
    if (k > 0 && fp > 0) {
      int dec = k;
      while (fp % 10 == 0) {
        fp /= 10;
        dec--;
      }
      buf_putc(out, '.');
      put_digits(out, fp, dec);
    }
    return true;
  }
  return false;
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
  if (short_decimal(d, out)) return 0;
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
  int at;                      /* the value's stack index */
} mkey_t;

static int mkey_cmp(const void *a, const void *b) {
  const mkey_t *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Insertion sort: items have a handful of attributes. */
static void mkey_sort(mkey_t *k, size_t n) {
  if (n > 24) {
    qsort(k, n, sizeof *k, mkey_cmp);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    mkey_t x = k[i];
    size_t j = i;
    for (; j > 0 && mkey_cmp(&k[j - 1], &x) > 0; j--) k[j] = k[j - 1];
    k[j] = x;
  }
}

static int ser_map(ser_t *s, int idx, int depth) {
  lua_State *L = s->L;
  mkey_t small[16], *keys = small;
  size_t nk = 0, cap = sizeof small / sizeof *small;
  int rc = 0, base = lua_gettop(L);
  /* the values stay on the stack (in traversal order) while the names,
   * kept alive by the table, are sorted */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      s->err = ms_strdup("an item's attribute names must be strings");
      rc = -1;
      break;
    }
    if (!lua_checkstack(L, 3)) {
      s->err = ms_strdup("an item has too many attributes");
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
    keys[nk].at = lua_gettop(L) - 1;
    nk++;
    lua_insert(L, -2);  /* value below, the name on top for lua_next */
  }
  if (rc == 0) {
    mkey_sort(keys, nk);
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
      rc = ser_value(s, keys[i].at, depth + 1);
    }
    if (rc == 0) buf_putc(s->b, '}');
  }
  lua_settop(L, base);
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

static int respond(lua_State *L, json_t *r, json_t *detail, fault_t *fp,
                   bool plain);

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
  return respond(L, r, detail, &f, plain);
}

/* Push a call's outcome: the response r, or nil, name, message[, detail]
 * for the failure f (cleared). Takes r and detail. */
static int respond(lua_State *L, json_t *r, json_t *detail, fault_t *fp,
                   bool plain) {
  char *err = NULL;
  fault_t f = *fp;
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

/* The Keys of a batch_get straight from Lua, when every key is a map of
 * string names to string values (valid UTF-8) and keys a plain list:
 * the same request call would build, without the generic conversion.
 * NULL when not (the caller takes the generic path). */
static json_t *fast_keys(lua_State *L, int idx) {
  size_t n = (size_t)lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    lua_pop(L, 1);
  }
  if (count != n) return NULL;  /* not a list 1..n */
  json_t *keys = json_array();
  for (size_t i = 1; i <= n; i++) {
    json_t *key = NULL;
    lua_rawgeti(L, idx, (lua_Integer)i);
    if (lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) == 0) {
      key = json_object();
      int t = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, t)) {
        size_t kn, vn;
        json_t *av = NULL;
        const char *k = NULL;
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
          k = lua_tolstring(L, -2, &kn);
        const char *v = k && strlen(k) == kn ? lua_tolstring(L, -1, &vn)
                                             : NULL;
        json_t *s = v ? json_stringn(v, vn) : NULL;  /* NULL: not UTF-8 */
        if (s) {
          av = json_object();
          json_object_set_new_nocheck(av, "S", s);
        }
        if (!av || json_object_set_new(key, k, av)) {
          json_decref(key);
          key = NULL;
          lua_pop(L, 2);
          break;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
    if (!key) {
      json_decref(keys);
      return NULL;
    }
    json_array_append_new(keys, key);
  }
  return keys;
}

/* handle:batch_get(table, keys[, projection]) -> the items found, or
 * false when the keys are not of the simple form (string attributes:
 * use call("BatchGetItem")); nil, name, message[, detail] on failure. */
static int l_batch_get(lua_State *L) {
  handle_t *h = check_handle(L);
  const char *name = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  const char *proj = luaL_optstring(L, 4, NULL);
  json_t *keys = fast_keys(L, 3);
  if (!keys) {
    lua_pushboolean(L, 0);
    return 1;
  }
  json_t *spec = json_pack("{s:o}", "Keys", keys);
  if (proj) json_object_set_new(spec, "ProjectionExpression",
                                json_string(proj));
  json_t *req = json_pack("{s:{s:o}}", "RequestItems", name, spec);
  fault_t f = FAULT_INIT;
  json_t *detail = NULL;
  json_t *r = req ? tables_call(h->t, "BatchGetItem", req, 0, &detail, &f)
                  : NULL;
  json_decref(req);
  if (!r && !fault_is_set(&f)) {
    lua_pushboolean(L, 0);  /* a name or projection jansson refused */
    return 1;
  }
  if (r) {  /* the items only */
    json_t *items = json_incref(json_object_get(
        json_object_get(r, "Responses"), name));
    json_decref(r);
    r = json_pack("{s:o}", "Items", items ? items : json_array());
    int rc = respond(L, r, NULL, &f, true);
    lua_getfield(L, -1, "Items");
    lua_remove(L, -2);
    return rc;
  }
  return respond(L, r, detail, &f, true);
}

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

/* ---- the writer: items serialized as they are added ------------------ */

#define WRITER_MT "moonstep.tables.writer"

/* handle:writer(table) -> writer. writer:add(item) turns the item into
 * its stored text at once (the Lua table may then be dropped or reused);
 * writer:flush() writes every item added since the last flush in one
 * transaction (all or none) and forgets them; #writer: the items
 * waiting. add and flush return true, or nil, name, message. */
typedef struct writer {
  char *table;
  char *names[2];              /* the key attributes (names[1] may be NULL) */
  buf_t text;                  /* the items' texts, one after another */
  buf_t keys;                  /* per item and key attribute: a type byte
                                  (S, N, X absent, J AttributeValue JSON),
                                  a size_t length, the bytes */
  size_t *ends;                /* per item: its text's and keys' ends */
  size_t n, cap;
} writer_t;

static writer_t *check_writer(lua_State *L) {
  writer_t *w = luaL_checkudata(L, 1, WRITER_MT);
  if (!w->table) luaL_error(L, "moonstep.tables: the writer is closed");
  return w;
}

static void writer_clear(writer_t *w) {
  w->text.len = w->keys.len = 0;
  w->n = 0;
}

static int l_writer_gc(lua_State *L) {
  writer_t *w = luaL_checkudata(L, 1, WRITER_MT);
  free(w->table);
  free(w->names[0]);
  free(w->names[1]);
  buf_free(&w->text);
  buf_free(&w->keys);
  free(w->ends);
  memset(w, 0, sizeof *w);
  return 0;
}

static int l_writer(lua_State *L) {
  handle_t *h = check_handle(L);
  const char *name = luaL_checkstring(L, 2);
  fault_t f = FAULT_INIT;
  const char *pk, *sk;
  if (tables_key_names(h->t, name, &pk, &sk, &f) < 0) {
    lua_pushnil(L);
    lua_pushstring(L, f.error);
    lua_pushstring(L, f.cause ? f.cause : "");
    fault_clear(&f);
    return 3;
  }
  writer_t *w = lua_newuserdatauv(L, sizeof *w, 1);
  memset(w, 0, sizeof *w);
  luaL_setmetatable(L, WRITER_MT);
  w->table = ms_strdup(name);
  w->names[0] = ms_strdup(pk);
  w->names[1] = sk ? ms_strdup(sk) : NULL;
  lua_pushvalue(L, 1);           /* the store stays open while we live */
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static void put_key(buf_t *b, char type, const char *s, size_t n) {
  buf_putc(b, type);
  buf_append(b, (const char *)&n, sizeof n);
  buf_append(b, s, n);
}

static int writer_fail(lua_State *L, const char *name, char *msg) {
  lua_pushnil(L);
  lua_pushstring(L, name);
  lua_pushfstring(L, "One or more parameter values were invalid: %s",
                  msg ? msg : "invalid item");
  free(msg);
  return 3;
}

static int l_writer_add(lua_State *L) {
  writer_t *w = check_writer(L);
  lua_settop(L, 2);
  if (lua_type(L, 2) != LUA_TTABLE)
    return writer_fail(L, "ValidationException",
                       ms_strdup("an item must be a table of attributes"));
  size_t t0 = w->text.len, k0 = w->keys.len;
  ser_t s = {L, &w->text, 0, NULL};
  int rc = ser_map(&s, 2, 0);
  if (rc == 0 && s.size > TABLES_ITEM_MAX) {
    w->text.len = t0;
    lua_pushnil(L);
    lua_pushstring(L, "ValidationException");
    lua_pushstring(L, "Item size has exceeded the maximum allowed size");
    return 3;
  }
  for (int k = 0; rc == 0 && k < 2 && w->names[k]; k++) {
    lua_getfield(L, 2, w->names[k]);
    size_t n;
    const char *p;
    if (lua_type(L, -1) == LUA_TSTRING) {
      p = lua_tolstring(L, -1, &n);
      put_key(&w->keys, 'S', p, n);
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
      buf_t num;
      buf_init(&num);
      rc = number_text(L, lua_gettop(L), &num, &s.err);
      if (rc == 0) put_key(&w->keys, 'N', num.data, num.len);
      buf_free(&num);
    } else if (lua_isnil(L, -1)) {
      put_key(&w->keys, 'X', "", 0);
    } else {
      buf_t av;
      buf_init(&av);
      ser_t s2 = {L, &av, 0, NULL};
      rc = ser_value(&s2, lua_gettop(L), 1);
      if (rc == 0) put_key(&w->keys, 'J', av.data, av.len);
      else s.err = s2.err;
      buf_free(&av);
    }
    lua_pop(L, 1);
  }
  if (rc < 0) {
    w->text.len = t0;
    w->keys.len = k0;
    return writer_fail(L, "ValidationException", s.err);
  }
  if (w->n == w->cap) {
    w->cap = w->cap ? w->cap * 2 : 256;
    w->ends = ms_realloc(w->ends, w->cap * 2 * sizeof *w->ends);
  }
  w->ends[2 * w->n] = w->text.len;
  w->ends[2 * w->n + 1] = w->keys.len;
  w->n++;
  lua_pushboolean(L, 1);
  return 1;
}

typedef struct wrows {
  writer_t *w;
  rows_t r;
} wrows_t;

/* tables_row_fn over the writer's items. */
static int writer_row(void *ud, size_t i, buf_t *text, json_t **key,
                      fault_t *f) {
  wrows_t *wr = ud;
  writer_t *w = wr->w;
  rows_t *r = &wr->r;
  size_t t0 = i ? w->ends[2 * i - 2] : 0, t1 = w->ends[2 * i];
  size_t k = i ? w->ends[2 * i - 1] : 0;
  buf_append(text, w->text.data + t0, t1 - t0);
  for (int a = 0; a < 2 && w->names[a]; a++) {
    char type = w->keys.data[k];
    size_t n;
    memcpy(&n, w->keys.data + k + 1, sizeof n);
    const char *p = w->keys.data + k + 1 + sizeof n;
    k += 1 + sizeof n + n;
    const char *name = w->names[a];
    json_t *av = NULL;
    if (type == 'X') {
      json_object_del(r->key, name);
      continue;
    }
    if (type == 'J') {
      json_object_set_new(r->key, name, json_loadb(p, n, 0, NULL));
      continue;
    }
    av = r->av[a][type == 'N'];
    json_string_setn(json_object_get(av, type == 'N' ? "N" : "S"), p, n);
    if (json_object_get(r->key, name) != av) json_object_set(r->key, name, av);
  }
  (void)f;
  *key = json_incref(r->key);
  return 0;
}

/* An indexed table: the items as BatchWriteItem's PutRequests. */
static json_t *writer_request(writer_t *w) {
  json_t *reqs = json_array();
  for (size_t i = 0; i < w->n; i++) {
    size_t t0 = i ? w->ends[2 * i - 2] : 0, t1 = w->ends[2 * i];
    json_t *item = json_loadb(w->text.data + t0, t1 - t0, 0, NULL);
    json_array_append_new(reqs, json_pack("{s:{s:o}}", "PutRequest",
                                          "Item", item));
  }
  return json_pack("{s:{s:o}}", "RequestItems", w->table, reqs);
}

static int l_writer_flush(lua_State *L) {
  writer_t *w = check_writer(L);
  lua_getiuservalue(L, 1, 1);
  handle_t *h = luaL_checkudata(L, -1, HANDLE_MT);
  if (!h->t) return luaL_error(L, "moonstep.tables: the store is closed");
  fault_t f = FAULT_INIT;
  int rc = 0;
  if (w->n) {
    wrows_t wr = {w, {0}};
    rows_init(&wr.r, L, 0);
    wr.r.names[0] = w->names[0];
    wr.r.names[1] = w->names[1];
    rc = tables_put_rows(h->t, w->table, w->n, writer_row, &wr, &f);
    rows_free(&wr.r);
    if (rc == 1) {
      json_t *req = writer_request(w), *detail = NULL;
      json_t *r = tables_call(h->t, "BatchWriteItem", req, 0, &detail, &f);
      json_decref(req);
      json_decref(detail);
      rc = r ? 0 : -1;
      json_decref(r);
    }
  }
  writer_clear(w);
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, f.error);
  lua_pushstring(L, f.cause ? f.cause : "");
  fault_clear(&f);
  return 3;
}

static int l_writer_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_writer(L)->n);
  return 1;
}

static const luaL_Reg writer_methods[] = {
  {"add", l_writer_add},
  {"flush", l_writer_flush},
  {NULL, NULL},
};

static int l_close(lua_State *L) { return l_gc(L); }

static int l_default_path(lua_State *L) {
  lua_pushstring(L, tables_default_path());
  return 1;
}

static const luaL_Reg handle_methods[] = {
  {"call", l_call},
  {"raw", l_raw},
  {"put_many", l_put_many},
  {"batch_get", l_batch_get},
  {"writer", l_writer},
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
  if (luaL_newmetatable(L, WRITER_MT)) {
    luaL_newlib(L, writer_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_writer_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, l_writer_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
