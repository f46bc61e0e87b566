/* cli.c - the moonstep command: main and the subcommand table.
 *
 *   moonstep run FILE [--input JSON|@FILE] [--tasks DIR] [--name NAME]
 *                     [--express] [--clock virtual|real] [--describe]
 *                     [--mock-config FILE --test-case NAME]
 *                     [--db PATH] [--durability normal|full] [--no-aws-limits]
 *                     [--machines DIR] [--resume ID] [--log]
 *                     [--max-events N] [--commit-each]
 *   moonstep validate FILE...
 *   moonstep eval EXPR [--input JSON|@FILE] [--context JSON|@FILE]
 *                      [--vars JSON|@FILE]
 *   moonstep invoke NAME [--event JSON|@FILE] [--tasks DIR]
 *   moonstep executions list [--status S] [--machine NAME] [--json]
 *   moonstep describe ID | history ID [--json] [--reverse] | output ID
 *
 * STANDARD runs are recorded in a SQLite file: --db PATH (before the
 * command or among its options), else $MOONSTEP_DB, else
 * .moonstep/moonstep.db; ID is an execution's ARN or name.
 *
 * The execution's output goes to stdout, everything else to stderr. Exit
 * status: 0 succeeded, 1 the execution did not succeed, 2 usage error,
 * 3 invalid definition (see MS_EXIT_* in moonstep.h). What every command
 * shares is in cli.h; command families live in cli_<family>.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "moonstep.h"

const char *cli_progname = "moonstep";
static const char *global_db;  /* --db before the command */

/* The database: --db, else $MOONSTEP_DB, else the default. */
const char *cli_db_path(const char *flag) {
  const char *env = getenv("MOONSTEP_DB");
  return flag ? flag : global_db ? global_db
         : env && *env ? env : MS_DB_DEFAULT;
}

int cli_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", cli_progname);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry '%s help' for usage.\n", cli_progname);
  return MS_EXIT_USAGE;
}

/* Read a whole file ("-" is stdin) up to MS_FILE_MAX; NULL with errno. */
static char *read_file(const char *path, size_t *len) {
  return ms_read_file(path, MS_FILE_MAX, len);
}

/* A JSON argument: literal text, or @FILE. New reference or NULL (the
 * problem printed). */
json_t *cli_json_arg(const char *flag, const char *arg) {
  size_t len = strlen(arg);
  char *text = NULL;
  if (arg[0] == '@') {
    text = read_file(arg + 1, &len);
    if (!text) {
      fprintf(stderr, "%s: %s: cannot read %s: %s\n", cli_progname, flag,
              arg + 1, strerror(errno));
      return NULL;
    }
  }
  char *err = NULL;
  json_t *v = jsonx_parse(text ? text : arg, len, &err);
  if (!v) {
    fprintf(stderr, "%s: %s is not valid JSON: %s\n", cli_progname, flag, err);
    free(err);
  }
  free(text);
  return v;
}

void cli_print_json(const json_t *v) {
  int flags = isatty(STDOUT_FILENO) ? JSONX_PRETTY : JSONX_COMPACT;
  char *s = jsonx_dump(v, flags);
  fputs(s, stdout);
  fputc('\n', stdout);
  free(s);
}

/* Load a definition file, printing diagnostics. NULL when invalid. */
/* Compile a definition's text, printing diagnostics under label. */
static ms_machine_t *load_text(const char *text, size_t len,
                               const char *label, int *status) {
  diags_t d;
  diags_init(&d);
  ms_machine_t *m = ms_machine_load(text, len, &d);
  ms_diags_print(&d, label, stderr);
  diags_free(&d);
  *status = m ? MS_EXIT_OK : MS_EXIT_INVALID;
  return m;
}

static ms_machine_t *load(const char *path, int *status) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "%s: cannot read %s: %s\n", cli_progname, path,
            strerror(errno));
    *status = MS_EXIT_USAGE;
    return NULL;
  }
  ms_machine_t *m = load_text(text, len, path, status);
  free(text);
  return m;
}

/* A state machine run from a file is named after it, as the mock
 * configuration's StateMachines names it: the base name without ".json"
 * and then without ".asl" (orders.asl.json and orders.json are "orders").
 * Malloc'd; NULL for stdin (the default name). */
static char *machine_name_of(const char *path) {
  if (!strcmp(path, "-")) return NULL;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t n = strlen(base);
  if (n > 5 && !strcmp(base + n - 5, ".json")) n -= 5;
  if (n > 4 && !strncmp(base + n - 4, ".asl", 4)) n -= 4;
  return n ? ms_strndup(base, n) : NULL;
}

/* The mocks of --mock-config FILE --test-case NAME for machine m, or NULL
 * with the problem printed. */
