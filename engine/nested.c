/* nested.c - the states:startExecution resource: a Task that starts an
 * execution of another state machine and, for .sync and .sync:2, waits
 * for it, with the results Step Functions' integration returns.
 *
 * Where the child comes from: Parameters.StateMachineArn
 * "arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME[:QUALIFIER]" is
 * the definition file NAME.asl.json, else NAME.json, in the machines
 * folder (run --machines DIR; ms_options_t.machines_dir). The child runs
 * with the parent's engine: its tasks folder, clock and database (a
 * STANDARD child is recorded like any run), under the state machine name
 * NAME, so its ARNs are the engine's (us-east-1, 123456789012) whatever
 * region and account the given ARN names.
 *
 * Decisions (AWS behaviour: confirmed where said, else a guess):
 *  - The child runs to completion inside the Task call: a nested run on
 *    the same engine. It blocks the parent's scheduler (its other Map
 *    iterations and Parallel branches) for the child's whole duration.
 *  - Parameters.Input: an object or any JSON value is the input; a
 *    string is JSON text (as StartExecution's input), parsed; absent or
 *    null -> {}. AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID inside it is
 *    accepted and passed on as any other field (AWS keeps it in the
 *    child's input; moonstep does not link executions by it).
 *    Parameters.Name names the child execution (else a uuid).
 *  - .sync: DescribeExecution's response in PascalCase, keys in
 *    alphabetical order, dates as epoch milliseconds, Input and Output as
 *    JSON text, plus RedriveCount 0, RedriveStatus NOT_REDRIVABLE and
 *    RedriveStatusReason "Execution is SUCCEEDED and cannot be redriven";
 *    .sync:2: the same with Input and Output as JSON values. (The shape
 *    as measured on AWS and quoted by another emulator's tests; AWS's
 *    integration page shows the same fields.)
 *  - A child that does not succeed fails a .sync/.sync:2 Task with
 *    States.TaskFailed and Cause the child's DescribeExecution in that
 *    same shape with Error and Cause (and RedriveStatus REDRIVABLE, a
 *    guess) instead of Output. The Error name is confirmed by AWS's docs
 *    on the integration; the exact Cause text is a guess.
 *  - Request-response (no suffix) and .waitForTaskToken: AWS returns
 *    StartExecution's {ExecutionArn, StartDate} (epoch ms) at once and
 *    the child runs on; moonstep runs the child to completion first and
 *    then returns that (a documented difference: the child's outcome
 *    never reaches the parent, as on AWS). AWS adds SdkHttpMetadata and
 *    SdkResponseMetadata, which moonstep leaves out.
 *  - No such file: StepFunctions.StateMachineDoesNotExistException with
 *    Cause "State Machine Does Not Exist: 'ARN' (Service:
 *    AWSStepFunctions; Status Code: 400; Error Code:
 *    StateMachineDoesNotExist; Request ID: ID; Proxy: null)", the AWS
 *    SDK error the integration reports (wording from AWS's API error and
 *    LocalStack's AWS-validated snapshots). A StateMachineArn that is not
 *    a state machine ARN: StepFunctions.InvalidArnException (the wording
 *    is a guess); a string Input that is not JSON:
 *    StepFunctions.InvalidExecutionInputException (a guess). A
 *    definition that does not validate, a missing StateMachineArn and
 *    nesting deeper than DEPTH_MAX: States.Runtime.
 */
#include "nested.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 32       /* nested runs inside one another */
#define NAME_MAX_LEN 80    /* AWS's longest state machine name */
#define FILE_MAX (1 << 20) /* bytes of a definition file */

struct nested {
  ms_engine_t *e;
  char *dir;
  int depth;        /* nested runs in progress */
  unsigned long n;  /* runs started, for request ids */
};

nested_t *nested_new(ms_engine_t *e, const char *dir) {
  nested_t *n = ms_calloc(1, sizeof *n);
  n->e = e;
  n->dir = ms_strdup(dir && *dir ? dir : ".");
  return n;
}

void nested_free(nested_t *n) {
  if (!n) return;
  free(n->dir);
  free(n);
}

/* A request id shaped as AWS's, from a counter (reproducible). */
static void request_id(nested_t *n, char out[40]) {
  unsigned long long x = 0x9e3779b97f4a7c15ULL * ++n->n;
  snprintf(out, 40, "%08llx-%04llx-4%03llx-8%03llx-%012llx",
           x >> 32, (x >> 16) & 0xffff, x & 0xfff, (x >> 20) & 0xfff,
           (x * 0xbf58476d1ce4e5b9ULL) & 0xffffffffffffULL);
}

