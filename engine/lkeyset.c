/* lkeyset.c - moonstep.keyset: a set of string keys, each with an integer,
 * kept outside the Lua heap. For a handler that must remember a million
 * ids (the csv-ingest example's duplicate check): a Lua table of that
 * many strings costs about twice the memory, and every garbage-collector
 * cycle walks all of it again, which made that one table most of the
 * ingest's time. The memory is taken with the Lua state's allocator, so a
 * handler's memory limit counts it.
 *
 *   local keyset = require "moonstep.keyset"
 *   local s = keyset.new()
 *   s:add(key, n)   -> nil when key was new (it now holds n), else the
 *                      integer key already holds (left unchanged)
 *   s:get(key)      -> the key's integer, or nil
 *   #s              -> how many keys
 * key: a string (a number is taken as its string); n: an integer
 * (default 0).
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <string.h>

#include "lmodules.h"

#define KEYSET_MT "moonstep.keyset"

typedef struct entry {
  size_t off;                  /* the key's bytes in the arena */
  size_t len;
  lua_Integer value;
} entry_t;

typedef struct keyset {
  lua_Alloc alloc;
  void *ud;
  uint32_t *slots;             /* 0 empty, else entry index + 1 */
  uint32_t *tags;              /* the hash's high bits, per slot */
  size_t nslots;               /* a power of 2 (0 before the first add) */
  entry_t *e;
  size_t n, cap;
  char *arena;
  size_t used, acap;
} keyset_t;

static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;  /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h ^ (h >> 29);
}

/* Resize *p (of old bytes) to nsize bytes with the state's allocator;
 * raises on failure (the old block stays). */
static void *grow(lua_State *L, keyset_t *k, void *p, size_t old,
                  size_t nsize) {
  void *q = k->alloc(k->ud, p, p ? old : 0, nsize);
  if (!q) luaL_error(L, "keyset: not enough memory");
  return q;
}

/* The slot of key: its entry's or the empty one where it would go. */
static size_t find(const keyset_t *k, const char *s, size_t n, uint64_t h) {
  size_t mask = k->nslots - 1, i = (size_t)h & mask;
  uint32_t tag = (uint32_t)(h >> 32);
  for (;; i = (i + 1) & mask) {
    uint32_t at = k->slots[i];
    if (!at) return i;
    const entry_t *e = &k->e[at - 1];
    if (k->tags[i] == tag && e->len == n &&
        (n == 0 || !memcmp(k->arena + e->off, s, n)))
      return i;
  }
}

static void rehash(lua_State *L, keyset_t *k) {
  size_t ns = k->nslots ? k->nslots * 2 : 64;
  if (ns > UINT32_MAX) luaL_error(L, "keyset: too many keys");
  uint32_t *slots = grow(L, k, NULL, 0, ns * sizeof *slots);
  uint32_t *tags = k->alloc(k->ud, NULL, 0, ns * sizeof *tags);
  if (!tags) {
    k->alloc(k->ud, slots, ns * sizeof *slots, 0);
    luaL_error(L, "keyset: not enough memory");
  }
  memset(slots, 0, ns * sizeof *slots);
  for (size_t j = 0; j < k->n; j++) {
    const entry_t *e = &k->e[j];
    uint64_t h = hash(k->arena + e->off, e->len);
    size_t i = (size_t)h & (ns - 1);
    while (slots[i]) i = (i + 1) & (ns - 1);
    slots[i] = (uint32_t)j + 1;
    tags[i] = (uint32_t)(h >> 32);
  }
  if (k->slots) {
    k->alloc(k->ud, k->slots, k->nslots * sizeof *k->slots, 0);
    k->alloc(k->ud, k->tags, k->nslots * sizeof *k->tags, 0);
  }
  k->slots = slots;
  k->tags = tags;
  k->nslots = ns;
}

static keyset_t *check(lua_State *L) {
  return luaL_checkudata(L, 1, KEYSET_MT);
}

static int l_new(lua_State *L) {
  keyset_t *k = lua_newuserdatauv(L, sizeof *k, 0);
  memset(k, 0, sizeof *k);
  k->alloc = lua_getallocf(L, &k->ud);
  luaL_setmetatable(L, KEYSET_MT);
  return 1;
}

static int l_add(lua_State *L) {
  keyset_t *k = check(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  lua_Integer v = luaL_optinteger(L, 3, 0);
  if ((k->n + 1) * 4 > k->nslots * 3) rehash(L, k);
  uint64_t h = hash(s, n);
  size_t i = find(k, s, n, h);
  if (k->slots[i]) {
    lua_pushinteger(L, k->e[k->slots[i] - 1].value);
    return 1;
  }
  if (k->n == k->cap) {
    size_t cap = k->cap ? k->cap * 2 : 64;
    k->e = grow(L, k, k->e, k->cap * sizeof *k->e, cap * sizeof *k->e);
    k->cap = cap;
  }
  if (k->used + n > k->acap) {
    size_t cap = k->acap ? k->acap : 1024;
    while (cap < k->used + n) cap *= 2;
    k->arena = grow(L, k, k->arena, k->acap, cap);
    k->acap = cap;
  }
  if (n) memcpy(k->arena + k->used, s, n);
  k->e[k->n] = (entry_t){k->used, n, v};
  k->used += n;
  k->slots[i] = (uint32_t)++k->n;
  k->tags[i] = (uint32_t)(h >> 32);
  return 0;
}

static int l_get(lua_State *L) {
  keyset_t *k = check(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (!k->n) return 0;
  size_t i = find(k, s, n, hash(s, n));
  if (!k->slots[i]) return 0;
  lua_pushinteger(L, k->e[k->slots[i] - 1].value);
  return 1;
}

static int l_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check(L)->n);
  return 1;
}

static int l_gc(lua_State *L) {
  keyset_t *k = check(L);
  if (k->slots) {
    k->alloc(k->ud, k->slots, k->nslots * sizeof *k->slots, 0);
    k->alloc(k->ud, k->tags, k->nslots * sizeof *k->tags, 0);
  }
  if (k->e) k->alloc(k->ud, k->e, k->cap * sizeof *k->e, 0);
  if (k->arena) k->alloc(k->ud, k->arena, k->acap, 0);
  lua_Alloc a = k->alloc;
  void *ud = k->ud;
  memset(k, 0, sizeof *k);
  k->alloc = a;
  k->ud = ud;
  return 0;
}

static const luaL_Reg methods[] = {
  {"add", l_add}, {"get", l_get}, {NULL, NULL},
};

int luaopen_moonstep_keyset(lua_State *L) {
  if (luaL_newmetatable(L, KEYSET_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "new");
  return 1;
}