static ms_mocks_t *load_mocks(const char *path, const char *test_case,
                              const char *machine, const ms_machine_t *m) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "%s: --mock-config: cannot read %s: %s\n", cli_progname,
            path, strerror(errno));
    return NULL;
  }
  char *err = NULL;
  ms_mocks_t *k = ms_mocks_new();
  bool ok = ms_mocks_load(k, text, len, machine, test_case, &err) &&
            ms_mocks_check(k, m, &err);
  free(text);
  if (!ok) {
    fprintf(stderr, "%s: %s: %s\n", cli_progname, path, err ? err : "invalid");
    free(err);
    ms_mocks_free(k);
    return NULL;
  }
  return k;
}

/* Say why an execution did not succeed: its status, the state the failure
 * came from, the Error, and the Cause. A Cause that is Lambda's error JSON
 * (a handler's error) shows its message and Lua traceback line by line. */
static void report_failure(const char *status, const char *state,
                           const char *error, const char *cause) {
  fprintf(stderr, "%s: execution %s", cli_progname, status ? status : "?");
  if (state) fprintf(stderr, " in state '%s'", state);
  if (error && *error) fprintf(stderr, ": %s", error);
  json_t *lambda = cause ? jsonx_parse(cause, strlen(cause), NULL) : NULL;
  json_t *msg = json_object_get(lambda, "errorMessage");
  json_t *trace = json_object_get(lambda, "stackTrace");
  if (json_is_string(msg) && json_is_array(trace)) {
    fprintf(stderr, ": %s\n", json_string_value(msg));
    size_t i;
    json_t *line;
    json_array_foreach(trace, i, line)
      if (json_is_string(line))
        fprintf(stderr, "    %s\n", json_string_value(line));
  } else {
    if (cause) fprintf(stderr, ": %s", cause);
    fputc('\n', stderr);
  }
  json_decref(lambda);
}

int cli_report(const json_t *d, bool describe, const char *failed_state) {
  const char *st = json_string_value(json_object_get(d, "status"));
  bool ok = st && !strcmp(st, "SUCCEEDED");
  if (describe) {
    cli_print_json(d);
  } else if (ok) {
    cli_print_json(json_object_get(d, "output"));
  } else {
    report_failure(st, failed_state,
                   json_string_value(json_object_get(d, "error")),
                   json_string_value(json_object_get(d, "cause")));
  }
  return ok ? MS_EXIT_OK : MS_EXIT_FAILED;
}

