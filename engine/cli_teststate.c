/* cli_teststate.c - `moonstep test-state`: AWS's TestState API from the
 * command line (teststate.c does the work).
 *
 * It prints TestState's response: output and inspection data as JSON
 * values (--wire: as AWS's JSON text). Exit status: 0 when the state
 * ran and its outcome is SUCCEEDED, CAUGHT_ERROR or RETRIABLE (the
 * state handles its error: that is what is being tested), 1 when
 * FAILED, 2 for usage errors and ValidationException, 3 for
 * InvalidDefinition.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "teststate.h"  /* the CLI's one look below moonstep.h for this */

/* FILE as JSON: new reference or NULL (printed). */
static json_t *definition_of(const char *path) {
  size_t len;
  char *text = ms_read_file(path, MS_FILE_MAX, &len);
  if (!text) {
    fprintf(stderr, "%s: cannot read %s: %s\n", cli_progname, path,
            strerror(errno));
    return NULL;
  }
  char *err = NULL;
  json_t *v = jsonx_parse(text, len, &err);
  if (!v) {
    fprintf(stderr, "%s: %s: %s\n", cli_progname, path, err);
    free(err);
  }
  free(text);
  return v;
}

/* Options that take a JSON value: flag -> its slot. */
typedef struct {
  const char *flag;
  json_t **slot;
} json_opt_t;

int cli_test_state(int argc, char **argv) {
  const char *file = NULL, *state = NULL, *level = NULL, *tasks = NULL;
  json_t *input = NULL, *mock = NULL, *vars = NULL, *ctx = NULL;
  json_t *config = NULL, *def = NULL, *res = NULL;
  bool wire = false;
  int status = MS_EXIT_USAGE;
  json_opt_t jopts[] = {
    {"--input", &input}, {"--mock", &mock}, {"--variables", &vars},
    {"--context", &ctx},
  };
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool takes = a[0] == '-' && a[1] == '-' && strcmp(a, "--wire");
    if (takes && i + 1 >= argc) {
      cli_usage("%s needs a value", a);
      goto done;
    }
    bool matched = false;
    for (size_t j = 0; j < sizeof jopts / sizeof *jopts; j++) {
      if (strcmp(a, jopts[j].flag)) continue;
      json_decref(*jopts[j].slot);
      *jopts[j].slot = cli_json_arg(a, argv[++i]);
      if (!*jopts[j].slot) goto done;
      matched = true;
    }
    if (matched) continue;
    if (!strcmp(a, "--inspection-level")) {
      level = argv[++i];
    } else if (!strcmp(a, "--tasks")) {
      tasks = argv[++i];
    } else if (!strcmp(a, "--retry-count")) {
      char *end;
      long n = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || n < 0) {
        cli_usage("--retry-count: not a count: %s", argv[i]);
        goto done;
      }
      json_decref(config);
      config = json_pack("{sI}", "retrierRetryCount", (json_int_t)n);
    } else if (!strcmp(a, "--wire")) {
      wire = true;
    } else if (a[0] == '-' && a[1]) {
      cli_usage("test-state: unknown option %s", a);
      goto done;
    } else if (!file) {
      file = a;
    } else if (!state) {
      state = a;
    } else {
      cli_usage("test-state: unexpected argument %s", a);
      goto done;
    }
  }
  if (!file) {
    cli_usage("%s", "test-state needs FILE (a state machine, or one state)");
    goto done;
  }
  def = definition_of(file);
  if (!def) goto done;
  teststate_req_t req = {
    .definition = def, .state = state, .input = input, .mock = mock,
    .level = level, .variables = vars, .context = ctx, .config = config,
    .tasks_dir = tasks,
  };
  char *code = NULL, *message = NULL;
  res = teststate_run(&req, &code, &message);
  if (!res) {
    fprintf(stderr, "%s: %s: %s\n", cli_progname, code, message);
    status = strcmp(code, "InvalidDefinition") ? MS_EXIT_USAGE
                                               : MS_EXIT_INVALID;
    free(code);
    free(message);
    goto done;
  }
  if (wire) {
    json_t *w = teststate_wire(res);
    cli_print_json(w);
    json_decref(w);
  } else {
    cli_print_json(res);
  }
  const char *st = json_string_value(json_object_get(res, "status"));
  status = st && !strcmp(st, "FAILED") ? MS_EXIT_FAILED : MS_EXIT_OK;
done:
  json_decref(res);
  json_decref(def);
  json_decref(input);
  json_decref(mock);
  json_decref(vars);
  json_decref(ctx);
  json_decref(config);
  return status;
}
