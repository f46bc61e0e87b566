/* mock.c - mocked Task states (mock.h): AWS Step Functions Local's mock
 * configuration file, fixed responses and callbacks, answered through the
 * interpreter's mock hook with one invocation counter per state.
 *
 * What Step Functions Local does, and where this follows it:
 *  - the file format is unchanged: {"StateMachines": {NAME: {"TestCases":
 *    {CASE: {STATE: RESPONSE}}}}, "MockedResponses": {RESPONSE: {"0":
 *    {"Return": v}, "1-2": {"Throw": {"Error", "Cause"}}}}}; keys are
 *    0-based invocation numbers or inclusive ranges, and a response holds
 *    exactly one of Return (any JSON value) or Throw (AWS developer guide,
 *    "Configuration file for mocked service integrations");
 *  - one counter per state per execution, advanced on every invocation,
 *    retries and Map iterations included (reproduced against
 *    amazon/aws-stepfunctions-local 2.0.0 in floci-io/floci#3254);
 *  - "you must specify a mocked response for every invocation ... If you
 *    do not specify a mocked response, the state machine execution will
 *    fail" (developer guide): an invocation no key covers fails with
 *    States.Runtime, which Retry and Catch never take (floci-io/floci#2823,
 *    checked against Step Functions Local 2.0.0). The Cause's wording is
 *    ours: Step Functions Local's text is not documented;
 *  - states not named by the test case run their real resource.
 * Stricter than Step Functions Local, deliberately: a test case that names
 * a missing MockedResponse, a malformed response it uses, overlapping
 * ranges, or a state that is not a Task is refused before the run (it
 * resolves responses lazily); unused responses are not checked, as there.
 * Throw's Cause may be left out (the Task then fails with no Cause).
 */
#include "mock.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct resp {  /* one key of a mocked response */
  long lo, hi;         /* invocations lo..hi (inclusive) */
  json_t *ret;         /* Return value, or NULL for Throw */
  char *error, *cause; /* Throw (cause may be NULL) */
} resp_t;

typedef struct mstate_mock {
  char *state;         /* the Task state's name */
  char *source;        /* "test case 'T'" or "mocks", for messages */
  char *response;      /* the MockedResponse's name (NULL: from code) */
  resp_t *v;           /* sorted by lo; an "always" response: lo 0, hi max */
  size_t n;
  mock_call_fn call;   /* answered by code instead (NULL: by v) */
  void *call_ud;
  long count;          /* invocations so far */
} smock_t;

struct mock {
  smock_t *v;
  size_t n, cap;
};

mock_t *mock_new(void) { return ms_calloc(1, sizeof(mock_t)); }

static void resps_free(resp_t *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    json_decref(v[i].ret);
    free(v[i].error);
    free(v[i].cause);
  }
  free(v);
}

static void smock_clear(smock_t *s) {
  free(s->state);
  free(s->source);
  free(s->response);
  resps_free(s->v, s->n);
  memset(s, 0, sizeof *s);
}

void mock_free(mock_t *k) {
  if (!k) return;
  for (size_t i = 0; i < k->n; i++) smock_clear(&k->v[i]);
  free(k->v);
  free(k);
}

/* The entry for state, made empty (a new one when there is none). */
static smock_t *slot(mock_t *k, const char *state) {
  for (size_t i = 0; i < k->n; i++)
    if (!strcmp(k->v[i].state, state)) {
      smock_clear(&k->v[i]);
      k->v[i].state = ms_strdup(state);
      return &k->v[i];
    }
  if (k->n == k->cap) {
    k->cap = k->cap ? k->cap * 2 : 8;
    k->v = ms_realloc(k->v, k->cap * sizeof *k->v);
  }
  smock_t *s = &k->v[k->n++];
  memset(s, 0, sizeof *s);
  s->state = ms_strdup(state);
  return s;
}

/* ---- parsing ----------------------------------------------------------- */

/* A non-negative decimal number (no sign, no spaces) ending at *end. */
static bool number(const char *p, const char **end, long *out) {
  if (*p < '0' || *p > '9') return false;
  errno = 0;
  char *e;
  long v = strtol(p, &e, 10);
  if (errno || v > INT_MAX) return false;
  *end = e;
  *out = v;
  return true;
}