static int cmd_run(int argc, char **argv) {
  const char *file = NULL, *input_arg = NULL, *tasks = "tasks";
  const char *mock_config = NULL, *test_case = NULL, *machines = NULL;
  ms_run_options_t ro = {0};
  char *failed_state = NULL;
  ro.failed_state = &failed_state;
  bool describe = false, virtual_clock = false, sync_full = false;
  bool no_limits = false;
  const char *db = NULL, *resume = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    int d = cli_durable_opt(argc, argv, &i, &ro, &resume);
    if (d < 0) return MS_EXIT_USAGE;
    if (d > 0) continue;
    if (!strcmp(a, "--input") && more) input_arg = argv[++i];
    else if (!strcmp(a, "--tasks") && more) tasks = argv[++i];
    else if (!strcmp(a, "--machines") && more) machines = argv[++i];
    else if (!strcmp(a, "--name") && more) ro.name = argv[++i];
    else if (!strcmp(a, "--mock-config") && more) mock_config = argv[++i];
    else if (!strcmp(a, "--test-case") && more) test_case = argv[++i];
    else if (!strcmp(a, "--express")) ro.express = true;
    else if (!strcmp(a, "--describe")) describe = true;
    else if (!strcmp(a, "--no-aws-limits")) no_limits = true;
    else if (!strcmp(a, "--db") && more) db = argv[++i];
    else if (!strcmp(a, "--durability") && more) {
      const char *v = argv[++i];
      if (!strcmp(v, "full")) sync_full = true;
      else if (strcmp(v, "normal"))
        return cli_usage("unknown durability '%s' (normal or full)", v);
    }
    else if (!strcmp(a, "--clock") && more) {
      const char *c = argv[++i];
      if (!strcmp(c, "virtual")) virtual_clock = true;
      else if (strcmp(c, "real")) return cli_usage("unknown clock '%s'", c);
    } else if (a[0] == '-' && a[1]) {
      return cli_usage("run: unknown or incomplete option '%s'", a);
    } else if (!file) {
      file = a;
    } else {
      return cli_usage("run: unexpected argument '%s'", a);
    }
  }
  if (!file) return cli_usage("run: %s", "missing FILE");
  if (!mock_config != !test_case)
    return cli_usage("run: %s", "--mock-config and --test-case go "
                       "together");
  json_t *input = input_arg ? cli_json_arg("--input", input_arg) : json_object();
  if (!input) return MS_EXIT_USAGE;
  int status;
  /* moonstep run NAME: a state machine `moonstep deploy` registered */
  json_t *reg = access(file, F_OK) && strcmp(file, "-")
                    ? cli_registered_machine(file, db) : NULL;
  const char *def = json_string_value(json_object_get(reg, "Definition"));
  ms_machine_t *m = def ? load_text(def, strlen(def), file, &status)
                        : load(file, &status);
  if (!m) {
    json_decref(reg);
    json_decref(input);
    return status;
  }
  char *mname = machine_name_of(file);
  if (reg) {
    free(mname);
    mname = ms_strdup(json_string_value(json_object_get(reg, "Name")));
    const char *type = json_string_value(json_object_get(reg, "Type"));
    if (type && !strcmp(type, "EXPRESS")) ro.express = true;
    const char *dir = json_string_value(json_object_get(reg, "TasksDir"));
    if (!strcmp(tasks, "tasks") && dir && *dir) tasks = dir;
  }
  ro.machine_name = mname;
  ms_mocks_t *mocks = NULL;
  if (mock_config) {
    mocks = load_mocks(mock_config, test_case, mname ? mname : "moonstep",
                       m);
    if (!mocks) {
      free(mname);
      json_decref(reg);
      ms_machine_free(m);
      json_decref(input);
      return MS_EXIT_USAGE;
    }
    ro.mock = ms_mocks_answer;
    ro.mock_ud = mocks;
  }
  char *err = NULL;
  /* nested machines: by default next to the definition being run */
  const char *slash = strrchr(file, '/');
  char *mdir = machines || !slash ? NULL
                                  : ms_strndup(file, (size_t)(slash - file));
  if (!machines && slash == file) {
    free(mdir);
    mdir = ms_strdup("/");
  }
  /* EXPRESS runs are not recorded, so they open no database; the table
   * store (handlers' moonstep.tables, the dynamodb resources) still uses
   * the one named with --db */
  if (ro.express && (db || global_db))
    setenv("MOONSTEP_DB", cli_db_path(db), 1);
  ms_options_t eo = {.tasks_dir = tasks, .virtual_clock = virtual_clock,
                     .no_aws_limits = no_limits,
                     .db_path = ro.express ? NULL : cli_db_path(db),
                     .db_sync_full = sync_full,
                     .machines_dir = machines ? machines : mdir};
  ms_engine_t *e = ms_engine_new(&eo, &err);
  free(mdir);
  cli_catch_signals(&ro);
  bool missing = false;
  json_t *d = !e ? NULL : resume ? ms_resume(e, resume, &ro, &missing)
                                 : ms_run(e, m, input, &ro);
  if (!d) {
    fprintf(stderr, "%s: %s\n", cli_progname,
            e ? ms_engine_error(e) : err ? err : "cannot start");
    free(err);
    ms_engine_free(e);
    ms_mocks_free(mocks);
    free(mname);
    json_decref(reg);
    ms_machine_free(m);
    json_decref(input);
    return MS_EXIT_USAGE;
  }
  int rc = cli_report(d, describe, failed_state);
  free(failed_state);
  json_decref(d);
  ms_engine_free(e);
  ms_mocks_free(mocks);
  free(mname);
  json_decref(reg);
  ms_machine_free(m);
  json_decref(input);
  return rc;
}

static int cmd_validate(int argc, char **argv) {
  if (argc == 0) return cli_usage("validate: %s", "missing FILE");
  int worst = MS_EXIT_OK;
  for (int i = 0; i < argc; i++) {
    int status;
    ms_machine_t *m = load(argv[i], &status);
    if (m) printf("%s: valid\n", argv[i]);
    if (status > worst) worst = status;
    ms_machine_free(m);
  }
  return worst;
}

static int cmd_eval(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--jsonata")) return cli_eval_jsonata(argc, argv);
  const char *expr = NULL;
  json_t *input = NULL, *context = NULL, *vars = NULL;
  int rc = MS_EXIT_OK;
  for (int i = 0; i < argc && rc == MS_EXIT_OK; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    json_t **slot = !strcmp(a, "--input") ? &input
                    : !strcmp(a, "--context") ? &context
                    : !strcmp(a, "--vars") ? &vars : NULL;
    if (slot && more) {
      json_decref(*slot);
      *slot = cli_json_arg(a, argv[++i]);
      if (!*slot) rc = MS_EXIT_USAGE;
    } else if (slot) {
      rc = cli_usage("eval: option '%s' needs a value", a);
    } else if (a[0] == '-' && a[1] && a[1] != '$' && !expr) {
      rc = cli_usage("eval: unknown or incomplete option '%s'", a);
    } else if (!expr) {
      expr = a;
    } else {
      rc = cli_usage("eval: unexpected argument '%s'", a);
    }
  }
  if (rc == MS_EXIT_OK && !expr) rc = cli_usage("eval: %s", "missing EXPR");
  if (rc == MS_EXIT_OK && vars && !json_is_object(vars))
    rc = cli_usage("eval: %s", "--vars must be a JSON object");
  if (rc == MS_EXIT_OK) {
    fault_t f = FAULT_INIT;
    json_t *v = ms_eval(expr, NULL, input, context, vars, &f);
    if (v) {
      cli_print_json(v);
      json_decref(v);
    } else {
      fprintf(stderr, "%s: %s: %s\n", cli_progname, f.error,
              f.cause ? f.cause : "");
      rc = MS_EXIT_FAILED;
    }
    fault_clear(&f);
  }
  json_decref(input);
  json_decref(context);
  json_decref(vars);
  return rc;
}

