/* cli_deploy.c - `moonstep deploy TEMPLATE`: stand up a CloudFormation or
 * SAM template locally. Its DynamoDB tables are created in the table
 * store, its buckets as local bucket folders, its Lambda functions are mapped to tasks/<Name>.lua, its state
 * machines are validated and registered (so `moonstep run NAME` runs
 * them), and its bucket triggers are recorded for `moonstep watch`. What
 * cannot be emulated is listed once. --dry-run prints the resolved stack
 * as JSON and changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfn.h"
#include "cli.h"
#include "registry.h"
#include "s3.h"
#include "tables.h"

typedef struct opts {
  const char *file, *stack, *tasks, *db;
  json_t *params;
  bool dry_run;
} opts_t;

/* The stack's default name: the template's folder for template.yaml
 * (template.yml, template.json), else the file's name without its
 * extension. Malloc'd. */
static char *default_stack(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!strncmp(base, "template.", 9)) {
    char *dir = slash ? ms_strndup(path, (size_t)(slash - path))
                      : ms_strdup(".");
    char *abs = realpath(dir, NULL);
    const char *name = abs ? strrchr(abs, '/') : NULL;
    char *r = ms_strdup(name && name[1] ? name + 1 : "stack");
    free(abs);
    free(dir);
    return r;
  }
  const char *dot = strchr(base, '.');
  return ms_strndup(base, dot ? (size_t)(dot - base) : strlen(base));
}

static int parse_args(int argc, char **argv, opts_t *o) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--dry-run")) {
      o->dry_run = true;
    } else if (!strcmp(a, "--stack") && has) {
      o->stack = argv[++i];
    } else if (!strcmp(a, "--tasks") && has) {
      o->tasks = argv[++i];
    } else if (!strcmp(a, "--db") && has) {
      o->db = argv[++i];
    } else if (!strcmp(a, "--parameter") && has) {
      const char *kv = argv[++i];
      const char *eq = strchr(kv, '=');
      if (!eq || eq == kv)
        return cli_usage("deploy: --parameter wants KEY=VALUE, not '%s'",
                         kv);
      char *k = ms_strndup(kv, (size_t)(eq - kv));
      json_object_set_new(o->params, k, json_string(eq + 1));
      free(k);
    } else if (a[0] == '-' && a[1]) {
      return cli_usage("deploy: unknown or incomplete option '%s'", a);
    } else if (!o->file) {
      o->file = a;
    } else {
      return cli_usage("deploy: one template at a time ('%s')", a);
    }
  }
  if (!o->file) return cli_usage("%s", "deploy: which template?");
  return MS_EXIT_OK;
}

/* Create one table; an existing one with the same key schema is kept. */
static int create_table(tables_t *t, json_t *req) {
  const char *name = json_string_value(json_object_get(req, "TableName"));
  fault_t f = FAULT_INIT;
  json_t *r = tables_call(t, "CreateTable", req, 0, NULL, &f);
  const char *key = json_string_value(json_object_get(
      json_array_get(json_object_get(req, "KeySchema"), 0), "AttributeName"));
  if (r) {
    printf("  table     %-28s created (key %s)\n", name, key ? key : "?");
    json_decref(r);
    return 0;
  }
  if (f.error && strstr(f.error, "ResourceInUse")) {
    fault_t g = FAULT_INIT;
    json_t *q = json_pack("{ss}", "TableName", name);
    json_t *d = tables_call(t, "DescribeTable", q, 0, NULL, &g);
    json_decref(q);
    json_t *have = json_object_get(json_object_get(d, "Table"), "KeySchema");
    bool same = have && json_equal(have, json_object_get(req, "KeySchema"));
    json_decref(d);
    fault_clear(&g);
    fault_clear(&f);
    if (same) {
      printf("  table     %-28s exists (key %s)\n", name, key ? key : "?");
      return 0;
    }
    fprintf(stderr, "%s: deploy: table %s exists with another key schema;"
            " drop it first (moonstep table drop %s)\n", cli_progname, name,
            name);
    return -1;
  }
  fprintf(stderr, "%s: deploy: table %s: %s: %s\n", cli_progname, name,
          f.error, f.cause ? f.cause : "");
  fault_clear(&f);
  return -1;
}

static int validate_machines(const cfn_stack_t *s, const char *file) {
  int bad = 0;
  size_t i;
  json_t *m;
  json_array_foreach(s->machines, i, m) {
    const char *text = json_string_value(json_object_get(m, "Definition"));
    const char *name = json_string_value(json_object_get(m, "Name"));
    diags_t d;
    diags_init(&d);
    ms_machine_t *mm = ms_machine_load(text, strlen(text), &d);
    char *label = ms_asprintf("%s (state machine %s)", file, name);
    ms_diags_print(&d, label, stderr);
    free(label);
    diags_free(&d);
    if (!mm) bad++;
    ms_machine_free(mm);
  }
  return bad;
}

