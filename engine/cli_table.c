/* cli_table.c - `moonstep table ...`: the DynamoDB-like tables from the
 * command line (create, list, describe, put, get, delete, query, scan,
 * import, export, drop) over tables.h, in the database --db PATH, else
 * the global --db / $MOONSTEP_DB / .moonstep/moonstep.db.
 *
 * Items are plain JSON both ways (DynamoDB's DocumentClient mapping,
 * ddbval.h); --av takes and prints AttributeValue JSON instead. Items
 * print one per line, compact, when stdout is not a terminal, and
 * indented in a terminal. import reads JSON Lines (one item per line) or
 * CSV with a header row (csv.h; fields are strings, as AWS's CSV
 * ItemReader gives them, except key attributes of type N, which must be
 * numbers; empty fields are left out), in batches of IMPORT_BATCH items,
 * one transaction each. export writes JSON Lines or CSV (a header of
 * every attribute name, keys first; strings as they are, other values as
 * JSON).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "csv.h"      /* for import and export */
#include "tables.h"   /* the CLI's one look below moonstep.h: the store */

#define IMPORT_BATCH 10000  /* items per transaction when importing */

static const char *usage_text =
  "usage: moonstep table COMMAND ... [--db PATH]\n"
  "  create NAME --key ATTR[:S|N|B] [--sort ATTR[:T]]\n"
  "         [--index NAME=ATTR[:T][,SORT[:T]]]...\n"
  "  list | describe NAME | drop NAME\n"
  "  put NAME ITEM_JSON|@FILE [--condition EXPR] [--values JSON]\n"
  "  get NAME --key KEY_JSON | delete NAME --key KEY_JSON\n"
  "  query NAME (--key KEY_JSON | --where EXPR) [--values JSON]\n"
  "        [--names JSON] [--index I] [--filter EXPR] [--limit N]\n"
  "        [--reverse]\n"
  "  scan NAME [--filter EXPR] [--values JSON] [--index I] [--limit N]\n"
  "  import NAME FILE.csv|FILE.jsonl   export NAME [--format jsonl|csv]\n"
  "items are plain JSON (--av: AttributeValue JSON)\n";

typedef struct opts {
  const char *db, *key, *sort, *where, *filter, *values, *names, *index;
  const char *condition, *format;
  const char *idx[16];
  int nidx;
  long long limit;
  bool reverse, av;
  const char *pos[3];          /* positional arguments */
  int npos;
} opts_t;

static int usage(const char *fmt, const char *arg) {
  fprintf(stderr, "moonstep table: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage_text);
  return MS_EXIT_USAGE;
}

static int parse_opts(int argc, char **argv, opts_t *o) {
  memset(o, 0, sizeof *o);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    const char **slot = NULL;
    if (!strcmp(a, "--db")) slot = &o->db;
    else if (!strcmp(a, "--key")) slot = &o->key;
    else if (!strcmp(a, "--sort")) slot = &o->sort;
    else if (!strcmp(a, "--where")) slot = &o->where;
    else if (!strcmp(a, "--filter")) slot = &o->filter;
    else if (!strcmp(a, "--values")) slot = &o->values;
    else if (!strcmp(a, "--names")) slot = &o->names;
    else if (!strcmp(a, "--index")) slot = &o->index;
    else if (!strcmp(a, "--condition")) slot = &o->condition;
    else if (!strcmp(a, "--format")) slot = &o->format;
    if (slot) {
      if (!more) return usage("%s needs a value", a);
      if (slot == &o->index && o->nidx < 16) o->idx[o->nidx++] = argv[i + 1];
      *slot = argv[++i];
    } else if (!strcmp(a, "--limit") && more) {
      char *end;
      o->limit = strtoll(argv[++i], &end, 10);
      if (*end || o->limit < 1) return usage("bad --limit %s", argv[i]);
    } else if (!strcmp(a, "--reverse")) {
      o->reverse = true;
    } else if (!strcmp(a, "--av")) {
      o->av = true;
    } else if (a[0] == '-' && a[1]) {
      return usage("unknown option %s", a);
    } else if (o->npos < 3) {
      o->pos[o->npos++] = a;
    } else {
      return usage("unexpected argument %s", a);
    }
  }
  return 0;
}

