/* tables_int.h - what tables.c (the connection, catalog, keys and item
 * rows) shares with tables_ops.c (the item operations); private to the
 * two files. See tables.h for the model.
 */
#ifndef MS_TABLES_INT_H
#define MS_TABLES_INT_H

#include <sqlite3.h>

#include "tables.h"

/* A key schema: partition key and optional sort key, types 'S' 'N' 'B'. */
typedef struct keyschema {
  char *pk, *sk;               /* attribute names; sk NULL: none */
  char pkt, skt;               /* their types */
} keyschema_t;

typedef struct tindex {
  char *name;
  keyschema_t ks;
  int no;                      /* SQL table ddb_t<id>_i<no> */
  json_t *desc;                /* its description (borrowed from tdef) */
} tindex_t;

/* A table of the catalog, as loaded by this connection. */
typedef struct tdef {
  char *name;
  int64_t id;                  /* SQL table ddb_t<id> */
  keyschema_t ks;
  tindex_t *ix;
  size_t nix;
  json_t *desc;                /* the stored TableDescription */
} tdef_t;

/* Encoded keys of one item: the memcmp-ordered bytes of ddbval_key_bytes;
 * sk is empty when there is no sort key. */
typedef struct kb {
  buf_t pk, sk;
} kb_t;

void kb_init(kb_t *k);
void kb_free(kb_t *k);

/* The connection's statement cache: prepared once, reset after use. */
sqlite3_stmt *tables_stmt(tables_t *t, const char *sql, fault_t *f);
sqlite3 *tables_db(tables_t *t);
/* A SQLite failure as InternalServerError; returns -1. */
int tables_fail_db(tables_t *t, fault_t *f, const char *what);

/* Transactions nest: the outermost begin/commit/rollback acts. */
int tables_begin(tables_t *t, fault_t *f);
int tables_commit(tables_t *t, fault_t *f);
void tables_rollback(tables_t *t);

/* The table named name, or NULL with ResourceNotFoundException. */
tdef_t *tables_def(tables_t *t, const char *name, fault_t *f);
/* The index of td named name, or NULL with ValidationException. */
tindex_t *tables_index(tdef_t *td, const char *name, fault_t *f);

/* Keys. tables_key_of takes an item (put) or a key object (exact: only
 * the key attributes, as Key parameters must be). -1 with a
 * ValidationException. tables_index_key: 1 when item has both of the
 * index's keys (encoded into k), 0 when not (sparse), -1 on a type
 * mismatch. */
int tables_key_of(const keyschema_t *ks, const json_t *item, bool exact,
                  kb_t *k, fault_t *f);
int tables_index_key(const tindex_t *ix, const json_t *item, kb_t *k,
                     fault_t *f);
/* The key attributes of item under ks (new object). */
json_t *tables_key_attrs(const keyschema_t *ks, const json_t *item);
/* Whether key bytes of type S/B keep prefixes (raw bytes), so a
 * begins_with range can be bounded above. */
bool tables_raw_prefix(char type);

/* Item rows. load: *item the stored item or NULL. store: write item
 * (NULL: delete) at k, keeping the indexes right given the old item. */
int tables_load(tables_t *t, tdef_t *td, const kb_t *k, json_t **item,
                fault_t *f);
/* load, only the top-level attributes names[0..n-1] (n <= 8; missing ones
 * left out): the stored text is scanned for them and only their values
 * parsed, the same object as ddbexpr_project over the whole item. 1
 * when the text is not in the store's compact form (the caller loads
 * it all). */
#define TABLES_ATTRS_MAX 8
int tables_load_attrs(tables_t *t, tdef_t *td, const kb_t *k,
                      const char *const *names, int n, json_t **item,
                      fault_t *f);
int tables_store(tables_t *t, tdef_t *td, const kb_t *k, const json_t *old,
                 const json_t *item, fault_t *f);
/* item with its numbers in DynamoDB's canonical form ("1.50" -> "1.5"),
 * as DynamoDB keeps them (new reference; item itself when it is). */
json_t *tables_normalize(const json_t *item);
/* DynamoDB's size of an item in bytes (names + values). */
size_t tables_item_size(const json_t *item);

/* Errors. */
void tables_err(fault_t *f, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define VALIDATION "ValidationException"

/* The item operations (tables_ops.c). */
json_t *tables_op_put(tables_t *t, const json_t *req, json_t **detail,
                      fault_t *f);
json_t *tables_op_get(tables_t *t, const json_t *req, fault_t *f);
json_t *tables_op_update(tables_t *t, const json_t *req, json_t **detail,
                         fault_t *f);
json_t *tables_op_delete(tables_t *t, const json_t *req, json_t **detail,
                         fault_t *f);
json_t *tables_op_query(tables_t *t, const json_t *req, fault_t *f);
json_t *tables_op_scan(tables_t *t, const json_t *req, fault_t *f);
json_t *tables_op_batch_write(tables_t *t, const json_t *req, int flags,
                              fault_t *f);
json_t *tables_op_batch_get(tables_t *t, const json_t *req, int flags,
                            fault_t *f);
json_t *tables_op_transact(tables_t *t, const json_t *req, int flags,
                           json_t **detail, fault_t *f);

#endif
