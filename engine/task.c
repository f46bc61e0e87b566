/* task.c - Task resources that reach a Lua function, called the way Lambda
 * calls a handler, with Lambda's results and errors as Step Functions sees
 * them. Resource kinds are rows of one table (prefix -> kind -> runner).
 *
 * Decisions (AWS has no Lua runtime; these follow the recorded Python
 * runtime and document where Lua differs):
 *  - error({errorType=, errorMessage=[, stackTrace=]}) -> Error = errorType,
 *    Cause = {"errorMessage", "errorType", "requestId", "stackTrace"} as
 *    JSON text, spaced (Python's ", " / ": ") for function-ARN and lua:
 *    tasks, compact for lambda:invoke. A table without either field: type
 *    "Error", message its compact JSON. stackTrace, unless given, is the
 *    Lua traceback's lines (frames of C functions dropped).
 *  - error("text") or any other value -> errorType "Error", errorMessage
 *    the text (Lua's "file:line:" prefix is kept: it says where).
 *  - No file for the function -> Lambda.ResourceNotFoundException worded
 *    as Lambda's 404; the file does not compile ->
 *    Runtime.UserCodeSyntaxError; its main chunk raises ->
 *    Runtime.ImportModuleError; no such function in the module ->
 *    Runtime.HandlerNotFound; a result that is not JSON (a function, a
 *    cycle) -> Runtime.MarshalError. All carry Lambda's error JSON.
 *  - Timeouts: the state's TimeoutSeconds and the function's own timeout
 *    (tasks/NAME.json "timeout"; 3 s, Lambda's default, when the file
 *    leaves it out; 900 s, Lambda's longest, without a file, since then
 *    nothing says what the function's timeout on AWS is, and AWS-recorded
 *    cases run handlers for 60 s under a 5 s state timeout) both run; the
 *    earlier wins (the state on a tie: its timer starts first). The
 *    state's -> States.Timeout with no Cause (AWS prints null). The
 *    function's -> Error "Sandbox.Timedout", Cause {"errorMessage":
 *    "RequestId: ID Error: Task timed out after 3.00 seconds", "errorType":
 *    "Sandbox.Timedout"}: what Lambda's Invoke returns today (its docs'
 *    troubleshooting page names Sandbox.Timedout; the message shape is the
 *    one Lambda's runtime emulator and SDK users quote). Step Functions'
 *    docs still say such errors show as Lambda.Unknown; that predates
 *    Lambda returning an errorType, so it is not followed (a guess).
 *    lua: resources get no default timeout (they are not Lambda's).
 *  - Memory: tasks/NAME.json "memory" (MB, default 128) caps the Lua heap
 *    while the function runs -> Error "Runtime.OutOfMemory", Cause
 *    {"errorMessage": "RequestId: ID Error: Runtime exited with error:
 *    signal: killed", "errorType": "Runtime.OutOfMemory"}, the pair
 *    Lambda reports for a killed runtime (CloudWatch quotes both strings;
 *    the exact pairing is from memory, not a recording). As on Lambda,
 *    after a function timeout or running out of memory the function's
 *    next invocation is cold (the module is loaded again).
 *  - tasks/NAME.json is optional: {"handler": "file.function" (default
 *    "NAME.handler"; "dir/file.function" for tasks/dir/file.lua),
 *    "timeout": 1..900, "memory": 128..10240, "environment": {"K": "V"}}.
 *    Anything else (an unknown field, a wrong type or range, a reserved
 *    variable name) is States.Runtime naming the file and the field.
 *  - os.getenv sees the config's environment, then the variables Lambda
 *    sets (reserved: the config may not set them), then the process's.
 *  - print and context.log write one line each through log_line():
 *    "[EXECUTION] STATE: message" on stderr, or the call's log function.
 *  - lambda:invoke: Payload absent or null -> {} (the handler gets an empty
 *    object); a string Payload is the request body, i.e. JSON text, parsed
 *    (failing: Runtime.UnmarshalError); InvocationType Event -> 202 with
 *    Payload "" (the handler runs, its outcome is dropped), DryRun -> 204;
 *    LogType Tail -> LogResult (base64 of a START/END/REPORT log).
 *  - A result over MS_PAYLOAD_MAX -> States.DataLimitExceeded naming the
 *    resource ('lambda' for lambda:invoke, as AWS does).
 *  - Speed: a Resource is resolved and its tasks/NAME.json read once, then
 *    cached with the Lua tables its calls reuse (os.getenv's table; the
 *    template each call's own context table is copied from). Files are
 *    checked (a stat: mtime and size) at a function's first call in each
 *    execution and then at most every CHECK_S (0.1) seconds, for the
 *    handler's .lua (luahost.c) and its .json alike: a changed file is used
 *    from the next execution on, or within 0.1 s in a running one.
 *  - Inside the engine (task_start) a handler runs as a coroutine: a
 *    moonstep.http request yields (lhttp.h), the call is suspended (a
 *    task_pending_t) and resumed when its transfer ends, its settings
 *    (deadlines, memory limit, log, os.getenv table) put back in force;
 *    the state's and the function's timeouts are checked while it waits
 *    (task_host_wait). http:invoke (svc_http.c) suspends the same way.
 *    lambda:invoke .waitForTaskToken calls, task_run and moonstep invoke
 *    block.
 *  - Request ids are UUID-shaped, derived from $$.Execution.Id and a per-host
 *    counter, so a run is reproducible; dates come from $$.State.EnteredTime
 *    when given. Region/account default to those of $$.Execution.Id, else
 *    us-east-1 / 123456789012.
 */
#include "task.h"

#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "http.h"
#include "lhttp.h"
#include "luabridge.h"
#include "luahost.h"
#include "svc_http.h"
#include "svc_dynamodb.h"
#include "svc_s3.h"

#define DEFAULT_REGION  "us-east-1"
#define DEFAULT_ACCOUNT "123456789012"
#define MEMORY_MB       128     /* Lambda's default and smallest memory */
#define MEMORY_MB_MAX   10240   /* Lambda's largest memory */
#define TIMEOUT_S       3       /* Lambda's default function timeout */
#define TIMEOUT_S_MAX   900     /* Lambda's longest timeout, 15 minutes */
#define NO_DEADLINE_MS  900000  /* remaining time when nothing limits it */
#define CONFIG_MAX      65536   /* bytes of a tasks/NAME.json */
#define INVOKE_ARN      "arn:aws:states:::lambda:invoke"
#define TOKEN_SUFFIX    ".waitForTaskToken"
#define START_ARN       "arn:aws:states:::states:startExecution"

#define CHECK_S         LUAHOST_CHECK_S  /* seconds a check is trusted */
#define CACHE_MAX       64      /* functions kept resolved per host */
#define KEY_MAX         1024    /* longest cache key */

/* A resolved function: where to find it and how Lambda would name it,
 * its configuration and the Lua tables its calls reuse. */
typedef struct fn {
  char *module;       /* module name under the tasks folder */
  const char *field;  /* function in the module */
  char *name;         /* Lambda function name (= module for lambda) */
  char *arn;          /* invoked ARN (with ":QUALIFIER" if any) */
  char *qualifier;    /* NULL: $LATEST */
  /* from tasks/NAME.json, or the defaults (fn_configure) */
  char *field_own;    /* field named by "handler" or lua:M.F (field) */
  int timeout;        /* seconds; 0 = none */
  int memory;         /* MB */
  json_t *env;        /* "environment" object, or NULL */
  char *cfg_path;     /* TASKS_DIR/NAME.json */
  bool cfg_there;     /* ... existed when it was read */
  struct timespec cfg_mtime;  /* ... and its mtime and size then */
  long long cfg_size;
  /* Lua registry refs, 0 = not built yet (luaL_ref never returns 0) */
  int env_ref;        /* os.getenv's table (push_env) */
  char env_region[32];  /* the region it holds */
  int ctx_ref;        /* the context template (push_context) */
  uint64_t ctx_epoch; /* host epoch its execution fields are from */
} fn_t;

/* The cache of resolved functions: Resource string (or lambda:invoke's
 * FunctionName, Qualifier, region and account) -> fn_t. */
typedef struct fent {
  char *key;
  fn_t fn;
  double checked;   /* luahost_now() of the last config file check */
  uint64_t epoch;   /* host epoch of that check */
  uint64_t used;    /* host call count at the last use */
} fent_t;

struct task_host {
  luahost_t *lh;
  size_t payload_max;  /* results over it fail; 0 = no limit */
  uint64_t ncalls;     /* feeds request ids */
  double fn_deadline;  /* the running function's own deadline; 0 = none */
  /* the execution of the last call (call_init) and what derives from it */
  uint64_t epoch;      /* bumped when the execution changes */
  char *eid, *start;   /* its $$.Execution.Id and StartTime */
  uint64_t eid_hash;
  char region[32], account[32];
  char tm_key[20];     /* last parsed timestamp's 19 leading bytes */
  time_t tm_when;      /* ... as seconds */
  time_t date_when;    /* last date formatted for a log stream */
  char date[32];       /* ... as "YYYY/MM/DD" */
  fent_t *cache;
  size_t ncache, last; /* entries, the last one hit */
  task_nested_fn nested;  /* runs states:startExecution, or NULL */
  void *nested_ud;
  /* non-blocking calls (task_start) */
  http_multi_t *multi;    /* the engine's curl multi handle, made on use */
  task_pending_t *pend;   /* suspended calls */
  size_t npend;
  bool may_suspend;       /* the running call may suspend ... */
  task_pending_t *made;   /* ... and did: its pending */
  int co_spare;           /* registry ref of an idle coroutine, 0: none */
};