/* JSON from an argument: text, or @FILE. */
static json_t *json_arg(const char *what, const char *arg) {
  size_t len;
  char *text = NULL, *err = NULL;
  if (arg[0] == '@') {
    text = ms_read_file(arg + 1, MS_FILE_MAX, &len);
    if (!text) {
      fprintf(stderr, "moonstep table: cannot read %s: %s\n", arg + 1,
              strerror(errno));
      return NULL;
    }
  }
  json_t *v = jsonx_parse(text ? text : arg, text ? len : strlen(arg), &err);
  if (!v) fprintf(stderr, "moonstep table: %s is not JSON: %s\n", what, err);
  free(err);
  free(text);
  return v;
}

/* A plain object -> an object of AttributeValues (or as is with --av). */
static json_t *to_av_map(const opts_t *o, const json_t *plain) {
  if (o->av) return json_incref((json_t *)plain);
  json_t *m = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)plain, k, v) {
    char *err = NULL;
    json_t *av = ddbval_from_plain(v, &err);
    if (!av) {
      fprintf(stderr, "moonstep table: %s: %s\n", k, err);
      free(err);
      json_decref(m);
      return NULL;
    }
    json_object_set_new(m, k, av);
  }
  return m;
}

static json_t *to_plain_map(const opts_t *o, const json_t *item) {
  if (o->av) return json_incref((json_t *)item);
  json_t *m = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)item, k, v)
    json_object_set_new(m, k, ddbval_to_plain(v));
  return m;
}

static void print_item(const opts_t *o, const json_t *item) {
  json_t *p = to_plain_map(o, item);
  char *s = jsonx_dump(p, isatty(1) ? JSONX_PRETTY : JSONX_COMPACT);
  puts(s);
  free(s);
  json_decref(p);
}

static void print_json(const json_t *v) {
  char *s = jsonx_dump(v, JSONX_PRETTY);
  puts(s);
  free(s);
}

/* Run an action; a DynamoDB error is printed and is NULL. */
static json_t *call(tables_t *t, const char *action, json_t *req_take) {
  fault_t f = FAULT_INIT;
  json_t *r = tables_call(t, action, req_take, 0, NULL, &f);
  json_decref(req_take);
  if (!r) {
    fprintf(stderr, "moonstep table: %s: %s\n", f.error,
            f.cause ? f.cause : "");
    fault_clear(&f);
  }
  return r;
}

/* "id:N" -> name and type ('S' without one). */
static bool attr_spec(const char *spec, char *name, size_t cap, char *type) {
  const char *c = strchr(spec, ':');
  size_t n = c ? (size_t)(c - spec) : strlen(spec);
  *type = c ? c[1] : 'S';
  if (!n || n >= cap || (c && (strlen(c) != 2 || !strchr("SNB", c[1]))))
    return false;
  memcpy(name, spec, n);
  name[n] = 0;
  return true;
}

static int add_key(json_t *schema, json_t *defs, const char *spec,
                   const char *kt) {
  char name[256], type;
  if (!attr_spec(spec, name, sizeof name, &type)) return -1;
  json_array_append_new(schema, json_pack("{s:s,s:s}", "AttributeName", name,
                                          "KeyType", kt));
  size_t i;
  json_t *d;
  json_array_foreach(defs, i, d)
    if (!strcmp(json_string_value(json_object_get(d, "AttributeName")),
                name)) return 0;
  char ts[2] = {type, 0};
  json_array_append_new(defs, json_pack("{s:s,s:s}", "AttributeName", name,
                                        "AttributeType", ts));
  return 0;
}

