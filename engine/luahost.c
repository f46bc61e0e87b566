/* luahost.c - the lua_State that runs Task handlers: creation, search
 * paths, the warm module cache with per-file environments and mtime reload,
 * protected calls with a traceback, coroutine resumes (handlers the
 * engine suspends while they wait on the network), the deadline count
 * hook, the counting allocator behind the memory limit, os.getenv over a
 * per-call environment, and print's log sink.
 *
 * The deadline is checked from a count hook every HOOK_COUNT VM
 * instructions; when it has passed the hook raises a private sentinel
 * (a light userdata) and keeps raising it, on every function call too,
 * until the call returns, so a handler's pcall cannot swallow it.
 *
 * File checks are throttled: a cached module's file is stat'ed (mtime and
 * size) at its first use after luahost_recheck (task.c asks at each new
 * execution) and then at most every LUAHOST_CHECK_S seconds, so a hot
 * handler costs no system call per invocation while an edited file is
 * still picked up by the next execution, or within 0.1 s in a long one. C code
 * that blocks (a sleep in a C library) is not interrupted. The memory limit
 * works the same way once Lua's own retry after an emergency collection
 * has failed: the call is marked out of memory and the hook stops it.
 * Handlers see print going to the log sink (stderr by default), io.write
 * going to stderr, and no os.exit. JSON mapping and ASL semantics live in
 * task.c and luabridge.c.
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
#include "lmodules.h"

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
  double checked;          /* luahost_now() of the last file check */
  unsigned epoch;          /* host epoch of that check */
} mod_t;

enum { RUN, STOP_TIMEOUT, STOP_OOM };  /* why the current call must stop */

struct luahost {
  lua_State *L;
  char *dir;           /* tasks folder */
  double deadline;     /* 0 = none */
  int stop;            /* RUN, or why the hook stops the current call */
  lua_Alloc falloc;    /* the allocator under the counting one */
  void *fud;           /* ... and its ud */
  size_t used;         /* bytes the state holds */
  size_t limit_cfg;    /* memory limit for calls; 0 = none */
  size_t limit;        /* limit in force now (limit_cfg during a call) */
  struct {             /* the last refused allocation, to spot Lua's retry */
    bool on;
    void *ptr;
    size_t osize, nsize;
  } refused;
  int env_ref;         /* registry ref of the os.getenv table, or NOREF */
  luahost_log_fn log;  /* print's sink; NULL: stderr */
  void *log_ud;
  char *trace;         /* traceback captured by the message handler */
  int msgh_ref;        /* registry ref of the message handler closure */
  mod_t *mods;
  size_t nmods, cap;
  size_t last;         /* the module last asked for */
  unsigned epoch;      /* bumped by luahost_recheck */
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

/* Count hook: raise the sentinel once the deadline has passed or the
 * memory limit was hit. */
static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  luahost_t *h = host_of(L);
  if (!h) return;
  if (h->stop == RUN) {
    if (h->deadline <= 0 || luahost_now() < h->deadline) return;
    h->stop = STOP_TIMEOUT;
  }
  /* From now on also raise on every call: a handler looping around
   * pcall(f) gets the error at its call of pcall, outside the protection. */
  lua_sethook(L, hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_COUNT_LATE);
  lua_pushlightuserdata(L, &timeout_key);
  lua_error(L);
}

/* Counting allocator. An allocation that grows the heap past the limit is
 * refused. Lua's core then runs an emergency collection and asks again
 * for the same block: that retry is judged afresh. Any other outcome of a
 * refusal (a second refusal of the retry, a different request next, as
 * after lauxlib's buffers give up at once, or the end of the call) means
 * the code ran out of memory, however it handled the error. */
static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  luahost_t *h = ud;
  size_t old = ptr ? osize : 0;  /* osize is a type tag when ptr is NULL */
  if (nsize == 0) {
    h->used -= old;
    return h->falloc(h->fud, ptr, osize, 0);
  }
  bool grows = nsize > old, retry = false;
  if (grows && h->refused.on) {
    retry = h->refused.ptr == ptr && h->refused.osize == osize &&
            h->refused.nsize == nsize;
    h->refused.on = false;
    if (!retry) h->stop = STOP_OOM;
  }
  if (grows && h->limit && h->used - old + nsize > h->limit) {
    if (retry) {
      h->stop = STOP_OOM;
    } else {
      h->refused.on = true;
      h->refused.ptr = ptr;
      h->refused.osize = osize;
      h->refused.nsize = nsize;
    }
    return NULL;
  }
  void *p = h->falloc(h->fud, ptr, osize, nsize);
  if (p) h->used = h->used - old + nsize;
  return p;
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

/* print for handlers: its arguments joined as Lua's print joins them, one
 * line to the log sink (stderr by default), so a handler's chatter never
 * mixes with an execution's output on stdout. */
static int print(lua_State *L) {
  luahost_t *h = host_of(L);
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  if (h && h->log) {
    h->log(h->log_ud, s, len);
  } else {
    fwrite(s, 1, len, stderr);
    fputc('\n', stderr);
    fflush(stderr);
  }
  return 0;
}

/* os.getenv for handlers: the function's environment, then the process's. */
static int getenv_l(lua_State *L) {
  luahost_t *h = host_of(L);
  const char *name = luaL_checkstring(L, 1);
  if (h && h->env_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->env_ref);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) == LUA_TSTRING) return 1;
    lua_pop(L, 2);
  }
  lua_pushstring(L, getenv(name));  /* NULL pushes nil */
  return 1;
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
  lua_pushcfunction(L, getenv_l);
  lua_setfield(L, -2, "getenv");
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
  lmodules_preload(L);
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
  h->env_ref = LUA_NOREF;
  h->falloc = lua_getallocf(h->L, &h->fud);
  h->used = (size_t)lua_gc(h->L, LUA_GCCOUNT) * 1024 +
            (size_t)lua_gc(h->L, LUA_GCCOUNTB);
  lua_setallocf(h->L, alloc, h);
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