static void show_rest(const cfn_stack_t *s, const char *tasks) {
  size_t i;
  json_t *v;
  json_array_foreach(s->functions, i, v) {
    const char *name = json_string_value(json_object_get(v, "FunctionName"));
    char *path = ms_asprintf("%s/%s.lua", tasks, name);
    struct stat st;
    bool found = stat(path, &st) == 0;
    printf("  function  %-28s %s%s\n", name, path,
           found ? "" : " (missing: write it before running)");
    free(path);
  }
  json_array_foreach(s->machines, i, v) {
    const char *name = json_string_value(json_object_get(v, "Name"));
    char *what = ms_asprintf("%s (%s)", name, json_string_value(
        json_object_get(v, "Type")));
    printf("  machine   %-28s moonstep run %s\n", what, name);
    free(what);
  }
  json_array_foreach(s->triggers, i, v) {
    const char *target = json_string_value(json_object_get(v, "Machine"));
    const char *fn = json_string_value(json_object_get(v, "Function"));
    printf("  trigger   s3://%s/%s*%s -> %s%s (%s event)\n",
           json_string_value(json_object_get(v, "Bucket")),
           json_string_value(json_object_get(v, "Prefix")),
           json_string_value(json_object_get(v, "Suffix")),
           target ? "" : "function ", target ? target : fn,
           json_string_value(json_object_get(v, "Event")));
  }
  if (json_array_size(s->ignored)) {
    printf("not emulated (read and ignored):");
    json_array_foreach(s->ignored, i, v)
      printf("%s %s", i ? "," : "", json_string_value(v));
    printf("\n");
  }
}

json_t *cli_registered_machine(const char *name, const char *db) {
  char *err = NULL;
  json_t *m = registry_machine(cli_db_path(db), name, &err);
  if (err) {
    fprintf(stderr, "%s: %s\n", cli_progname, err);
    free(err);
  }
  return m;
}

int cli_deploy(int argc, char **argv) {
  opts_t o = {NULL, NULL, "tasks", NULL, json_object(), false};
  int rc = parse_args(argc, argv, &o);
  if (rc != MS_EXIT_OK) {
    json_decref(o.params);
    return rc;
  }
  size_t len;
  char *text = ms_read_file(o.file, MS_FILE_MAX, &len);
  if (!text) {
    fprintf(stderr, "%s: cannot read %s: %s\n", cli_progname, o.file,
            strerror(errno));
    json_decref(o.params);
    return MS_EXIT_USAGE;
  }
  char *stack = o.stack ? ms_strdup(o.stack) : default_stack(o.file);
  const char *slash = strrchr(o.file, '/');
  char *base_dir = slash ? ms_strndup(o.file, (size_t)(slash - o.file))
                         : ms_strdup(".");
  cfn_stack_t s;
  char *err = NULL;
  rc = cfn_load(text, len, stack, o.params, base_dir, &s, &err);
  free(text);
  free(base_dir);
  json_decref(o.params);
  if (rc) {
    /* a syntax error says LINE:COL, a resolution error its path */
    bool at_line = err[0] >= '0' && err[0] <= '9';
    fprintf(stderr, "%s: %s:%s%s\n", cli_progname, o.file,
            at_line ? "" : " ", err);
    free(err);
    free(stack);
    return MS_EXIT_INVALID;
  }
  if (validate_machines(&s, o.file)) {
    rc = MS_EXIT_INVALID;
  } else if (o.dry_run) {
    json_t *all = json_pack("{sssOsOsOsOsOsOsO}", "Stack", s.name, "Tables",
                            s.tables, "Functions", s.functions, "Machines",
                            s.machines, "Buckets", s.buckets, "Triggers",
                            s.triggers, "Ignored", s.ignored, "Outputs",
                            s.outputs);
    cli_print_json(all);
    json_decref(all);
  } else {
    const char *db = cli_db_path(o.db);
    tables_t *t = tables_open(db, &err);
    if (!t) {
      fprintf(stderr, "%s: %s\n", cli_progname, err);
      rc = MS_EXIT_FAILED;
    } else {
      printf("stack %s (%s)\n", s.name, o.file);
      size_t i;
      json_t *req;
      json_array_foreach(s.tables, i, req)
        if (create_table(t, req)) rc = MS_EXIT_FAILED;
      tables_close(t);
    }
    size_t i;
    json_t *b;
    json_array_foreach(s.buckets, i, b) {
      if (rc) break;
      const char *name = json_string_value(json_object_get(b,
                                                           "BucketName"));
      bool had = s3_bucket_exists(name);
      s3_error_t e;
      if (!had && s3_create_bucket(name, &e)) {
        fprintf(stderr, "%s: deploy: bucket %s: %s: %s\n", cli_progname,
                name, e.code, e.message);
        rc = MS_EXIT_FAILED;
      } else {
        printf("  bucket    %-28s %s (s3://%s, in %s)\n", name,
               had ? "exists" : "created", name, s3_root());
      }
    }
    if (!rc && registry_put_stack(db, &s, o.file, o.tasks, &err)) {
      fprintf(stderr, "%s: deploy: %s\n", cli_progname, err);
      rc = MS_EXIT_FAILED;
    }
    if (!rc) show_rest(&s, o.tasks);
  }
  free(err);
  free(stack);
  cfn_stack_free(&s);
  return rc;
}
