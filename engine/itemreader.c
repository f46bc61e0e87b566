/* itemreader.c - the Distributed Map's ItemReader over the local buckets
 * (see itemreader.h). CSV goes through csv.h's push parser in the AWS
 * ItemReader dialect (backslash escapes), a chunk of the file at a time.
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

/* MaxItems or MaxItemsPath; 0 = no limit. false with f set. */
static bool max_items(const json_t *rc, const jscope_t *s, size_t *out,
                      fault_t *f) {
  *out = 0;
  json_t *v = json_object_get(rc, "MaxItems");
  const char *path = json_string_value(json_object_get(rc, "MaxItemsPath"));
  json_t *found = NULL;
  if (path) {
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

/* A record: the header (first == NULL *header) or an item. */
static bool csv_take(csv_t *p, int rc, json_t **header, json_t *items,
                     fault_t *f) {
  if (rc == CSV_BAD) {
    char *t = csv_error_text(csv_error(p));
    fault_set(f, READER_FAILED, "The CSV file could not be read: %s", t);
    free(t);
    return false;
  }
  const csv_record_t *r = csv_record(p);
  if (!*header) {
    *header = csv_record_json(r, NULL);
    return true;
  }
  json_array_append_new(items, csv_record_json(r, *header));
  return true;
}

static json_t *read_csv(FILE *in, const json_t *rc, size_t max, fault_t *f) {
  const char *loc = json_string_value(json_object_get(rc,
                                                      "CSVHeaderLocation"));
  const char *dn = json_string_value(json_object_get(rc, "CSVDelimiter"));
  int d = delimiter(dn);
  if (d < 0) {
    fault_set(f, READER_FAILED, "CSVDelimiter must be one of COMMA, PIPE, "
              "SEMICOLON, SPACE, TAB, not %s", dn);
    return NULL;
  }
  json_t *header = NULL;
  if (loc && !strcmp(loc, "GIVEN")) {
    json_t *h = json_object_get(rc, "CSVHeaders");
    size_t i;
    json_t *v;
    bool ok = json_is_array(h) && json_array_size(h) > 0;
    json_array_foreach(h, i, v) ok = ok && json_is_string(v);
    if (!ok) {
      fault_set(f, READER_FAILED, "CSVHeaderLocation GIVEN needs "
                "CSVHeaders, an array of strings");
      return NULL;
    }
    header = json_incref(h);
  } else if (loc && strcmp(loc, "FIRST_ROW")) {
    fault_set(f, READER_FAILED, "CSVHeaderLocation must be FIRST_ROW or "
              "GIVEN, not %s", loc);
    return NULL;
  }
  csv_opts_t o;
  csv_opts_init(&o);
  o.delim = d;
  o.backslash = true;
  o.fields = SIZE_MAX;  /* short rows get "", extra fields are dropped */
  csv_t *p = csv_new(&o);
  json_t *items = json_array();
  char buf[65536];
  size_t n;
  bool ok = true;
  while (ok && !full(items, max) && (n = fread(buf, 1, sizeof buf, in))) {
    size_t off = 0;
    while (ok && !full(items, max)) {
      size_t used;
      int rc2 = csv_parse(p, buf + off, n - off, &used);
      off += used;
      if (rc2 == CSV_MORE) break;
      ok = csv_take(p, rc2, &header, items, f);
    }
  }
  int rc2;
  while (ok && !full(items, max) && (rc2 = csv_finish(p)) != CSV_END)
    ok = csv_take(p, rc2, &header, items, f);
  csv_free(p);
  json_decref(header);
  if (!ok) {
    json_decref(items);
    return NULL;
  }
  return items;
}

/* ---- JSON and JSON Lines ---------------------------------------------- */

static json_t *read_json(const char *data, size_t len, size_t max,
                         fault_t *f) {
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
  while (max && json_array_size(v) > max)
    json_array_remove(v, json_array_size(v) - 1);
  return v;
}

static json_t *read_jsonl(const char *data, size_t len, size_t max,
                          fault_t *f) {
  json_t *items = json_array();
  size_t line = 0;
  for (const char *s = data, *end = data + len; s < end && !full(items,
                                                                   max);) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    line++;
    const char *a = s, *b = e;
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
    if (a < b) {
      char *why = NULL;
      json_t *v = jsonx_parse(a, (size_t)(b - a), &why);
      if (!v) {
        fault_set(f, READER_FAILED, "The JSONL file could not be parsed: "
                  "line %zu: %s", line, why ? why : "invalid JSON");
        free(why);
        json_decref(items);
        return NULL;
      }
      json_array_append_new(items, v);
    }
    s = nl ? nl + 1 : end;
  }
  return items;
}

/* ---- the reader ---------------------------------------------------- */

static json_t *get_object(const json_t *params, const json_t *rc,
                          size_t max, fault_t *f) {
  const char *b = json_string_value(json_object_get(params, "Bucket"));
  const char *k = json_string_value(json_object_get(params, "Key"));
  const char *type = json_string_value(json_object_get(rc, "InputType"));
  if (!b || !k) {
    fault_set(f, READER_FAILED, "The ItemReader's Parameters need the "
              "strings Bucket and Key");
    return NULL;
  }
  if (!type || (strcmp(type, "CSV") && strcmp(type, "JSON") &&
                strcmp(type, "JSONL"))) {
    fault_set(f, READER_FAILED, "ReaderConfig.InputType must be CSV, JSON "
              "or JSONL for s3:getObject%s%s", type ? ", not " : "",
              type ? type : "");
    return NULL;
  }
  s3_error_t e;
  if (!strcmp(type, "CSV")) {
    FILE *in;
    if (s3_open(b, k, &in, NULL, &e)) {
      s3_fault(f, b, k, &e);
      return NULL;
    }
    json_t *items = read_csv(in, rc, max, f);
    fclose(in);
    return items;
  }
  char *data;
  size_t len;
  if (s3_get(b, k, &data, &len, NULL, &e)) {
    s3_fault(f, b, k, &e);
    return NULL;
  }
  json_t *items = !strcmp(type, "JSON") ? read_json(data, len, max, f)
                                       : read_jsonl(data, len, max, f);
  free(data);
  return items;
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

json_t *itemreader_read(const json_t *reader, const jscope_t *s,
                        fault_t *f) {
  const char *res = json_string_value(json_object_get(reader, "Resource"));
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
  size_t max;
  json_t *items = NULL;
  if (!max_items(rc, s, &max, f)) {
    /* f is set */
  } else if (res && !strcmp(res, GET_ARN)) {
    items = get_object(params, rc, max, f);
  } else if (res && !strcmp(res, LIST_ARN)) {
    items = list_objects(params, max, f);
  } else {
    fault_runtime(f, "The ItemReader resource '%s' is not supported by "
                  "moonstep", res ? res : "(none)");
  }
  json_decref(params);
  return items;
}