/* The machine name of arn:P:states:R:A:stateMachine:NAME[:Q] (malloc'd),
 * or NULL. Names are [A-Za-z0-9_-] here: they become file names. */
static char *name_of(const char *arn) {
  if (strncmp(arn, "arn:", 4) != 0) return NULL;
  const char *p = arn + 4;
  for (int i = 0; i < 4; i++) {  /* partition, service, region, account */
    p = strchr(p, ':');
    if (!p) return NULL;
    p++;
  }
  if (strncmp(arn + 4, "aws", 3) != 0 || !strstr(arn, ":states:") ||
      strncmp(p, "stateMachine:", 13) != 0)
    return NULL;
  p += 13;
  size_t len = strcspn(p, ":");
  if (len == 0 || len > NAME_MAX_LEN) return NULL;
  for (size_t i = 0; i < len; i++) {
    char ch = p[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
      return NULL;
  }
  return ms_strndup(p, len);
}

/* The text of DIR/NAME.asl.json or DIR/NAME.json (malloc'd), or NULL. */
static char *read_machine(const nested_t *n, const char *name, size_t *len,
                          char **path) {
  static const char *const exts[] = {".asl.json", ".json"};
  for (size_t i = 0; i < 2; i++) {
    char *p = ms_asprintf("%s/%s%s", n->dir, name, exts[i]);
    char *text = ms_read_file(p, FILE_MAX, len);
    if (text || errno == EFBIG) {
      if (!text) {  /* too large: the caller says so */
        text = ms_strdup("");
        *len = FILE_MAX + 1;
      }
      *path = p;
      return text;
    }
    free(p);
  }
  return NULL;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long long days_of(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long long)doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" as epoch milliseconds (0 if not one). */
static json_t *epoch_ms(json_t *date) {
  const char *s = json_string_value(date);
  int y, mo, d, h, mi, se, ms = 0;
  if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%d", &y, &mo, &d, &h, &mi, &se,
                   &ms) < 6)
    return json_integer(0);
  long long t = days_of(y, (unsigned)mo, (unsigned)d) * 86400LL +
                h * 3600LL + mi * 60LL + se;
  return json_integer((json_int_t)(t * 1000 + ms));
}

static json_t *text_of(json_t *v) {
  char *s = jsonx_dump(v, JSONX_COMPACT);
  json_t *r = json_string(s);
  free(s);
  return r;
}

/* The child's DescribeExecution as the .sync integrations give it. */
static json_t *envelope(json_t *d, bool values) {
  const char *status = json_string_value(json_object_get(d, "status"));
  bool ok = status && !strcmp(status, "SUCCEEDED");
  json_t *in = json_object_get(d, "input");
  json_t *o = json_object();
  if (!ok) {
    json_t *cause = json_object_get(d, "cause");
    json_t *error = json_object_get(d, "error");
    if (cause) json_object_set(o, "Cause", cause);
    if (error) json_object_set(o, "Error", error);
  }
  json_object_set(o, "ExecutionArn", json_object_get(d, "executionArn"));
  json_object_set_new(o, "Input", values ? json_incref(in) : text_of(in));
  json_object_set_new(o, "InputDetails", json_pack("{sb}", "Included", 1));
  json_object_set(o, "Name", json_object_get(d, "name"));
  if (ok) {
    json_t *out = json_object_get(d, "output");
    json_object_set_new(o, "Output",
                        values ? json_incref(out) : text_of(out));
    json_object_set_new(o, "OutputDetails",
                        json_pack("{sb}", "Included", 1));
  }
  json_object_set_new(o, "RedriveCount", json_integer(0));
  json_object_set_new(o, "RedriveStatus",
                      json_string(ok ? "NOT_REDRIVABLE" : "REDRIVABLE"));
  if (ok)
    json_object_set_new(o, "RedriveStatusReason", json_string(
        "Execution is SUCCEEDED and cannot be redriven"));
  json_object_set_new(o, "StartDate",
                      epoch_ms(json_object_get(d, "startDate")));
  json_object_set(o, "StateMachineArn",
                  json_object_get(d, "stateMachineArn"));
  json_object_set(o, "Status", json_object_get(d, "status"));
  json_object_set_new(o, "StopDate",
                      epoch_ms(json_object_get(d, "stopDate")));
  return o;
}

/* The child's input from Parameters.Input; NULL with f set. */
static json_t *input_of(json_t *params, nested_t *n, fault_t *f) {
  json_t *in = json_object_get(params, "Input");
  if (!in || json_is_null(in)) return json_object();
  if (!json_is_string(in)) return json_incref(in);
  char *err = NULL;
  json_t *v = jsonx_parse(json_string_value(in), json_string_length(in),
                          &err);
  if (!v) {
    char rid[40];
    request_id(n, rid);
    fault_set(f, "StepFunctions.InvalidExecutionInputException",
              "Invalid Execution Input: '%s' (Service: AWSStepFunctions; "
              "Status Code: 400; Error Code: InvalidExecutionInput; "
              "Request ID: %s; Proxy: null)", err ? err : "not JSON", rid);
  }
  free(err);
  return v;
}

