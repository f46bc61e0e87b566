/* cli.c - the moonstep command: main and the subcommand table.
 *
 *   moonstep run FILE [--input JSON|@FILE] [--tasks DIR] [--name NAME]
 *                     [--express] [--clock virtual|real] [--describe]
 *   moonstep validate FILE...
 *   moonstep eval EXPR [--input JSON|@FILE] [--context JSON|@FILE]
 *                      [--vars JSON|@FILE]
 *
 * The execution's output goes to stdout, everything else to stderr. Exit
 * status: 0 succeeded, 1 the execution did not succeed, 2 usage error,
 * 3 invalid definition (see MS_EXIT_* in moonstep.h). Includes only
 * moonstep.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "moonstep.h"

static const char *progname = "moonstep";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", progname);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry '%s help' for usage.\n", progname);
  return MS_EXIT_USAGE;
}

/* Read a whole file ("-" is stdin). NULL with errno on failure. */
static char *read_file(const char *path, size_t *len) {
  FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!fp) return NULL;
  buf_t b;
  buf_init(&b);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) buf_append(&b, chunk, n);
  int bad = ferror(fp);
  if (fp != stdin) fclose(fp);
  if (bad) {
    buf_free(&b);
    errno = EIO;
    return NULL;
  }
  *len = b.len;
  return buf_steal(&b);
}

/* A JSON argument: literal text, or @FILE. New reference or NULL (the
 * problem printed). */
static json_t *json_arg(const char *flag, const char *arg) {
  size_t len = strlen(arg);
  char *text = NULL;
  if (arg[0] == '@') {
    text = read_file(arg + 1, &len);
    if (!text) {
      fprintf(stderr, "%s: %s: cannot read %s: %s\n", progname, flag,
              arg + 1, strerror(errno));
      return NULL;
    }
  }
  char *err = NULL;
  json_t *v = jsonx_parse(text ? text : arg, len, &err);
  if (!v) {
    fprintf(stderr, "%s: %s is not valid JSON: %s\n", progname, flag, err);
    free(err);
  }
  free(text);
  return v;
}

static void print_json(const json_t *v) {
  int flags = isatty(STDOUT_FILENO) ? JSONX_PRETTY : JSONX_COMPACT;
  char *s = jsonx_dump(v, flags);
  fputs(s, stdout);
  fputc('\n', stdout);
  free(s);
}

/* Load a definition file, printing diagnostics. NULL when invalid. */
static ms_machine_t *load(const char *path, int *status) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "%s: cannot read %s: %s\n", progname, path,
            strerror(errno));
    *status = MS_EXIT_USAGE;
    return NULL;
  }
  diags_t d;
  diags_init(&d);
  ms_machine_t *m = ms_machine_load(text, len, &d);
  ms_diags_print(&d, path, stderr);
  diags_free(&d);
  free(text);
  *status = m ? MS_EXIT_OK : MS_EXIT_INVALID;
  return m;
}

