/* svc_http.h - the Step Functions HTTP Task, arn:aws:states:::http:invoke:
 * its Parameters turned into a request (http.h), the response into AWS's
 * result shape or its errors, and the local file of connections that
 * stands in for EventBridge connections (see svc_http.c for the choices).
 *
 * A call is prepared, run (blocking with svc_http_invoke, or by the
 * caller on the engine's multi handle) and finished.
 */
#ifndef MS_SVC_HTTP_H
#define MS_SVC_HTTP_H

#include "http.h"
#include "jsonx.h"

#define SVC_HTTP_ARN "arn:aws:states:::http:invoke"

/* Where connections are read from: $MOONSTEP_CONNECTIONS, else
 * ./connections.json. */
#define SVC_HTTP_CONNECTIONS_ENV  "MOONSTEP_CONNECTIONS"
#define SVC_HTTP_CONNECTIONS_FILE "connections.json"

typedef struct svc_http_call svc_http_call_t;

/* Build the request from the Task's effective input params (borrowed).
 * region names the caller in User-Agent; timeout (seconds, 0 = none) is
 * the state's, capped by AWS's 60 s. NULL with f set on a bad parameter
 * (States.Runtime) or connection (Events.ConnectionResource.*). */
svc_http_call_t *svc_http_prepare(const json_t *params, const char *region,
                                  double timeout, fault_t *f);
/* The request to run (valid while c lives). */
const http_req_t *svc_http_request(const svc_http_call_t *c);
/* The Task's result from the request's outcome (resp is consumed):
 * {Headers, ResponseBody, StatusCode, StatusText}, or NULL with f set
 * (States.Http.StatusCode.NNN, States.Http.Socket, States.Timeout). */
json_t *svc_http_finish(svc_http_call_t *c, http_err_t e, http_resp_t *resp,
                        const char *msg, fault_t *f);
/* The result of a response (consumed) alone: what svc_http_finish gives
 * when there was one. Header text that is not UTF-8 is read as
 * ISO-8859-1. */
json_t *svc_http_response(http_resp_t *resp, fault_t *f);
void svc_http_free(svc_http_call_t *c);

/* Prepare, perform (blocking) and finish in one. */
json_t *svc_http_invoke(const json_t *params, const char *region,
                        double timeout, fault_t *f);

/* RequestBody as Transform URL_ENCODED sends it: array_format is
 * "INDICES" (default when NULL), "REPEAT", "COMMAS" or "BRACKETS".
 * Returns the malloc'd text, or NULL for an unknown format. */
char *svc_http_urlencode(const json_t *body, const char *array_format);

#endif
