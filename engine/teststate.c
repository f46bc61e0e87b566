/* teststate.c - AWS's TestState API, locally (see teststate.h).
 *
 * The state under test runs in a one-state machine: the state itself
 * without its Retry (TestState never retries: it says RETRIABLE), a
 * Succeed stub for every state it may go to (Next, Default, Choices,
 * Catch), and, when variables are given, a Pass before it that assigns
 * them. Map and Parallel states, which TestState runs only mocked, become
 * a mocked Task with the same InputPath, ResultSelector, ResultPath,
 * OutputPath, Assign and Catch. The run stops when the next state is
 * entered; exec.c's inspect observer hands over the data of each step.
 *
 * Confirmed against AWS (recorded responses): the status rules, the
 * fields each state type shows at DEBUG (a Pass with Result shows no
 * afterInputPath/afterParameters; a Pass without shows no result; Fail,
 * Succeed and Choice show input and afterInputPath), errorDetails, and
 * the ValidationException / InvalidDefinition messages marked "AWS" below.
 * Guesses (marked "guess"): the messages for a missing or unknown state
 * name and a bad inspection level, and the name a lone state runs under.
 * JSONata states (their own QueryLanguage or their machine's) run the
 * same way; their inspectionData has afterArguments instead of the
 * JSONPath fields (AWS's InspectionData reference).
 * Not done: context (refused), mapIterationFailureCount and
 * mapItemReaderData (refused), errorCausedByState (ignored), the Map-only
 * inspection fields (afterItemsPath, maxConcurrency, ...), HTTP
 * request/response at TRACE (TRACE shows what DEBUG does), the
 * fieldValidationMode checks, the 5-minute limit, and refusing an
 * unmocked .sync/.waitForTaskToken Task (it fails with States.Runtime).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "teststate.h"
#include "exec.h"
#include "retry.h"

#define LONE_NAME "TestState"  /* guess: the name a lone state runs as */
#define SETUP_NAME "moonstep:test-state:setup"
#define MOCK_RESOURCE \
  "arn:aws:lambda:us-east-1:123456789012:function:MoonstepTestStateMock"

typedef struct run {
  const char *name;       /* the state under test */
  json_t *mock_result;    /* mocked result (owned) or NULL */
  const char *mock_error, *mock_cause;  /* mocked errorOutput */
  bool mocked;
  bool jsonata;           /* the state is a JSONata state */
  bool entered;           /* the state under test was entered */
  char *next;             /* the next state entered (malloc'd) */
  json_t *insp;           /* field -> value, as the observer saw them */
} run_t;

/* ---- request checks ----------------------------------------------------- */

static json_t *refuse(char **code, char **message, const char *c,
                      const char *m) {
  *code = ms_strdup(c);
  *message = ms_strdup(m);
  return NULL;
}

static const char *type_of(const json_t *state) {
  const char *t = json_string_value(json_object_get(state, "Type"));
  return t ? t : "";
}

/* The mocked result: JSON text (as AWS takes it) or, for convenience, a
 * value. New reference, or NULL when the text is not JSON. */
static json_t *mock_value(json_t *v) {
  if (!json_is_string(v)) return json_incref(v);
  char *err = NULL;
  json_t *r = jsonx_parse(json_string_value(v), json_string_length(v),
                          &err);
  free(err);
  return r;
}

/* Check the mock against the state (AWS's rules) and take it into run.
 * Returns NULL when fine, else the message of a ValidationException (in
 * msg when it names the type). */