/* Run one handler as `sam local invoke` does: its result, or Lambda's
 * error JSON, on stdout (exit 1 for the error). */
static int cmd_invoke(int argc, char **argv) {
  const char *name = NULL, *event_arg = NULL, *tasks = "tasks";
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (!strcmp(a, "--event") && more) event_arg = argv[++i];
    else if (!strcmp(a, "--tasks") && more) tasks = argv[++i];
    else if (a[0] == '-' && a[1])
      return cli_usage("invoke: unknown or incomplete option '%s'", a);
    else if (!name) name = a;
    else return cli_usage("invoke: unexpected argument '%s'", a);
  }
  if (!name) return cli_usage("invoke: %s", "missing NAME");
  json_t *event = event_arg ? cli_json_arg("--event", event_arg) : json_object();
  if (!event) return MS_EXIT_USAGE;
  char *err = NULL;
  if (global_db) setenv("MOONSTEP_DB", global_db, 1);  /* table store */
  ms_options_t eo = {.tasks_dir = tasks};
  ms_engine_t *e = ms_engine_new(&eo, &err);
  if (!e) {
    fprintf(stderr, "%s: %s\n", cli_progname, err ? err : "cannot start");
    free(err);
    json_decref(event);
    return MS_EXIT_USAGE;
  }
  json_t *error = NULL, *r = ms_invoke(e, name, event, &error);
  cli_print_json(r ? r : error);
  json_decref(r);
  json_decref(error);
  ms_engine_free(e);
  json_decref(event);
  return r ? MS_EXIT_OK : MS_EXIT_FAILED;
}

/* ---- recorded executions ----------------------------------------------- */

/* An engine over the database for the read commands; *e stays NULL (and
 * the status OK) when the file does not exist yet: nothing was recorded,
 * and the read does not create it. */
static int open_db(const char *db, ms_engine_t **e) {
  const char *path = cli_db_path(db);
  *e = NULL;
  if (strcmp(path, ":memory:") && access(path, F_OK) != 0 &&
      errno == ENOENT)
    return MS_EXIT_OK;
  char *err = NULL;
  ms_options_t eo = {.tasks_dir = "tasks", .db_path = path};
  *e = ms_engine_new(&eo, &err);
  if (*e) return MS_EXIT_OK;
  fprintf(stderr, "%s: %s\n", cli_progname, err ? err : "cannot start");
  free(err);
  return MS_EXIT_USAGE;
}

/* The options the read commands share: --db PATH, --json, --reverse, and
 * one ID. Returns OK or the usage error's status. */
typedef struct read_args {
  const char *db, *id, *status, *machine;
  bool json, reverse;
} read_args_t;

static int read_args(const char *cmd, int argc, char **argv, bool listing,
                     bool history, read_args_t *r) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (!strcmp(a, "--db") && more) r->db = argv[++i];
    else if (listing && !strcmp(a, "--status") && more)
      r->status = argv[++i];
    else if (listing && !strcmp(a, "--machine") && more)
      r->machine = argv[++i];
    else if ((listing || history) && !strcmp(a, "--json")) r->json = true;
    else if (history && !strcmp(a, "--reverse")) r->reverse = true;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "%s: %s: unknown or incomplete option '%s'\n"
              "Try '%s help' for usage.\n", cli_progname, cmd, a, cli_progname);
      return MS_EXIT_USAGE;
    } else if (!listing && !r->id) {
      r->id = a;
    } else {
      fprintf(stderr, "%s: %s: unexpected argument '%s'\nTry '%s help' "
              "for usage.\n", cli_progname, cmd, a, cli_progname);
      return MS_EXIT_USAGE;
    }
  }
  if (!listing && !r->id) return cli_usage("%s: missing ID", cmd);
  return MS_EXIT_OK;
}

