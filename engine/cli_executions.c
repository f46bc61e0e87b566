/* cli_executions.c - the durable-execution commands: resume and stop, and
 * run's options for them (--resume, --log, --max-events, --commit-each,
 * Ctrl-C / SIGTERM aborting the run).
 *
 *   moonstep resume ID [--tasks DIR] [--clock virtual|real] [--log]
 *                      [--describe] [--machines DIR] [--db PATH]
 *   moonstep stop ID [--error E] [--cause C] [--db PATH]
 *
 * Includes only cli.h (moonstep.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

void cli_catch_signals(ms_run_options_t *ro) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  ro->interrupt = &interrupted;
}

int cli_durable_opt(int argc, char **argv, int *i, ms_run_options_t *ro,
                    const char **resume) {
  const char *a = argv[*i];
  bool more = *i + 1 < argc;
  if (!strcmp(a, "--resume") && more) {
    *resume = argv[++*i];
  } else if (!strcmp(a, "--log")) {
    ro->log = stderr;
  } else if (!strcmp(a, "--commit-each")) {
    ro->commit_each = true;
  } else if (!strcmp(a, "--max-events") && more) {
    const char *v = argv[++*i];
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 1) {
      cli_usage("--max-events: a positive integer, not '%s'", v);
      return -1;
    }
    ro->max_events = n;
  } else {
    return 0;
  }
  return 1;
}

static ms_engine_t *engine(const char *db, const char *tasks,
                           bool virtual_clock, const char *machines) {
  char *err = NULL;
  ms_options_t eo = {.tasks_dir = tasks, .virtual_clock = virtual_clock,
                     .db_path = cli_db_path(db), .machines_dir = machines};
  ms_engine_t *e = ms_engine_new(&eo, &err);
  if (!e) {
    fprintf(stderr, "%s: %s\n", cli_progname, err ? err : "cannot start");
    free(err);
  }
  return e;
}

/* resume, redrive and rerun: what they share. */
typedef enum { DO_RESUME, DO_REDRIVE, DO_RERUN } takeover_t;

static int take(const char *cmd, takeover_t what, int argc, char **argv) {
  const char *id = NULL, *tasks = "tasks", *db = NULL, *machines = NULL;
  const char *resume = NULL, *from = NULL, *input_arg = NULL;
  bool virtual_clock = false, describe = false;
  ms_run_options_t ro = {0};
  char *failed_state = NULL;
  ro.failed_state = &failed_state;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    int r = cli_durable_opt(argc, argv, &i, &ro, &resume);
    if (r < 0) return MS_EXIT_USAGE;
    if (r > 0 && resume) return cli_usage("%s: --resume is run's option",
                                         cmd);
    if (r > 0) continue;
    if (what == DO_RERUN && !strcmp(a, "--from") && more) from = argv[++i];
    else if (what == DO_RERUN && !strcmp(a, "--input") && more)
      input_arg = argv[++i];
    else if (what == DO_RERUN && !strcmp(a, "--name") && more)
      ro.name = argv[++i];
    else if (!strcmp(a, "--tasks") && more) tasks = argv[++i];
    else if (!strcmp(a, "--db") && more) db = argv[++i];
    else if (!strcmp(a, "--machines") && more) machines = argv[++i];
    else if (!strcmp(a, "--describe")) describe = true;
    else if (!strcmp(a, "--clock") && more) {
      const char *c = argv[++i];
      if (!strcmp(c, "virtual")) virtual_clock = true;
      else if (strcmp(c, "real")) return cli_usage("unknown clock '%s'", c);
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "%s: %s: unknown or incomplete option '%s'\n"
              "Try '%s help' for usage.\n", cli_progname, cmd, a,
              cli_progname);
      return MS_EXIT_USAGE;
    } else if (!id) {
      id = a;
    } else {
      return cli_usage("unexpected argument '%s'", a);
    }
  }
  if (!id) return cli_usage("%s: missing ID", cmd);
  if (what == DO_RERUN && !from)
    return cli_usage("%s: missing --from STATE", cmd);
  json_t *input = NULL;
  if (input_arg && !(input = cli_json_arg("--input", input_arg)))
    return MS_EXIT_USAGE;
  ms_engine_t *e = engine(db, tasks, virtual_clock, machines);
  if (!e) {
    json_decref(input);
    return MS_EXIT_USAGE;
  }
  cli_catch_signals(&ro);
  bool missing;
  json_t *d = what == DO_RESUME ? ms_resume(e, id, &ro, &missing)
              : what == DO_REDRIVE ? ms_redrive(e, id, &ro, &missing)
              : ms_rerun(e, id, from, input, &ro, &missing);
  int rc;
  if (!d) {
    fprintf(stderr, "%s: %s: %s\n", cli_progname, cmd, ms_engine_error(e));
    rc = MS_EXIT_USAGE;
  } else {
    rc = cli_report(d, describe, failed_state);
  }
  free(failed_state);
  json_decref(d);
  json_decref(input);
  ms_engine_free(e);
  return rc;
}