static const char *take_mock(run_t *run, json_t *mock, json_t *state,
                             char msg[static 64]) {
  const char *type = type_of(state);
  if (!strcmp(type, "Pass") || !strcmp(type, "Fail") ||
      !strcmp(type, "Succeed")) {
    snprintf(msg, 64, "State type '%s' is not supported when a mock is "
             "specified", type);  /* AWS */
    return msg;
  }
  json_t *result = json_object_get(mock, "result");
  json_t *eo = json_object_get(mock, "errorOutput");
  if (result && eo)  /* AWS */
    return "A test mock should have only one of the following fields: "
           "[result, errorOutput].";
  run->mocked = true;
  if (eo) {
    if (!json_is_object(eo)) return "Mocked errorOutput must be an object.";
    run->mock_error = json_string_value(json_object_get(eo, "error"));
    run->mock_cause = json_string_value(json_object_get(eo, "cause"));
    return NULL;
  }
  if (!result)  /* guess */
    return "A test mock should have one of the following fields: "
           "[result, errorOutput].";
  run->mock_result = mock_value(result);
  if (!run->mock_result)
    return "Mocked result must be valid JSON";  /* guess */
  if (!strcmp(type, "Map")) {
    if (json_object_get(state, "ResultWriter")) {
      if (!json_is_object(run->mock_result))
        return "Mocked result must be a JSON object.";  /* AWS */
    } else if (!json_is_array(run->mock_result)) {
      return "Mocked result must be an array.";  /* AWS */
    }
  } else if (!strcmp(type, "Parallel")) {
    if (!json_is_array(run->mock_result))
      return "Mocked result must be an array.";  /* AWS */
    if (json_array_size(run->mock_result) !=
        json_array_size(json_object_get(state, "Branches")))
      return "Mocked result must contain the same number of items as "
             "number of Parallel branches.";  /* AWS */
  }
  return NULL;
}

/* ---- the one-state machine ---------------------------------------------- */

/* Map and Parallel run as a mocked Task with the same data flow fields. */
static json_t *as_task(json_t *state) {
  static const char *const keep[] = {
    "InputPath", "OutputPath", "ResultPath", "ResultSelector", "Catch",
    "Retry", "Assign", "Next", "End", "Comment", "QueryLanguage",
    "Output", NULL
  };
  json_t *t = json_pack("{ss ss}", "Type", "Task", "Resource", MOCK_RESOURCE);
  for (int i = 0; keep[i]; i++) {
    json_t *v = json_object_get(state, keep[i]);
    if (v) json_object_set(t, keep[i], v);
  }
  /* a Parallel's Parameters (Arguments in JSONata) shape the branches'
   * input, as a Task's do */
  if (!strcmp(type_of(state), "Parallel")) {
    json_t *p = json_object_get(state, "Parameters");
    json_t *a = json_object_get(state, "Arguments");
    if (p) json_object_set(t, "Parameters", p);
    if (a) json_object_set(t, "Arguments", a);
  }
  return t;
}

static void stub(json_t *states, const char *self, json_t *target) {
  const char *n = json_string_value(target);
  if (!n || !strcmp(n, self) || json_object_get(states, n)) return;
  json_object_set_new(states, n, json_pack("{ss}", "Type", "Succeed"));
}

/* The machine that runs state (borrowed) as name: new reference. */
static json_t *build(const char *name, json_t *state, json_t *input,
                     json_t *vars) {
  json_t *states = json_object();
  json_object_set(states, name, state);
  stub(states, name, json_object_get(state, "Next"));
  stub(states, name, json_object_get(state, "Default"));
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(state, "Choices"), i, v)
    stub(states, name, json_object_get(v, "Next"));
  json_array_foreach(json_object_get(state, "Catch"), i, v)
    stub(states, name, json_object_get(v, "Next"));
  const char *start = name;
  if (vars && json_object_size(vars)) {
    /* a Pass assigns the variables from its literal Result (no ".$"
     * key inside a value is ever evaluated) and hands the input on */
    json_t *assign = json_object();
    const char *k;
    json_object_foreach(vars, k, v) {
      char *key = ms_asprintf("%s.$", k);
      char *path = ms_asprintf("$.vars['%s']", k);
      json_object_set_new(assign, key, json_string(path));
      free(key);
      free(path);
    }
    json_t *setup = json_pack("{ss s{sOsO} sO ss ss}", "Type", "Pass",
                              "Result", "input", input, "vars", vars,
                              "Assign", assign, "OutputPath", "$.input",
                              "Next", name);
    json_decref(assign);
    json_object_set_new(states, SETUP_NAME, setup);
    start = SETUP_NAME;
  }
  return json_pack("{ss so}", "StartAt", start, "States", states);
}

