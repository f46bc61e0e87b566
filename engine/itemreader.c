/* itemreader.c - the Distributed Map's ItemReader over the local buckets
 * (see itemreader.h). CSV goes through csv.h's push parser in the AWS
 * ItemReader dialect (backslash escapes), a chunk of the file at a time,
 * one row per itemreader_next; JSON Lines a line at a time.
 *
 * From AWS's docs: the resources, ReaderConfig fields and values, CSV rows
 * as objects of strings keyed by the header, listObjectsV2 items as
 * {Etag, Key, LastModified (epoch seconds), Size, StorageClass} (the docs'
 * example spells "Etag" so), MaxItems applied after the header row, the
 * error States.ItemReaderFailed. Guessed: the wording of the causes.
 */
#include "itemreader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "jtmpl.h"
#include "payload.h"
#include "s3.h"

#define GET_ARN "arn:aws:states:::s3:getObject"
#define LIST_ARN "arn:aws:states:::s3:listObjectsV2"
#define READER_FAILED "States.ItemReaderFailed"

static void s3_fault(fault_t *f, const char *bucket, const char *key,
                     const s3_error_t *e) {
  fault_set(f, READER_FAILED, "%s (Service: Amazon S3; Status Code: %d; "
            "Error Code: %s; Bucket: %s; Key: %s)", e->message, e->status,
            e->code, bucket, key ? key : "");
}

/* MaxItems or MaxItemsPath (s NULL: MaxItems only, already evaluated);
 * 0 = no limit. false with f set. */
static bool max_items(const json_t *rc, const jscope_t *s, size_t *out,
                      fault_t *f) {
  *out = 0;
  json_t *v = json_object_get(rc, "MaxItems");
  const char *path = json_string_value(json_object_get(rc, "MaxItemsPath"));
  json_t *found = NULL;
  if (!s && v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
    /* JSONata: the expression gave something else (the wording follows
     * AWS's other JSONata type errors; a guess for this field) */
    char *txt = jsonx_dump(v, JSONX_COMPACT);
    fault_set(f, "States.QueryEvaluationError", "The JSONata expression "
              "specified for the field 'ReaderConfig/MaxItems' returned an "
              "unexpected result type. Expected 'integer', but was '%s' "
              "for value: %s", jtmpl_type_name(v), txt);
    f->in_state = true;
    free(txt);
    return false;
  }
  if (path && s) {
    char *why = NULL;
    jpath_t *p = jpath_compile(path, &why);
    if (p) found = jpath_eval(p, s, NULL);
    jpath_free(p);
    free(why);
    v = found;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      char *txt = v ? jsonx_dump(v, JSONX_COMPACT) : ms_strdup("null");
      fault_runtime(f, "The MaxItemsPath field refers to value \"%s\" "
                    "which is not a valid integer: %s", txt, path);
      free(txt);
      json_decref(found);
      return false;
    }
  }
  if (json_is_integer(v) && json_integer_value(v) > 0)
    *out = (size_t)json_integer_value(v);
  json_decref(found);
  return true;
}

static bool full(const json_t *items, size_t max) {
  return max && json_array_size(items) >= max;
}

/* ---- the source ------------------------------------------------------ */

typedef enum { SRC_ARRAY, SRC_CSV, SRC_JSONL } src_kind_t;

struct itemsrc {
  src_kind_t kind;
  size_t max, count;        /* MaxItems (0 = none), items given */
  json_t *arr;              /* SRC_ARRAY: the items */
  FILE *in;                 /* SRC_CSV, SRC_JSONL: the object */
  csv_t *p;                 /* SRC_CSV: the parser, */
  json_t *header;           /* its header (NULL until the first row), */
  bool fin;                 /* the object read to its end */
  size_t off, n;            /* buf[off..n) not parsed yet */
  char *line;               /* SRC_JSONL: getline's buffer */
  size_t cap, lineno;
  char buf[65536];
};

/* ---- CSV ------------------------------------------------------------- */

static int delimiter(const char *name) {
  static const struct { const char *n; int c; } d[] = {
    {"COMMA", ','}, {"PIPE", '|'}, {"SEMICOLON", ';'}, {"SPACE", ' '},
    {"TAB", '\t'}};
  if (!name) return ',';
  for (size_t i = 0; i < sizeof d / sizeof *d; i++)
    if (!strcmp(name, d[i].n)) return d[i].c;
  return -1;
}