/* A response key: "N" or "LO-HI" with LO <= HI. */
static bool range_key(const char *key, long *lo, long *hi) {
  const char *e;
  if (!number(key, &e, lo)) return false;
  *hi = *lo;
  if (*e == '-' && !number(e + 1, &e, hi)) return false;
  return *e == '\0' && *lo <= *hi;
}

/* One response value {"Return": v} | {"Throw": {...}} into r. what names
 * it in messages. */
static bool parse_resp(json_t *v, resp_t *r, const char *what, char **err) {
  json_t *ret = json_object_get(v, "Return");
  json_t *thr = json_object_get(v, "Throw");
  if (!json_is_object(v) || json_object_size(v) != 1 || (!ret && !thr)) {
    *err = ms_asprintf("%s must be an object with a single field, Return "
                       "or Throw", what);
    return false;
  }
  if (ret) {
    r->ret = json_deep_copy(ret);
    return true;
  }
  json_t *e = json_object_get(thr, "Error");
  json_t *c = json_object_get(thr, "Cause");
  if (!json_is_object(thr) || !json_is_string(e) ||
      (c && !json_is_string(c))) {
    *err = ms_asprintf("%s: Throw must be an object with a string Error "
                       "and a string Cause", what);
    return false;
  }
  r->error = ms_strdup(json_string_value(e));
  r->cause = c ? ms_strdup(json_string_value(c)) : NULL;
  return true;
}

static int by_lo(const void *a, const void *b) {
  long x = ((const resp_t *)a)->lo, y = ((const resp_t *)b)->lo;
  return x < y ? -1 : x > y;
}

/* The MockedResponse named name (an object of range keys) into s. */
static bool parse_mocked(json_t *mr, const char *name, smock_t *s,
                         char **err) {
  if (!json_is_object(mr)) {
    *err = ms_asprintf("MockedResponses.%s must be an object", name);
    return false;
  }
  s->v = ms_calloc(json_object_size(mr) + 1, sizeof *s->v);
  const char *key;
  json_t *v;
  json_object_foreach(mr, key, v) {
    resp_t *r = &s->v[s->n];
    char *what = ms_asprintf("MockedResponses.%s.\"%s\"", name, key);
    bool ok = range_key(key, &r->lo, &r->hi);
    if (!ok)
      *err = ms_asprintf("%s: a key is an invocation number (\"0\") or an "
                         "inclusive range (\"1-2\")", what);
    else
      ok = parse_resp(v, r, what, err);
    free(what);
    if (!ok) return false;
    s->n++;
  }
  qsort(s->v, s->n, sizeof *s->v, by_lo);
  for (size_t i = 1; i < s->n; i++)
    if (s->v[i].lo <= s->v[i - 1].hi) {
      *err = ms_asprintf("MockedResponses.%s: invocation %ld is given "
                         "twice", name, s->v[i].lo);
      return false;
    }
  return true;
}

bool mock_load(mock_t *k, json_t *config, const char *machine,
               const char *test_case, char **err) {
  json_t *sms = json_object_get(config, "StateMachines");
  json_t *mrs = json_object_get(config, "MockedResponses");
  if (!json_is_object(config) || !json_is_object(sms)) {
    *err = ms_strdup("a mock configuration is an object with a "
                     "StateMachines object");
    return false;
  }
  if (mrs && !json_is_object(mrs)) {
    *err = ms_strdup("MockedResponses must be an object");
    return false;
  }
  json_t *sm = json_object_get(sms, machine);
  if (!sm) {
    *err = ms_asprintf("no state machine named '%s' in StateMachines",
                       machine);
    return false;
  }
  json_t *tcs = json_object_get(sm, "TestCases");
  if (!json_is_object(sm) || !json_is_object(tcs)) {
    *err = ms_asprintf("StateMachines.%s must be an object with a "
                       "TestCases object", machine);
    return false;
  }
  json_t *tc = json_object_get(tcs, test_case);
  if (!tc) {
    *err = ms_asprintf("no test case named '%s' for state machine '%s'",
                       test_case, machine);
    return false;
  }
  if (!json_is_object(tc)) {
    *err = ms_asprintf("StateMachines.%s.TestCases.%s must be an object "
                       "of state names to MockedResponses names", machine,
                       test_case);
    return false;
  }
  const char *state;
  json_t *name;
  json_object_foreach(tc, state, name) {
    const char *n = json_string_value(name);
    if (!n) {
      *err = ms_asprintf("test case '%s': state '%s' must name a "
                         "MockedResponse (a string)", test_case, state);
      return false;
    }
    json_t *mr = json_object_get(mrs, n);
    if (!mr) {
      *err = ms_asprintf("test case '%s': state '%s' names '%s', which is "
                         "not in MockedResponses", test_case, state, n);
      return false;
    }
    smock_t *s = slot(k, state);
    s->source = ms_asprintf("test case '%s'", test_case);
    s->response = ms_strdup(n);
    if (!parse_mocked(mr, n, s, err)) return false;
  }
  return true;
}

