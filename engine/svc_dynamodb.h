/* svc_dynamodb.h - the DynamoDB Task resources over moonstep.tables:
 * arn:aws:states:::dynamodb:getItem|putItem|updateItem|deleteItem (the
 * optimized integration) and arn:aws:states:::aws-sdk:dynamodb:ACTION
 * (query, scan, batchWriteItem, batchGetItem, transactWriteItems,
 * createTable, describeTable, deleteTable, listTables, and the four item
 * actions), with AWS's request and response shapes, against the engine's
 * database (tables_default_path()).
 */
#ifndef MS_SVC_DYNAMODB_H
#define MS_SVC_DYNAMODB_H

#include "jsonx.h"

/* Whether resource is one of these (any action name after the prefix). */
bool svc_dynamodb_match(const char *resource);

/* Run the action with the state's effective input as the request.
 * Returns AWS's response (new reference) or NULL with f set: Error
 * "DynamoDB.<Exception>" (optimized) or "DynamoDb.<Exception>" (aws-sdk),
 * Cause DynamoDB's message with the SDK's suffix. */
json_t *svc_dynamodb_run(const char *resource, const json_t *input,
                         fault_t *f);

#endif