static bool csv_start(itemsrc_t *r, const json_t *rc, fault_t *f) {
  const char *loc = json_string_value(json_object_get(rc,
                                                      "CSVHeaderLocation"));
  const char *dn = json_string_value(json_object_get(rc, "CSVDelimiter"));
  int d = delimiter(dn);
  if (d < 0) {
    fault_set(f, READER_FAILED, "CSVDelimiter must be one of COMMA, PIPE, "
              "SEMICOLON, SPACE, TAB, not %s", dn);
    return false;
  }
  if (loc && !strcmp(loc, "GIVEN")) {
    json_t *h = json_object_get(rc, "CSVHeaders");
    size_t i;
    json_t *v;
    bool ok = json_is_array(h) && json_array_size(h) > 0;
    json_array_foreach(h, i, v) ok = ok && json_is_string(v);
    if (!ok) {
      fault_set(f, READER_FAILED, "CSVHeaderLocation GIVEN needs "
                "CSVHeaders, an array of strings");
      return false;
    }
    r->header = json_incref(h);
  } else if (loc && strcmp(loc, "FIRST_ROW")) {
    fault_set(f, READER_FAILED, "CSVHeaderLocation must be FIRST_ROW or "
              "GIVEN, not %s", loc);
    return false;
  }
  csv_opts_t o;
  csv_opts_init(&o);
  o.delim = d;
  o.backslash = true;
  o.fields = SIZE_MAX;  /* short rows get "", extra fields are dropped */
  r->p = csv_new(&o);
  r->kind = SRC_CSV;
  return true;
}

/* The next row: a chunk of the file at a time through the push parser;
 * the first record is the header unless it was given. */
static int csv_next(itemsrc_t *r, json_t **item, fault_t *f) {
  for (;;) {
    int rc;
    if (r->fin) {
      if ((rc = csv_finish(r->p)) == CSV_END) return 0;
    } else {
      if (r->off == r->n) {
        r->off = 0;
        if (!(r->n = fread(r->buf, 1, sizeof r->buf, r->in))) {
          r->fin = true;
          continue;
        }
      }
      size_t used;
      rc = csv_parse(r->p, r->buf + r->off, r->n - r->off, &used);
      r->off += used;
      if (rc == CSV_MORE) {
        r->off = r->n;
        continue;
      }
    }
    if (rc == CSV_BAD) {
      char *t = csv_error_text(csv_error(r->p));
      fault_set(f, READER_FAILED, "The CSV file could not be read: %s", t);
      free(t);
      return -1;
    }
    const csv_record_t *rec = csv_record(r->p);
    if (!r->header) {
      r->header = csv_record_json(rec, NULL);
      continue;
    }
    *item = csv_record_json(rec, r->header);
    return 1;
  }
}

/* ---- JSON and JSON Lines ---------------------------------------------- */

static json_t *read_json(const char *data, size_t len, fault_t *f) {
  char *why = NULL;
  json_t *v = jsonx_parse(data, len, &why);
  if (!v) {
    fault_set(f, READER_FAILED, "The JSON file could not be parsed: %s",
              why ? why : "invalid JSON");
    free(why);
    return NULL;
  }
  if (!json_is_array(v)) {
    fault_set(f, READER_FAILED, "Attempting to map over non-iterable node "
              "(the JSON file holds %s %s, not an array).",
              json_is_object(v) || json_is_array(v) ? "an" : "a",
              jsonx_type_name(v));
    json_decref(v);
    return NULL;
  }
  return v;
}

/* The next non-blank line's value. */
static int jsonl_next(itemsrc_t *r, json_t **item, fault_t *f) {
  ssize_t len;
  while ((len = getline(&r->line, &r->cap, r->in)) >= 0) {
    r->lineno++;
    const char *a = r->line, *b = r->line + len;
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\r' || *a == '\n'))
      a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r' ||
                     b[-1] == '\n'))
      b--;
    if (a == b) continue;
    char *why = NULL;
    json_t *v = jsonx_parse(a, (size_t)(b - a), &why);
    if (!v) {
      fault_set(f, READER_FAILED, "The JSONL file could not be parsed: "
                "line %zu: %s", r->lineno, why ? why : "invalid JSON");
      free(why);
      return -1;
    }
    *item = v;
    return 1;
  }
  return 0;
}