bool mock_set_response(mock_t *k, const char *state, json_t *response,
                       char **err) {
  resp_t r = {0, INT_MAX, NULL, NULL, NULL};
  char *what = ms_asprintf("the mock of state '%s'", state);
  bool ok = parse_resp(response, &r, what, err);
  free(what);
  if (!ok) return false;  /* parse_resp allocates only on success */
  smock_t *s = slot(k, state);
  s->source = ms_strdup("mocks");
  s->v = ms_malloc(sizeof *s->v);
  s->v[0] = r;
  s->n = 1;
  return true;
}

void mock_set_call(mock_t *k, const char *state, mock_call_fn fn, void *ud) {
  smock_t *s = slot(k, state);
  s->source = ms_strdup("mocks");
  s->call = fn;
  s->call_ud = ud;
}

/* ---- checking and answering ------------------------------------------- */

/* The state named name in m or in a machine nested in it; NULL if none. */
static const mstate_t *find(const machine_t *m, const char *name) {
  for (size_t i = 0; i < m->nstates; i++) {
    const mstate_t *st = &m->states[i];
    if (!strcmp(st->name, name)) return st;
    const mstate_t *in = NULL;
    for (size_t b = 0; !in && b < st->nbranches; b++)
      in = find(st->branches[b], name);
    if (!in && st->iterator) in = find(st->iterator, name);
    if (in) return in;
  }
  return NULL;
}

bool mock_check(const mock_t *k, const machine_t *m, char **err) {
  for (size_t i = 0; i < k->n; i++) {
    const smock_t *s = &k->v[i];
    const mstate_t *st = find(m, s->state);
    if (!st) {
      *err = ms_asprintf("%s mocks state '%s', which the state machine "
                         "does not have", s->source, s->state);
      return false;
    }
    if (st->type != ST_TASK) {
      *err = ms_asprintf("%s mocks state '%s', which is not a Task state",
                         s->source, s->state);
      return false;
    }
  }
  return true;
}

bool mock_answer(void *ud, const char *state, json_t *input,
                 json_t **result, fault_t *f) {
  mock_t *k = ud;
  smock_t *s = NULL;
  for (size_t i = 0; i < k->n && !s; i++)
    if (!strcmp(k->v[i].state, state)) s = &k->v[i];
  if (!s) return false;
  long n = s->count++;
  if (s->call) {
    *result = s->call(s->call_ud, state, input, (int)n, f);
    return true;
  }
  for (size_t i = 0; i < s->n; i++) {
    const resp_t *r = &s->v[i];
    if (n < r->lo || n > r->hi) continue;
    if (r->ret) {
      *result = json_deep_copy(r->ret);
    } else if (r->cause) {
      fault_set(f, r->error, "%s", r->cause);
    } else {
      fault_set(f, r->error, NULL);
    }
    return true;
  }
  if (s->response)
    fault_runtime(f, "No mocked response for invocation %ld of state "
                  "'%s': MockedResponse '%s' of %s has none.", n, state,
                  s->response, s->source);
  else
    fault_runtime(f, "No mocked response for invocation %ld of state "
                  "'%s'.", n, state);
  return true;
}