static int cmd_create(tables_t *t, const opts_t *o) {
  if (o->npos != 1 || !o->key) return usage("%s", "create NAME --key ATTR");
  json_t *defs = json_array(), *schema = json_array();
  if (add_key(schema, defs, o->key, "HASH") < 0 ||
      (o->sort && add_key(schema, defs, o->sort, "RANGE") < 0)) {
    json_decref(defs);
    json_decref(schema);
    return usage("bad key %s", o->sort ? o->sort : o->key);
  }
  json_t *req = json_pack("{s:s,s:o,s:o,s:s}", "TableName", o->pos[0],
                          "KeySchema", schema, "AttributeDefinitions", defs,
                          "BillingMode", "PAY_PER_REQUEST");
  if (o->nidx) {
    json_t *gsis = json_array();
    json_object_set_new(req, "GlobalSecondaryIndexes", gsis);
    for (int i = 0; i < o->nidx; i++) {
      char spec[512];
      snprintf(spec, sizeof spec, "%s", o->idx[i]);
      char *eq = strchr(spec, '='), *comma = eq ? strchr(eq, ',') : NULL;
      if (comma) *comma++ = 0;
      json_t *ks = json_array();
      if (!eq || (*eq = 0, add_key(ks, defs, eq + 1, "HASH") < 0) ||
          (comma && add_key(ks, defs, comma, "RANGE") < 0)) {
        json_decref(ks);
        json_decref(req);
        return usage("bad --index %s (NAME=ATTR[:T][,SORT[:T]])",
                     o->idx[i]);
      }
      json_array_append_new(gsis, json_pack("{s:s,s:o,s:{s:s}}", "IndexName",
                                            spec, "KeySchema", ks,
                                            "Projection", "ProjectionType",
                                            "ALL"));
    }
  }
  json_t *r = call(t, "CreateTable", req);
  if (!r) return MS_EXIT_FAILED;
  json_decref(r);
  return MS_EXIT_OK;
}

static int cmd_list(tables_t *t, const opts_t *o) {
  (void)o;
  json_t *start = NULL;
  do {
    json_t *req = json_object();
    if (start) json_object_set_new(req, "ExclusiveStartTableName", start);
    json_t *r = call(t, "ListTables", req);
    if (!r) return MS_EXIT_FAILED;
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(r, "TableNames"), i, n)
      puts(json_string_value(n));
    start = json_incref(json_object_get(r, "LastEvaluatedTableName"));
    json_decref(r);
  } while (start);
  return MS_EXIT_OK;
}

static int cmd_describe(tables_t *t, const opts_t *o) {
  if (o->npos != 1) return usage("%s", "describe NAME");
  json_t *r = call(t, "DescribeTable", json_pack("{s:s}", "TableName",
                                                  o->pos[0]));
  if (!r) return MS_EXIT_FAILED;
  print_json(json_object_get(r, "Table"));
  json_decref(r);
  return MS_EXIT_OK;
}

static int cmd_drop(tables_t *t, const opts_t *o) {
  if (o->npos != 1) return usage("%s", "drop NAME");
  json_t *r = call(t, "DeleteTable", json_pack("{s:s}", "TableName",
                                                o->pos[0]));
  json_decref(r);
  return r ? MS_EXIT_OK : MS_EXIT_FAILED;
}

/* Add --values (plain or AV), --names, and a named JSON object field. */
static int add_exprs(const opts_t *o, json_t *req) {
  if (o->values) {
    json_t *v = json_arg("--values", o->values), *m = v ? to_av_map(o, v)
                                                        : NULL;
    json_decref(v);
    if (!m) return -1;
    json_object_set_new(req, "ExpressionAttributeValues", m);
  }
  if (o->names) {
    json_t *n = json_arg("--names", o->names);
    if (!n) return -1;
    json_object_set_new(req, "ExpressionAttributeNames", n);
  }
  return 0;
}

/* A table request with Key (from --key) or Item (from the argument). */
static json_t *item_request(const opts_t *o, const char *field,
                            const char *arg) {
  json_t *v = json_arg(field, arg), *m = v ? to_av_map(o, v) : NULL;
  json_decref(v);
  if (!m) return NULL;
  json_t *req = json_pack("{s:s,s:o}", "TableName", o->pos[0], field, m);
  if (add_exprs(o, req) < 0) {
    json_decref(req);
    return NULL;
  }
  return req;
}