/* ---- the reader ---------------------------------------------------- */

static bool get_object(itemsrc_t *r, const json_t *params,
                       const json_t *rc, fault_t *f) {
  const char *b = json_string_value(json_object_get(params, "Bucket"));
  const char *k = json_string_value(json_object_get(params, "Key"));
  const char *type = json_string_value(json_object_get(rc, "InputType"));
  if (!b || !k) {
    fault_set(f, READER_FAILED, "The ItemReader's Parameters need the "
              "strings Bucket and Key");
    return false;
  }
  if (!type || (strcmp(type, "CSV") && strcmp(type, "JSON") &&
                strcmp(type, "JSONL"))) {
    fault_set(f, READER_FAILED, "ReaderConfig.InputType must be CSV, JSON "
              "or JSONL for s3:getObject%s%s", type ? ", not " : "",
              type ? type : "");
    return false;
  }
  s3_error_t e;
  if (!strcmp(type, "JSON")) {
    char *data;
    size_t len;
    if (s3_get(b, k, &data, &len, NULL, &e)) {
      s3_fault(f, b, k, &e);
      return false;
    }
    r->arr = read_json(data, len, f);
    free(data);
    return r->arr != NULL;
  }
  if (s3_open(b, k, &r->in, NULL, &e)) {
    s3_fault(f, b, k, &e);
    return false;
  }
  if (!strcmp(type, "CSV")) return csv_start(r, rc, f);
  r->kind = SRC_JSONL;
  return true;
}

static json_t *list_objects(const json_t *params, size_t max, fault_t *f) {
  const char *b = json_string_value(json_object_get(params, "Bucket"));
  if (!b) {
    fault_set(f, READER_FAILED, "The ItemReader's Parameters need the "
              "string Bucket");
    return NULL;
  }
  json_t *items = json_array();
  json_t *req = json_deep_copy(params);
  json_object_del(req, "MaxKeys");
  for (;;) {
    s3_error_t e;
    json_t *page = s3_list(b, req, &e);
    if (!page) {
      s3_fault(f, b, NULL, &e);
      json_decref(items);
      json_decref(req);
      return NULL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(page, "Contents"), i, c) {
      if (full(items, max)) break;
      /* epoch seconds from the ISO time the listing gives */
      const char *t = json_string_value(json_object_get(c,
                                                        "LastModified"));
      struct tm tm = {0};
      json_int_t secs = 0;
      if (t && strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)) secs = timegm(&tm);
      json_array_append_new(items, json_pack(
          "{sOsOsIsOsO}", "Etag", json_object_get(c, "ETag"),
          "Key", json_object_get(c, "Key"), "LastModified", secs,
          "Size", json_object_get(c, "Size"),
          "StorageClass", json_object_get(c, "StorageClass")));
    }
    const char *next = json_string_value(json_object_get(
        page, "NextContinuationToken"));
    if (next && !full(items, max))
      json_object_set_new(req, "ContinuationToken", json_string(next));
    json_decref(page);
    if (!next || full(items, max)) break;
  }
  json_decref(req);
  return items;
}

/* Open with params (the evaluated Parameters or Arguments) and rc (the
 * ReaderConfig); MaxItemsPath is evaluated in s when s is set. */
static itemsrc_t *open_in(const json_t *reader, const json_t *params,
                          const json_t *rc, const jscope_t *s, fault_t *f) {
  const char *res = json_string_value(json_object_get(reader, "Resource"));
  itemsrc_t *r = ms_calloc(1, sizeof *r);
  bool ok = false;
  if (!max_items(rc, s, &r->max, f)) {
    /* f is set */
  } else if (res && !strcmp(res, GET_ARN)) {
    ok = get_object(r, params, rc, f);
  } else if (res && !strcmp(res, LIST_ARN)) {
    ok = (r->arr = list_objects(params, r->max, f)) != NULL;
  } else {
    fault_runtime(f, "The ItemReader resource '%s' is not supported by "
                  "moonstep", res ? res : "(none)");
  }
  if (!ok) {
    itemreader_close(r);
    return NULL;
  }
  return r;
}

