/* svc_dynamodb.c - DynamoDB's Step Functions integrations over
 * moonstep.tables (see svc_dynamodb.h): the resource names the action,
 * the effective input is the request, tables.c does the work.
 *
 * What AWS does and this follows (Step Functions developer guide, "Call
 * DynamoDB APIs with Step Functions" and "AWS SDK integrations"):
 *  - dynamodb:getItem|putItem|updateItem|deleteItem answer the
 *    DynamoDB response plus SdkHttpMetadata {AllHttpHeaders, HttpHeaders,
 *    HttpStatusCode: 200} and SdkResponseMetadata {RequestId}. The header
 *    set is a smaller one than AWS's (no x-amz-crc32): a guess at what
 *    matters.
 *  - aws-sdk:dynamodb:ACTION answers the API response as is; ACTION is
 *    the camelCase action name.
 *  - Errors: ServiceName.ErrorName, "DynamoDB." for the optimized
 *    integration and "DynamoDb." (the SDK's service name, PascalCase) for
 *    aws-sdk; Cause is DynamoDB's message followed by the SDK's suffix
 *    "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: NAME;
 *    Request ID: ID; Proxy: null)" (optimized) or "(Service: DynamoDb,
 *    Status Code: 400, Request ID: ID)" (aws-sdk). The suffixes are
 *    from recorded AWS errors quoted in forums, not from a recording
 *    here: a best guess.
 *  - Batch and transaction sizes are AWS's (25 writes, 100 gets, 100
 *    actions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svc_dynamodb.h"
#include "tables.h"

#define OPTIMIZED "arn:aws:states:::dynamodb:"
#define SDK "arn:aws:states:::aws-sdk:dynamodb:"

static tables_t *shared;       /* the engine database's store */
static char *shared_path;

static bool starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool svc_dynamodb_match(const char *resource) {
  if (!resource) return false;
  const char *a = starts(resource, OPTIMIZED) ? resource + strlen(OPTIMIZED)
                : starts(resource, SDK) ? resource + strlen(SDK) : NULL;
  if (!a || !*a) return false;
  for (; *a; a++)
    if (!((*a >= 'a' && *a <= 'z') || (*a >= 'A' && *a <= 'Z'))) return false;
  return true;
}

static tables_t *store(char **err) {
  const char *path = tables_default_path();
  if (shared && !strcmp(shared_path, path)) return shared;
  tables_close(shared);
  free(shared_path);
  shared_path = NULL;
  shared = tables_open(path, err);
  if (shared) shared_path = ms_strdup(path);
  return shared;
}

static void request_id(char *out) {
  static unsigned long long n;
  unsigned long long x = (unsigned long long)time(NULL) * 2654435761u + ++n;
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int i = 0; i < 52; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    out[i] = abc[x % 36];
  }
  out[52] = 0;
}

static json_t *http_metadata(const json_t *body, const char *rid) {
  char len[32];
  snprintf(len, sizeof len, "%zu", jsonx_size(body));
  json_t *h = json_pack("{s:s,s:s,s:s,s:s,s:s}", "Connection", "keep-alive",
                        "Content-Length", len, "Content-Type",
                        "application/x-amz-json-1.0", "Server", "Server",
                        "x-amzn-RequestId", rid);
  json_t *all = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(h, k, v) json_object_set_new(all, k, json_pack("[O]",
                                                                     v));
  return json_pack("{s:o,s:o,s:i}", "AllHttpHeaders", all, "HttpHeaders",
                   h, "HttpStatusCode", 200);
}

json_t *svc_dynamodb_run(const char *resource, const json_t *input,
                         fault_t *f) {
  bool optimized = starts(resource, OPTIMIZED);
  const char *a = resource + strlen(optimized ? OPTIMIZED : SDK);
  static const char *items[] = {"getItem", "putItem", "updateItem",
                                "deleteItem"};
  bool ok = !optimized;
  for (int i = 0; i < 4; i++) ok |= !strcmp(a, items[i]);
  char action[64];
  snprintf(action, sizeof action, "%c%s", a[0] >= 'a' && a[0] <= 'z'
           ? a[0] - 'a' + 'A' : a[0], a + 1);
  if (!ok || !tables_has_action(action)) {
    fault_runtime(f, "The resource '%s' is not supported by moonstep",
                  resource);
    return NULL;
  }
  char *err = NULL;
  tables_t *t = store(&err);
  if (!t) {
    fault_runtime(f, "The DynamoDB tables cannot be opened: %s", err);
    free(err);
    return NULL;
  }
  char rid[64];
  request_id(rid);
  fault_t df = FAULT_INIT;
  json_t *r = tables_call(t, action, json_is_object(input) ? input : NULL,
                          TABLES_AWS_LIMITS, NULL, &df);
  if (!r) {
    if (optimized)
      fault_set(f, "DynamoDB.", "%s (Service: AmazonDynamoDBv2; Status "
                "Code: %d; Error Code: %s; Request ID: %s; Proxy: null)",
                df.cause ? df.cause : "",
                strcmp(df.error, "InternalServerError") ? 400 : 500,
                df.error, rid);
    else
      fault_set(f, "DynamoDb.", "%s (Service: DynamoDb, Status Code: %d, "
                "Request ID: %s)", df.cause ? df.cause : "",
                strcmp(df.error, "InternalServerError") ? 400 : 500, rid);
    char *name = ms_asprintf("%s%s", f->error, df.error);
    free(f->error);
    f->error = name;
    fault_clear(&df);
    return NULL;
  }
  if (optimized) {
    json_object_set_new(r, "SdkHttpMetadata", http_metadata(r, rid));
    json_object_set_new(r, "SdkResponseMetadata",
                        json_pack("{s:s}", "RequestId", rid));
  }
  return r;
}
