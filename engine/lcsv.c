/* lcsv.c - moonstep.core.csv: the Lua face of csv.c, which builds the
 * records as Lua tables itself (one table per record, no Lua code per
 * field), so that lua/moonstep/csv.lua only checks options and wraps.
 *
 *   core.parser(o)      -> parser; o holds checked options (see csv.lua)
 *   parser:feed(s)      -> array of the records s completes
 *   parser:finish()     -> array of the last record(s)
 *   parser:count(s|nil) -> number of records, no tables built (nil: end)
 *   parser:records(src) -> iterator, parser; src a string or a function
 *                          returning chunks, then nil; yields rec, line
 *                          (o.reuse: the same table every time, refilled)
 *   core.encoder(o)     -> encoder; encoder:row(r), encoder:rows(rs)
 *
 * Bad records: strict raises the error table, else o.on_error(err) is
 * called and reading goes on. The error table {line=, column=, message=,
 * raw=, record_line=, errorType="CsvError", errorMessage=} prints as
 * "line L, column C: message" and becomes Error/Cause in a Task handler.
 */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "lmodules.h"
#include "luabridge.h"

#define PARSER_MT "moonstep.csv.parser"
#define ENCODER_MT "moonstep.csv.encoder"
#define ERROR_MT "moonstep.csv.error"

/* Uservalue slots of a parser. */
enum { UV_NAMES = 1, UV_ONERROR, UV_CHUNK, UV_SOURCE, UV_REUSE,
       UV_N = UV_REUSE };

enum { H_NONE, H_FIRST, H_NAMES };

typedef struct lparser {
  csv_t *p;
  int header;         /* H_...: H_FIRST waits for the header row */
  bool convert;       /* numbers, booleans, "" -> nil (null in arrays) */
  bool strict;        /* raise on a bad record */
  bool eof;           /* the source has no more chunks */
  bool reuse;         /* the iterator fills one table for every record */
  bool iter;          /* the record being pushed is for the iterator */
  size_t off;         /* bytes of the held chunk already parsed */
} lparser_t;

/* ---- options ---------------------------------------------------------- */

static lua_Integer opt_int(lua_State *L, int t, const char *k,
                          lua_Integer def) {
  lua_getfield(L, t, k);
  lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

static bool opt_bool(lua_State *L, int t, const char *k, bool def) {
  lua_getfield(L, t, k);
  bool v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* A one-byte option; false or "" is -1 (none). */
static int opt_byte(lua_State *L, int t, const char *k, int def) {
  lua_getfield(L, t, k);
  int v = def;
  size_t n;
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *s = lua_tolstring(L, -1, &n);
    v = n ? (unsigned char)s[0] : -1;
  } else if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
    v = -1;
  }
  lua_pop(L, 1);
  return v;
}

static void read_opts(lua_State *L, int t, csv_opts_t *o) {
  csv_opts_init(o);
  if (t == 0) return;
  o->delim = opt_byte(L, t, "delimiter", ',');
  o->quote = opt_byte(L, t, "quote", '"');
  o->skip_empty = opt_bool(L, t, "skip_empty", true);
  o->backslash = opt_bool(L, t, "backslash", false);
  if (opt_bool(L, t, "ragged", false)) o->fields = SIZE_MAX;
  lua_Integer mf = opt_int(L, t, "max_field", 0);
  lua_Integer mr = opt_int(L, t, "max_record", 0);
  if (mf > 0) o->max_field = (size_t)mf;
  if (mr > 0) o->max_record = (size_t)mr;
}

/* ---- records as Lua values -------------------------------------------- */

/* Decimal numbers as csv.lua documents them: -?(0|[1-9]d*)(.d+)?(e[+-]?d+)?
 * ("007", "1.", "+1", "0x10", " 1" stay strings). */
static bool is_number(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i == n) return false;
  if (s[i] == '0') i++;
  else if (s[i] >= '1' && s[i] <= '9')
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  else return false;
  if (i < n && s[i] == '.') {
    size_t j = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == j) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t j = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == j) return false;
  }
  return i == n;
}

/* Push a field's value; returns false (nothing pushed) for a converted
 * empty field in a keyed record. */
static bool push_value(lua_State *L, const csv_field_t *f, bool convert,
                       bool keyed) {
  if (!convert) {
    lua_pushlstring(L, f->s, f->len);
    return true;
  }
  if (f->len == 0) {
    if (keyed) return false;
    lua_pushlightuserdata(L, NULL);  /* json.null keeps array positions */
    return true;
  }
  if (f->len == 4 && memcmp(f->s, "true", 4) == 0) {
    lua_pushboolean(L, 1);
  } else if (f->len == 5 && memcmp(f->s, "false", 5) == 0) {
    lua_pushboolean(L, 0);
  } else if (!is_number(f->s, f->len) || !lua_stringtonumber(L, f->s)) {
    lua_pushlstring(L, f->s, f->len);
  }
  return true;
}

