/* luahost.c - the lua_State that runs Task handlers: creation, search
 * paths, the warm module cache with per-file environments and mtime reload,
 * protected calls with a traceback, and the deadline count hook.
 *
 * The deadline is checked from a count hook every HOOK_COUNT VM
 * instructions; when it has passed the hook raises a private sentinel
 * (a light userdata) and keeps raising it, on every function call too,
 * until the call returns, so a handler's pcall cannot swallow it. C code
 * that blocks (a sleep in a C library) is not interrupted. Handlers see
 * print and io.write going to stderr and no os.exit. JSON mapping
 * and ASL semantics live in task.c and luabridge.c.
 */
#include "luahost.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "base.h"

#define HOOK_COUNT      10000 /* instructions between clock checks */
#define HOOK_COUNT_LATE 1000  /* ... once the deadline has passed */
#define NAME_MAX_LEN    256   /* longest module name accepted */
#define ENV_MT "moonstep.taskenv" /* metatable shared by module envs */

typedef struct mod {
  char *name;              /* module name as asked ("util.text") */
  char *path;              /* file it was loaded from */
  struct timespec mtime;   /* file's mtime when loaded */
  long long size;          /* file's size when loaded */
  int ref;                 /* registry ref of the module table */
} mod_t;

struct luahost {
  lua_State *L;
  char *dir;           /* tasks folder */
  double deadline;     /* 0 = none */
  bool timed_out;      /* the hook fired during the current call */
  char *trace;         /* traceback captured by the message handler */
  int msgh_ref;        /* registry ref of the message handler closure */
  mod_t *mods;
  size_t nmods, cap;
};

static char timeout_key;  /* its address is the timeout sentinel */

double luahost_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static luahost_t *host_of(lua_State *L) {
  return *(luahost_t **)lua_getextraspace(L);
}

/* Count hook: raise the sentinel once the deadline has passed. */
static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  luahost_t *h = host_of(L);
  if (!h || h->deadline <= 0) return;
  if (!h->timed_out) {
    if (luahost_now() < h->deadline) return;
    h->timed_out = true;
  }
  /* From now on also raise on every call: a handler looping around
   * pcall(f) gets the error at its call of pcall, outside the protection. */
  lua_sethook(L, hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_COUNT_LATE);
  lua_pushlightuserdata(L, &timeout_key);
  lua_error(L);
}

/* Message handler: keep the error value, remember a traceback. */
static int msgh(lua_State *L) {
  luahost_t *h = lua_touserdata(L, lua_upvalueindex(1));
  if (lua_touserdata(L, 1) == &timeout_key) return 1;
  luaL_traceback(L, L, NULL, 1);
  free(h->trace);
  h->trace = ms_strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return 1;
}

static void add_path(lua_State *L, const char *field, const char *extra) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, field);
  const char *old = lua_tostring(L, -1);
  char *s = ms_asprintf("%s;%s", extra, old ? old : "");
  lua_pop(L, 1);
  lua_pushstring(L, s);
  lua_setfield(L, -2, field);
  lua_pop(L, 1);
  free(s);
}

/* print for handlers: like Lua's, but to stderr, so a handler's chatter
 * never mixes with an execution's output on stdout. */
static int print(lua_State *L) {
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (i > 1) fputc('\t', stderr);
    fwrite(s, 1, len, stderr);
    lua_pop(L, 1);
  }
  fputc('\n', stderr);
  fflush(stderr);
  return 0;
}

static int no_exit(lua_State *L) {
  return luaL_error(L, "os.exit is not available to Task handlers");
}

