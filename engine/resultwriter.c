/* resultwriter.c - the Distributed Map's ResultWriter over the local
 * buckets (see resultwriter.h).
 *
 * From AWS's docs and a published example run: the Map's result
 * {MapRunArn, ResultWriterDetails {Bucket, Key: PREFIX/UUID/manifest.json}},
 * the manifest's fields and the result files' names and record fields,
 * Input and Output as JSON text, States.ResultWriterFailed, Arguments in
 * JSONata states ("ResultWriter (Map)"). Guessed: the dates (moonstep does
 * not keep each iteration's start: both are the time its record is
 * written), the order of the records (as the iterations end), a failed
 * iteration told from a succeeded one by its result being exactly
 * {Error[, Cause]} (what the engine records for a tolerated failure),
 * WriterConfig (ignored). Each status's records go to a temporary file
 * (tmpfile) as they come, put into the bucket at the end.
 */
#include "resultwriter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jtmpl.h"
#include "payload.h"
#include "s3.h"

#define PUT_ARN "arn:aws:states:::s3:putObject"
#define WRITER_FAILED "States.ResultWriterFailed"

enum { G_OK, G_BAD, NGROUPS };
static const char *const group_name[NGROUPS] = {"SUCCEEDED", "FAILED"};

struct rwriter {
  char *bucket, *dir;       /* Bucket (NULL: missing), PREFIX/UUID */
  char *map_run, *sm_arn, *exec_pre;  /* ARNs; exec_pre + name */
  FILE *fp[NGROUPS];        /* the records so far: "[r,r,..." */
  size_t n[NGROUPS];
  bool io_failed;
};

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

static void s3_failed(fault_t *f, const s3_error_t *e, const char *bucket,
                      const char *key) {
  fault_set(f, WRITER_FAILED, "%s (Service: Amazon S3; Status Code: %d; "
            "Error Code: %s; Bucket: %s; Key: %s)", e->message, e->status,
            e->code, bucket, key);
}

json_t *resultwriter_params(const json_t *writer, const jscope_t *s,
                            fault_t *f) {
  json_t *tpl = json_object_get(writer, "Parameters");
  if (!tpl) return json_object();
  diags_t d;
  diags_init(&d);
  tmpl_t *t = tmpl_compile(tpl, "/ResultWriter/Parameters", &d);
  diags_free(&d);
  json_t *params = NULL;
  if (t) params = tmpl_eval(t, s, f);
  else fault_runtime(f, "The ResultWriter's Parameters are not valid");
  tmpl_free(t);
  return params;
}

rwriter_t *resultwriter_open(const json_t *writer, const json_t *params,
                             const char *machine_arn, const char *label,
                             fault_t *f) {
  const char *res = json_string_value(json_object_get(writer, "Resource"));
  if (!res || strcmp(res, PUT_ARN)) {
    fault_runtime(f, "The ResultWriter resource '%s' is not supported by "
                  "moonstep", res ? res : "(none)");
    return NULL;
  }
  const char *bucket = json_string_value(json_object_get(params, "Bucket"));
  const char *prefix = json_string_value(json_object_get(params, "Prefix"));
  rwriter_t *w = ms_calloc(1, sizeof *w);
  if (bucket) w->bucket = ms_strdup(bucket);
  /* names: machine "stateMachine:NAME" -> NAME/LABEL */
  const char *mn = strstr(machine_arn, ":stateMachine:");
  mn = mn ? mn + strlen(":stateMachine:") : "moonstep";
  char run[37];
  ms_uuid4(run);
  w->map_run = ms_asprintf("arn:aws:states:us-east-1:123456789012:"
                           "mapRun:%s/%s:%s", mn, label, run);
  w->sm_arn = ms_asprintf("arn:aws:states:us-east-1:123456789012:"
                          "stateMachine:%s/%s", mn, label);
  w->exec_pre = ms_asprintf("arn:aws:states:us-east-1:123456789012:"
                            "execution:%s/%s:", mn, label);
  w->dir = prefix && *prefix
      ? ms_asprintf("%s%s%s", prefix,
                    prefix[strlen(prefix) - 1] == '/' ? "" : "/", run)
      : ms_strdup(run);
  return w;
}

int resultwriter_add(rwriter_t *w, const json_t *input,
                     const json_t *result, fault_t *f) {
  bool b = failed(result);
  int g = b ? G_BAD : G_OK;
  if (!w->fp[g] && !w->io_failed && !(w->fp[g] = tmpfile()))
    w->io_failed = true;
  if (w->io_failed) {
    fault_set(f, WRITER_FAILED, "The result file could not be written");
    return MS_ERR;
  }
  char name[37], when[40];
  ms_uuid4(name);
  s3_time_iso((double)time(NULL), when, sizeof when);
  char *arn = ms_asprintf("%s%s", w->exec_pre, name);
  json_t *r = record(arn, name, w->sm_arn, input, result, b, when);
  char *text = jsonx_dump(r, JSONX_COMPACT);
  if (fputc(w->n[g] ? ',' : '[', w->fp[g]) == EOF ||
      fputs(text, w->fp[g]) == EOF)
    w->io_failed = true;
  w->n[g]++;
  free(text);
  json_decref(r);
  free(arn);
  if (w->io_failed) {
    fault_set(f, WRITER_FAILED, "The result file could not be written");
    return MS_ERR;
  }
  return MS_OK;
}