/* The last ":"-separated part of an ARN (a state machine's name). */
static const char *arn_tail(const char *arn) {
  const char *c = arn ? strrchr(arn, ':') : NULL;
  return c ? c + 1 : arn ? arn : "";
}

static const char *field(const json_t *o, const char *key) {
  const char *v = json_string_value(json_object_get(o, key));
  return v ? v : "";
}

static int cmd_executions(int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "list"))
    return cli_usage("executions: %s", argc < 1 ? "missing 'list'"
                       : "the only subcommand is 'list'");
  read_args_t r = {0};
  int rc = read_args("executions list", argc - 1, argv + 1, true, false, &r);
  if (rc) return rc;
  static const char *statuses[] = {"RUNNING", "SUCCEEDED", "FAILED",
                                   "TIMED_OUT", "ABORTED"};
  bool known = !r.status;
  for (size_t i = 0; !known && i < 5; i++)
    known = !strcmp(r.status, statuses[i]);
  if (!known)
    return cli_usage("executions list: unknown status '%s' (RUNNING, "
                       "SUCCEEDED, FAILED, TIMED_OUT or ABORTED)", r.status);
  ms_engine_t *e;
  if ((rc = open_db(r.db, &e))) return rc;
  json_t *l = e ? ms_executions_list(e, r.status, r.machine)
                : json_pack("{s[]}", "executions");
  if (!l) {
    fprintf(stderr, "%s: %s\n", cli_progname, ms_engine_error(e));
    ms_engine_free(e);
    return MS_EXIT_USAGE;
  }
  if (r.json) {
    cli_print_json(l);
  } else {
    json_t *v = json_object_get(l, "executions"), *x;
    size_t i;
    int wn = 4, wm = 7;
    json_array_foreach(v, i, x) {
      int n = (int)strlen(field(x, "name"));
      int k = (int)strlen(arn_tail(field(x, "stateMachineArn")));
      if (n > wn) wn = n;
      if (k > wm) wm = k;
    }
    printf("%-*s  %-9s  %-*s  %-24s  %s\n", wn, "NAME", "STATUS", wm,
           "MACHINE", "START", "STOP");
    json_array_foreach(v, i, x)
      printf("%-*s  %-9s  %-*s  %-24s  %s\n", wn, field(x, "name"),
             field(x, "status"), wm, arn_tail(field(x, "stateMachineArn")),
             field(x, "startDate"), field(x, "stopDate"));
  }
  json_decref(l);
  ms_engine_free(e);
  return MS_EXIT_OK;
}

/* The execution id of a read command (DescribeExecution-shaped), or NULL
 * with the problem printed and *rc set (2: unknown id or no database). */
static json_t *describe_of(const read_args_t *r, ms_engine_t **e, int *rc) {
  if ((*rc = open_db(r->db, e))) return NULL;
  bool missing = !*e;
  json_t *d = *e ? ms_execution_describe(*e, r->id, &missing) : NULL;
  if (!d) {
    if (missing)
      fprintf(stderr, "%s: no execution named or with the ARN '%s' in "
              "%s\n", cli_progname, r->id, cli_db_path(r->db));
    else
      fprintf(stderr, "%s: %s\n", cli_progname, ms_engine_error(*e));
    *rc = MS_EXIT_USAGE;
  }
  return d;
}

static int cmd_describe(int argc, char **argv) {
  read_args_t r = {0};
  int rc = read_args("describe", argc, argv, false, false, &r);
  if (rc) return rc;
  ms_engine_t *e;
  json_t *d = describe_of(&r, &e, &rc);
  if (d) cli_print_json(d);
  json_decref(d);
  ms_engine_free(e);
  return rc;
}

/* The output of a succeeded execution; for any other, its status (and
 * error) on stderr and exit 1. */
static int cmd_output(int argc, char **argv) {
  read_args_t r = {0};
  int rc = read_args("output", argc, argv, false, false, &r);
  if (rc) return rc;
  ms_engine_t *e;
  json_t *d = describe_of(&r, &e, &rc);
  if (d && !strcmp(field(d, "status"), "SUCCEEDED")) {
    cli_print_json(json_object_get(d, "output"));
  } else if (d) {
    fprintf(stderr, "%s: execution %s is %s", cli_progname, field(d, "name"),
            field(d, "status"));
    if (*field(d, "error")) fprintf(stderr, ": %s", field(d, "error"));
    if (*field(d, "cause")) fprintf(stderr, ": %s", field(d, "cause"));
    fputs(strcmp(field(d, "status"), "RUNNING") ? "\n"
          : " (no output yet)\n", stderr);
    rc = MS_EXIT_FAILED;
  }
  json_decref(d);
  ms_engine_free(e);
  return rc;
}