/* Compile def; NULL with the first problem in *why (malloc'd). */
static machine_t *compile(json_t *def, char **why) {
  diags_t d;
  diags_init(&d);
  machine_t *m = machine_compile(def, &d);
  if (!m || d.nerrors) {
    for (size_t i = 0; i < d.n; i++) {
      if (d.v[i].warning) continue;
      *why = ms_asprintf("%s%s%s", d.v[i].ptr,
                         *d.v[i].ptr ? ": " : "", d.v[i].msg);
      break;
    }
    if (!*why) *why = ms_strdup("invalid definition");
    machine_free(m);
    m = NULL;
  }
  diags_free(&d);
  return m;
}

/* ---- watching the run --------------------------------------------------- */

static bool answer(void *ud, const char *state, json_t *input,
                   json_t **result, fault_t *f) {
  run_t *run = ud;
  (void)input;
  if (!run->mocked || strcmp(state, run->name)) return false;
  if (run->mock_result) {
    *result = json_incref(run->mock_result);
  } else {
    fault_set(f, run->mock_error ? run->mock_error : "", "%s",
              run->mock_cause ? run->mock_cause : "");
  }
  return true;
}

static void on_event(void *ud, const json_t *ev) {
  run_t *run = ud;
  const char *type = json_string_value(json_object_get(ev, "type"));
  size_t n = type ? strlen(type) : 0;
  if (n < 12 || strcmp(type + n - 12, "StateEntered")) return;
  const char *name = json_string_value(json_object_get(
      json_object_get(ev, "stateEnteredEventDetails"), "name"));
  if (!name || !strcmp(name, SETUP_NAME)) return;
  if (!run->entered) run->entered = true;
  else if (!run->next) run->next = ms_strdup(name);
}

static void inspect(void *ud, const char *state, const char *field,
                    const json_t *value) {
  run_t *run = ud;
  if (run->next || !run->entered || strcmp(state, run->name)) return;
  /* copied: the engine updates some values (variables) in place */
  json_object_set_new(run->insp, field, json_deep_copy(value));
}

/* ---- the answer --------------------------------------------------------- */

static void put(json_t *o, const char *k, json_t *v) {
  if (v) json_object_set(o, k, v);
}

/* True when obj (a state or a machine) says QueryLanguage "JSONata". */
static bool is_jsonata(const json_t *state) {
  const char *q = json_string_value(json_object_get(state,
                                                    "QueryLanguage"));
  return q && !strcmp(q, "JSONata");
}

/* inspectionData in AWS's shape for the state's type. A JSONata state
 * (AWS's InspectionData reference) shows input, afterArguments (Task and
 * Parallel; guess: also when the state has no Arguments, as the input
 * then), result and variables; the JSONPath fields are "not populated
 * when QueryLanguage is JSONata". */
static json_t *inspection(run_t *run, json_t *state, json_t *input,
                          json_t *details) {
  const char *type = type_of(state);
  json_t *d = json_object(), *in = run->insp;
  json_object_set(d, "input", input);
  if (run->jsonata) {
    if (!strcmp(type, "Task") || !strcmp(type, "Parallel"))
      put(d, "afterArguments", json_object_get(in, "afterParameters"));
    if (!strcmp(type, "Task") || !strcmp(type, "Parallel") ||
        !strcmp(type, "Map"))
      put(d, "result", json_object_get(in, "result"));
    put(d, "variables", json_object_get(in, "variables"));
    if (details) json_object_set(d, "errorDetails", details);
    return d;
  }
  bool pass = !strcmp(type, "Pass");
  bool with_result = pass && json_object_get(state, "Result");
  if (!with_result) {
    json_t *aip = json_object_get(in, "afterInputPath");
    /* a Fail state has no InputPath; AWS shows the input */
    if (!strcmp(type, "Fail") && run->entered) aip = input;
    put(d, "afterInputPath", aip);
    if (strcmp(type, "Map")) put(d, "afterParameters",
                                 json_object_get(in, "afterParameters"));
  }
  if (!pass || with_result) put(d, "result", json_object_get(in, "result"));
  put(d, "afterResultSelector", json_object_get(in, "afterResultSelector"));
  put(d, "afterResultPath", json_object_get(in, "afterResultPath"));
  put(d, "variables", json_object_get(in, "variables"));
  if (details) json_object_set(d, "errorDetails", details);
  return d;
}