static int cmd_put(tables_t *t, const opts_t *o) {
  if (o->npos != 2) return usage("%s", "put NAME ITEM_JSON");
  json_t *req = item_request(o, "Item", o->pos[1]);
  if (!req) return MS_EXIT_USAGE;
  if (o->condition)
    json_object_set_new(req, "ConditionExpression",
                        json_string(o->condition));
  json_t *r = call(t, "PutItem", req);
  json_decref(r);
  return r ? MS_EXIT_OK : MS_EXIT_FAILED;
}

static int cmd_get(tables_t *t, const opts_t *o) {
  if (o->npos != 1 || !o->key) return usage("%s", "get NAME --key JSON");
  json_t *req = item_request(o, "Key", o->key);
  if (!req) return MS_EXIT_USAGE;
  json_t *r = call(t, "GetItem", req);
  if (!r) return MS_EXIT_FAILED;
  json_t *item = json_object_get(r, "Item");
  if (item) print_item(o, item);
  else fprintf(stderr, "moonstep table: no item with that key\n");
  int rc = item ? MS_EXIT_OK : MS_EXIT_FAILED;
  json_decref(r);
  return rc;
}

static int cmd_delete(tables_t *t, const opts_t *o) {
  if (o->npos != 1 || !o->key) return usage("%s", "delete NAME --key JSON");
  json_t *req = item_request(o, "Key", o->key);
  if (!req) return MS_EXIT_USAGE;
  if (o->condition)
    json_object_set_new(req, "ConditionExpression",
                        json_string(o->condition));
  json_t *r = call(t, "DeleteItem", req);
  json_decref(r);
  return r ? MS_EXIT_OK : MS_EXIT_FAILED;
}

/* Query or Scan every page (until --limit items are printed). */
static int pages(tables_t *t, const opts_t *o, const char *action,
                 json_t *req) {
  long long printed = 0;
  for (;;) {
    json_t *r = call(t, action, json_incref(req));
    if (!r) {
      json_decref(req);
      return MS_EXIT_FAILED;
    }
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r, "Items"), i, item) {
      if (o->limit && printed >= o->limit) break;
      print_item(o, item);
      printed++;
    }
    json_t *last = json_object_get(r, "LastEvaluatedKey");
    bool more = last && !(o->limit && printed >= o->limit);
    if (more) json_object_set(req, "ExclusiveStartKey", last);
    json_decref(r);
    if (!more) break;
  }
  json_decref(req);
  return MS_EXIT_OK;
}

static int cmd_query(tables_t *t, const opts_t *o) {
  if (o->npos != 1 || (!o->where && !o->key))
    return usage("%s", "query NAME (--key JSON | --where EXPR)");
  json_t *req = json_pack("{s:s}", "TableName", o->pos[0]);
  if (add_exprs(o, req) < 0) goto bad;
  if (o->where) {
    json_object_set_new(req, "KeyConditionExpression", json_string(o->where));
  } else {  /* --key {"a": 1, ...}: a = :k0 AND ... */
    json_t *k = json_arg("--key", o->key), *m = k ? to_av_map(o, k) : NULL;
    json_decref(k);
    if (!m) goto bad;
    json_t *names = json_object_get(req, "ExpressionAttributeNames");
    json_t *values = json_object_get(req, "ExpressionAttributeValues");
    if (!names) json_object_set_new(req, "ExpressionAttributeNames",
                                    names = json_object());
    if (!values) json_object_set_new(req, "ExpressionAttributeValues",
                                     values = json_object());
    buf_t e;
    buf_init(&e);
    int n = 0;
    const char *name;
    json_t *v;
    json_object_foreach(m, name, v) {
      char ph[32];
      snprintf(ph, sizeof ph, "#k%d", n);
      json_object_set_new(names, ph, json_string(name));
      ph[0] = ':';
      json_object_set(values, ph, v);
      buf_printf(&e, "%s#k%d = :k%d", n ? " AND " : "", n, n);
      n++;
    }
    json_decref(m);
    json_object_set_new(req, "KeyConditionExpression",
                        json_string(e.data ? e.data : ""));
    buf_free(&e);
  }
  if (o->filter)
    json_object_set_new(req, "FilterExpression", json_string(o->filter));
  if (o->index) json_object_set_new(req, "IndexName", json_string(o->index));
  if (o->reverse) json_object_set_new(req, "ScanIndexForward", json_false());
  return pages(t, o, "Query", req);
bad:
  json_decref(req);
  return MS_EXIT_USAGE;
}