static int open_state(lua_State *L) {
  luahost_t *h = lua_touserdata(L, 1);
  luaL_openlibs(L);
  lua_register(L, "print", print);
  lua_getglobal(L, "os");
  lua_pushcfunction(L, no_exit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
  lua_getglobal(L, "io");              /* io.write defaults to stderr */
  lua_getfield(L, -1, "output");
  lua_getfield(L, -2, "stderr");
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  luaL_newmetatable(L, ENV_MT);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  const char *home = getenv("MOONSTEP_HOME");
  buf_t p, c;
  buf_init(&p);
  buf_init(&c);
  buf_printf(&p, "%s/?.lua;%s/?/init.lua", h->dir, h->dir);
  if (home && *home) {
    buf_printf(&p, ";%s/lua/?.lua;%s/lua/?/init.lua", home, home);
    buf_printf(&c, "%s/build/?.so;", home);
  }
  buf_puts(&p, ";./lua/?.lua;./lua/?/init.lua");
  buf_puts(&c, "./build/?.so");
  add_path(L, "path", p.data);
  add_path(L, "cpath", c.data);
  buf_free(&p);
  buf_free(&c);
  return 0;
}

luahost_t *luahost_new(const char *tasks_dir, char **err) {
  luahost_t *h = ms_calloc(1, sizeof *h);
  h->dir = ms_strdup(tasks_dir && *tasks_dir ? tasks_dir : "tasks");
  h->L = luaL_newstate();
  if (!h->L) {
    *err = ms_strdup("cannot create a Lua state (out of memory)");
    goto fail;
  }
  *(luahost_t **)lua_getextraspace(h->L) = h;
  lua_pushcfunction(h->L, open_state);
  lua_pushlightuserdata(h->L, h);
  if (lua_pcall(h->L, 1, 0, 0) != LUA_OK) {
    *err = ms_asprintf("cannot open the Lua libraries: %s",
                       lua_tostring(h->L, -1));
    goto fail;
  }
  lua_pushlightuserdata(h->L, h);
  lua_pushcclosure(h->L, msgh, 1);
  h->msgh_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
  return h;
fail:
  luahost_free(h);
  return NULL;
}

void luahost_free(luahost_t *h) {
  if (!h) return;
  if (h->L) lua_close(h->L);
  for (size_t i = 0; i < h->nmods; i++) {
    free(h->mods[i].name);
    free(h->mods[i].path);
  }
  free(h->mods);
  free(h->trace);
  free(h->dir);
  free(h);
}

lua_State *luahost_state(luahost_t *h) { return h->L; }
const char *luahost_dir(const luahost_t *h) { return h->dir; }

void luahost_set_deadline(luahost_t *h, double deadline) {
  h->deadline = deadline;
}

long long luahost_remaining_ms(const luahost_t *h) {
  if (h->deadline <= 0) return -1;
  double left = h->deadline - luahost_now();
  return left > 0 ? (long long)(left * 1000) : 0;
}

int luahost_call(luahost_t *h, int nargs, char **trace) {
  lua_State *L = h->L;
  int base = lua_gettop(L) - nargs;  /* the function's index */
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->msgh_ref);
  lua_insert(L, base);
  h->timed_out = false;
  free(h->trace);
  h->trace = NULL;
  if (h->deadline > 0) {
    if (luahost_now() >= h->deadline) {
      lua_settop(L, base - 1);
      h->timed_out = true;
      return LUAHOST_TIMEOUT;
    }
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_COUNT);
  }
  int st = lua_pcall(L, nargs, 1, base);
  lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  if (h->timed_out) {
    lua_pop(L, 1);
    return LUAHOST_TIMEOUT;
  }
  if (st == LUA_OK) return LUAHOST_OK;
  if (trace) {
    *trace = h->trace;
    h->trace = NULL;
  }
  return LUAHOST_ERROR;
}

/* Module names: [A-Za-z0-9_-]+ segments joined by '.', so a name can
 * never climb out of the tasks folder. */
static bool name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > NAME_MAX_LEN) return false;
  bool seg_empty = true;
  for (const char *p = name; *p; p++) {
    char ch = *p;
    if (ch == '.') {
      if (seg_empty) return false;
      seg_empty = true;
    } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') {
      seg_empty = false;
    } else {
      return false;
    }
  }
  return !seg_empty;
}

/* Find the module's file; returns malloc'd path and fills st, or NULL. */
static char *find_file(const luahost_t *h, const char *name, struct stat *st) {
  char *rel = ms_strdup(name);
  for (char *p = rel; *p; p++)
    if (*p == '.') *p = '/';
  char *path = ms_asprintf("%s/%s.lua", h->dir, rel);
  if (stat(path, st) != 0 || !S_ISREG(st->st_mode)) {
    free(path);
    path = ms_asprintf("%s/%s/init.lua", h->dir, rel);
    if (stat(path, st) != 0 || !S_ISREG(st->st_mode)) {
      free(path);
      path = NULL;
    }
  }
  free(rel);
  return path;
}

static mod_t *find_mod(luahost_t *h, const char *name) {
  for (size_t i = 0; i < h->nmods; i++)
    if (strcmp(h->mods[i].name, name) == 0) return &h->mods[i];
  return NULL;
}

static void drop_mod(luahost_t *h, mod_t *m) {
  luaL_unref(h->L, LUA_REGISTRYINDEX, m->ref);
  free(m->name);
  free(m->path);
  *m = h->mods[--h->nmods];
}

void luahost_forget(luahost_t *h, const char *name) {
  if (!name) {
    while (h->nmods) drop_mod(h, &h->mods[h->nmods - 1]);
    return;
  }
  mod_t *m = find_mod(h, name);
  if (m) drop_mod(h, m);
}