/* Push the iterator's reused record table, refilled with r (every field
 * set, the ones r lacks to nil). */
static void push_reused(lua_State *L, lparser_t *lp, int ud,
                        const csv_record_t *r) {
  bool keyed = lp->header == H_NAMES;
  if (lua_getiuservalue(L, ud, UV_REUSE) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, keyed ? 0 : (int)(r->n < 64 ? r->n : 64),
                    keyed ? (int)(r->n < 64 ? r->n : 64) : 0);
    if (!keyed) {
      lua_pushvalue(L, lua_upvalueindex(1));
      lua_setmetatable(L, -2);
    }
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, ud, UV_REUSE);
  }
  int t = lua_gettop(L);
  if (keyed) {
    lua_getiuservalue(L, ud, UV_NAMES);
    int names = lua_gettop(L);
    lua_Integer nn = (lua_Integer)lua_rawlen(L, names);
    for (lua_Integer i = 0; i < nn; i++) {
      lua_rawgeti(L, names, i + 1);
      if ((size_t)i >= r->n ||
          !push_value(L, &r->f[i], lp->convert, true))
        lua_pushnil(L);
      lua_rawset(L, t);
    }
    lua_pop(L, 1);
    return;
  }
  lua_Integer old = (lua_Integer)lua_rawlen(L, t);
  for (size_t i = 0; i < r->n; i++) {
    push_value(L, &r->f[i], lp->convert, false);
    lua_rawseti(L, t, (lua_Integer)i + 1);
  }
  for (lua_Integer i = old; i > (lua_Integer)r->n; i--) {
    lua_pushnil(L);
    lua_rawseti(L, t, i);
  }
}

/* Push the record; lp's uservalues must be reachable at index ud. */
static void push_record(lua_State *L, lparser_t *lp, int ud,
                        const csv_record_t *r) {
  luaL_checkstack(L, 4, "csv record");
  if (lp->reuse && lp->iter) {
    push_reused(L, lp, ud, r);
    return;
  }
  if (lp->header == H_NAMES) {
    lua_getiuservalue(L, ud, UV_NAMES);
    int names = lua_gettop(L);
    lua_Integer nn = (lua_Integer)lua_rawlen(L, names);
    lua_createtable(L, 0, (int)(r->n < 64 ? r->n : 64));
    for (size_t i = 0; i < r->n && (lua_Integer)i < nn; i++) {
      lua_rawgeti(L, names, (lua_Integer)i + 1);
      if (push_value(L, &r->f[i], lp->convert, true)) lua_rawset(L, -3);
      else lua_pop(L, 1);
    }
    lua_remove(L, names);
    return;
  }
  lua_createtable(L, (int)(r->n < INT32_MAX ? r->n : INT32_MAX), 0);
  for (size_t i = 0; i < r->n; i++) {
    push_value(L, &r->f[i], lp->convert, false);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
}

/* Push the error table of the parser's last bad record. */
static void push_error(lua_State *L, const csv_error_t *e) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, e->line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, e->column);
  lua_setfield(L, -2, "column");
  lua_pushinteger(L, e->record_line);
  lua_setfield(L, -2, "record_line");
  lua_pushstring(L, e->message);
  lua_setfield(L, -2, "message");
  lua_pushlstring(L, e->raw ? e->raw : "", e->raw_len);
  lua_setfield(L, -2, "raw");
  if (e->truncated) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "truncated");
  }
  lua_pushliteral(L, "CsvError");
  lua_setfield(L, -2, "errorType");
  char *text = csv_error_text(e);
  lua_pushstring(L, text);
  free(text);
  lua_setfield(L, -2, "errorMessage");
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
}

/* Handle what csv_parse/csv_finish returned. Returns true when a record
 * was pushed; a header row is taken as names; a bad record raises
 * (strict) or goes to on_error. */