typedef struct call {  /* one invocation's derived values */
  char reqid[40];
  time_t when;
  char region[32], account[32];
  char stream[96];     /* log stream name */
  json_t *state;       /* $$.State, borrowed, or NULL */
} call_t;

static void fn_free(task_host_t *h, fn_t *fn) {
  free(fn->module);
  free(fn->name);
  free(fn->arn);
  free(fn->qualifier);
  free(fn->field_own);
  free(fn->cfg_path);
  json_decref(fn->env);
  lua_State *L = luahost_state(h->lh);
  if (fn->env_ref) luaL_unref(L, LUA_REGISTRYINDEX, fn->env_ref);
  if (fn->ctx_ref) luaL_unref(L, LUA_REGISTRYINDEX, fn->ctx_ref);
}

/* ---- resource table ---------------------------------------------------- */

static bool starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_lambda_arn(const char *r) {
  /* arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:Q] */
  if (!starts(r, "arn:")) return false;
  const char *p = strchr(r + 4, ':');
  return p && starts(p, ":lambda:") && strstr(p, ":function:") != NULL;
}

static bool is_invoke(const char *r) {
  return strcmp(r, INVOKE_ARN) == 0 || strcmp(r, INVOKE_ARN TOKEN_SUFFIX) == 0;
}

static bool is_lua(const char *r) { return starts(r, "lua:") && r[4]; }

static bool is_start(const char *r) {
  if (!starts(r, START_ARN)) return false;
  r += strlen(START_ARN);
  return !*r || !strcmp(r, ".sync") || !strcmp(r, ".sync:2") ||
         !strcmp(r, TOKEN_SUFFIX);
}

static bool is_http(const char *r) { return strcmp(r, SVC_HTTP_ARN) == 0; }

static const struct {
  bool (*match)(const char *resource);
  task_kind_t kind;
} kinds[] = {
  {is_invoke, TASK_LAMBDA_INVOKE},
  {is_lambda_arn, TASK_LAMBDA_ARN},
  {is_lua, TASK_LUA},
  {is_start, TASK_STATES_START},
  {is_http, TASK_HTTP_INVOKE},
  {svc_dynamodb_match, TASK_DYNAMODB},
  {svc_s3_match, TASK_S3},
};

const char *task_resource_names(const char *resource, char *type,
                                size_t cap) {
  static const char states[] = "arn:aws:states:::";
  bool ours = starts(resource, states);
  const char *svc = ours ? resource + strlen(states) : resource;
  const char *colon = ours ? strchr(svc, ':') : NULL;
  /* aws-sdk:SERVICE:ACTION records "aws-sdk:SERVICE" and "ACTION" */
  if (colon && starts(svc, "aws-sdk:") && strchr(colon + 1, ':'))
    colon = strchr(colon + 1, ':');
  if (!colon) {
    snprintf(type, cap, "lambda");
    return resource;
  }
  snprintf(type, cap, "%.*s", (int)(colon - svc), svc);
  return colon + 1;
}

bool task_waits_for_token(const char *resource) {
  return resource && (strcmp(resource, INVOKE_ARN TOKEN_SUFFIX) == 0 ||
                      strcmp(resource, START_ARN TOKEN_SUFFIX) == 0);
}

task_kind_t task_kind(const char *resource) {
  if (!resource) return TASK_UNKNOWN;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (kinds[i].match(resource)) return kinds[i].kind;
  return TASK_UNKNOWN;
}

/* ---- host -------------------------------------------------------------- */

task_host_t *task_host_new(const char *tasks_dir, char **err) {
  luahost_t *lh = luahost_new(tasks_dir, err);
  if (!lh) return NULL;
  luabridge_init(luahost_state(lh));
  task_host_t *h = ms_calloc(1, sizeof *h);
  h->payload_max = MS_PAYLOAD_MAX;
  h->lh = lh;
  return h;
}

static void cache_drop(task_host_t *h, size_t i) {
  free(h->cache[i].key);
  fn_free(h, &h->cache[i].fn);
  h->cache[i] = h->cache[--h->ncache];
  h->last = 0;
}

void task_host_free(task_host_t *h) {
  if (!h) return;
  while (h->ncache) cache_drop(h, h->ncache - 1);
  free(h->cache);
  free(h->eid);
  while (h->pend) task_pending_cancel(h->pend);
  free(h->start);
  luahost_free(h->lh);
  http_multi_free(h->multi);  /* after the Lua state: its requests ' __gc */
  free(h);
}

void task_host_reload(task_host_t *h, const char *module) {
  luahost_forget(h->lh, module);
  while (h->ncache) cache_drop(h, h->ncache - 1);  /* configs: read again */
}

/* ---- derived values: request id, time, region ------------------------ */