static int cmd_scan(tables_t *t, const opts_t *o) {
  if (o->npos != 1) return usage("%s", "scan NAME");
  json_t *req = json_pack("{s:s}", "TableName", o->pos[0]);
  if (add_exprs(o, req) < 0) {
    json_decref(req);
    return MS_EXIT_USAGE;
  }
  if (o->filter)
    json_object_set_new(req, "FilterExpression", json_string(o->filter));
  if (o->index) json_object_set_new(req, "IndexName", json_string(o->index));
  return pages(t, o, "Scan", req);
}

/* ---- import and export -------------------------------------------------- */

typedef struct importer {
  tables_t *t;
  const opts_t *o;
  json_t *batch;               /* BatchWriteItem's list of PutRequests */
  json_t *types;               /* key attribute -> "S" / "N" / "B" */
  long long count;
} importer_t;

static int flush(importer_t *im) {
  if (!json_array_size(im->batch)) return 0;
  json_t *req = json_pack("{s:{s:O}}", "RequestItems", im->o->pos[0],
                          im->batch);
  json_t *r = call(im->t, "BatchWriteItem", req);
  json_array_clear(im->batch);
  json_decref(r);
  return r ? 0 : -1;
}

static int add_item(importer_t *im, json_t *plain_take, long long line) {
  json_t *item = to_av_map(im->o, plain_take);
  json_decref(plain_take);
  if (!item) {
    fprintf(stderr, "moonstep table: line %lld: not an item\n", line);
    return -1;
  }
  json_array_append_new(im->batch, json_pack("{s:{s:o}}", "PutRequest",
                                             "Item", item));
  im->count++;
  return json_array_size(im->batch) >= IMPORT_BATCH ? flush(im) : 0;
}