static bool produce(lua_State *L, lparser_t *lp, int ud, int r,
                    bool build) {
  if (r == CSV_RECORD) {
    const csv_record_t *rec = csv_record(lp->p);
    if (lp->header == H_FIRST) {
      lua_createtable(L, (int)rec->n, 0);
      for (size_t i = 0; i < rec->n; i++) {
        lua_pushlstring(L, rec->f[i].s, rec->f[i].len);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_setiuservalue(L, ud, UV_NAMES);
      lp->header = H_NAMES;
      return false;
    }
    if (build) push_record(L, lp, ud, rec);
    return true;
  }
  if (r != CSV_BAD) return false;
  push_error(L, csv_error(lp->p));
  if (lp->strict) lua_error(L);
  if (lua_getiuservalue(L, ud, UV_ONERROR) == LUA_TNIL) {
    lua_pop(L, 2);
    return false;
  }
  lua_insert(L, -2);
  lua_call(L, 1, 0);
  return false;
}

static lparser_t *check_parser(lua_State *L) {
  lparser_t *lp = luaL_checkudata(L, 1, PARSER_MT);
  if (!lp->p) luaL_error(L, "csv: the parser is closed");
  return lp;
}

/* ---- the parser's methods -------------------------------------------- */

static int l_parser(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  csv_opts_t o;
  read_opts(L, 1, &o);
  lparser_t *lp = lua_newuserdatauv(L, sizeof *lp, UV_N);
  memset(lp, 0, sizeof *lp);
  lua_pushvalue(L, lua_upvalueindex(3));
  lua_setmetatable(L, -2);
  int ud = lua_gettop(L);
  lp->convert = opt_bool(L, 1, "convert", false);
  lp->strict = opt_bool(L, 1, "strict", true);
  lp->reuse = opt_bool(L, 1, "reuse", false);
  lua_getfield(L, 1, "on_error");
  lua_setiuservalue(L, ud, UV_ONERROR);
  lua_getfield(L, 1, "header");
  if (lua_istable(L, -1)) {
    lp->header = H_NAMES;
    if (o.fields == 0) o.fields = lua_rawlen(L, -1);
    lua_setiuservalue(L, ud, UV_NAMES);
  } else {
    lp->header = lua_toboolean(L, -1) ? H_FIRST : H_NONE;
    lua_pop(L, 1);
  }
  lp->p = csv_new(&o);
  return 1;
}

static int l_gc(lua_State *L) {
  lparser_t *lp = luaL_checkudata(L, 1, PARSER_MT);
  csv_free(lp->p);
  lp->p = NULL;
  return 0;
}

/* Parse all of the string at idx (nil: the end of input) into the table
 * on top (build) or count the records. Returns the count. */
static lua_Integer run(lua_State *L, lparser_t *lp, int idx, bool build) {
  lua_Integer n = 0;
  lp->iter = false;  /* arrays of records never share a table */
  int t = lua_gettop(L);
  if (lua_isnil(L, idx)) {
    int r;
    while ((r = csv_finish(lp->p)) != CSV_END)
      if (produce(L, lp, 1, r, build)) {
        n++;
        if (build) lua_rawseti(L, t, n);
      }
    return n;
  }
  size_t len, off = 0, used;
  const char *s = luaL_checklstring(L, idx, &len);
  while (off < len) {
    int r = csv_parse(lp->p, s + off, len - off, &used);
    off += used;
    if (r == CSV_MORE) break;
    if (produce(L, lp, 1, r, build)) {
      n++;
      if (build) lua_rawseti(L, t, n);
    }
  }
  return n;
}

static int l_feed(lua_State *L) {
  lparser_t *lp = check_parser(L);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_newtable(L);
  run(L, lp, 2, true);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  return 1;
}

static int l_finish(lua_State *L) {
  lparser_t *lp = check_parser(L);
  lua_settop(L, 1);
  lua_pushnil(L);
  lua_newtable(L);
  run(L, lp, 2, true);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  return 1;
}

static int l_count(lua_State *L) {
  lparser_t *lp = check_parser(L);
  lua_settop(L, 2);
  lua_pushinteger(L, run(L, lp, 2, false));
  return 1;
}

/* The iterator: next record from the held chunk, then from the source. */
static int l_next(lua_State *L) {
  lparser_t *lp = check_parser(L);
  lua_settop(L, 1);
  for (;;) {
    if (lua_getiuservalue(L, 1, UV_CHUNK) == LUA_TSTRING) {
      size_t len, used;
      const char *s = lua_tolstring(L, -1, &len);
      while (lp->off < len) {
        int r = csv_parse(lp->p, s + lp->off, len - lp->off, &used);
        lp->off += used;
        if (r == CSV_MORE) break;
        lp->iter = true;
        bool got = produce(L, lp, 1, r, true);
        lp->iter = false;
        if (got) {
          lua_pushinteger(L, csv_record(lp->p)->line);
          return 2;
        }
      }
      lua_pushnil(L);
      lua_setiuservalue(L, 1, UV_CHUNK);
    }
    lua_pop(L, 1);
    if (!lp->eof) {
      if (lua_getiuservalue(L, 1, UV_SOURCE) != LUA_TFUNCTION) {
        lp->eof = true;
        lua_pop(L, 1);
        continue;
      }
      lua_call(L, 0, 1);
      if (lua_isnil(L, -1)) {
        lp->eof = true;
        lua_pop(L, 1);
      } else if (lua_type(L, -1) != LUA_TSTRING) {
        return luaL_error(L, "csv: the source returned a %s, not a string",
                          luaL_typename(L, -1));
      } else {
        lp->off = 0;
        lua_setiuservalue(L, 1, UV_CHUNK);
      }
      continue;
    }
    int r = csv_finish(lp->p);
    if (r == CSV_END) return 0;
    lp->iter = true;
    bool got = produce(L, lp, 1, r, true);
    lp->iter = false;
    if (got) {
      lua_pushinteger(L, csv_record(lp->p)->line);
      return 2;
    }
  }
}

static int l_records(lua_State *L) {
  lparser_t *lp = check_parser(L);
  lua_settop(L, 2);
  lp->off = 0;
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, UV_CHUNK);
  } else {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, UV_SOURCE);
  }
  lua_pushvalue(L, lua_upvalueindex(4));  /* l_next */
  lua_pushvalue(L, 1);
  return 2;
}