static bool valid_level(const char *l) {
  return !strcmp(l, "INFO") || !strcmp(l, "DEBUG") || !strcmp(l, "TRACE");
}

json_t *teststate_run(const teststate_req_t *r, char **code,
                      char **message) {
  *code = *message = NULL;
  const char *level = r->level ? r->level : "INFO";
  if (!valid_level(level)) {
    char *m = ms_asprintf("1 validation error detected: Value '%s' at "
                          "'inspectionLevel' failed to satisfy constraint: "
                          "Member must satisfy enum value set: [INFO, "
                          "DEBUG, TRACE]", level);  /* guess: AWS's form */
    *code = ms_strdup("ValidationException");
    *message = m;
    return NULL;
  }
  if (!json_is_object(r->definition))
    return refuse(code, message, "InvalidDefinition",
                  "The definition must be a JSON object.");
  if (r->context)  /* not done: the engine cannot seed $$ yet */
    return refuse(code, message, "ValidationException",
                  "moonstep does not support a context in TestState yet");
  if (r->variables && !json_is_object(r->variables))
    return refuse(code, message, "ValidationException",
                  "variables must be a JSON object.");
  int64_t retries = 0;
  if (r->config) {
    json_t *c = json_object_get(r->config, "retrierRetryCount");
    if (c && (!json_is_integer(c) || json_integer_value(c) < 0))
      return refuse(code, message, "ValidationException",
                    "retrierRetryCount must be an integer of at least 0.");
    retries = c ? json_integer_value(c) : 0;
    if (json_object_get(r->config, "mapIterationFailureCount") ||
        json_object_get(r->config, "mapItemReaderData"))
      return refuse(code, message, "ValidationException",
                    "moonstep does not support mapIterationFailureCount "
                    "or mapItemReaderData yet");
  }

  /* the state under test */
  json_t *state;
  const char *name;
  if (r->state) {
    char *why = NULL;
    machine_t *whole = compile(r->definition, &why);
    if (!whole) {
      json_t *res = refuse(code, message, "InvalidDefinition", why);
      free(why);
      return res;
    }
    machine_free(whole);
    state = json_object_get(json_object_get(r->definition, "States"),
                            r->state);
    if (!json_is_object(state)) {
      char *m = ms_asprintf("State '%s' is not in the definition's "
                            "States.", r->state);  /* guess */
      *code = ms_strdup("ValidationException");
      *message = m;
      return NULL;
    }
    name = r->state;
  } else {
    if (json_object_get(r->definition, "States"))  /* guess */
      return refuse(code, message, "ValidationException",
                    "A stateName is required when the definition is a "
                    "state machine.");
    state = r->definition;
    name = LONE_NAME;
  }
  const char *type = type_of(state);
  bool fanout = !strcmp(type, "Map") || !strcmp(type, "Parallel");
  /* a state of a machine inherits the machine's QueryLanguage */
  json_t *mql = r->state ? json_object_get(r->definition, "QueryLanguage")
                         : NULL;
  bool inherit = !json_object_get(state, "QueryLanguage") &&
                 json_is_string(mql);
  run_t run = {.name = name,
               .jsonata = is_jsonata(state) ||
                          (inherit && is_jsonata(r->definition))};
  if (r->mock) {
    char msg[64];
    const char *why = take_mock(&run, r->mock, state, msg);
    if (why) {
      json_decref(run.mock_result);
      return refuse(code, message, "ValidationException", why);
    }
  } else if (fanout) {
    return refuse(code, message, "InvalidDefinition",  /* AWS */
                  "TestState API does not support Map or Parallel states. "
                  "Supported state types include: [Task, Wait, Pass, "
                  "Succeed, Fail, Choice]");
  }

  /* two compilations: with Retry for the decisions, without to run */
  json_t *input = r->input ? json_incref(r->input) : json_object();
  json_t *copy = fanout ? as_task(state) : json_deep_copy(state);
  if (inherit) json_object_set(copy, "QueryLanguage", mql);
  json_t *def = build(name, copy, input, r->variables);
  char *why = NULL;
  machine_t *decide = compile(def, &why), *m = NULL;
  if (decide) {
    json_object_del(copy, "Retry");
    json_object_set(json_object_get(def, "States"), name, copy);
    m = compile(def, &why);
  }
  json_decref(copy);
  task_host_t *host = NULL;
  if (m && !strcmp(type, "Task") && !run.mocked)
    host = task_host_new(r->tasks_dir ? r->tasks_dir : "tasks", &why);
  if (!m || (!strcmp(type, "Task") && !run.mocked && !host)) {
    json_t *res = refuse(code, message, m ? "ValidationException"
                                          : "InvalidDefinition", why);
    free(why);
    machine_free(m);
    machine_free(decide);
    json_decref(def);
    json_decref(input);
    json_decref(run.mock_result);
    return res;
  }

  /* run it until the next state is entered or the run ends */
  run.insp = json_object();
  exec_opts_t xo = {
    .tasks = host, .virtual_clock = true, .name = "TestState",
    .machine_name = "TestState", .mock = answer, .mock_ud = &run,
    .on_event = on_event, .hook_ud = &run,
    .inspect = inspect, .inspect_ud = &run,
  };
  exec_t *x = exec_new(m, input, &xo);
  while (!run.next && exec_step(x)) {}
  json_t *desc = exec_describe(x);

  /* the decision, as TestState makes it */
  const mstate_t *st = &decide->states[machine_find(decide, name)];
  json_t *res = json_object(), *details = NULL;
  json_t *err = json_object_get(run.insp, "error");
  const char *status;
  if (err) {
    const char *e = json_string_value(json_object_get(err, "Error"));
    if (!e) e = "";
    int ri = retry_allowed(e) ? retry_find(st->retry, st->nretry, e) : -1;
    int ci = retry_find_catch(st->catch, st->ncatch, e);
    if (ri >= 0 && retries < st->retry[ri].max_attempts) {
      status = "RETRIABLE";
      double delay = retry_delay(&st->retry[ri], (int)retries, NULL);
      details = json_pack("{sIsI}", "retryBackoffIntervalSeconds",
                          (json_int_t)delay, "retryIndex", (json_int_t)ri);
    } else if (ci >= 0 && run.next) {
      status = "CAUGHT_ERROR";
      details = json_pack("{sI}", "catchIndex", (json_int_t)ci);
    } else {
      status = "FAILED";
    }
    if (!strcmp(status, "FAILED") && json_object_get(desc, "error")) {
      put(res, "error", json_object_get(desc, "error"));
      put(res, "cause", json_object_get(desc, "cause"));
    } else {
      json_object_set_new(res, "error", json_string(e));
      put(res, "cause", json_object_get(err, "Cause"));
    }
  } else if (!run.next && exec_status(x) != EXEC_SUCCEEDED) {
    status = "FAILED";
    put(res, "error", json_object_get(desc, "error"));
    put(res, "cause", json_object_get(desc, "cause"));
  } else {
    status = "SUCCEEDED";
  }
  if (!strcmp(status, "SUCCEEDED") || !strcmp(status, "CAUGHT_ERROR")) {
    put(res, "output", json_object_get(run.insp, "output"));
    if (run.next) json_object_set_new(res, "nextState",
                                      json_string(run.next));
  }
  json_object_set_new(res, "status", json_string(status));
  if (strcmp(level, "INFO"))
    json_object_set_new(res, "inspectionData",
                        inspection(&run, state, input, details));
  json_decref(details);
  json_decref(desc);
  exec_free(x);
  task_host_free(host);
  machine_free(m);
  machine_free(decide);
  json_decref(def);
  json_decref(input);
  json_decref(run.mock_result);
  json_decref(run.insp);
  free(run.next);
  return res;
}

json_t *teststate_wire(const json_t *response) {
  json_t *w = json_deep_copy(response);
  json_t *out = json_object_get(w, "output");
  if (out) {
    char *s = jsonx_dump(out, JSONX_COMPACT);
    json_object_set_new(w, "output", json_string(s));
    free(s);
  }
  json_t *d = json_object_get(w, "inspectionData");
  const char *k;
  json_t *v;
  json_object_foreach(d, k, v) {
    if (!strcmp(k, "errorDetails")) continue;
    char *s = jsonx_dump(v, JSONX_COMPACT);
    json_object_set_new(d, k, json_string(s));
    free(s);
  }
  return w;
}