static bool same_file(const mod_t *m, const char *path,
                      const struct stat *st) {
  return strcmp(m->path, path) == 0 &&
         m->mtime.tv_sec == st->st_mtim.tv_sec &&
         m->mtime.tv_nsec == st->st_mtim.tv_nsec &&
         m->size == (long long)st->st_size;
}

/* Text of an error value raised by a main chunk (protected helper: the
 * value may have metamethods that raise). */
static int error_text_p(lua_State *L) {
  char **out = lua_touserdata(L, 1);
  if (lua_type(L, 2) == LUA_TTABLE &&
      lua_getfield(L, 2, "errorMessage") == LUA_TSTRING) {
    *out = ms_strdup(lua_tostring(L, -1));
    return 0;
  }
  *out = ms_strdup(luaL_tolstring(L, 2, NULL));
  return 0;
}

static char *error_text(luahost_t *h, int idx) {
  char *s = NULL;
  if (luahost_protect(h, error_text_p, &s, idx) == LUA_OK)
    lua_pop(h->L, 1);
  return s ? s : ms_strdup("(error object is not a string)");
}

/* Load and run the file; on success push the module. */
static int load(luahost_t *h, const char *name, const char *path,
                char **msg) {
  lua_State *L = h->L;
  int st = luaL_loadfilex(L, path, "t");
  if (st != LUA_OK) {
    *msg = ms_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return LUAHOST_SYNTAX;
  }
  lua_newtable(L);                        /* env */
  luaL_getmetatable(L, ENV_MT);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setupvalue(L, -3, 1);               /* chunk's _ENV = env */
  lua_insert(L, -2);                      /* env chunk */
  lua_pushstring(L, name);
  lua_pushstring(L, path);
  st = luahost_call(h, 2, NULL);
  if (st == LUAHOST_TIMEOUT) {
    lua_pop(L, 1);
    return st;
  }
  if (st != LUAHOST_OK) {
    *msg = error_text(h, -1);
    lua_pop(L, 2);
    return LUAHOST_INIT_ERROR;
  }
  if (lua_type(L, -1) != LUA_TTABLE)
    lua_pop(L, 1);
  else
    lua_remove(L, -2);
  return LUAHOST_OK;
}

int luahost_module(luahost_t *h, const char *name, char **msg) {
  if (!name_ok(name)) {
    *msg = ms_asprintf("invalid module name '%s'", name);
    return LUAHOST_BAD_NAME;
  }
  struct stat st;
  char *path = find_file(h, name, &st);
  mod_t *m = find_mod(h, name);
  if (!path) {
    if (m) drop_mod(h, m);
    *msg = ms_asprintf("no file %s/%s.lua", h->dir, name);
    return LUAHOST_NOT_FOUND;
  }
  if (m && same_file(m, path, &st)) {
    free(path);
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, m->ref);
    return LUAHOST_OK;
  }
  if (m) drop_mod(h, m);
  int rc = load(h, name, path, msg);
  if (rc != LUAHOST_OK) {
    free(path);
    return rc;
  }
  if (h->nmods == h->cap) {
    h->cap = h->cap ? 2 * h->cap : 8;
    h->mods = ms_realloc(h->mods, h->cap * sizeof *h->mods);
  }
  m = &h->mods[h->nmods++];
  m->name = ms_strdup(name);
  m->path = path;
  m->mtime = st.st_mtim;
  m->size = (long long)st.st_size;
  lua_pushvalue(h->L, -1);
  m->ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
  return LUAHOST_OK;
}

int luahost_protect(luahost_t *h, lua_CFunction fn, void *ud, int idx) {
  lua_State *L = h->L;
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, fn);
  lua_pushlightuserdata(L, ud);
  lua_pushvalue(L, idx);
  int st = lua_pcall(L, 2, 1, 0);
  if (st != LUA_OK) lua_pop(L, 1);
  return st;
}

static int field_p(lua_State *L) {
  const char *fname = lua_touserdata(L, 1);
  bool raw = false;
  if (lua_getmetatable(L, 2)) {
    luaL_getmetatable(L, ENV_MT);
    raw = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (raw && lua_type(L, 2) == LUA_TTABLE) {
    lua_pushstring(L, fname);
    lua_rawget(L, 2);
  } else {
    lua_getfield(L, 2, fname);
  }
  return 1;
}

void luahost_field(luahost_t *h, const char *fname) {
  if (luahost_protect(h, field_p, (void *)fname, -1) != LUA_OK)
    lua_pushnil(h->L);
}
