/* luahost.h - the lua_State that runs Task handlers.
 *
 * One host per engine: a lua_State with the standard libraries, a
 * package.path that reaches the tasks folder and the repo's lua/ folder,
 * a cache of handler modules (each file loaded once, "warm", into its own
 * environment table so one handler's globals never leak into another's,
 * reloaded when the file's mtime or size changes: a file is looked at on
 * its module's first use after luahost_recheck, then at most every
 * LUAHOST_CHECK_S seconds), protected calls with a
 * traceback, a deadline enforced by a count hook, a memory limit enforced
 * by a counting allocator, the environment os.getenv sees and the sink
 * print writes to. It knows nothing of JSON or ASL; task.c maps results and
 * errors to the workflow's terms.
 */
#ifndef MS_LUAHOST_H
#define MS_LUAHOST_H

#include <lua.h>

typedef struct luahost luahost_t;

/* Seconds a module file's check (a stat for its mtime and size) is
 * trusted before luahost_module looks at the file again. */
#define LUAHOST_CHECK_S 0.1

/* Outcome of luahost_module / luahost_call. */
enum {
  LUAHOST_OK = 0,
  LUAHOST_NOT_FOUND,  /* no TASKS_DIR/NAME.lua nor NAME/init.lua */
  LUAHOST_BAD_NAME,   /* name is not [A-Za-z0-9_-] segments joined by '.' */
  LUAHOST_SYNTAX,     /* the file does not compile (or cannot be read) */
  LUAHOST_INIT_ERROR, /* running the file's main chunk raised an error */
  LUAHOST_ERROR,      /* the called function raised an error */
  LUAHOST_TIMEOUT,    /* the deadline passed while Lua code ran */
  LUAHOST_OOM,        /* the memory limit was hit (even if the code caught
                         Lua's memory error) */
  LUAHOST_YIELD,      /* luahost_resume: the coroutine yielded */
};

/* New host over tasks_dir (copied). package.path starts with
 * TASKS_DIR/?.lua;TASKS_DIR/?/init.lua, then $MOONSTEP_HOME/lua (if set)
 * and ./lua, then Lua's default; package.cpath adds $MOONSTEP_HOME/build
 * and ./build (for require "moonstep"). NULL + *err (malloc'd). */
luahost_t *luahost_new(const char *tasks_dir, char **err);
void luahost_free(luahost_t *h);

lua_State *luahost_state(luahost_t *h);
const char *luahost_dir(const luahost_t *h);

/* Push the module table of name ("Hello", or "util.text" for
 * TASKS_DIR/util/text.lua) and return LUAHOST_OK. The file's main chunk
 * runs once with _ENV = a fresh table whose __index is _G; the module is
 * what the chunk returns if that is a table, else that environment table
 * (so a file may just define a global `handler`). A changed file (mtime
 * or size) is loaded again; the file is checked at the module's first use
 * after luahost_recheck, then at most every LUAHOST_CHECK_S seconds. On
 * failure pushes nothing and sets *msg (malloc'd). The chunk runs under the
 * current deadline. */
int luahost_module(luahost_t *h, const char *name, char **msg);

/* Make the next use of each cached module check its file (task.c calls it
 * when a new execution starts calling handlers). */
void luahost_recheck(luahost_t *h);

/* Field fname of the module at the top of the stack, pushed. For a module
 * that is its environment table the lookup is raw (no fallback to _G).
 * Pushes nil when the lookup raises. */
void luahost_field(luahost_t *h, const char *fname);

/* Run fn protected, as fn(ud, value at idx), for C code that touches
 * values a handler made (their metamethods may raise). LUA_OK: fn's one
 * result is pushed; else nothing is pushed (the error is dropped). */
int luahost_protect(luahost_t *h, lua_CFunction fn, void *ud, int idx);

/* Drop cached modules so the next use reloads (name NULL: all). */
void luahost_forget(luahost_t *h, const char *name);

/* Monotonic clock in seconds. */
double luahost_now(void);

/* Deadline (luahost_now() scale) for the following calls; 0 = none. */
void luahost_set_deadline(luahost_t *h, double deadline);

/* Milliseconds left before the deadline (0 if past); -1 if none. */
long long luahost_remaining_ms(const luahost_t *h);

/* Memory limit in bytes for the following calls (0 = none): while
 * luahost_call runs, an allocation that would take the state's heap (all
 * of it: every module's warm state counts, as a Lambda's whole process
 * does) over the limit is refused. Lua then collects garbage and retries;
 * if that fails too the call ends with LUAHOST_OOM, however the code
 * handles the memory error. */
void luahost_set_memory_limit(luahost_t *h, size_t bytes);

/* Bytes the state's heap holds now. */
size_t luahost_memory(const luahost_t *h);

/* Pop a table (string -> string) or nil: the environment os.getenv looks
 * in first, before the process's own (which is never changed). */
void luahost_set_env(luahost_t *h);

/* Where print (and the function luahost_push_log pushes) sends a line:
 * fn(ud, text, len), text being the arguments joined by tabs as Lua's print
 * joins them, without the newline. NULL fn: the line goes to stderr as is. */
typedef void (*luahost_log_fn)(void *ud, const char *text, size_t len);
void luahost_set_log(luahost_t *h, luahost_log_fn fn, void *ud);

/* Push the log function (print's implementation) for context.log. */
void luahost_push_log(luahost_t *h);

/* Call the function below nargs arguments on the stack, protected, with
 * one result. LUAHOST_OK: the result is pushed. LUAHOST_ERROR: the error
 * value is pushed and *trace gets the traceback (malloc'd, may be NULL).
 * LUAHOST_TIMEOUT / LUAHOST_OOM: nothing is pushed (a handler that
 * swallows the error is interrupted again every few thousand
 * instructions). */
int luahost_call(luahost_t *h, int nargs, char **trace);

/* As luahost_call, for a coroutine co of h's state (a handler the engine
 * may suspend): resume co with nargs values on its stack (the first time:
 * the function below them). LUAHOST_OK: its first result is pushed on the
 * main stack (co's are dropped); LUAHOST_ERROR: the error value is pushed
 * there and *trace set; LUAHOST_YIELD: the *nres yielded values stay on
 * co's stack; LUAHOST_TIMEOUT / LUAHOST_OOM: nothing is pushed. The
 * deadline and memory limit in force apply while co runs. */
int luahost_resume(luahost_t *h, lua_State *co, int nargs, int *nres,
                   char **trace);

#endif