static int import_jsonl(importer_t *im, const char *path) {
  FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!fp) {
    fprintf(stderr, "moonstep table: cannot read %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long long no = 0;
  int rc = 0;
  while (rc == 0 && (n = getline(&line, &cap, fp)) >= 0) {
    no++;
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (!n) continue;
    char *err = NULL;
    json_t *v = jsonx_parse(line, (size_t)n, &err);
    if (!json_is_object(v)) {
      fprintf(stderr, "moonstep table: %s:%lld: %s\n", path, no,
              err ? err : "not a JSON object");
      json_decref(v);
      rc = -1;
    } else {
      rc = add_item(im, v, no);
    }
    free(err);
  }
  free(line);
  if (fp != stdin) fclose(fp);
  return rc;
}

/* A CSV record under header -> a plain item. */
static json_t *csv_item(importer_t *im, const csv_record_t *r,
                        const json_t *header, long long line) {
  json_t *item = json_object();
  for (size_t i = 0; i < r->n && i < json_array_size(header); i++) {
    if (!r->f[i].len) continue;
    const char *name = json_string_value(json_array_get(header, i));
    const char *ty = json_string_value(json_object_get(im->types, name));
    json_t *v = NULL;
    if (ty && ty[0] == 'N') {
      char *err = NULL;
      v = jsonx_parse(r->f[i].s, r->f[i].len, &err);
      free(err);
      if (!json_is_number(v)) {
        fprintf(stderr, "moonstep table: line %lld: %s is not a number\n",
                line, name);
        json_decref(v);
        json_decref(item);
        return NULL;
      }
    } else {
      v = json_stringn(r->f[i].s, r->f[i].len);
    }
    json_object_set_new(item, name, v);
  }
  return item;
}

static int import_csv(importer_t *im, const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "moonstep table: cannot read %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  csv_opts_t co;
  csv_opts_init(&co);
  csv_t *p = csv_new(&co);
  json_t *header = NULL;
  char chunk[65536];
  size_t n;
  int rc = 0;
  bool eof = false;
  while (rc == 0 && !eof) {
    n = fread(chunk, 1, sizeof chunk, fp);
    eof = n == 0;
    size_t off = 0;
    for (;;) {
      size_t used = 0;
      int st = eof ? csv_finish(p) : csv_parse(p, chunk + off, n - off,
                                                &used);
      off += used;
      if (st == CSV_MORE || st == CSV_END) break;
      if (st == CSV_BAD) {
        char *msg = csv_error_text(csv_error(p));
        fprintf(stderr, "moonstep table: %s: %s\n", path, msg);
        free(msg);
        rc = -1;
        break;
      }
      const csv_record_t *r = csv_record(p);
      if (!header) {
        header = csv_record_json(r, NULL);
        continue;
      }
      json_t *item = csv_item(im, r, header, r->line);
      if (!item || add_item(im, item, r->line) < 0) {
        rc = -1;
        break;
      }
    }
  }
  json_decref(header);
  csv_free(p);
  fclose(fp);
  return rc;
}

static int cmd_import(tables_t *t, const opts_t *o) {
  if (o->npos != 2) return usage("%s", "import NAME FILE.csv|FILE.jsonl");
  json_t *d = call(t, "DescribeTable", json_pack("{s:s}", "TableName",
                                                  o->pos[0]));
  if (!d) return MS_EXIT_FAILED;
  importer_t im = {t, o, json_array(), json_object(), 0};
  size_t i;
  json_t *def;
  json_array_foreach(json_object_get(json_object_get(d, "Table"),
                                     "AttributeDefinitions"), i, def)
    json_object_set(im.types, json_string_value(json_object_get(
                    def, "AttributeName")), json_object_get(def,
                                                            "AttributeType"));
  json_decref(d);
  const char *path = o->pos[1];
  size_t len = strlen(path);
  bool csv = (o->format && !strcmp(o->format, "csv")) ||
             (!o->format && len > 4 && !strcmp(path + len - 4, ".csv"));
  int rc = csv ? import_csv(&im, path) : import_jsonl(&im, path);
  if (rc == 0) rc = flush(&im);
  json_decref(im.batch);
  json_decref(im.types);
  if (rc < 0) return MS_EXIT_FAILED;
  fprintf(stderr, "imported %lld items into %s\n", im.count, o->pos[0]);
  return MS_EXIT_OK;
}

/* Every item of the table, page by page, to fn. */
static int each_item(tables_t *t, const char *name,
                     void (*fn)(void *ud, const json_t *item), void *ud) {
  json_t *req = json_pack("{s:s}", "TableName", name);
  for (;;) {
    json_t *r = call(t, "Scan", json_incref(req));
    if (!r) {
      json_decref(req);
      return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r, "Items"), i, item) fn(ud, item);
    json_t *last = json_object_get(r, "LastEvaluatedKey");
    if (last) json_object_set(req, "ExclusiveStartKey", last);
    json_decref(r);
    if (!last) break;
  }
  json_decref(req);
  return 0;
}

static void jsonl_one(void *ud, const json_t *item) {
  const opts_t *o = ud;
  json_t *p = to_plain_map(o, item);
  char *s = jsonx_dump(p, JSONX_COMPACT);
  puts(s);
  free(s);
  json_decref(p);
}

static void names_of(void *ud, const json_t *item) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)item, k, v)
    if (!json_object_get(ud, k)) json_object_set_new(ud, k, json_true());
}

typedef struct csvout {
  json_t *cols;
  csv_opts_t co;
  buf_t b;
} csvout_t;

