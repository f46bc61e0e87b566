/* ddbexpr.h - DynamoDB's expression languages, parsed once and evaluated
 * over AttributeValue items (ddbval.h): ConditionExpression and
 * FilterExpression, KeyConditionExpression, UpdateExpression and
 * ProjectionExpression, with ExpressionAttributeNames (#n) and
 * ExpressionAttributeValues (:v).
 *
 * Errors are the text of DynamoDB's ValidationException ("Invalid
 * UpdateExpression: Syntax error; token: \"x\", near: \"SET x\"", ...) in
 * *err (malloc'ed); the store wraps them.
 */
#ifndef MS_DDBEXPR_H
#define MS_DDBEXPR_H

#include <stdbool.h>

#include "ddbval.h"

typedef enum {
  DDBX_CONDITION,       /* ConditionExpression */
  DDBX_KEY_CONDITION,   /* KeyConditionExpression */
  DDBX_UPDATE,          /* UpdateExpression */
  DDBX_PROJECTION,      /* ProjectionExpression */
  DDBX_FILTER,          /* FilterExpression: a condition whose errors say
                           "Invalid FilterExpression" */
} ddbx_kind_t;

typedef struct ddbexpr ddbexpr_t;

/* Parse text. names (ExpressionAttributeNames, {"#n": "name"}) and values
 * (ExpressionAttributeValues, {":v": AV}) may be NULL; they are borrowed
 * for the call and what the expression needs is kept. A placeholder that
 * is not defined is an error, as in DynamoDB. NULL + *err. */
ddbexpr_t *ddbexpr_parse(ddbx_kind_t kind, const char *text,
                         const json_t *names, const json_t *values,
                         char **err);
void ddbexpr_free(ddbexpr_t *e);

/* Add the placeholders e used as keys of used_names / used_values (json
 * objects used as sets), so a request can refuse unused ones as DynamoDB
 * does ("Value provided in ExpressionAttributeValues unused in
 * expressions: keys: {:x}"). */
void ddbexpr_used(const ddbexpr_t *e, json_t *used_names,
                  json_t *used_values);

/* A condition or filter over item (an item object; NULL: no item, so
 * attribute_not_exists holds). 1 true, 0 false, -1 with *err (an
 * operand of the wrong type for a function is an error only where
 * DynamoDB says so; a comparison across types is false). */
int ddbexpr_test(const ddbexpr_t *e, const json_t *item, char **err);

/* Apply an update to item (borrowed; NULL: no item yet, the caller puts
 * the key attributes into the result afterwards). Returns the new item
 * (new reference) or NULL + *err (e.g. "An operand in the update
 * expression has an incorrect data type"). */
json_t *ddbexpr_update(const ddbexpr_t *e, const json_t *item, char **err);

/* The top-level attribute names an update sets, removes, adds to or
 * deletes from, appended to names (a json array), so the store can refuse
 * a change to a key attribute. */
void ddbexpr_update_targets(const ddbexpr_t *e, json_t *names);

/* The projection of item: only the named paths (new reference). */
json_t *ddbexpr_project(const ddbexpr_t *e, const json_t *item);
/* When every path of projection e is one top-level name: how many (at
 * most max), names[] set to them in order (borrowed from e); else 0. */
int ddbexpr_top_names(const ddbexpr_t *e, const char **names, int max);

/* A KeyConditionExpression, checked against the key schema (pk_name and
 * sk_name, sk_name NULL when the table or index has no sort key). */
typedef enum {
  DDBX_SK_NONE, DDBX_SK_EQ, DDBX_SK_LT, DDBX_SK_LE, DDBX_SK_GT,
  DDBX_SK_GE, DDBX_SK_BETWEEN, DDBX_SK_BEGINS_WITH,
} ddbx_skop_t;

typedef struct ddbx_keycond {
  const json_t *pk_value;      /* borrowed from e */
  ddbx_skop_t op;
  const json_t *sk_lo;         /* operand (BETWEEN: the low bound) */
  const json_t *sk_hi;         /* BETWEEN's high bound */
} ddbx_keycond_t;

/* 0 and *k filled, or -1 + *err ("Query condition missed key schema
 * element: id", ...). */
int ddbexpr_keycond(const ddbexpr_t *e, const char *pk_name,
                    const char *sk_name, ddbx_keycond_t *k, char **err);

#endif
