/* svc_s3.h - the S3 Task resources over the local buckets (s3.h):
 * arn:aws:states:::aws-sdk:s3:getObject|putObject|listObjectsV2|
 * deleteObject|headObject|copyObject|createBucket|listBuckets, with the AWS
 * SDK's request and response shapes (Body as a string), and
 * arn:aws:states:::s3:getObject|putObject as the same calls (AWS has those
 * two only as ItemReader/ResultWriter resources; moonstep also accepts
 * them in a Task).
 */
#ifndef MS_SVC_S3_H
#define MS_SVC_S3_H

#include "jsonx.h"

/* Whether resource is one of these (any action name after the prefix). */
bool svc_s3_match(const char *resource);

/* Run the action with the state's effective input as the request.
 * Returns the SDK's response (new reference) or NULL with f set: Error
 * "S3.<Code>Exception" (AWS's rule for SDK integrations: the service name,
 * a dot, the error code with the Exception suffix, e.g.
 * S3.NoSuchKeyException), Cause S3's message with the SDK's suffix
 * "(Service: S3, Status Code: 404, Request ID: ...)". */
json_t *svc_s3_run(const char *resource, const json_t *input, fault_t *f);

#endif
