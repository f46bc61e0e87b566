/* tables.h - moonstep.tables, DynamoDB's data model in SQLite: tables
 * with a key schema and secondary indexes, items as AttributeValue JSON
 * (ddbval.h), and DynamoDB's operations with AWS's request and response
 * shapes (PutItem, GetItem, UpdateItem, DeleteItem, Query, Scan,
 * BatchWriteItem, BatchGetItem, TransactWriteItems, CreateTable,
 * DescribeTable, DeleteTable, ListTables).
 *
 * The store lives in the moonstep database (or any SQLite file) beside
 * store.c's tables, under its own names (ddb_*, tables_meta). Several
 * processes share a file: WAL, a busy timeout, BEGIN IMMEDIATE for every
 * write. Within a process one connection serves each path, so ":memory:"
 * is one database for the whole process (handlers, the dynamodb Task
 * resources and the CLI share it).
 *
 * Errors are DynamoDB's: a fault_t whose error is the exception name
 * ("ConditionalCheckFailedException", "ValidationException",
 * "ResourceNotFoundException", "ResourceInUseException",
 * "TransactionCanceledException", "InternalServerError" for SQLite
 * failures) and whose cause is DynamoDB's message. The Lua face and the
 * Task resources (svc_dynamodb.c) wrap them.
 */
#ifndef MS_TABLES_H
#define MS_TABLES_H

#include "ddbval.h"

typedef struct tables tables_t;

/* DynamoDB's limits, enforced by the store (AWS's quotas). */
#define TABLES_ITEM_MAX     (400 * 1024) /* AWS: 400 KB an item */
#define TABLES_PAGE_MAX     (1024 * 1024) /* AWS: a Query/Scan page reads
                                             at most 1 MB */
#define TABLES_BATCH_WRITE  25    /* AWS: requests in one BatchWriteItem */
#define TABLES_BATCH_GET    100   /* AWS: keys in one BatchGetItem */
#define TABLES_TRANSACT     100   /* AWS: actions in one transaction */
#define TABLES_BUSY_MS      60000 /* how long a writer waits for another
                                     process's lock before failing */

/* Open the store in the SQLite file at path (NULL or "": the default
 * path, tables_default_path()). Within a process the same path gives the
 * same connection (reference counted). NULL + *err (malloc'd). */
tables_t *tables_open(const char *path, char **err);
/* Drop a reference; the last one closes the file (":memory:" stays open
 * until the process ends: closing would lose it). */
void tables_close(tables_t *t);

/* The engine's store (store.c) holds a write transaction while a Task
 * runs; a second connection to its file in the same process would wait
 * for it forever. So the engine lends its connection for its path
 * (tables_share, at ms_engine_new) and takes it back (tables_unshare,
 * before closing it): meanwhile the store's work on that path runs on it,
 * as a savepoint within the run's transaction when one is open. A
 * ":memory:" path already open here keeps its own connection. */
struct sqlite3;
void tables_share(const char *path, struct sqlite3 *db);
void tables_unshare(struct sqlite3 *db);

/* The database handlers and Task resources use when none is named: the
 * engine's (api.c sets it from its db_path), else $MOONSTEP_DB, else
 * .moonstep/moonstep.db. The string is copied. */
void tables_set_default_path(const char *path);
const char *tables_default_path(void);

/* Flags of tables_call. */
enum {
  TABLES_AWS_LIMITS = 1 << 0,  /* refuse batches and transactions over
                                  AWS's sizes (the AWS face); without it
                                  any size runs (the Lua face) */
};

/* Run one action ("PutItem", ...) on request req (AWS's request shape,
 * borrowed). Returns AWS's response (new reference), or NULL with f set
 * (DynamoDB's exception name and message) and, when DynamoDB returns more
 * with the error, *detail (may be NULL; new reference): {"Item": ...} for
 * a ConditionalCheckFailedException with ReturnValuesOnConditionCheck-
 * Failure ALL_OLD, {"CancellationReasons": [...]} for a
 * TransactionCanceledException. Each call is one transaction: all of it
 * or none. */
json_t *tables_call(tables_t *t, const char *action, const json_t *req,
                    int flags, json_t **detail, fault_t *f);

/* The bulk path of the Lua face's batch_write (no AWS limits): n items
 * given by next as AttributeValue JSON text (valid JSON of valid values,
 * made by the caller) and an object of their key attributes (new
 * reference), written in one transaction, each replacing any item with
 * its key. Tables with secondary indexes are not taken here (1 is
 * returned, nothing done: use BatchWriteItem). 0 done, -1 with f set. */
typedef int (*tables_row_fn)(void *ud, size_t i, buf_t *text, json_t **key,
                             fault_t *f);
int tables_put_rows(tables_t *t, const char *table, size_t n,
                    tables_row_fn next, void *ud, fault_t *f);
/* The key attribute names of table (sk NULL: no sort key), valid until
 * the next call on t. -1 with f set. */
int tables_key_names(tables_t *t, const char *table, const char **pk,
                     const char **sk, fault_t *f);

/* Whether action is one tables_call knows. */
bool tables_has_action(const char *action);

#endif