static void csv_one(void *ud, const json_t *item) {
  csvout_t *c = ud;
  size_t n = json_array_size(c->cols);
  csv_field_t *f = ms_calloc(n ? n : 1, sizeof *f);
  char **own = ms_calloc(n ? n : 1, sizeof *own);
  for (size_t i = 0; i < n; i++) {
    json_t *av = json_object_get(item, json_string_value(
                                         json_array_get(c->cols, i)));
    json_t *p = av ? ddbval_to_plain(av) : NULL;
    own[i] = !p ? ms_strdup("") : json_is_string(p)
             ? ms_strdup(json_string_value(p)) : jsonx_dump(p, JSONX_COMPACT);
    f[i].s = own[i];
    f[i].len = strlen(own[i]);
    json_decref(p);
  }
  c->b.len = 0;
  csv_encode_record(&c->b, &c->co, f, n);
  fwrite(c->b.data, 1, c->b.len, stdout);
  for (size_t i = 0; i < n; i++) free(own[i]);
  free(own);
  free(f);
}

static int cmd_export(tables_t *t, const opts_t *o) {
  if (o->npos != 1) return usage("%s", "export NAME [--format jsonl|csv]");
  const char *fmt = o->format ? o->format : "jsonl";
  if (!strcmp(fmt, "jsonl"))
    return each_item(t, o->pos[0], jsonl_one, (void *)o) < 0
           ? MS_EXIT_FAILED : MS_EXIT_OK;
  if (strcmp(fmt, "csv")) return usage("unknown --format %s", fmt);
  json_t *d = call(t, "DescribeTable", json_pack("{s:s}", "TableName",
                                                  o->pos[0]));
  if (!d) return MS_EXIT_FAILED;
  json_t *seen = json_object();
  csvout_t c;
  c.cols = json_array();
  csv_opts_init(&c.co);
  buf_init(&c.b);
  size_t i;
  json_t *k;
  json_array_foreach(json_object_get(json_object_get(d, "Table"),
                                     "KeySchema"), i, k) {
    json_t *name = json_object_get(k, "AttributeName");
    json_array_append(c.cols, name);
    json_object_set_new(seen, json_string_value(name), json_false());
  }
  json_decref(d);
  json_t *all = json_object();
  int rc = each_item(t, o->pos[0], names_of, all);
  const char *name;
  json_t *v;
  json_object_foreach(all, name, v)
    if (!json_object_get(seen, name)) json_array_append_new(c.cols,
                                                           json_string(name));
  if (rc == 0) {
    size_t n = json_array_size(c.cols);
    csv_field_t *f = ms_calloc(n ? n : 1, sizeof *f);
    for (i = 0; i < n; i++) {
      f[i].s = json_string_value(json_array_get(c.cols, i));
      f[i].len = strlen(f[i].s);
    }
    csv_encode_record(&c.b, &c.co, f, n);
    fwrite(c.b.data, 1, c.b.len, stdout);
    free(f);
    rc = each_item(t, o->pos[0], csv_one, &c);
  }
  json_decref(all);
  json_decref(seen);
  json_decref(c.cols);
  buf_free(&c.b);
  return rc < 0 ? MS_EXIT_FAILED : MS_EXIT_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

static const struct {
  const char *name;
  int (*fn)(tables_t *t, const opts_t *o);
} subs[] = {
  {"create", cmd_create}, {"list", cmd_list}, {"describe", cmd_describe},
  {"put", cmd_put}, {"get", cmd_get}, {"delete", cmd_delete},
  {"query", cmd_query}, {"scan", cmd_scan}, {"import", cmd_import},
  {"export", cmd_export}, {"drop", cmd_drop},
};

/* argv: the arguments after "table". */
int cli_table(int argc, char **argv) {
  if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
    fputs(usage_text, argc < 1 ? stderr : stdout);
    return argc < 1 ? MS_EXIT_USAGE : MS_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
    if (strcmp(subs[i].name, argv[0])) continue;
    opts_t o;
    if (parse_opts(argc - 1, argv + 1, &o)) return MS_EXIT_USAGE;
    char *err = NULL;
    tables_t *t = tables_open(cli_db_path(o.db), &err);
    if (!t) {
      fprintf(stderr, "moonstep table: %s\n", err);
      free(err);
      return MS_EXIT_FAILED;
    }
    int rc = subs[i].fn(t, &o);
    tables_close(t);
    return rc;
  }
  return usage("unknown command '%s'", argv[0]);
}