/* The "...EventDetails" member of an event, if any. */
static json_t *details_of(json_t *ev) {
  const char *k;
  json_t *v;
  json_object_foreach(ev, k, v) {
    size_t n = strlen(k);
    if (n > 12 && !strcmp(k + n - 12, "EventDetails")) return v;
  }
  return NULL;
}

/* A short detail for the table: error and cause, else output, input or
 * resource, on one line and clipped. */
static void short_detail(json_t *det, char *out, size_t size) {
  const char *err = field(det, "error"), *cause = field(det, "cause");
  const char *keys[] = {"output", "input", "resource"};
  const char *v = "";
  for (size_t i = 0; !*v && i < 3; i++) v = field(det, keys[i]);
  if (*err || *cause)
    snprintf(out, size, "%s%s%s", err, *err && *cause ? ": " : "", cause);
  else
    snprintf(out, size, "%s", v);
  for (char *c = out; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
  size_t n = strlen(out);
  if (n >= size - 1 && size > 4) memcpy(out + size - 4, "...", 4);
}

/* The readable history: time, event id, type, state, short detail. An
 * event without a state name (TaskScheduled, ...) takes that of the event
 * it follows (previousEventId). */
static void print_history_table(json_t *events) {
  size_t n = json_array_size(events), i;
  int64_t max_id = 0;
  json_t *ev;
  json_array_foreach(events, i, ev) {
    int64_t id = json_integer_value(json_object_get(ev, "id"));
    if (id > max_id) max_id = id;
  }
  const char **state = ms_calloc((size_t)max_id + 1, sizeof *state);
  /* Names are set in id order, so a previous event's is known first. */
  for (size_t k = 0; k < n; k++) {
    ev = json_array_get(events, k);
    int64_t id = json_integer_value(json_object_get(ev, "id"));
    int64_t prev = json_integer_value(json_object_get(ev,
                                                      "previousEventId"));
    if (id < 1 || id > max_id) continue;
    const char *name = field(details_of(ev), "name");
    if (!*name && prev > 0 && prev < id && state[prev]) name = state[prev];
    const char *type = field(ev, "type");
    if (!strncmp(type, "Execution", 9)) name = "";
    state[id] = name;
  }
  printf("%-24s  %5s  %-28s  %-16s  %s\n", "TIME", "ID", "TYPE", "STATE",
         "DETAIL");
  json_array_foreach(events, i, ev) {
    int64_t id = json_integer_value(json_object_get(ev, "id"));
    char detail[64];
    short_detail(details_of(ev), detail, sizeof detail);
    printf("%-24s  %5lld  %-28s  %-16s  %s\n", field(ev, "timestamp"),
           (long long)id, field(ev, "type"),
           id >= 1 && id <= max_id && state[id] ? state[id] : "", detail);
  }
  free(state);
}

static int cmd_history(int argc, char **argv) {
  read_args_t r = {0};
  int rc = read_args("history", argc, argv, false, true, &r);
  if (rc) return rc;
  ms_engine_t *e;
  if ((rc = open_db(r.db, &e))) return rc;
  bool missing = !e;
  json_t *h = e ? ms_execution_history(e, r.id, r.reverse, &missing) : NULL;
  if (!h) {
    if (missing)
      fprintf(stderr, "%s: no execution named or with the ARN '%s' in "
              "%s\n", cli_progname, r.id, cli_db_path(r.db));
    else
      fprintf(stderr, "%s: %s\n", cli_progname, ms_engine_error(e));
    ms_engine_free(e);
    return MS_EXIT_USAGE;
  }
  if (r.json || !isatty(STDOUT_FILENO))
    cli_print_json(h);
  else
    print_history_table(json_object_get(h, "events"));
  json_decref(h);
  ms_engine_free(e);
  return MS_EXIT_OK;
}

/* ---- task tokens -------------------------------------------------------- */

/* send-task-success / -failure / -heartbeat: complete (or keep alive) a
 * waiting .waitForTaskToken Task through the database its run records
 * in. An unknown or closed token exits 2 with AWS's error name. */
static int send_task(const char *cmd, ms_token_op_t op, int argc,
                     char **argv) {
  const char *token = NULL, *out_arg = NULL, *error = NULL, *cause = NULL;
  const char *db = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (!strcmp(a, "--token") && more) token = argv[++i];
    else if (!strcmp(a, "--db") && more) db = argv[++i];
    else if (op == MS_TOKEN_SUCCESS && !strcmp(a, "--output") && more)
      out_arg = argv[++i];
    else if (op == MS_TOKEN_FAILURE && !strcmp(a, "--error") && more)
      error = argv[++i];
    else if (op == MS_TOKEN_FAILURE && !strcmp(a, "--cause") && more)
      cause = argv[++i];
    else {
      fprintf(stderr, "%s: %s: unknown or incomplete option '%s'\n"
              "Try '%s help' for usage.\n", cli_progname, cmd, a, cli_progname);
      return MS_EXIT_USAGE;
    }
  }
  if (!token) {
    fprintf(stderr, "%s: %s: missing --token\n", cli_progname, cmd);
    return MS_EXIT_USAGE;
  }
  if (op == MS_TOKEN_SUCCESS && !out_arg) {
    fprintf(stderr, "%s: %s: missing --output\n", cli_progname, cmd);
    return MS_EXIT_USAGE;
  }
  json_t *output = out_arg ? cli_json_arg("--output", out_arg) : NULL;
  if (out_arg && !output) return MS_EXIT_USAGE;
  ms_engine_t *e = NULL;
  int rc = open_db(db, &e);
  if (rc == MS_EXIT_OK) {
    const char *code = NULL;
    if (!e) {
      /* nothing was ever recorded there: no token can exist */
      code = strncmp(token, "mstt1-", 6) ? "InvalidToken"
                                         : "TaskDoesNotExist";
      fprintf(stderr, "%s: %s: %s\n", cli_progname, code,
              !strcmp(code, "InvalidToken")
                  ? "Invalid Token: 'Invalid token'"
                  : "Task Does Not Exist: 'Provided task does not "
                    "exist'");
      rc = MS_EXIT_USAGE;
    } else if (ms_task_send(e, op, token, output, error, cause,
                            &code) < 0) {
      fprintf(stderr, "%s: %s%s%s\n", cli_progname, code ? code : "",
              code ? ": " : "", ms_engine_error(e));
      rc = code ? MS_EXIT_USAGE : MS_EXIT_FAILED;
    }
  }
  ms_engine_free(e);
  json_decref(output);
  return rc;
}