void luahost_set_memory_limit(luahost_t *h, size_t bytes) {
  h->limit_cfg = bytes;
}

size_t luahost_memory(const luahost_t *h) { return h->used; }

void luahost_set_env(luahost_t *h) {
  lua_State *L = h->L;
  if (h->env_ref != LUA_NOREF && lua_type(L, -1) == LUA_TTABLE) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->env_ref);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, same ? 2 : 1);
    if (same) return;  /* the table in force already */
  }
  luaL_unref(h->L, LUA_REGISTRYINDEX, h->env_ref);
  h->env_ref = LUA_NOREF;
  if (lua_type(h->L, -1) == LUA_TTABLE)
    h->env_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
  else
    lua_pop(h->L, 1);
}

void luahost_set_log(luahost_t *h, luahost_log_fn fn, void *ud) {
  h->log = fn;
  h->log_ud = ud;
}

void luahost_push_log(luahost_t *h) { lua_pushcfunction(h->L, print); }

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
  h->stop = RUN;
  h->refused.on = false;
  free(h->trace);
  h->trace = NULL;
  if (h->deadline > 0 && luahost_now() >= h->deadline) {
    lua_settop(L, base - 1);
    return LUAHOST_TIMEOUT;
  }
  if (h->deadline > 0 || h->limit_cfg)
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_COUNT);
  size_t outer = h->limit;  /* a module loading inside a call keeps it */
  h->limit = h->limit_cfg;
  int st = lua_pcall(L, nargs, 1, base);
  h->limit = outer;
  if (h->refused.on) h->stop = STOP_OOM;  /* a refusal nobody retried */
  h->refused.on = false;
  lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  if (h->stop != RUN) {
    lua_pop(L, 1);
    return h->stop == STOP_OOM ? LUAHOST_OOM : LUAHOST_TIMEOUT;
  }
  if (st == LUA_OK) return LUAHOST_OK;
  if (trace) {
    *trace = h->trace;
    h->trace = NULL;
  }
  return LUAHOST_ERROR;
}

int luahost_resume(luahost_t *h, lua_State *co, int nargs, int *nres,
                   char **trace) {
  lua_State *L = h->L;
  *nres = 0;
  h->stop = RUN;
  h->refused.on = false;
  if (h->deadline > 0 && luahost_now() >= h->deadline) {
    lua_pop(co, nargs);
    return LUAHOST_TIMEOUT;
  }
  /* hooks are per thread: the coroutine gets its own */
  if (h->deadline > 0 || h->limit_cfg)
    lua_sethook(co, hook, LUA_MASKCOUNT, HOOK_COUNT);
  size_t outer = h->limit;
  h->limit = h->limit_cfg;
  int st = lua_resume(co, L, nargs, nres);
  h->limit = outer;
  if (h->refused.on) h->stop = STOP_OOM;
  h->refused.on = false;
  lua_sethook(co, NULL, 0, 0);
  if (h->stop != RUN) {
    lua_settop(co, 0);
    *nres = 0;
    return h->stop == STOP_OOM ? LUAHOST_OOM : LUAHOST_TIMEOUT;
  }
  if (st == LUA_YIELD) return LUAHOST_YIELD;
  if (st == LUA_OK) {
    if (*nres > 0) {
      lua_pop(co, *nres - 1);
      lua_xmove(co, L, 1);
    } else {
      lua_pushnil(L);
    }
    *nres = 0;
    return LUAHOST_OK;
  }
  /* an error: the coroutine's stack is as it was when it raised */
  if (trace) {
    luaL_traceback(L, co, NULL, 0);
    *trace = ms_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_xmove(co, L, 1);
  *nres = 0;
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
  if (h->last < h->nmods && strcmp(h->mods[h->last].name, name) == 0)
    return &h->mods[h->last];
  for (size_t i = 0; i < h->nmods; i++)
    if (strcmp(h->mods[i].name, name) == 0) {
      h->last = i;
      return &h->mods[i];
    }
  return NULL;
}

void luahost_recheck(luahost_t *h) { h->epoch++; }

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
  if (st == LUAHOST_TIMEOUT || st == LUAHOST_OOM) {
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
  mod_t *m = find_mod(h, name);
  double now = luahost_now();
  if (m && m->epoch == h->epoch && now - m->checked < LUAHOST_CHECK_S) {
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, m->ref);  /* checked lately */
    return LUAHOST_OK;
  }
  if (!name_ok(name)) {
    *msg = ms_asprintf("invalid module name '%s'", name);
    return LUAHOST_BAD_NAME;
  }
  struct stat st;
  char *path = find_file(h, name, &st);
  if (!path) {
    if (m) drop_mod(h, m);
    *msg = ms_asprintf("no file %s/%s.lua", h->dir, name);
    return LUAHOST_NOT_FOUND;
  }
  if (m && same_file(m, path, &st)) {
    free(path);
    m->checked = now;
    m->epoch = h->epoch;
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
  m->checked = now;
  m->epoch = h->epoch;
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
  lua_State *L = h->L;
  if (lua_type(L, -1) == LUA_TTABLE && !lua_getmetatable(L, -1)) {
    lua_getfield(L, -1, fname);  /* no metatable: nothing can raise */
    return;
  }
  if (lua_type(L, -1) == LUA_TTABLE) lua_pop(L, 1);  /* the metatable */
  if (luahost_protect(h, field_p, (void *)fname, -1) != LUA_OK)
    lua_pushnil(h->L);
}