void resultwriter_close(rwriter_t *w) {
  if (!w) return;
  for (int g = 0; g < NGROUPS; g++)
    if (w->fp[g]) fclose(w->fp[g]);
  free(w->bucket);
  free(w->dir);
  free(w->map_run);
  free(w->sm_arn);
  free(w->exec_pre);
  free(w);
}

static int put_json(const char *bucket, const char *key, const json_t *v,
                    fault_t *f) {
  char *text = jsonx_dump(v, JSONX_COMPACT);
  s3_error_t e;
  int rc = s3_put(bucket, key, text, strlen(text), "application/json",
                  NULL, &e);
  free(text);
  if (rc) s3_failed(f, &e, bucket, key);
  return rc;
}

json_t *resultwriter_finish(rwriter_t *w, fault_t *f) {
  json_t *out = NULL;
  if (!w->bucket) {
    fault_set(f, WRITER_FAILED, "The ResultWriter's Parameters need the "
              "string Bucket");
    resultwriter_close(w);
    return NULL;
  }
  if (!s3_bucket_exists(w->bucket)) {
    fault_set(f, WRITER_FAILED, "The specified bucket does not exist "
              "(Service: Amazon S3; Status Code: 404; Error Code: "
              "NoSuchBucket; Bucket: %s)", w->bucket);
    resultwriter_close(w);
    return NULL;
  }
  json_t *files = json_pack("{s[]s[]s[]}", "FAILED", "PENDING",
                            "SUCCEEDED");
  int rc = w->io_failed ? MS_ERR : MS_OK;
  if (rc) fault_set(f, WRITER_FAILED, "The result file could not be "
                    "written");
  for (int g = 0; g < NGROUPS && rc == MS_OK; g++) {
    FILE *fp = w->fp[g];
    if (!w->n[g]) continue;
    char *key = ms_asprintf("%s/%s_0.json", w->dir, group_name[g]);
    long size = -1;
    if (fputc(']', fp) != EOF && fflush(fp) == 0) size = ftell(fp);
    s3_error_t e;
    if (size < 0 || fseek(fp, 0, SEEK_SET)) {
      fault_set(f, WRITER_FAILED, "The result file could not be written");
      rc = MS_ERR;
    } else if ((rc = s3_put_stream(w->bucket, key, fp, "application/json",
                                   NULL, &e))) {
      s3_failed(f, &e, w->bucket, key);
    }
    json_array_append_new(json_object_get(files, group_name[g]),
                          json_pack("{sssI}", "Key", key, "Size",
                                    (json_int_t)size));
    free(key);
  }
  char *mkey = ms_asprintf("%s/manifest.json", w->dir);
  if (rc == MS_OK) {
    json_t *manifest = json_pack("{sssssO}", "DestinationBucket", w->bucket,
                                 "MapRunArn", w->map_run, "ResultFiles",
                                 files);
    rc = put_json(w->bucket, mkey, manifest, f);
    json_decref(manifest);
  }
  if (rc == MS_OK)
    out = json_pack("{sss{ssss}}", "MapRunArn", w->map_run,
                    "ResultWriterDetails", "Bucket", w->bucket, "Key",
                    mkey);
  free(mkey);
  json_decref(files);
  resultwriter_close(w);
  return out;
}

json_t *resultwriter_write(const json_t *writer, const json_t *params,
                           const char *machine_arn, const char *label,
                           const json_t *inputs, const json_t *results,
                           fault_t *f) {
  rwriter_t *w = resultwriter_open(writer, params, machine_arn, label, f);
  if (!w) return NULL;
  size_t i;
  json_t *r;
  json_array_foreach(results, i, r)
    if (resultwriter_add(w, json_array_get(inputs, i), r, f)) {
      resultwriter_close(w);
      return NULL;
    }
  return resultwriter_finish(w, f);
}

void resultwriter_check(const json_t *v, const char *ptr, bool jsonata,
                        diags_t *d) {
  /* AWS ("ResultWriter (Map)"): Arguments in JSONata states, Parameters
   * in JSONPath ones */
  char *p = ms_asprintf("%s/ResultWriter", ptr);
  const char *bad = jsonata ? "Parameters" : "Arguments";
  if (json_object_get(v, bad))
    diags_add(d, false, p, "field \"%s\" is not allowed in the "
              "ResultWriter of a %s state (use \"%s\")", bad,
              jsonata ? "JSONata" : "JSONPath",
              jsonata ? "Arguments" : "Parameters");
  json_t *a = json_object_get(v, "Arguments");
  if (jsonata && a) {  /* it must parse (exec_kids.c evaluates it) */
    char *ap = ms_asprintf("%s/Arguments", p);
    jtmpl_free(jtmpl_compile(a, ap, "Arguments", d));
    free(ap);
  }
  free(p);
}