static uint64_t mix(uint64_t *x) {  /* splitmix64 */
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t hash(const char *s) {  /* FNV-1a */
  uint64_t x = 0xcbf29ce484222325ULL;
  for (; s && *s; s++) x = (x ^ (unsigned char)*s) * 0x100000001b3ULL;
  return x;
}

static const char *ctx_str(const json_t *ctx, const char *obj,
                           const char *key) {
  return json_string_value(json_object_get(json_object_get(ctx, obj), key));
}

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS...", or -1. */
static time_t parse_time(const char *s) {
  struct tm tm = {0};
  if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return (time_t)-1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

/* parse_time, remembering the last answer: a timestamp of the canonical
 * shape "DDDD-DD-DDTDD:DD:DD..." parses to what its first 19 bytes say,
 * and in a run they repeat for a second at a time. */
static time_t parse_time_cached(task_host_t *h, const char *s) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd";
  if (!s) return (time_t)-1;
  for (int i = 0; i < 19; i++) {
    bool digit = s[i] >= '0' && s[i] <= '9';
    if (shape[i] == 'd' ? !digit : s[i] != shape[i]) return parse_time(s);
  }
  if (memcmp(s, h->tm_key, 19) != 0) {
    h->tm_when = parse_time(s);
    memcpy(h->tm_key, s, 19);
  }
  return h->tm_when;
}

/* Copy the n-th ':'-separated field of s (n from 0) into out. */
static bool arn_field(const char *s, int n, char *out, size_t cap) {
  for (; n > 0 && s; n--) {
    s = strchr(s, ':');
    if (s) s++;
  }
  if (!s) return false;
  size_t len = strcspn(s, ":");
  if (len == 0 || len >= cap) return false;
  memcpy(out, s, len);
  out[len] = '\0';
  return true;
}

static char *hex(char *p, uint64_t v, int digits) {
  static const char tab[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--, v >>= 4) p[i] = tab[v & 15];
  return p + digits;
}

/* Note the call's execution ($$.Execution.Id and StartTime): when it is
 * not the last call's, bump the epoch (files are checked again at the
 * first call of each execution) and derive its hash, region and account. */
static void exec_seen(task_host_t *h, const json_t *ctx) {
  const json_t *x = json_object_get(ctx, "Execution");
  const char *eid = json_string_value(json_object_get(x, "Id"));
  const char *start = json_string_value(json_object_get(x, "StartTime"));
  if (eid && start && h->eid && !strcmp(eid, h->eid) &&
      !strcmp(start, h->start))
    return;
  h->epoch++;
  luahost_recheck(h->lh);
  free(h->eid);
  free(h->start);
  h->eid = eid && start ? ms_strdup(eid) : NULL;  /* NULL: never the same */
  h->start = eid && start ? ms_strdup(start) : NULL;
  h->eid_hash = hash(eid);
  if (!eid || !arn_field(eid, 3, h->region, sizeof h->region) ||
      !arn_field(eid, 4, h->account, sizeof h->account)) {
    snprintf(h->region, sizeof h->region, "%s", DEFAULT_REGION);
    snprintf(h->account, sizeof h->account, "%s", DEFAULT_ACCOUNT);
  }
}

static void call_init(task_host_t *h, const task_call_t *c, call_t *k) {
  exec_seen(h, c->context);
  uint64_t x = h->eid_hash ^ (++h->ncalls * 0x2545f4914f6cdd1dULL);
  uint64_t a = mix(&x), b = mix(&x);
  /* "%08x-%04x-4%03x-%04x-%012llx" */
  char *p = k->reqid;
  p = hex(p, a >> 32, 8);
  *p++ = '-';
  p = hex(p, a >> 16, 4);
  *p++ = '-';
  *p++ = '4';
  p = hex(p, a, 3);
  *p++ = '-';
  p = hex(p, 0x8000 | ((b >> 48) & 0x3fff), 4);
  *p++ = '-';
  p = hex(p, b, 12);
  *p = '\0';
  k->state = json_object_get(c->context, "State");
  k->when = parse_time_cached(
      h, json_string_value(json_object_get(k->state, "EnteredTime")));
  if (k->when == (time_t)-1)
    k->when = parse_time(ctx_str(c->context, "Execution", "StartTime"));
  if (k->when == (time_t)-1) k->when = time(NULL);
  memcpy(k->region, h->region, sizeof k->region);
  memcpy(k->account, h->account, sizeof k->account);
  if (k->when != h->date_when || !h->date[0]) {
    struct tm tm;
    gmtime_r(&k->when, &tm);
    snprintf(h->date, sizeof h->date, "%04d/%02d/%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    h->date_when = k->when;
  }
  /* "DATE/[$LATEST]%016llx%016llx" */
  uint64_t y = hash(k->reqid);
  uint64_t s1 = mix(&y), s2 = mix(&y);
  size_t n = strlen(h->date);
  memcpy(k->stream, h->date, n);
  memcpy(k->stream + n, "/[$LATEST]", 10);
  p = hex(k->stream + n + 10, s1, 16);
  p = hex(p, s2, 16);
  *p = '\0';
}

/* ---- function names ---------------------------------------------------- */

static bool name_ok(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
      return false;
  return true;
}

/* Resolve a FunctionName: NAME[:Q], ACCOUNT:function:NAME[:Q] or a full
 * ARN. qualifier (may be NULL) applies when the name carries none. */
static bool fn_resolve(fn_t *fn, const char *fname, const char *qualifier,
                       const call_t *k) {
  char part[32] = "aws", region[32], account[32], name[128], q[128] = "";
  snprintf(region, sizeof region, "%s", k->region);
  snprintf(account, sizeof account, "%s", k->account);
  int nf = 1;
  for (const char *p = fname; *p; p++) nf += *p == ':';
  bool ok;
  if (starts(fname, "arn:")) {
    ok = (nf == 7 || nf == 8) && arn_field(fname, 1, part, sizeof part) &&
         arn_field(fname, 3, region, sizeof region) &&
         arn_field(fname, 4, account, sizeof account) &&
         strstr(fname, ":lambda:") && strstr(fname, ":function:") &&
         arn_field(fname, 6, name, sizeof name) &&
         (nf == 7 || arn_field(fname, 7, q, sizeof q));
  } else if (strstr(fname, ":function:")) {
    ok = (nf == 3 || nf == 4) &&
         arn_field(fname, 0, account, sizeof account) &&
         arn_field(fname, 2, name, sizeof name) &&
         (nf == 3 || arn_field(fname, 3, q, sizeof q));
  } else {
    ok = (nf == 1 || nf == 2) && arn_field(fname, 0, name, sizeof name) &&
         (nf == 1 || arn_field(fname, 1, q, sizeof q));
  }
  if (!ok || !name_ok(name)) return false;
  if (!*q && qualifier && *qualifier) snprintf(q, sizeof q, "%s", qualifier);
  fn->module = ms_strdup(name);
  fn->name = ms_strdup(name);
  fn->field = "handler";
  fn->qualifier = *q ? ms_strdup(q) : NULL;
  fn->arn = ms_asprintf("arn:%s:lambda:%s:%s:function:%s%s%s", part, region,
                        account, name, *q ? ":" : "", q);
  return true;
}

/* ---- per-function config: tasks/NAME.json ----------------------------- */

/* Variables Lambda sets itself and refuses in a function's configuration
 * (Lambda's "defined runtime environment variables"); those moonstep sets
 * are set in push_env. */
static const char *const reserved[] = {
  "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
  "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
  "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
  "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
  "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
};

static bool env_name_ok(const char *s) {  /* Lambda: [a-zA-Z]([a-zA-Z0-9_])+ */
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return false;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

/* "file.function" (file may hold '/') -> module "dir.file" and field. */
static bool handler_split(const char *s, char **module, char **field) {
  const char *dot = strrchr(s, '.');
  if (!dot || dot == s || !dot[1]) return false;
  for (const char *p = s; p < dot; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
          (*p == '/' && p > s && p[-1] != '/' && p[1] != '.')))
      return false;
  for (const char *p = dot + 1; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_'))
      return false;
  *module = ms_strndup(s, (size_t)(dot - s));
  for (char *p = *module; *p; p++)
    if (*p == '/') *p = '.';
  *field = ms_strdup(dot + 1);
  return true;
}

/* Integer field in [lo, hi] or a message. */
static bool int_in(json_t *v, int lo, int hi, int *out) {
  if (!json_is_integer(v)) return false;
  json_int_t n = json_integer_value(v);
  if (n < lo || n > hi) return false;
  *out = (int)n;
  return true;
}

/* Apply TASKS_DIR/NAME.json (cfgname: NAME) to fn, or the defaults when
 * there is no such file. lambda: a Lambda function (its "handler" is used
 * and, with a file, Lambda's default timeout). false with f set when it is
 * invalid. */
static bool fn_configure(task_host_t *h, fn_t *fn, const char *cfgname,
                         bool lambda, fault_t *f) {
  fn->timeout = lambda ? TIMEOUT_S_MAX : 0;
  fn->memory = MEMORY_MB;
  char *path = ms_asprintf("%s/%s.json", luahost_dir(h->lh), cfgname);
  struct stat st;  /* before reading: a later change is seen by cfg_same */
  fn->cfg_there = stat(path, &st) == 0;
  if (fn->cfg_there) {
    fn->cfg_mtime = st.st_mtim;
    fn->cfg_size = (long long)st.st_size;
  }
  free(fn->cfg_path);
  fn->cfg_path = path;
  size_t len = 0;
  errno = 0;
  char *text = ms_read_file(path, CONFIG_MAX, &len);
  if (!text && errno == ENOENT) return true;
  if (lambda) fn->timeout = TIMEOUT_S;
  char *err = NULL;
  json_t *doc = NULL;
  if (text)
    doc = jsonx_parse(text, len, &err);
  else if (errno != EFBIG)  /* EFBIG: "too large", said below */
    err = ms_strdup(strerror(errno));
  free(text);
  bool ok = false;
  const char *key;
  json_t *v;
  if (!doc) {
    fault_runtime(f, "%s: %s", path,
                  err ? err : "the function config is too large");
    goto done;
  }
  if (!json_is_object(doc)) {
    fault_runtime(f, "%s: the function config must be a JSON object", path);
    goto done;
  }
  json_object_foreach(doc, key, v) {
    if (!strcmp(key, "handler")) {
      char *module = NULL, *field = NULL;
      if (!json_is_string(v) ||
          !handler_split(json_string_value(v), &module, &field)) {
        fault_runtime(f, "%s: \"handler\" must be a string \"file.function"
                      "\" naming a file under %s and a function in it",
                      path, luahost_dir(h->lh));
        goto done;
      }
      if (lambda) {
        free(fn->module);
        fn->module = module;
        free(fn->field_own);
        fn->field = fn->field_own = field;
      } else {
        free(module);
        free(field);
      }
    } else if (!strcmp(key, "timeout")) {
      if (!int_in(v, 1, TIMEOUT_S_MAX, &fn->timeout)) {
        fault_runtime(f, "%s: \"timeout\" must be a whole number of seconds "
                      "from 1 to %d", path, TIMEOUT_S_MAX);
        goto done;
      }
    } else if (!strcmp(key, "memory")) {
      if (!int_in(v, MEMORY_MB, MEMORY_MB_MAX, &fn->memory)) {
        fault_runtime(f, "%s: \"memory\" must be a whole number of MB from "
                      "%d to %d", path, MEMORY_MB, MEMORY_MB_MAX);
        goto done;
      }
    } else if (!strcmp(key, "environment")) {
      const char *name;
      json_t *val;
      if (!json_is_object(v)) {
        fault_runtime(f, "%s: \"environment\" must be an object of strings",
                      path);
        goto done;
      }
      json_object_foreach(v, name, val) {
        if (!env_name_ok(name)) {
          fault_runtime(f, "%s: \"environment\": '%s' is not a valid "
                        "variable name ([a-zA-Z][a-zA-Z0-9_]+)", path, name);
          goto done;
        }
        for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
          if (!strcmp(name, reserved[i])) {
            fault_runtime(f, "%s: \"environment\": '%s' is reserved by "
                          "Lambda", path, name);
            goto done;
          }
        if (!json_is_string(val)) {
          fault_runtime(f, "%s: \"environment\": the value of '%s' must be "
                        "a string", path, name);
          goto done;
        }
      }
      json_decref(fn->env);
      fn->env = json_incref(v);
    } else {
      fault_runtime(f, "%s: unknown field \"%s\" (known: handler, timeout, "
                    "memory, environment)", path, key);
      goto done;
    }
  }
  ok = true;
done:
  json_decref(doc);
  free(err);
  return ok;
}

/* Whether fn's config file is still as fn_configure found it. */
static bool cfg_same(const fn_t *fn) {
  struct stat st;
  bool there = stat(fn->cfg_path, &st) == 0;
  if (there != fn->cfg_there) return false;
  return !there || (st.st_mtim.tv_sec == fn->cfg_mtime.tv_sec &&
                    st.st_mtim.tv_nsec == fn->cfg_mtime.tv_nsec &&
                    (long long)st.st_size == fn->cfg_size);
}

/* ---- Lambda's error JSON ---------------------------------------------- */

/* Fault with Error = type and Cause = Lambda's error JSON. */
static void lambda_error(fault_t *f, const char *type, const char *message,
                         json_t *stack_take, const call_t *k, bool spaced) {
  json_t *o = json_object();
  json_object_set_new(o, "errorMessage", json_string(message));
  json_object_set_new(o, "errorType", json_string(type));
  json_object_set_new(o, "requestId", json_string(k->reqid));
  json_object_set_new(o, "stackTrace", stack_take ? stack_take : json_array());
  char *cause = jsonx_dump(o, spaced ? JSONX_SPACED : JSONX_COMPACT);
  fault_set(f, type, "%s", cause);
  free(cause);
  json_decref(o);
}

/* Fault as Lambda's sandbox reports it (no requestId, no stackTrace):
 * Cause {"errorMessage": "RequestId: ID Error: what", "errorType"}. */
static void sandbox_error(fault_t *f, const char *type, const char *what,
                          const call_t *k, bool spaced) {
  json_t *o = json_object();
  char *m = ms_asprintf("RequestId: %s Error: %s", k->reqid, what);
  json_object_set_new(o, "errorMessage", json_string(m));
  json_object_set_new(o, "errorType", json_string(type));
  char *cause = jsonx_dump(o, spaced ? JSONX_SPACED : JSONX_COMPACT);
  fault_set(f, type, "%s", cause);
  free(cause);
  free(m);
  json_decref(o);
}

/* Traceback text -> array of its Lua frames. */
static json_t *stack_lines(const char *trace) {
  json_t *a = json_array();
  if (!trace) return a;
  const char *p = strchr(trace, '\n');  /* skip "stack traceback:" */
  while (p && *p) {
    p++;
    while (*p == '\t' || *p == ' ') p++;
    size_t n = strcspn(p, "\n");
    if (n && !starts(p, "[C]:"))
      json_array_append_new(a, json_stringn(p, n));
    p += n;
  }
  return a;
}

/* Text of the value at idx: compact JSON for a table, else tostring. */
static char *value_text(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TTABLE) {
    char *err = NULL;
    json_t *j = luabridge_to_json(L, idx, &err);
    free(err);
    if (j) {
      char *s = jsonx_dump(j, JSONX_COMPACT);
      json_decref(j);
      return s;
    }
  }
  char *s = ms_strdup(luaL_tolstring(L, idx, NULL));
  lua_pop(L, 1);
  return s;
}

typedef struct lerr {  /* what a raised value says, in C */
  char *type, *msg;
  json_t *stack;
} lerr_t;

/* Protected: read the raised value (arg 2) into the lerr_t (arg 1); its
 * metamethods may raise. */
static int extract(lua_State *L) {
  lerr_t *e = lua_touserdata(L, 1);
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_getfield(L, 2, "errorType");     /* 3 */
    lua_getfield(L, 2, "errorMessage");  /* 4 */
    lua_getfield(L, 2, "stackTrace");    /* 5 */
    if (lua_type(L, 3) == LUA_TSTRING) e->type = ms_strdup(lua_tostring(L, 3));
    if (!lua_isnil(L, 4))
      e->msg = value_text(L, 4);
    else if (e->type)
      e->msg = ms_strdup("");
    if (lua_type(L, 5) == LUA_TTABLE) {
      char *err = NULL;
      e->stack = luabridge_to_json(L, 5, &err);
      free(err);
      if (e->stack && !json_is_array(e->stack)) {
        json_decref(e->stack);
        e->stack = NULL;
      }
    }
  }
  if (!e->msg) e->msg = value_text(L, 2);
  return 0;
}

/* The error value at the top of the stack -> fault. Pops it. */
static void handler_error(task_host_t *h, const char *trace,
                          const call_t *k, bool spaced, fault_t *f) {
  lua_State *L = luahost_state(h->lh);
  lerr_t e = {NULL, NULL, NULL};
  if (luahost_protect(h->lh, extract, &e, -1) == LUA_OK) lua_pop(L, 1);
  lua_pop(L, 1);
  lambda_error(f, e.type ? e.type : "Error",
               e.msg ? e.msg : "(error object is not a string)",
               e.stack ? e.stack : stack_lines(trace), k, spaced);
  free(e.type);
  free(e.msg);
}

/* ---- the Lambda context table ----------------------------------------- */

/* context.get_remaining_time_in_millis(): as on Lambda, the time left
 * before the function's own timeout (a state's TimeoutSeconds does not stop
 * a Lambda function, so it does not count). */
static int remaining_ms(lua_State *L) {
  task_host_t *h = lua_touserdata(L, lua_upvalueindex(1));
  double left = h->fn_deadline - luahost_now();
  lua_pushinteger(L, h->fn_deadline <= 0 ? NO_DEADLINE_MS
                     : left > 0 ? (lua_Integer)(left * 1000) : 0);
  return 1;
}

static void set_str(lua_State *L, const char *key, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

static void set_opt(lua_State *L, const char *key, const char *v) {
  if (v) lua_pushstring(L, v);
  else lua_pushnil(L);
  lua_setfield(L, -2, key);
}

/* Push a new context table for this call, as Lambda gives each invocation
 * its own: a handler that writes to it (or removes a field) changes
 * nothing for the next call. It is copied from fn's template, made at the
 * function's first call with the fields that never change (names,
 * memory, the two functions) and given the execution's when that
 * changes; the fields of the call itself (request id, log stream, state,
 * retry count, task token) are then set on the copy. */
static void push_context(task_host_t *h, const task_call_t *c, fn_t *fn,
                         const call_t *k) {
  lua_State *L = luahost_state(h->lh);
  if (fn->ctx_ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn->ctx_ref);
  } else {
    lua_createtable(L, 0, 10);
    set_str(L, "function_name", fn->name);
    set_str(L, "function_version", "$LATEST");
    set_str(L, "invoked_function_arn", fn->arn);
    lua_pushinteger(L, fn->memory);
    lua_setfield(L, -2, "memory_limit_in_mb");
    char *group = ms_asprintf("/aws/lambda/%s", fn->name);
    set_str(L, "log_group_name", group);
    free(group);
    lua_pushlightuserdata(L, h);
    lua_pushcclosure(L, remaining_ms, 1);
    lua_setfield(L, -2, "get_remaining_time_in_millis");
    luahost_push_log(h->lh);
    lua_setfield(L, -2, "log");
    lua_pushvalue(L, -1);
    fn->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    fn->ctx_epoch = 0;  /* no execution's: the epoch starts at 1 */
  }
  if (fn->ctx_epoch != h->epoch) {  /* the execution changed */
    set_opt(L, "execution_id", ctx_str(c->context, "Execution", "Id"));
    set_opt(L, "execution_name", ctx_str(c->context, "Execution", "Name"));
    fn->ctx_epoch = h->epoch;
  }
  int tmpl = lua_gettop(L);
  lua_createtable(L, 0, 16);  /* the call's own copy */
  lua_pushnil(L);
  while (lua_next(L, tmpl)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_remove(L, tmpl);
  set_str(L, "aws_request_id", k->reqid);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn->env_ref);  /* made by push_env */
  lua_getfield(L, -1, "AWS_LAMBDA_LOG_STREAM_NAME");
  lua_setfield(L, -3, "log_stream_name");
  lua_pop(L, 1);
  const char *sn = json_string_value(json_object_get(k->state, "Name"));
  set_str(L, "state_name", sn ? sn : c->state_name);
  json_t *rc = json_object_get(k->state, "RetryCount");
  lua_pushinteger(L, json_is_integer(rc) ? json_integer_value(rc) : 0);
  lua_setfield(L, -2, "retry_count");
  /* a .waitForTaskToken Task's $$.Task.Token (a moonstep extra: Lambda's
   * context has no such field); absent otherwise */
  set_opt(L, "task_token", ctx_str(c->context, "Task", "Token"));
}

/* ---- calling ----------------------------------------------------------- */

typedef struct conv {  /* a result converted to JSON, or why not */
  json_t *json;
  char *err;
} conv_t;

/* Protected: arg 2 as JSON into the conv_t (arg 1). */
static int to_json(lua_State *L) {
  conv_t *cv = lua_touserdata(L, 1);
  cv->json = luabridge_to_json(L, 2, &cv->err);
  return 0;
}

/* print and context.log go through here: one line per call. */
typedef struct logctx {
  const task_call_t *c;
  const fn_t *fn;
} logctx_t;

static void log_line(void *ud, const char *text, size_t len) {
  const logctx_t *x = ud;
  const task_call_t *c = x->c;
  (void)len;
  const char *state = ctx_str(c->context, "State", "Name");
  if (!state) state = c->state_name;
  if (c->log) {
    c->log(c->log_ud, state, text);
    return;
  }
  const char *exec = ctx_str(c->context, "Execution", "Name");
  if (exec && state)
    fprintf(stderr, "[%s] %s: %s\n", exec, state, text);
  else
    fprintf(stderr, "[%s] %s\n", exec ? exec : x->fn->name, text);
  fflush(stderr);
}

static void log_note(logctx_t *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void log_note(logctx_t *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = ms_vasprintf(fmt, ap);
  va_end(ap);
  log_line(x, s, strlen(s));
  free(s);
}

/* The table os.getenv looks in first: the config's environment and the
 * variables Lambda sets. Made once per function (again if the region
 * changes); each call sets only the log stream. */
static void push_env(task_host_t *h, fn_t *fn, const call_t *k) {
  lua_State *L = luahost_state(h->lh);
  if (fn->env_ref && !strcmp(fn->env_region, k->region)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn->env_ref);
  } else {
    if (fn->env_ref) luaL_unref(L, LUA_REGISTRYINDEX, fn->env_ref);
    lua_newtable(L);
    const char *key;
    json_t *v;
    json_object_foreach(fn->env, key, v)
      set_str(L, key, json_string_value(v));
    char mem[16], *handler = ms_asprintf("%s.%s", fn->module, fn->field);
    char *group = ms_asprintf("/aws/lambda/%s", fn->name);
    snprintf(mem, sizeof mem, "%d", fn->memory);
    set_str(L, "_HANDLER", handler);
    set_str(L, "AWS_REGION", k->region);
    set_str(L, "AWS_DEFAULT_REGION", k->region);
    set_str(L, "AWS_LAMBDA_FUNCTION_NAME", fn->name);
    set_str(L, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", mem);
    set_str(L, "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    set_str(L, "AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
    set_str(L, "AWS_LAMBDA_LOG_GROUP_NAME", group);
    set_str(L, "LAMBDA_TASK_ROOT", luahost_dir(h->lh));
    free(handler);
    free(group);
    memcpy(fn->env_region, k->region, sizeof fn->env_region);
    lua_pushvalue(L, -1);
    fn->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  set_str(L, "AWS_LAMBDA_LOG_STREAM_NAME", k->stream);
}

/* The call was stopped (st: LUAHOST_TIMEOUT or LUAHOST_OOM): the fault,
 * a log line saying why, and a cold start next time. */
static void stopped(task_host_t *h, int st, const fn_t *fn, const call_t *k,
                    bool spaced, bool state_first, logctx_t *x,
                    fault_t *f) {
  if (st == LUAHOST_TIMEOUT && state_first) {
    fault_set(f, "States.Timeout", NULL);
    return;
  }
  if (st == LUAHOST_TIMEOUT) {
    char what[64];
    snprintf(what, sizeof what, "Task timed out after %d.00 seconds",
             fn->timeout);
    sandbox_error(f, "Sandbox.Timedout", what, k, spaced);
    log_note(x, "%s (the function's \"timeout\" in %s/%s.json)", what,
             luahost_dir(h->lh), fn->name);
  } else {
    sandbox_error(f, "Runtime.OutOfMemory",
                  "Runtime exited with error: signal: killed", k, spaced);
    log_note(x, "Runtime.OutOfMemory: the Lua heap went over the "
             "function's %d MB (its \"memory\" in %s/%s.json)",
             fn->memory, luahost_dir(h->lh), fn->name);
  }
  /* Lambda replaces the runtime after either: the next call is cold */
  luahost_forget(h->lh, fn->module);
}

/* A handler call ended with st (luahost's): its result from the top of
 * the main stack, or the fault. */
static json_t *call_end(task_host_t *h, int st, const char *trace,
                        const fn_t *fn, const call_t *k, bool spaced,
                        bool state_first, logctx_t *x, fault_t *f) {
  lua_State *L = luahost_state(h->lh);
  json_t *result = NULL;
  if (st == LUAHOST_TIMEOUT || st == LUAHOST_OOM) {
    stopped(h, st, fn, k, spaced, state_first, x, f);
  } else if (st == LUAHOST_ERROR) {
    handler_error(h, trace, k, spaced, f);
  } else {
    conv_t cv = {NULL, NULL};
    if (luahost_protect(h->lh, to_json, &cv, -1) == LUA_OK) lua_pop(L, 1);
    result = cv.json;
    char *err = cv.err;
    if (!result) {
      char *m = ms_asprintf("Unable to marshal response: %s",
                            err ? err : "not JSON");
      lambda_error(f, "Runtime.MarshalError", m, NULL, k, spaced);
      free(m);
    }
    free(err);
  }
  return result;
}

/* ---- suspended calls ---------------------------------------------------- */

enum { PEND_LUA, PEND_HTTP };      /* a handler coroutine / http:invoke */
enum { FIN_LIMIT, FIN_INVOKE };    /* how its result is finished */

/* A call waiting on a transfer. A handler's keeps what its resumes need:
 * its coroutine, copies of the call and of the function's settings (the
 * cache may drop the fn_t meanwhile), its deadlines and os.getenv table. */
struct task_pending {
  task_host_t *h;
  task_pending_t *prev, *next;  /* h's list */
  int kind, fin;
  task_call_t c;          /* input and context held (increfs) */
  call_t k;
  http_xfer_t *xfer;      /* the transfer waited on (PEND_LUA: owned by
                             the coroutine's request; PEND_HTTP: ours) */
  bool woke;              /* the transfer ended or a deadline passed */
  bool suspended;         /* the last step ended in a yield */
  task_wake_fn wake;
  void *wake_ud;
  /* PEND_LUA */
  lua_State *co;
  int co_ref, env_ref;
  const fn_t *fnp;        /* the function: the cache's while the first
                             step runs, then fn */
  fn_t fn;                /* snapshot: module, name, timeout, memory */
  int last;               /* luahost status of the last step */
  logctx_t x;
  bool spaced, state_first;
  double sdl, fdl;        /* the state's and the function's deadlines */
  int status;             /* FIN_INVOKE: 200 or 202 */
  bool tail;              /* FIN_INVOKE: LogType Tail */
  /* PEND_HTTP */
  svc_http_call_t *svc;
};

/* The engine's multi handle, made (and named to moonstep.core.http in
 * the registry) on first use. */
static http_multi_t *host_multi(task_host_t *h) {
  if (!h->multi) {
    lua_State *L = luahost_state(h->lh);
    h->multi = http_multi_new();
    lua_pushlightuserdata(L, h->multi);
    lua_setfield(L, LUA_REGISTRYINDEX, LHTTP_MULTI_KEY);
  }
  return h->multi;
}

static void pend_wake(task_pending_t *p) {
  if (p->woke) return;
  p->woke = true;
  if (p->wake) p->wake(p->wake_ud);
}

static void xfer_done(void *ud, http_xfer_t *x) {
  (void)x;
  pend_wake(ud);
}

static task_pending_t *pend_new(task_host_t *h, int kind,
                                const task_call_t *c, const call_t *k) {
  task_pending_t *p = ms_calloc(1, sizeof *p);
  p->h = h;
  p->kind = kind;
  p->c = *c;
  json_incref(p->c.input);
  json_incref(p->c.context);
  p->k = *k;
  p->co_ref = p->env_ref = LUA_NOREF;
  return p;
}

static void pend_free(task_pending_t *p) {
  task_host_t *h = p->h;
  if (p->prev || p->next || h->pend == p) {
    if (p->prev) p->prev->next = p->next; else h->pend = p->next;
    if (p->next) p->next->prev = p->prev;
    h->npend--;
  }
  if (p->kind == PEND_HTTP) {
    http_xfer_free(p->xfer);
    svc_http_free(p->svc);
  } else {
    /* the request stays with the coroutine (its __gc frees it) */
    if (p->xfer) http_xfer_on_done(p->xfer, NULL, NULL);
    lua_State *L = luahost_state(h->lh);
    luaL_unref(L, LUA_REGISTRYINDEX, p->co_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->env_ref);
    free(p->fn.module);
    free(p->fn.name);
  }
  json_decref(p->c.input);
  json_decref(p->c.context);
  free(p);
}

/* Resume p's coroutine once (nargs values on its stack) with its settings
 * in force. Suspended again: p->suspended, NULL, no fault. Else the
 * handler's outcome, as call_fn's. */
static json_t *pend_step(task_pending_t *p, int nargs, fault_t *f) {
  task_host_t *h = p->h;
  lua_State *L = luahost_state(h->lh), *co = p->co;
  int top = lua_gettop(L);
  h->fn_deadline = p->fdl;
  luahost_set_deadline(h->lh, p->state_first ? p->sdl : p->fdl);
  luahost_set_memory_limit(h->lh, (size_t)p->fnp->memory * 1024 * 1024);
  luahost_set_log(h->lh, log_line, &p->x);
  if (p->env_ref != LUA_NOREF) {  /* the first step finds it in force */
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->env_ref);
    luahost_set_env(h->lh);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->co_ref);
  lua_setfield(L, LUA_REGISTRYINDEX, LHTTP_CO_KEY);
  host_multi(h);
  p->xfer = NULL;  /* the request took its transfer back */
  p->woke = p->suspended = false;
  char *trace = NULL;
  int nres = 0;
  int st = luahost_resume(h->lh, co, nargs, &nres, &trace);
  p->last = st;
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LHTTP_CO_KEY);
  json_t *result = NULL;
  if (st == LUAHOST_YIELD) {
    http_xfer_t *x = nres == 1 && lua_type(co, -1) == LUA_TLIGHTUSERDATA
                         ? lua_touserdata(co, -1) : NULL;
    lua_pop(co, nres);
    if (x) {
      p->xfer = x;
      p->suspended = true;
      http_xfer_on_done(x, xfer_done, p);
    } else {
      lambda_error(f, "Error", "attempt to yield from the handler itself "
                   "(coroutine.yield outside a coroutine of its own)", NULL,
                   &p->k, p->spaced);
    }
  } else {
    result = call_end(h, st, trace, p->fnp, &p->k, p->spaced,
                      p->state_first, &p->x, f);
  }
  luahost_set_deadline(h->lh, 0);
  luahost_set_memory_limit(h->lh, 0);
  luahost_set_log(h->lh, NULL, NULL);
  h->fn_deadline = 0;
  lua_settop(L, top);
  if (st == LUAHOST_OOM) lua_gc(L, LUA_GCCOLLECT);
  free(trace);
  return result;
}

/* Run the handler below its two arguments (event, context) at the top of
 * the main stack as a coroutine. Until it first suspends its pending lives
 * on the C stack and borrows the call and the function (most calls never
 * suspend); a finished coroutine is kept for the next call. Suspended:
 * h->made is its pending, with copies of what it borrowed. */
static json_t *call_co(task_host_t *h, const task_call_t *c, fn_t *fn,
                       const call_t *k, bool spaced, double sdl, double fdl,
                       bool state_first, fault_t *f) {
  lua_State *L = luahost_state(h->lh);
  task_pending_t t = {0};
  t.h = h;
  t.kind = PEND_LUA;
  t.fin = FIN_LIMIT;
  t.c = *c;
  t.k = *k;
  t.fnp = fn;
  t.x = (logctx_t){c, fn};
  t.spaced = spaced;
  t.state_first = state_first;
  t.sdl = sdl;
  t.fdl = fdl;
  t.env_ref = LUA_NOREF;
  if (h->co_spare) {
    t.co_ref = h->co_spare;
    h->co_spare = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t.co_ref);
    t.co = lua_tothread(L, -1);
    lua_pop(L, 1);
  } else {
    t.co = lua_newthread(L);
    t.co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_xmove(L, t.co, 3);  /* the handler, event, context */
  json_t *r = pend_step(&t, 2, f);
  if (!t.suspended) {
    if (t.last == LUAHOST_OK && !h->co_spare &&
        lua_status(t.co) == LUA_OK && lua_gettop(t.co) == 0)
      h->co_spare = t.co_ref;  /* ended normally: reusable */
    else
      luaL_unref(L, LUA_REGISTRYINDEX, t.co_ref);
    return r;
  }
  task_pending_t *p = ms_malloc(sizeof *p);
  *p = t;
  json_incref(p->c.input);
  json_incref(p->c.context);
  memset(&p->fn, 0, sizeof p->fn);
  p->fn.module = ms_strdup(fn->module);
  p->fn.name = ms_strdup(fn->name);
  p->fn.timeout = fn->timeout;
  p->fn.memory = fn->memory;
  p->fnp = &p->fn;
  p->x = (logctx_t){&p->c, &p->fn};
  http_xfer_on_done(p->xfer, xfer_done, p);
  push_env(h, fn, k);  /* the os.getenv table in force, for resumes */
  p->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  h->made = p;
  return NULL;
}

/* Find fn, call it with event, return its result as JSON. */
static json_t *call_fn(task_host_t *h, const task_call_t *c, fn_t *fn,
                       const json_t *event, const call_t *k, bool spaced,
                       fault_t *f) {
  lua_State *L = luahost_state(h->lh);
  int top = lua_gettop(L);
  json_t *result = NULL;
  char *msg = NULL, *trace = NULL;
  double now = luahost_now();
  double sdl = c->timeout_seconds > 0 ? now + c->timeout_seconds : 0;
  double fdl = fn->timeout > 0 ? now + fn->timeout : 0;
  bool state_first = sdl > 0 && (fdl <= 0 || sdl <= fdl);
  h->fn_deadline = fdl;
  luahost_set_deadline(h->lh, state_first ? sdl : fdl);
  luahost_set_memory_limit(h->lh, (size_t)fn->memory * 1024 * 1024);
  logctx_t x = {c, fn};
  luahost_set_log(h->lh, log_line, &x);
  push_env(h, fn, k);
  luahost_set_env(h->lh);
  int st = luahost_module(h->lh, fn->module, &msg);
  switch (st) {
  case LUAHOST_OK:
    break;
  case LUAHOST_NOT_FOUND:
  case LUAHOST_BAD_NAME:
    fault_set(f, "Lambda.ResourceNotFoundException",
              "Function not found: %s%s (Service: AWSLambda; Status Code: "
              "404; Error Code: ResourceNotFoundException; Request ID: %s; "
              "Proxy: null)", fn->arn, fn->qualifier ? "" : ":$LATEST",
              k->reqid);
    goto done;
  case LUAHOST_SYNTAX:
    lambda_error(f, "Runtime.UserCodeSyntaxError", msg, NULL, k, spaced);
    goto done;
  case LUAHOST_INIT_ERROR: {
    char *m = ms_asprintf("Unable to import module '%s': %s", fn->module,
                          msg);
    lambda_error(f, "Runtime.ImportModuleError", m, NULL, k, spaced);
    free(m);
    goto done;
  }
  default:
    stopped(h, st, fn, k, spaced, state_first, &x, f);
    goto done;
  }
  luahost_field(h->lh, fn->field);
  lua_remove(L, -2);
  bool callable = lua_type(L, -1) == LUA_TFUNCTION;
  if (!callable && luaL_getmetafield(L, -1, "__call") != LUA_TNIL) {
    lua_pop(L, 1);
    callable = true;
  }
  if (!callable) {
    char *m = ms_asprintf("Handler '%s' missing on module '%s'", fn->field,
                          fn->module);
    lambda_error(f, "Runtime.HandlerNotFound", m, NULL, k, spaced);
    free(m);
    goto done;
  }
  luabridge_push(L, event);
  push_context(h, c, fn, k);
  if (h->may_suspend) {
    result = call_co(h, c, fn, k, spaced, sdl, fdl, state_first, f);
    goto done;
  }
  st = luahost_call(h->lh, 2, &trace);
  result = call_end(h, st, trace, fn, k, spaced, state_first, &x, f);
done:
  luahost_set_deadline(h->lh, 0);
  luahost_set_memory_limit(h->lh, 0);
  luahost_set_log(h->lh, NULL, NULL);
  /* the environment stays in force (no Lua code runs between calls): the
   * next call of the same function finds it set */
  h->fn_deadline = 0;
  lua_settop(L, top);
  if (st == LUAHOST_OOM) lua_gc(L, LUA_GCCOLLECT);
  free(msg);
  free(trace);
  return result;
}

void task_host_set_payload_limit(task_host_t *h, size_t max) {
  h->payload_max = max;
}

/* Over-limit results fail as AWS words it; name is what AWS quotes. */
static json_t *limit(const task_host_t *h, json_t *result, const char *name,
                     fault_t *f) {
  if (result && h->payload_max &&
      !jsonx_size_within(result, h->payload_max)) {
    json_decref(result);
    fault_set(f, "States.DataLimitExceeded",
              "The state/task '%s' returned a result with a size exceeding "
              "the maximum number of bytes service limit.", name);
    return NULL;
  }
  return result;
}

/* ---- the cache of resolved functions --------------------------------- */

/* The function cached under key, or NULL. Its config file is checked at
 * the first call of each execution and then at most every CHECK_S
 * seconds; a changed one drops the entry (NULL). */
static fn_t *cache_get(task_host_t *h, const char *key) {
  size_t i = h->last;
  if (i >= h->ncache || strcmp(h->cache[i].key, key) != 0) {
    for (i = 0; i < h->ncache && strcmp(h->cache[i].key, key) != 0; i++)
      ;
    if (i == h->ncache) return NULL;
  }
  fent_t *e = &h->cache[i];
  if (e->epoch != h->epoch || luahost_now() - e->checked >= CHECK_S) {
    if (!cfg_same(&e->fn)) {
      cache_drop(h, i);
      return NULL;
    }
    e->epoch = h->epoch;
    e->checked = luahost_now();
  }
  h->last = i;
  e->used = h->ncalls;
  return &e->fn;
}

/* Keep *fn under key (the cache takes it; *fn is emptied); returns the
 * kept one, valid until the cache changes. Full: the least recently used
 * entry goes. */
static fn_t *cache_put(task_host_t *h, const char *key, fn_t *fn) {
  if (!h->cache) h->cache = ms_calloc(CACHE_MAX, sizeof *h->cache);
  if (h->ncache == CACHE_MAX) {
    size_t old = 0;
    for (size_t i = 1; i < h->ncache; i++)
      if (h->cache[i].used < h->cache[old].used) old = i;
    cache_drop(h, old);
  }
  fent_t *e = &h->cache[h->ncache];
  e->key = ms_strdup(key);
  e->fn = *fn;
  memset(fn, 0, sizeof *fn);
  e->checked = luahost_now();
  e->epoch = h->epoch;
  e->used = h->ncalls;
  h->last = h->ncache++;
  return &e->fn;
}

static json_t *run_arn(task_host_t *h, const task_call_t *c, fault_t *f) {
  call_t k;
  call_init(h, c, &k);
  fn_t *fn = cache_get(h, c->resource);
  if (!fn) {
    fn_t made = {0};
    if (!fn_resolve(&made, c->resource, NULL, &k)) {
      fault_runtime(f, "Invalid Lambda function ARN '%s'", c->resource);
      return NULL;
    }
    if (!fn_configure(h, &made, made.name, true, f)) {
      fn_free(h, &made);
      return NULL;
    }
    fn = cache_put(h, c->resource, &made);
  }
  json_t *r = call_fn(h, c, fn, c->input, &k, true, f);
  return limit(h, r, c->resource, f);
}

static json_t *run_lua(task_host_t *h, const task_call_t *c, fault_t *f) {
  call_t k;
  call_init(h, c, &k);
  fn_t *fn = cache_get(h, c->resource);
  if (!fn) {
    const char *spec = c->resource + 4;  /* after "lua:" */
    const char *dot = strrchr(spec, '.');
    if (dot && !dot[1]) {
      fault_runtime(f, "Invalid resource '%s': expected lua:MODULE.FUNCTION",
                    c->resource);
      return NULL;
    }
    fn_t made = {0};
    made.module = dot ? ms_strndup(spec, (size_t)(dot - spec))
                      : ms_strdup(spec);
    made.field_own = ms_strdup(dot ? dot + 1 : "handler");
    made.field = made.field_own;
    made.name = ms_strdup(made.module);
    made.arn = ms_strdup(c->resource);
    if (!fn_configure(h, &made, made.module, false, f)) {
      fn_free(h, &made);
      return NULL;
    }
    fn = cache_put(h, c->resource, &made);
  }
  json_t *r = call_fn(h, c, fn, c->input, &k, true, f);
  if (fault_is_set(f) &&
      strcmp(f->error, "Lambda.ResourceNotFoundException") == 0) {
    fault_clear(f);
    fault_set(f, "Lambda.ResourceNotFoundException",
              "Function not found: %s (no %s/%s.lua)", c->resource,
              luahost_dir(h->lh), fn->module);
  }
  return limit(h, r, c->resource, f);
}

/* ---- lambda:invoke ------------------------------------------------------ */

static char *base64(const char *s, size_t n) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  buf_t b;
  buf_init(&b);
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)s[i] << 16;
    if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)s[i + 2];
    char q[4] = {tab[v >> 18], tab[(v >> 12) & 63],
                 i + 1 < n ? tab[(v >> 6) & 63] : '=',
                 i + 2 < n ? tab[v & 63] : '='};
    buf_append(&b, q, 4);
  }
  return buf_steal(&b);
}

