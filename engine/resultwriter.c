/* resultwriter.c - the Distributed Map's ResultWriter over the local
 * buckets (see resultwriter.h).
 *
 * From AWS's docs and a published example run: the Map's result
 * {MapRunArn, ResultWriterDetails {Bucket, Key: PREFIX/UUID/manifest.json}},
 * the manifest's fields and the result files' names and record fields,
 * Input and Output as JSON text, States.ResultWriterFailed. Guessed: the
 * dates (moonstep does not keep each iteration's start and stop: both are
 * the time of the export), a failed iteration told from a succeeded one by
 * its result being exactly {Error[, Cause]} (what the engine records for a
 * tolerated failure), WriterConfig (ignored).
 */
#include "resultwriter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "payload.h"
#include "s3.h"

#define PUT_ARN "arn:aws:states:::s3:putObject"
#define WRITER_FAILED "States.ResultWriterFailed"

static void uuid(char out[37]) {
  unsigned char b[16];
  FILE *r = fopen("/dev/urandom", "rb");
  if (!r || fread(b, 1, sizeof b, r) != sizeof b) {
    unsigned long long x = (unsigned long long)time(NULL) ^
                           (unsigned long long)(uintptr_t)out;
    for (int i = 0; i < 16; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      b[i] = (unsigned char)(x >> 33);
    }
  }
  if (r) fclose(r);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  char *o = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    snprintf(o, 3, "%02x", b[i]);
    o += 2;
  }
  *o = 0;
}

/* A tolerated failure's result: {Error[, Cause]} and nothing else. */
static bool failed(const json_t *r) {
  if (!json_is_string(json_object_get(r, "Error"))) return false;
  size_t n = json_object_size(r);
  return n == 1 || (n == 2 && json_object_get(r, "Cause"));
}

static json_t *record(const char *exec_arn, const char *name,
                      const char *sm_arn, const json_t *input,
                      const json_t *result, bool bad, const char *when) {
  char *in = jsonx_dump(input ? input : json_null(), JSONX_COMPACT);
  json_t *r = json_pack("{ss ss s{sb} ss sI ss ss ss ss ss}",
                        "ExecutionArn", exec_arn,
                        "Input", in, "InputDetails", "Included", 1,
                        "Name", name, "RedriveCount", (json_int_t)0,
                        "RedriveStatus", bad ? "REDRIVABLE_BY_MAP_RUN"
                                             : "NOT_REDRIVABLE",
                        "StartDate", when, "StateMachineArn", sm_arn,
                        "Status", bad ? "FAILED" : "SUCCEEDED",
                        "StopDate", when);
  free(in);
  if (bad) {
    json_object_set(r, "Error", json_object_get(result, "Error"));
    json_t *c = json_object_get(result, "Cause");
    if (c) json_object_set(r, "Cause", c);
  } else {
    char *out = jsonx_dump(result ? result : json_null(), JSONX_COMPACT);
    json_object_set_new(r, "Output", json_string(out));
    json_object_set_new(r, "OutputDetails", json_pack("{sb}", "Included",
                                                      1));
    free(out);
    json_object_set_new(r, "RedriveStatusReason", json_string(
        "Execution is SUCCEEDED and cannot be redriven"));
  }
  return r;
}

static int put_json(const char *bucket, const char *key, const json_t *v,
                    size_t *size, fault_t *f) {
  char *text = jsonx_dump(v, JSONX_COMPACT);
  s3_error_t e;
  int rc = s3_put(bucket, key, text, strlen(text), "application/json",
                  NULL, &e);
  if (size) *size = strlen(text);
  free(text);
  if (rc)
    fault_set(f, WRITER_FAILED, "%s (Service: Amazon S3; Status Code: %d; "
              "Error Code: %s; Bucket: %s; Key: %s)", e.message, e.status,
              e.code, bucket, key);
  return rc;
}