/* The header names, once known (else nil). */
static int l_header(lua_State *L) {
  lparser_t *lp = check_parser(L);
  if (lp->header != H_NAMES) return 0;
  lua_getiuservalue(L, 1, UV_NAMES);
  return 1;
}

/* ---- the encoder ------------------------------------------------------ */

typedef struct lencoder {
  csv_opts_t o;
  char eol[8];
  buf_t b;
  csv_field_t *f;       /* scratch fields of one row */
  size_t fcap;
  char *num;            /* scratch for numbers, fcap * 32 bytes */
} lencoder_t;

static int l_encoder(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lencoder_t *e = lua_newuserdatauv(L, sizeof *e, 1);
  memset(e, 0, sizeof *e);
  luaL_setmetatable(L, ENCODER_MT);
  read_opts(L, 1, &e->o);
  lua_getfield(L, 1, "eol");
  const char *eol = lua_isstring(L, -1) ? lua_tostring(L, -1) : "\n";
  snprintf(e->eol, sizeof e->eol, "%s", eol);
  lua_pop(L, 1);
  e->o.eol = e->eol;
  lua_getfield(L, 1, "header");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_setiuservalue(L, -2, 1);
  buf_init(&e->b);
  return 1;
}

static int l_encoder_gc(lua_State *L) {
  lencoder_t *e = luaL_checkudata(L, 1, ENCODER_MT);
  buf_free(&e->b);
  free(e->f);
  free(e->num);
  e->f = NULL;
  e->num = NULL;
  return 0;
}

/* Shortest text that reads back as the same double ("0.1", "2.0"). */
static void format_float(char *out, size_t n, double x) {
  if (isnan(x) || isinf(x)) {
    snprintf(out, n, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, x);
    if (strtod(out, NULL) == x) break;
  }
  if (strspn(out, "-0123456789") == strlen(out)) strncat(out, ".0", n - 1);
}

/* Fill e->f from the row at idx: an array, or (names at the top of the
  * stack, else nil) a table keyed by those names (raw access, so every
 * string stays referenced by the row). Raises for values that are not
 * strings, numbers, booleans, nil or json.null. */
static size_t row_fields(lua_State *L, lencoder_t *e, int idx, int names,
                         lua_Integer rowno) {
  luaL_checkstack(L, 4, "csv row");
  if (lua_type(L, idx) != LUA_TTABLE)
    luaL_error(L, "csv: row %I is a %s, not a table", rowno,
               luaL_typename(L, idx));
  size_t n = lua_isnil(L, names) ? lua_rawlen(L, idx) : lua_rawlen(L, names);
  if (n > e->fcap) {
    e->fcap = n + 16;
    e->f = ms_realloc(e->f, e->fcap * sizeof *e->f);
    e->num = ms_realloc(e->num, e->fcap * 32);
  }
  for (size_t i = 0; i < n; i++) {
    if (lua_isnil(L, names)) {
      lua_rawgeti(L, idx, (lua_Integer)i + 1);
    } else {
      lua_rawgeti(L, names, (lua_Integer)i + 1);
      lua_rawget(L, idx);
    }
    csv_field_t *f = &e->f[i];
    char *num = e->num + 32 * i;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
      f->s = lua_tolstring(L, -1, &f->len);  /* the row holds it */
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, -1))
        snprintf(num, 32, LUA_INTEGER_FMT, lua_tointeger(L, -1));
      else
        format_float(num, 32, lua_tonumber(L, -1));
      f->s = num;
      f->len = strlen(num);
      break;
    case LUA_TBOOLEAN:
      f->s = lua_toboolean(L, -1) ? "true" : "false";
      f->len = strlen(f->s);
      break;
    case LUA_TNIL:
      f->s = "";
      f->len = 0;
      break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, -1) == NULL) {
        f->s = "";
        f->len = 0;
        break;
      }
      /* fall through */
    default:
      luaL_error(L, "csv: row %I field %I is a %s", rowno,
                 (lua_Integer)i + 1, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  return n;
}