static int cmd_run(int argc, char **argv) {
  const char *file = NULL, *input_arg = NULL, *tasks = "tasks";
  ms_run_options_t ro = {0};
  bool describe = false, virtual_clock = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (!strcmp(a, "--input") && more) input_arg = argv[++i];
    else if (!strcmp(a, "--tasks") && more) tasks = argv[++i];
    else if (!strcmp(a, "--name") && more) ro.name = argv[++i];
    else if (!strcmp(a, "--express")) ro.express = true;
    else if (!strcmp(a, "--describe")) describe = true;
    else if (!strcmp(a, "--clock") && more) {
      const char *c = argv[++i];
      if (!strcmp(c, "virtual")) virtual_clock = true;
      else if (strcmp(c, "real")) return usage_error("unknown clock '%s'", c);
    } else if (a[0] == '-' && a[1]) {
      return usage_error("run: unknown or incomplete option '%s'", a);
    } else if (!file) {
      file = a;
    } else {
      return usage_error("run: unexpected argument '%s'", a);
    }
  }
  if (!file) return usage_error("run: %s", "missing FILE");
  json_t *input = input_arg ? json_arg("--input", input_arg) : json_object();
  if (!input) return MS_EXIT_USAGE;
  int status;
  ms_machine_t *m = load(file, &status);
  if (!m) {
    json_decref(input);
    return status;
  }
  char *err = NULL;
  ms_options_t eo = {tasks, virtual_clock};
  ms_engine_t *e = ms_engine_new(&eo, &err);
  if (!e) {
    fprintf(stderr, "%s: %s\n", progname, err ? err : "cannot start");
    free(err);
    ms_machine_free(m);
    json_decref(input);
    return MS_EXIT_USAGE;
  }
  json_t *d = ms_run(e, m, input, &ro);
  const char *st = json_string_value(json_object_get(d, "status"));
  bool ok = st && !strcmp(st, "SUCCEEDED");
  if (describe) {
    print_json(d);
  } else if (ok) {
    print_json(json_object_get(d, "output"));
  } else {
    const char *error = json_string_value(json_object_get(d, "error"));
    const char *cause = json_string_value(json_object_get(d, "cause"));
    fprintf(stderr, "%s: execution %s", progname, st ? st : "?");
    if (error) fprintf(stderr, ": %s", error);
    if (cause) fprintf(stderr, ": %s", cause);
    fputc('\n', stderr);
  }
  json_decref(d);
  ms_engine_free(e);
  ms_machine_free(m);
  json_decref(input);
  return ok ? MS_EXIT_OK : MS_EXIT_FAILED;
}

static int cmd_validate(int argc, char **argv) {
  if (argc == 0) return usage_error("validate: %s", "missing FILE");
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
      *slot = json_arg(a, argv[++i]);
      if (!*slot) rc = MS_EXIT_USAGE;
    } else if (a[0] == '-' && a[1] && a[1] != '$' && !expr) {
      rc = usage_error("eval: unknown or incomplete option '%s'", a);
    } else if (!expr) {
      expr = a;
    } else {
      rc = usage_error("eval: unexpected argument '%s'", a);
    }
  }
  if (rc == MS_EXIT_OK && !expr) rc = usage_error("eval: %s", "missing EXPR");
  if (rc == MS_EXIT_OK && vars && !json_is_object(vars))
    rc = usage_error("eval: %s", "--vars must be a JSON object");
  if (rc == MS_EXIT_OK) {
    fault_t f = FAULT_INIT;
    json_t *v = ms_eval(expr, NULL, input, context, vars, &f);
    if (v) {
      print_json(v);
      json_decref(v);
    } else {
      fprintf(stderr, "%s: %s: %s\n", progname, f.error,
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

static int cmd_help(int argc, char **argv);

static const struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *usage;
} commands[] = {
  {"run", cmd_run,
   "run FILE [--input JSON|@FILE] [--tasks DIR] [--name NAME] [--express]\n"
   "      [--clock virtual|real] [--describe]\n"
   "      run an execution and print its output"},
  {"validate", cmd_validate,
   "validate FILE...\n      check definitions as AWS would"},
  {"eval", cmd_eval,
   "eval EXPR [--input JSON|@FILE] [--context JSON|@FILE] [--vars JSON|@FILE]\n"
   "      evaluate a JSONPath or intrinsic function as a \".$\" field does"},
  {"help", cmd_help, "help\n      show this help"},
};

static int cmd_help(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("moonstep %s - run AWS Step Functions state machines locally\n\n"
         "usage:\n", MS_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    printf("  %s %s\n", progname, commands[i].usage);
  printf("\nexit status: 0 succeeded, 1 execution failed, 2 usage error, "
         "3 invalid definition\n");
  return MS_EXIT_OK;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    cmd_help(0, NULL);
    return MS_EXIT_USAGE;
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
  return usage_error("unknown command '%s'", name);
}
