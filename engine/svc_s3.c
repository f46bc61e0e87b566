/* svc_s3.c - the S3 Task resources (see svc_s3.h) over s3.c.
 *
 * Confirmed from AWS's docs: the error naming of SDK integrations
 * (S3.NoSuchKeyException, S3.BucketAlreadyExistsException: the Exception
 * suffix is added even where S3's code lacks it). Guessed (not in the
 * docs, no recording): the exact Cause text, timestamps printed as
 * "2026-11-25T15:04:05Z", putObject taking a non-string Body as its JSON
 * text, a missing or non-string Bucket/Key failing with States.Runtime,
 * and getObject of bytes that are not UTF-8 failing with States.Runtime.
 */
#include "svc_s3.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

#define SDK_ARN "arn:aws:states:::aws-sdk:s3:"
#define OPT_ARN "arn:aws:states:::s3:"

typedef json_t *(*action_fn)(const json_t *in, s3_error_t *e, fault_t *f);

static bool starts(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

bool svc_s3_match(const char *resource) {
  return resource && (starts(resource, SDK_ARN) || starts(resource,
                                                          OPT_ARN));
}

static void request_id(char *out) {
  static unsigned long long n;
  unsigned long long x = (unsigned long long)time(NULL) * 2654435761u + ++n;
  static const char abc[] = "ABCDEF0123456789";
  for (int i = 0; i < 16; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    out[i] = abc[x % 16];
  }
  out[16] = 0;
}

/* A required string parameter, or NULL with f set. */
static const char *param(const json_t *in, const char *k, fault_t *f) {
  const char *s = json_string_value(json_object_get(in, k));
  if (!s) fault_runtime(f, "The S3 request needs the string field '%s'", k);
  return s;
}

static json_t *meta_json(const s3_meta_t *m) {
  char t[40];
  s3_time_iso(m->mtime, t, sizeof t);
  return json_pack("{sssIsssssss{}}", "AcceptRanges", "bytes",
                   "ContentLength", (json_int_t)m->size,
                   "ContentType", m->content_type, "ETag", m->etag,
                   "LastModified", t, "Metadata");
}

static json_t *get_object(const json_t *in, s3_error_t *e, fault_t *f) {
  const char *b = param(in, "Bucket", f), *k = b ? param(in, "Key", f) : 0;
  if (!k) return NULL;
  char *data;
  size_t len;
  s3_meta_t m;
  if (s3_get(b, k, &data, &len, &m, e)) return NULL;
  json_t *body = json_stringn(data, len);
  free(data);
  if (!body) {
    fault_runtime(f, "The object s3://%s/%s is not UTF-8 text; moonstep "
                  "returns Body as a string", b, k);
    return NULL;
  }
  json_t *r = meta_json(&m);
  json_object_set_new(r, "Body", body);
  return r;
}

static json_t *head_object(const json_t *in, s3_error_t *e, fault_t *f) {
  const char *b = param(in, "Bucket", f), *k = b ? param(in, "Key", f) : 0;
  s3_meta_t m;
  if (!k || s3_head(b, k, &m, e)) return NULL;
  return meta_json(&m);
}

static json_t *put_object(const json_t *in, s3_error_t *e, fault_t *f) {
  const char *b = param(in, "Bucket", f), *k = b ? param(in, "Key", f) : 0;
  if (!k) return NULL;
  json_t *body = json_object_get(in, "Body");
  char *text = NULL;
  const char *p = "";
  size_t len = 0;
  if (json_is_string(body)) {
    p = json_string_value(body);
    len = json_string_length(body);
  } else if (body && !json_is_null(body)) {
    text = jsonx_dump(body, JSONX_COMPACT);
    p = text;
    len = strlen(text);
  }
  const char *ct = json_string_value(json_object_get(in, "ContentType"));
  s3_meta_t m;
  int rc = s3_put(b, k, p, len, ct, &m, e);
  free(text);
  if (rc) return NULL;
  return json_pack("{ssss}", "ETag", m.etag, "ServerSideEncryption",
                   "AES256");
}

static json_t *delete_object(const json_t *in, s3_error_t *e, fault_t *f) {
  const char *b = param(in, "Bucket", f), *k = b ? param(in, "Key", f) : 0;
  if (!k || s3_delete(b, k, e)) return NULL;
  return json_object();
}

static json_t *copy_object(const json_t *in, s3_error_t *e, fault_t *f) {
  const char *b = param(in, "Bucket", f), *k = b ? param(in, "Key", f) : 0;
  const char *src = k ? param(in, "CopySource", f) : NULL;
  if (!src) return NULL;
  if (*src == '/') src++;
  const char *sl = strchr(src, '/');
  if (!sl || sl == src || !sl[1]) {
    snprintf(e->code, sizeof e->code, "InvalidArgument");
    snprintf(e->message, sizeof e->message, "Invalid copy source object "
             "key");
    e->status = 400;
    return NULL;
  }
  char *sb = ms_strndup(src, (size_t)(sl - src));
  s3_meta_t m;
  int rc = s3_copy(sb, sl + 1, b, k, &m, e);
  free(sb);
  if (rc) return NULL;
  char t[40];
  s3_time_iso(m.mtime, t, sizeof t);
  return json_pack("{s{ssss}ss}", "CopyObjectResult", "ETag", m.etag,
                   "LastModified", t, "ServerSideEncryption", "AES256");
}

static json_t *list_objects(const json_t *in, s3_error_t *e, fault_t *f) {
  const char *b = param(in, "Bucket", f);
  return b ? s3_list(b, in, e) : NULL;
}

static json_t *create_bucket(const json_t *in, s3_error_t *e, fault_t *f) {
  const char *b = param(in, "Bucket", f);
  if (!b || s3_create_bucket(b, e)) return NULL;
  char *loc = ms_asprintf("/%s", b);
  json_t *r = json_pack("{ss}", "Location", loc);
  free(loc);
  return r;
}

static json_t *list_buckets(const json_t *in, s3_error_t *e, fault_t *f) {
  (void)in;
  (void)e;
  (void)f;
  json_t *names = s3_list_buckets(), *out = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(names, i, v)
    json_array_append_new(out, json_pack("{sO}", "Name", v));
  json_decref(names);
  return json_pack("{so}", "Buckets", out);
}

static const struct {
  const char *name;
  action_fn fn;
  bool optimized;   /* also as arn:aws:states:::s3:NAME */
} actions[] = {
  {"getObject", get_object, true},
  {"putObject", put_object, true},
  {"headObject", head_object, false},
  {"deleteObject", delete_object, false},
  {"copyObject", copy_object, false},
  {"listObjectsV2", list_objects, false},
  {"createBucket", create_bucket, false},
  {"listBuckets", list_buckets, false},
};

json_t *svc_s3_run(const char *resource, const json_t *input, fault_t *f) {
  bool sdk = starts(resource, SDK_ARN);
  const char *a = resource + strlen(sdk ? SDK_ARN : OPT_ARN);
  action_fn fn = NULL;
  for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
    if (!strcmp(a, actions[i].name) && (sdk || actions[i].optimized))
      fn = actions[i].fn;
  if (!fn) {
    fault_runtime(f, "The resource '%s' is not supported by moonstep",
                  resource);
    return NULL;
  }
  json_t *empty = NULL;
  if (!json_is_object(input)) input = empty = json_object();
  s3_error_t e = {.status = 0};
  json_t *r = fn(input, &e, f);
  json_decref(empty);
  if (r || fault_is_set(f)) return r;
  char rid[20];
  request_id(rid);
  const char *code = e.code;
  bool has = strlen(code) > 9 && !strcmp(code + strlen(code) - 9,
                                         "Exception");
  fault_set(f, "S3.", "%s (Service: S3, Status Code: %d, Request ID: %s)",
            e.message, e.status, rid);
  char *name = ms_asprintf("S3.%s%s", code, has ? "" : "Exception");
  free(f->error);
  f->error = name;
  return NULL;
}