/* Encode the row at idx into e->b. */
static void encode_row(lua_State *L, lencoder_t *e, int idx, int names,
                       lua_Integer rowno) {
  int top = lua_gettop(L);
  size_t n = row_fields(L, e, idx, names, rowno);
  if (csv_encode_record(&e->b, &e->o, e->f, n) != MS_OK)
    luaL_error(L, "csv: row %I needs quotes but quote is off", rowno);
  lua_settop(L, top);
}

static int l_row(lua_State *L) {
  lencoder_t *e = luaL_checkudata(L, 1, ENCODER_MT);
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);   /* 3: names */
  e->b.len = 0;
  encode_row(L, e, 2, 3, 1);
  lua_pushlstring(L, e->b.data ? e->b.data : "", e->b.len);
  return 1;
}

static int l_rows(lua_State *L) {
  lencoder_t *e = luaL_checkudata(L, 1, ENCODER_MT);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);   /* 3: names */
  lua_pushnil(L);               /* 4: the row */
  e->b.len = 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    lua_replace(L, 4);
    encode_row(L, e, 4, 3, i);
  }
  lua_pushlstring(L, e->b.data ? e->b.data : "", e->b.len);
  if (e->b.cap > ((size_t)1 << 20)) {
    buf_free(&e->b);
    buf_init(&e->b);
  }
  return 1;
}

/* ---- registration ----------------------------------------------------- */

static int l_error_tostring(lua_State *L) {
  lua_getfield(L, 1, "errorMessage");
  return 1;
}

static const luaL_Reg parser_methods[] = {
  {"feed", l_feed},
  {"finish", l_finish},
  {"count", l_count},
  {"records", l_records},
  {"header", l_header},
  {NULL, NULL},
};

int luaopen_moonstep_core_csv(lua_State *L) {
  luabridge_init(L);
  luaL_newmetatable(L, ENCODER_MT);
  lua_pushcfunction(L, l_encoder_gc);
  lua_setfield(L, -2, "__gc");
  static const luaL_Reg enc_methods[] = {
    {"row", l_row}, {"rows", l_rows}, {NULL, NULL},
  };
  luaL_newlib(L, enc_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  /* upvalues shared by the parser functions: array mt, error mt, parser
   * mt, the iterator */
  luaL_getmetatable(L, LUABRIDGE_ARRAY_MT);
  luaL_newmetatable(L, ERROR_MT);
  lua_pushcfunction(L, l_error_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newmetatable(L, PARSER_MT);
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  int up = lua_gettop(L) - 2;
  lua_pushvalue(L, up);
  lua_pushvalue(L, up + 1);
  lua_pushvalue(L, up + 2);
  lua_pushnil(L);
  lua_pushcclosure(L, l_next, 4);      /* l_next needs only 1 and 2 */
  int next = lua_gettop(L);
  /* parser methods */
  lua_createtable(L, 0, 6);
  for (const luaL_Reg *r = parser_methods; r->name; r++) {
    for (int k = 0; k < 3; k++) lua_pushvalue(L, up + k);
    lua_pushvalue(L, next);
    lua_pushcclosure(L, r->func, 4);
    lua_setfield(L, -2, r->name);
  }
  lua_setfield(L, up + 2, "__index");
  /* the module */
  lua_createtable(L, 0, 4);
  for (int k = 0; k < 3; k++) lua_pushvalue(L, up + k);
  lua_pushvalue(L, next);
  lua_pushcclosure(L, l_parser, 4);
  lua_setfield(L, -2, "parser");
  lua_pushcfunction(L, l_encoder);
  lua_setfield(L, -2, "encoder");
  lua_pushvalue(L, up + 1);
  lua_setfield(L, -2, "error_mt");
  lua_pushinteger(L, (lua_Integer)CSV_FIELD_MAX);
  lua_setfield(L, -2, "FIELD_MAX");
  lua_pushinteger(L, (lua_Integer)CSV_RECORD_MAX);
  lua_setfield(L, -2, "RECORD_MAX");
  return 1;
}