/* Load and run the child; its DescribeExecution, or NULL with f set. */
static json_t *run_child(nested_t *n, const char *arn, const char *name,
                         const char *exec_name, json_t *input,
                         fault_t *f) {
  size_t len = 0;
  char *path = NULL, rid[40];
  char *text = read_machine(n, name, &len, &path);
  if (!text) {
    request_id(n, rid);
    fault_set(f, "StepFunctions.StateMachineDoesNotExistException",
              "State Machine Does Not Exist: '%s' (Service: "
              "AWSStepFunctions; Status Code: 400; Error Code: "
              "StateMachineDoesNotExist; Request ID: %s; Proxy: null)",
              arn, rid);
    return NULL;
  }
  diags_t d;
  diags_init(&d);
  ms_machine_t *m = len > FILE_MAX ? NULL : ms_machine_load(text, len, &d);
  free(text);
  if (!m) {
    const diag_t *g = NULL;
    for (size_t i = 0; i < d.n && !g; i++)
      if (!d.v[i].warning) g = &d.v[i];
    fault_runtime(f, "The state machine %s (%s) is not valid: %s%s%s",
                  name, path, g ? g->ptr : "", g ? ": " : "",
                  g ? g->msg : "the file is too large");
    diags_free(&d);
    free(path);
    return NULL;
  }
  diags_free(&d);
  free(path);
  ms_run_options_t ro = {.name = exec_name, .machine_name = name};
  n->depth++;
  json_t *r = ms_run(n->e, m, input, &ro);
  n->depth--;
  ms_machine_free(m);
  if (!r)
    fault_runtime(f, "The execution of %s could not run: %s", name,
                  ms_engine_error(n->e));
  return r;
}

json_t *nested_run(void *ud, const task_call_t *c, fault_t *f) {
  nested_t *n = ud;
  /* the resource is arn:aws:states:::states:startExecution[SUFFIX]
   * (task.c classified it) */
  const char *suffix = strstr(c->resource, "startExecution");
  suffix = suffix ? suffix + strlen("startExecution") : "";
  bool sync = !strcmp(suffix, ".sync") || !strcmp(suffix, ".sync:2");
  bool values = !strcmp(suffix, ".sync:2");
  json_t *p = c->input;
  const char *arn =
      json_string_value(json_object_get(p, "StateMachineArn"));
  if (!json_is_object(p) || !arn) {
    fault_runtime(f, "The Parameters of a '%s' task must be an object "
                  "with a string field 'StateMachineArn'", c->resource);
    return NULL;
  }
  json_t *jname = json_object_get(p, "Name");
  if (jname && !json_is_null(jname) && !json_is_string(jname)) {
    fault_runtime(f, "The field 'Name' of a '%s' task must be a string",
                  c->resource);
    return NULL;
  }
  if (n->depth >= DEPTH_MAX) {
    fault_runtime(f, "Nested executions go deeper than %d (a state "
                  "machine that starts itself?)", DEPTH_MAX);
    return NULL;
  }
  char *name = name_of(arn);
  if (!name) {
    char rid[40];
    request_id(n, rid);
    fault_set(f, "StepFunctions.InvalidArnException",
              "Invalid Arn: 'Resource type not valid in this context: %s'"
              " (Service: AWSStepFunctions; Status Code: 400; Error Code: "
              "InvalidArn; Request ID: %s; Proxy: null)", arn, rid);
    return NULL;
  }
  json_t *input = input_of(p, n, f);
  json_t *d = input ? run_child(n, arn, name, json_string_value(jname),
                                input, f)
                    : NULL;
  json_decref(input);
  free(name);
  if (!d) return NULL;
  json_t *r = NULL;
  if (!sync) {
    r = json_object();
    json_object_set(r, "ExecutionArn", json_object_get(d, "executionArn"));
    json_object_set_new(r, "StartDate",
                        epoch_ms(json_object_get(d, "startDate")));
  } else {
    r = envelope(d, values);
    const char *st = json_string_value(json_object_get(d, "status"));
    if (!st || strcmp(st, "SUCCEEDED") != 0) {
      char *cause = jsonx_dump(r, JSONX_COMPACT);
      fault_set(f, "States.TaskFailed", "%s", cause);
      free(cause);
      json_decref(r);
      r = NULL;
    }
  }
  json_decref(d);
  return r;
}