static int cmd_send_success(int argc, char **argv) {
  return send_task("send-task-success", MS_TOKEN_SUCCESS, argc, argv);
}

static int cmd_send_failure(int argc, char **argv) {
  return send_task("send-task-failure", MS_TOKEN_FAILURE, argc, argv);
}

static int cmd_send_heartbeat(int argc, char **argv) {
  return send_task("send-task-heartbeat", MS_TOKEN_HEARTBEAT, argc, argv);
}

static int cmd_help(int argc, char **argv);

static const struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *usage;
} commands[] = {
  {"run", cmd_run,
   "run FILE|NAME [--input JSON|@FILE] [--tasks DIR] [--name NAME] [--express]\n"
   "      [--clock virtual|real] [--describe] [--machines DIR]\n"
   "      [--mock-config FILE --test-case NAME] [--db PATH]\n"
   "      [--durability normal|full] [--no-aws-limits]\n"
   "      [--resume ID] [--log] [--max-events N] [--commit-each]\n"
   "      run an execution and print its output; with a Step Functions\n"
   "      Local mock configuration, the test case's Task states answer\n"
   "      with their mocked responses; a STANDARD run is recorded\n"
   "      (--durability full: fsync at every transition); a Task\n"
   "      starting stateMachine:NAME runs DIR/NAME.asl.json (default\n"
   "      DIR: the folder of FILE); NAME: a state machine `moonstep\n"
   "      deploy` registered"},
  {"validate", cmd_validate,
   "validate FILE...\n      check definitions as AWS would"},
  {"eval", cmd_eval,
   "eval EXPR [--input JSON|@FILE] [--context JSON|@FILE] [--vars JSON|@FILE]\n"
   "      evaluate a JSONPath or intrinsic function as a \".$\" field does\n"
   "  moonstep eval --jsonata EXPR [--input JSON|@FILE] [--bindings JSON|@FILE]\n"
   "      [--describe] [--timeout MS] [--max-depth N] [--reference]\n"
   "      evaluate JSONata as Step Functions does (--reference: plain\n"
   "      JSONata 2.x; --describe: {\"result\": ...},\n"
   "      {\"undefined\": true} or {\"error\": {code, message, position}})"},
  {"invoke", cmd_invoke,
   "invoke NAME [--event JSON|@FILE] [--tasks DIR]\n"
   "      run one Task handler and print its result (or Lambda's error)"},
  {"test-state", cli_test_state,
   "test-state FILE [STATE] [--input JSON|@FILE] [--mock JSON|@FILE]\n"
   "      [--inspection-level INFO|DEBUG|TRACE] [--variables JSON|@FILE]\n"
   "      [--retry-count N] [--tasks DIR] [--wire]\n"
   "      run one state as AWS's TestState API does (STATE of the machine\n"
   "      in FILE, or FILE holds one state); print status, output, error,\n"
   "      nextState and inspection data; --mock {\"result\": ...} or\n"
   "      {\"errorOutput\": {\"error\", \"cause\"}}; exit 1 when FAILED"},
  {"executions", cmd_executions,
   "executions list [--status S] [--machine NAME] [--json]\n"
   "      recorded executions, newest first (ListExecutions's JSON)"},
  {"describe", cmd_describe,
   "describe ID\n      a recorded execution (DescribeExecution's JSON)"},
  {"history", cmd_history,
   "history ID [--json] [--reverse]\n"
   "      its events: a table in a terminal, else GetExecutionHistory's\n"
   "      JSON"},
  {"output", cmd_output, "output ID\n      its output"},
  CLI_EXECUTIONS_COMMANDS
  {"send-task-success", cmd_send_success,
   "send-task-success --token T --output JSON|@FILE\n"
   "      complete a waiting .waitForTaskToken Task with its result"},
  {"send-task-failure", cmd_send_failure,
   "send-task-failure --token T [--error E] [--cause C]\n"
   "      fail a waiting Task (Retry and Catch apply)"},
  {"send-task-heartbeat", cmd_send_heartbeat,
   "send-task-heartbeat --token T\n"
   "      tell a waiting Task with HeartbeatSeconds its worker is alive"},
  {"deploy", cli_deploy,
   "deploy TEMPLATE [--stack NAME] [--parameter KEY=VALUE]... [--tasks DIR]\n"
   "      [--dry-run]\n"
   "      stand up a CloudFormation/SAM template: create its DynamoDB\n"
   "      tables, map its functions to DIR/<Name>.lua, register its state\n"
   "      machines (then: moonstep run NAME) and bucket triggers\n"
   "      (--dry-run: print the resolved stack as JSON, change nothing)"},
  {"repl", cli_repl,
   "repl [FILE] [--input JSON|@FILE] [--execution ID] [-e CHUNK]... [-i]\n"
   "      [--tasks DIR] [--db PATH]\n"
   "      a Lua prompt for debugging workflows (:help inside); -e runs\n"
   "      chunks and exits (-i: then the prompt); commands may be piped"},
  {"table", cli_table,
   "table create|list|describe|put|get|delete|query|scan|import|export|drop\n"
   "      the DynamoDB-like tables (moonstep table --help)"},
  {"s3", cli_s3,
   "s3 cp SRC DST | ls [s3://BUCKET[/PREFIX]] [--recursive] | rm s3://B/KEY\n"
   "      | mb s3://BUCKET | rb s3://BUCKET   the local buckets (--buckets\n"
   "      DIR, $MOONSTEP_BUCKETS, else .moonstep/buckets)"},
  {"watch", cli_watch,
   "watch s3://BUCKET --machine FILE [--prefix P] [--suffix S]\n"
   "      [--event s3|eventbridge] [--once] [--settle SEC] [--tasks DIR]\n"
   "      one execution per new object, with an S3 event as input"},
  {"help", cmd_help, "help\n      show this help"},
};