json_t *resultwriter_write(const json_t *writer, const jscope_t *s,
                           const char *machine_arn, const char *label,
                           const json_t *inputs, const json_t *results,
                           fault_t *f) {
  const char *res = json_string_value(json_object_get(writer, "Resource"));
  if (!res || strcmp(res, PUT_ARN)) {
    fault_runtime(f, "The ResultWriter resource '%s' is not supported by "
                  "moonstep", res ? res : "(none)");
    return NULL;
  }
  json_t *tpl = json_object_get(writer, "Parameters");
  json_t *params = NULL;
  if (tpl) {
    diags_t d;
    diags_init(&d);
    tmpl_t *t = tmpl_compile(tpl, "/ResultWriter/Parameters", &d);
    diags_free(&d);
    if (t) params = tmpl_eval(t, s, f);
    else fault_runtime(f, "The ResultWriter's Parameters are not valid");
    tmpl_free(t);
    if (!params) return NULL;
  }
  const char *bucket = json_string_value(json_object_get(params, "Bucket"));
  const char *prefix = json_string_value(json_object_get(params, "Prefix"));
  if (!bucket) {
    fault_set(f, WRITER_FAILED, "The ResultWriter's Parameters need the "
              "string Bucket");
    json_decref(params);
    return NULL;
  }
  if (!s3_bucket_exists(bucket)) {
    fault_set(f, WRITER_FAILED, "The specified bucket does not exist "
              "(Service: Amazon S3; Status Code: 404; Error Code: "
              "NoSuchBucket; Bucket: %s)", bucket);
    json_decref(params);
    return NULL;
  }

  /* names: machine "stateMachine:NAME" -> NAME/LABEL */
  const char *mn = strstr(machine_arn, ":stateMachine:");
  mn = mn ? mn + strlen(":stateMachine:") : "moonstep";
  char run[37];
  uuid(run);
  char *map_run = ms_asprintf("arn:aws:states:us-east-1:123456789012:"
                              "mapRun:%s/%s:%s", mn, label, run);
  char *sm_arn = ms_asprintf("arn:aws:states:us-east-1:123456789012:"
                             "stateMachine:%s/%s", mn, label);
  char *dir = prefix && *prefix
      ? ms_asprintf("%s%s%s", prefix,
                    prefix[strlen(prefix) - 1] == '/' ? "" : "/", run)
      : ms_strdup(run);
  char when[40];
  s3_time_iso((double)time(NULL), when, sizeof when);

  json_t *ok = json_array(), *bad = json_array();
  size_t i;
  json_t *r;
  json_array_foreach(results, i, r) {
    char name[37];
    uuid(name);
    char *arn = ms_asprintf("arn:aws:states:us-east-1:123456789012:"
                            "execution:%s/%s:%s", mn, label, name);
    bool b = failed(r);
    json_array_append_new(b ? bad : ok, record(
        arn, name, sm_arn, json_array_get(inputs, i), r, b, when));
    free(arn);
  }
  json_t *files = json_pack("{s[]s[]s[]}", "FAILED", "PENDING",
                            "SUCCEEDED");
  json_t *out = NULL;
  const struct { const char *status; json_t *recs; } groups[] = {
    {"SUCCEEDED", ok}, {"FAILED", bad}};
  int rc = MS_OK;
  for (size_t g = 0; g < 2 && rc == MS_OK; g++) {
    if (!json_array_size(groups[g].recs)) continue;
    char *key = ms_asprintf("%s/%s_0.json", dir, groups[g].status);
    size_t size = 0;
    rc = put_json(bucket, key, groups[g].recs, &size, f);
    json_array_append_new(json_object_get(files, groups[g].status),
                          json_pack("{sssI}", "Key", key, "Size",
                                    (json_int_t)size));
    free(key);
  }
  char *mkey = ms_asprintf("%s/manifest.json", dir);
  if (rc == MS_OK) {
    json_t *manifest = json_pack("{sssssO}", "DestinationBucket", bucket,
                                 "MapRunArn", map_run, "ResultFiles", files);
    rc = put_json(bucket, mkey, manifest, NULL, f);
    json_decref(manifest);
  }
  if (rc == MS_OK)
    out = json_pack("{sss{ssss}}", "MapRunArn", map_run,
                    "ResultWriterDetails", "Bucket", bucket, "Key", mkey);
  free(mkey);
  json_decref(files);
  json_decref(ok);
  json_decref(bad);
  free(dir);
  free(sm_arn);
  free(map_run);
  json_decref(params);
  return out;
}