itemsrc_t *itemreader_open_with(const json_t *reader, const json_t *args,
                                const json_t *rc, fault_t *f) {
  json_t *none = json_object();
  itemsrc_t *r = open_in(reader, args ? args : none, rc, NULL, f);
  json_decref(none);
  return r;
}

itemsrc_t *itemreader_open(const json_t *reader, const jscope_t *s,
                           fault_t *f) {
  json_t *rc = json_object_get(reader, "ReaderConfig");
  json_t *tpl = json_object_get(reader, "Parameters");
  json_t *params = NULL;
  if (tpl) {
    diags_t d;
    diags_init(&d);
    tmpl_t *t = tmpl_compile(tpl, "/ItemReader/Parameters", &d);
    diags_free(&d);
    if (!t) {
      fault_runtime(f, "The ItemReader's Parameters are not valid");
      return NULL;
    }
    params = tmpl_eval(t, s, f);
    tmpl_free(t);
    if (!params) return NULL;
  } else {
    params = json_object();
  }
  itemsrc_t *r = open_in(reader, params, rc, s, f);
  json_decref(params);
  return r;
}

/* ---- validation ------------------------------------------------------ */

void itemreader_check(const json_t *v, const char *ptr, bool jsonata,
                      diags_t *d) {
  /* AWS ("ItemReader (Map)"): Arguments in JSONata states, Parameters in
   * JSONPath ones; MaxItemsPath is a path (JSONPath only, as the other
   * *Path fields: a guess) */
  char *p = ms_asprintf("%s/ItemReader", ptr);
  const char *bad = jsonata ? "Parameters" : "Arguments";
  if (json_object_get(v, bad))
    diags_add(d, false, p, "field \"%s\" is not allowed in the "
              "ItemReader of a %s state (use \"%s\")", bad,
              jsonata ? "JSONata" : "JSONPath",
              jsonata ? "Arguments" : "Parameters");
  json_t *rc = json_object_get(v, "ReaderConfig");
  if (jsonata && json_object_get(rc, "MaxItemsPath"))
    diags_add(d, false, p, "field \"ReaderConfig.MaxItemsPath\" is not "
              "allowed in a JSONata state (MaxItems takes an expression)");
  if (rc && !json_is_object(rc))
    diags_add(d, false, p, "ReaderConfig must be an object");
  /* the expressions must parse (exec_kids.c evaluates them) */
  static const char *const fields[] = {"Arguments", "ReaderConfig"};
  for (size_t i = 0; jsonata && i < 2; i++) {
    json_t *x = json_object_get(v, fields[i]);
    if (!x) continue;
    char *fp = ms_asprintf("%s/%s", p, fields[i]);
    jtmpl_free(jtmpl_compile(x, fp, fields[i], d));
    free(fp);
  }
  free(p);
}

int itemreader_next(itemsrc_t *r, json_t **item, fault_t *f) {
  *item = NULL;
  if (r->max && r->count >= r->max) return 0;
  int rc;
  switch (r->kind) {
  case SRC_CSV: rc = csv_next(r, item, f); break;
  case SRC_JSONL: rc = jsonl_next(r, item, f); break;
  default:
    rc = r->count < json_array_size(r->arr);
    if (rc) *item = json_incref(json_array_get(r->arr, r->count));
  }
  if (rc == 1) r->count++;
  return rc;
}

void itemreader_close(itemsrc_t *r) {
  if (!r) return;
  if (r->in) fclose(r->in);
  csv_free(r->p);
  json_decref(r->header);
  json_decref(r->arr);
  free(r->line);
  free(r);
}

json_t *itemreader_read(const json_t *reader, const jscope_t *s,
                        fault_t *f) {
  itemsrc_t *r = itemreader_open(reader, s, f);
  if (!r) return NULL;
  json_t *items = json_array(), *v;
  int rc;
  while ((rc = itemreader_next(r, &v, f)) == 1)
    json_array_append_new(items, v);
  itemreader_close(r);
  if (rc < 0) {
    json_decref(items);
    return NULL;
  }
  return items;
}