static int cmd_help(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("moonstep %s - run AWS Step Functions state machines locally\n\n"
         "usage:\n", MS_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    printf("  %s %s\n", cli_progname, commands[i].usage);
  printf("\nSTANDARD runs are recorded in --db PATH (an option of the "
         "command or before\nit), else $MOONSTEP_DB, else %s; ID is an "
         "execution's ARN or name.\n", MS_DB_DEFAULT);
  printf("\nexit status: 0 succeeded, 1 execution failed, 2 usage error, "
         "3 invalid definition\n");
  return MS_EXIT_OK;
}

/* Everything written to stdout must arrive: a full disk is reported, and
 * a command that had succeeded exits 1 instead of 0. */
static int flushed(int rc) {
  int e = fflush(stdout) ? errno : 0;
  if (!e && !ferror(stdout)) return rc;
  fprintf(stderr, "%s: cannot write the output: %s\n", cli_progname,
          e ? strerror(e) : "I/O error");
  return rc == MS_EXIT_OK ? MS_EXIT_FAILED : rc;
}

static int dispatch(int argc, char **argv) {
  if (argc < 2) {
    cmd_help(0, NULL);
    return MS_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--db") && argc > 2) {
    global_db = argv[2];
    argv += 2;
    argc -= 2;
    if (argc < 2) return cli_usage("%s", "missing command after --db");
  }
  if (!strcmp(argv[1], "--buckets") && argc > 2) {  /* s3.h's folder */
    setenv("MOONSTEP_BUCKETS", argv[2], 1);
    argv += 2;
    argc -= 2;
    if (argc < 2) return cli_usage("%s", "missing command after --buckets");
  }
  const char *name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
  if (!strcmp(name, "--version")) {
    printf("moonstep %s\n", MS_VERSION);
    return MS_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(commands[i].name, name))
      return commands[i].fn(argc - 2, argv + 2);
  return cli_usage("unknown command '%s'", name);
}

int main(int argc, char **argv) {
  return flushed(dispatch(argc, argv));
}