static json_t *one(const char *s) {
  json_t *a = json_array();
  json_array_append_new(a, json_string(s));
  return a;
}

/* Lambda's Invoke response as the AWS SDK shows it to Step Functions. */
static json_t *wrap(json_t *payload_take, int status, const call_t *k,
                    const char *log) {
  char len[32], date[64], trace[80];
  char *text = status == 200 ? jsonx_dump(payload_take, JSONX_SPACED) : NULL;
  snprintf(len, sizeof len, "%zu", text ? strlen(text) : (size_t)0);
  free(text);
  struct tm tm;
  gmtime_r(&k->when, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  uint64_t x = hash(k->reqid);
  uint64_t t1 = mix(&x), t2 = mix(&x);
  snprintf(trace, sizeof trace, "Root=1-%08llx-%08llx%016llx;Sampled=0",
           (unsigned long long)k->when & 0xffffffffULL,
           (unsigned long long)(t1 & 0xffffffffULL), (unsigned long long)t2);
  json_t *all = json_object(), *hdr = json_object(), *meta = json_object();
  if (log) json_object_set_new(all, "X-Amz-Log-Result", one(log));
  json_object_set_new(all, "X-Amz-Executed-Version", one("$LATEST"));
  json_object_set_new(all, "x-amzn-Remapped-Content-Length", one("0"));
  json_object_set_new(all, "Connection", one("keep-alive"));
  json_object_set_new(all, "x-amzn-RequestId", one(k->reqid));
  json_object_set_new(all, "Content-Length", one(len));
  json_object_set_new(all, "Date", one(date));
  json_object_set_new(all, "X-Amzn-Trace-Id", one(trace));
  json_object_set_new(all, "Content-Type", one("application/json"));
  json_object_set_new(hdr, "Connection", json_string("keep-alive"));
  json_object_set_new(hdr, "Content-Length", json_string(len));
  json_object_set_new(hdr, "Content-Type", json_string("application/json"));
  json_object_set_new(hdr, "Date", json_string(date));
  json_object_set_new(hdr, "X-Amz-Executed-Version", json_string("$LATEST"));
  if (log) json_object_set_new(hdr, "X-Amz-Log-Result", json_string(log));
  json_object_set_new(hdr, "x-amzn-Remapped-Content-Length",
                      json_string("0"));
  json_object_set_new(hdr, "x-amzn-RequestId", json_string(k->reqid));
  json_object_set_new(hdr, "X-Amzn-Trace-Id", json_string(trace));
  json_object_set_new(meta, "AllHttpHeaders", all);
  json_object_set_new(meta, "HttpHeaders", hdr);
  json_object_set_new(meta, "HttpStatusCode", json_integer(status));
  json_t *sdk = json_object();
  json_object_set_new(sdk, "RequestId", json_string(k->reqid));
  json_t *o = json_object();
  json_object_set_new(o, "ExecutedVersion", json_string("$LATEST"));
  if (log) json_object_set_new(o, "LogResult", json_string(log));
  json_object_set_new(o, "Payload", payload_take);
  json_object_set_new(o, "SdkHttpMetadata", meta);
  json_object_set_new(o, "SdkResponseMetadata", sdk);
  json_object_set_new(o, "StatusCode", json_integer(status));
  return o;
}

/* LogType Tail's LogResult: base64 of a START/END/REPORT log. */
static char *tail_log(const call_t *k, int memory) {
  char *text = ms_asprintf("START RequestId: %s Version: $LATEST\n"
                           "END RequestId: %s\n"
                           "REPORT RequestId: %s\tMemory Size: %d MB\t\n",
                           k->reqid, k->reqid, k->reqid, memory);
  char *log = base64(text, strlen(text));
  free(text);
  return log;
}

static json_t *run_invoke(task_host_t *h, const task_call_t *c, fault_t *f) {
  /* .waitForTaskToken invokes the same way; the interpreter ignores the
   * result and waits for the token (exec.c) */
  json_t *in = c->input;
  const char *fname = json_string_value(json_object_get(in, "FunctionName"));
  if (!json_is_object(in) || !fname) {
    fault_runtime(f, "The Parameters of a '%s' task must be an object with "
                  "a string field 'FunctionName'", INVOKE_ARN);
    return NULL;
  }
  const char *type =
      json_string_value(json_object_get(in, "InvocationType"));
  const char *logtype = json_string_value(json_object_get(in, "LogType"));
  const char *qual = json_string_value(json_object_get(in, "Qualifier"));
  json_t *event = json_object_get(in, "Payload");
  json_t *owned = NULL;  /* the event when it had to be made */
  call_t k;
  call_init(h, c, &k);
  fn_t made = {0}, *fn = NULL;
  json_t *r = NULL;
  if (!event || json_is_null(event)) {
    event = owned = json_object();
  } else if (json_is_string(event)) {
    /* a string Payload is the request body itself: JSON text */
    char *err = NULL;
    event = owned = jsonx_parse(json_string_value(event),
                                json_string_length(event), &err);
    if (!event) {
      char *m = ms_asprintf("Unable to unmarshal input: %s", err);
      lambda_error(f, "Runtime.UnmarshalError", m, NULL, &k, false);
      free(m);
      free(err);
      goto done;
    }
  }
  /* the cache key: what the resolution depends on */
  char key[KEY_MAX];
  size_t nf = strlen(fname), nq = qual ? strlen(qual) : 0;
  size_t nr = strlen(k.region), na = strlen(k.account);
  bool keyed = nf + nq + nr + na + 5 <= sizeof key;
  if (keyed) {
    char *p = key;
    *p++ = '\x01';  /* no Resource starts so */
    memcpy(p, fname, nf);
    p += nf;
    *p++ = '\x1f';
    if (nq) memcpy(p, qual, nq);
    p += nq;
    *p++ = '\x1f';
    memcpy(p, k.region, nr);
    p += nr;
    *p++ = '\x1f';
    memcpy(p, k.account, na);
    p[na] = '\0';
    fn = cache_get(h, key);
  }
  if (fn) {
    /* resolved and configured before */
  } else if (!fn_resolve(&made, fname, qual, &k)) {
    fault_set(f, "Lambda.AWSLambdaException",
              "1 validation error detected: Value '%s' at 'functionName' "
              "failed to satisfy constraint: Member must satisfy regular "
              "expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
              "([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
              "([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))? (Service: "
              "AWSLambda; Status Code: 400; Error Code: ValidationException;"
              " Request ID: %s; Proxy: null)", fname, k.reqid);
    goto done;
  } else if (!fn_configure(h, &made, made.name, true, f)) {
    goto done;
  } else {
    fn = keyed ? cache_put(h, key, &made) : &made;
  }
  int status = 200;
  if (type && strcmp(type, "Event") == 0) status = 202;
  if (type && strcmp(type, "DryRun") == 0) status = 204;
  if (status == 204) {
    /* a dry run only checks that the function exists */
    char *msg = NULL;
    int st = luahost_module(h->lh, fn->module, &msg);
    free(msg);
    if (st == LUAHOST_OK) lua_pop(luahost_state(h->lh), 1);
    if (st == LUAHOST_NOT_FOUND || st == LUAHOST_BAD_NAME) {
      r = call_fn(h, c, fn, event, &k, false, f);  /* sets the 404 */
      goto done;
    }
    r = json_string("");
  } else {
    r = call_fn(h, c, fn, event, &k, false, f);
    if (h->made) {  /* suspended: task_pending_resume finishes it */
      h->made->fin = FIN_INVOKE;
      h->made->status = status;
      h->made->tail = logtype && strcmp(logtype, "Tail") == 0;
      goto done;
    }
    if (status == 202) {  /* asynchronous: the result is not returned */
      bool lost = !fault_is_set(f) ||
                  strcmp(f->error, "Lambda.ResourceNotFoundException") != 0;
      if (lost) {
        fault_clear(f);
        json_decref(r);
        r = json_string("");
      }
    }
  }
  if (r) {
    char *log = NULL;
    if (logtype && strcmp(logtype, "Tail") == 0)
      log = tail_log(&k, fn->memory);
    r = limit(h, wrap(r, status, &k, log), "lambda", f);
    free(log);
  }
done:
  fn_free(h, &made);
  json_decref(owned);
  return r;
}

/* ---- states:startExecution ------------------------------------------- */

void task_host_set_nested(task_host_t *h, task_nested_fn fn, void *ud) {
  h->nested = fn;
  h->nested_ud = ud;
}

static json_t *run_start(task_host_t *h, const task_call_t *c, fault_t *f) {
  if (!h->nested) {
    fault_runtime(f, "The resource '%s' needs an engine to run nested "
                  "executions", c->resource);
    return NULL;
  }
  return limit(h, h->nested(h->nested_ud, c, f), c->resource, f);
}

/* ---- http:invoke ------------------------------------------------------ */

/* Blocking, or (task_start) a transfer on the multi handle. */
static json_t *run_http(task_host_t *h, const task_call_t *c, fault_t *f) {
  call_t k;
  call_init(h, c, &k);
  if (!h->may_suspend) {
    json_t *r = svc_http_invoke(c->input, k.region, c->timeout_seconds, f);
    return limit(h, r, c->resource, f);
  }
  svc_http_call_t *s = svc_http_prepare(c->input, k.region,
                                        c->timeout_seconds, f);
  if (!s) return NULL;
  char *msg = NULL;
  http_xfer_t *x = http_start(host_multi(h), svc_http_request(s), &msg);
  if (!x) {
    fault_set(f, "States.Http.Socket", "%s", msg ? msg : "no transfer");
    free(msg);
    svc_http_free(s);
    return NULL;
  }
  task_pending_t *p = pend_new(h, PEND_HTTP, c, &k);
  p->svc = s;
  p->xfer = x;
  p->suspended = true;
  p->fin = FIN_LIMIT;
  http_xfer_on_done(x, xfer_done, p);
  h->made = p;
  return NULL;
}

static json_t *run_dynamodb(task_host_t *h, const task_call_t *c,
                            fault_t *f) {
  return limit(h, svc_dynamodb_run(c->resource, c->input, f), c->resource,
               f);
}

static json_t *run_s3(task_host_t *h, const task_call_t *c, fault_t *f) {
  return limit(h, svc_s3_run(c->resource, c->input, f), c->resource, f);
}

/* ---- entry ------------------------------------------------------------- */

typedef json_t *(*runner_fn)(task_host_t *, const task_call_t *, fault_t *);

static const runner_fn runners[] = {
  [TASK_LAMBDA_ARN] = run_arn,
  [TASK_LAMBDA_INVOKE] = run_invoke,
  [TASK_LUA] = run_lua,
  [TASK_STATES_START] = run_start,
  [TASK_HTTP_INVOKE] = run_http,
  [TASK_DYNAMODB] = run_dynamodb,
  [TASK_S3] = run_s3,
};

json_t *task_run(task_host_t *h, const task_call_t *c, fault_t *f) {
  task_kind_t kind = task_kind(c->resource);
  if (kind == TASK_UNKNOWN) {
    fault_runtime(f, "The resource '%s' is not supported by moonstep",
                  c->resource ? c->resource : "(null)");
    return NULL;
  }
  return runners[kind](h, c, f);
}

json_t *task_start(task_host_t *h, const task_call_t *c, fault_t *f,
                   task_pending_t **pending) {
  /* a nested execution's Tasks come through here too: keep the outer's */
  bool outer = h->may_suspend;
  task_pending_t *outer_made = h->made;
  h->may_suspend = pending != NULL;
  h->made = NULL;
  json_t *r = task_run(h, c, f);
  task_pending_t *p = h->made;
  h->may_suspend = outer;
  h->made = outer_made;
  if (pending) *pending = p;
  if (p) {
    p->next = h->pend;
    if (h->pend) h->pend->prev = p;
    h->pend = p;
    h->npend++;
  }
  return r;
}

void task_pending_on_wake(task_pending_t *p, task_wake_fn fn, void *ud) {
  p->wake = fn;
  p->wake_ud = ud;
  if (p->woke && fn) fn(ud);
}

/* A finished call's result as its runner would have returned it. */
static json_t *pend_finish(task_pending_t *p, json_t *r, fault_t *f) {
  task_host_t *h = p->h;
  if (p->fin == FIN_LIMIT) return limit(h, r, p->c.resource, f);
  if (p->status == 202) {  /* asynchronous: the outcome is dropped */
    fault_clear(f);
    json_decref(r);
    r = json_string("");
  }
  if (!r) return NULL;
  char *log = p->tail ? tail_log(&p->k, p->fnp->memory) : NULL;
  r = limit(h, wrap(r, p->status, &p->k, log), "lambda", f);
  free(log);
  return r;
}

json_t *task_pending_resume(task_pending_t *p, fault_t *f, bool *again) {
  *again = false;
  json_t *r = NULL;
  if (p->kind == PEND_HTTP) {
    if (!http_xfer_done(p->xfer)) {
      p->woke = false;
      *again = true;
      return NULL;
    }
    http_resp_t resp;
    char *msg = NULL;
    http_err_t e = http_xfer_result(p->xfer, &resp, &msg);
    r = svc_http_finish(p->svc, e, &resp, msg, f);
    free(msg);
  } else if (p->xfer && !http_xfer_done(p->xfer)) {
    /* woken by a deadline, not by its transfer */
    double dl = p->state_first ? p->sdl : p->fdl;
    if (dl <= 0 || luahost_now() < dl) {
      p->woke = false;
      *again = true;
      return NULL;
    }
    stopped(p->h, LUAHOST_TIMEOUT, p->fnp, &p->k, p->spaced, p->state_first,
            &p->x, f);
  } else {
    r = pend_step(p, 0, f);
    if (p->suspended) {
      *again = true;
      return NULL;
    }
  }
  r = pend_finish(p, r, f);
  pend_free(p);
  return r;
}

void task_pending_cancel(task_pending_t *p) {
  if (p) pend_free(p);
}

size_t task_host_pending(const task_host_t *h) { return h->npend; }

/* Wake the suspended handlers whose deadline passed; *first gets the
 * earliest deadline still ahead. */
static bool deadlines(task_host_t *h, double *first) {
  bool any = false;
  double now = luahost_now();
  for (task_pending_t *p = h->pend; p; p = p->next) {
    if (p->kind != PEND_LUA || p->woke) continue;
    double dl = p->state_first ? p->sdl : p->fdl;
    if (dl <= 0) continue;
    if (dl <= now) {
      pend_wake(p);
      any = true;
    } else if (dl < *first) {
      *first = dl;
    }
  }
  return any;
}

bool task_host_wait(task_host_t *h, double seconds) {
  if (!h->pend) return false;
  double first = INFINITY;
  bool any = deadlines(h, &first);
  if (any) seconds = 0;
  double left = first - luahost_now();
  if (left < seconds) seconds = left > 0 ? left : 0;
  if (h->multi && http_multi_wait(h->multi, seconds) > 0) any = true;
  first = INFINITY;
  if (deadlines(h, &first)) any = true;
  return any;
}

/* ---- moonstep invoke ---------------------------------------------------- */

json_t *task_invoke(task_host_t *h, const char *function, json_t *event,
                    json_t **error) {
  task_call_t c = {function, NULL, event, NULL, 0, NULL, NULL};
  fault_t f = FAULT_INIT;
  call_t k;
  call_init(h, &c, &k);
  fn_t fn = {0};
  json_t *r = NULL;
  *error = NULL;
  if (!fn_resolve(&fn, function, NULL, &k)) {
    fault_set(&f, "Lambda.InvalidParameterValueException",
              "'%s' is not a function name or a Lambda function ARN",
              function);
  } else if (fn_configure(h, &fn, fn.name, true, &f)) {
    r = call_fn(h, &c, &fn, event, &k, false, &f);
  }
  if (fault_is_set(&f)) {
    /* Lambda's error JSON is the cause; engine faults get its shape */
    json_t *o = f.cause ? jsonx_parse(f.cause, strlen(f.cause), NULL) : NULL;
    if (!json_is_object(o) || !json_object_get(o, "errorType")) {
      json_decref(o);
      o = json_object();
      json_object_set_new(o, "errorMessage",
                          json_string(f.cause ? f.cause : ""));
      json_object_set_new(o, "errorType", json_string(f.error));
    }
    *error = o;
    json_decref(r);
    r = NULL;
  }
  fault_clear(&f);
  fn_free(h, &fn);
  return r;
}