int cli_cmd_resume(int argc, char **argv) {
  return take("resume", DO_RESUME, argc, argv);
}

int cli_cmd_redrive(int argc, char **argv) {
  return take("redrive", DO_REDRIVE, argc, argv);
}

int cli_cmd_rerun(int argc, char **argv) {
  return take("rerun", DO_RERUN, argc, argv);
}

/* Wait (up to STOP_WAIT_S) until a live owner has aborted id. */
#define STOP_WAIT_S 10.0
static void wait_stopped(ms_engine_t *e, const char *id) {
  struct timespec nap = {0, 20 * 1000 * 1000};
  for (double t = 0; t < STOP_WAIT_S; t += 0.02) {
    bool missing;
    json_t *d = ms_execution_describe(e, id, &missing);
    const char *st = json_string_value(json_object_get(d, "status"));
    bool done = !d || !st || strcmp(st, "RUNNING");
    json_decref(d);
    if (done) return;
    nanosleep(&nap, NULL);
  }
}

int cli_cmd_stop(int argc, char **argv) {
  const char *id = NULL, *db = NULL, *error = NULL, *cause = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (!strcmp(a, "--db") && more) db = argv[++i];
    else if (!strcmp(a, "--error") && more) error = argv[++i];
    else if (!strcmp(a, "--cause") && more) cause = argv[++i];
    else if (a[0] == '-' && a[1])
      return cli_usage("stop: unknown or incomplete option '%s'", a);
    else if (!id) id = a;
    else return cli_usage("stop: unexpected argument '%s'", a);
  }
  if (!id) return cli_usage("stop: %s", "missing ID");
  ms_engine_t *e = engine(db, "tasks", false, NULL);
  if (!e) return MS_EXIT_USAGE;
  bool missing = false, running = false;
  int rc = MS_EXIT_OK;
  if (ms_stop(e, id, error, cause, &missing, &running) < 0) {
    fprintf(stderr, "%s: stop: %s\n", cli_progname, ms_engine_error(e));
    rc = MS_EXIT_USAGE;
  } else {
    if (running) wait_stopped(e, id);
    json_t *d = ms_execution_describe(e, id, &missing);
    /* StopExecution answers the stop date */
    json_t *out = json_pack("{sO?}", "stopDate",
                            json_object_get(d, "stopDate"));
    cli_print_json(out);
    json_decref(out);
    json_decref(d);
  }
  ms_engine_free(e);
  return rc;
}

int cli_cmd_db_check(int argc, char **argv) {
  const char *db = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) db = argv[++i];
    else return cli_usage("db-check: unexpected argument '%s'", argv[i]);
  }
  ms_engine_t *e = engine(db, "tasks", false, NULL);
  if (!e) return MS_EXIT_USAGE;
  char *r = ms_db_check(e);
  int rc = r && !strcmp(r, "ok") ? MS_EXIT_OK : MS_EXIT_FAILED;
  if (r) puts(r);
  else fprintf(stderr, "%s: db-check: %s\n", cli_progname,
               ms_engine_error(e));
  free(r);
  ms_engine_free(e);
  return rc;
}
