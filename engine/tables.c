/* tables.c - the store under moonstep.tables: the SQLite connection (one
 * per path and process), its schema, the catalog of tables with their key
 * schemas and indexes (CreateTable, DescribeTable, DeleteTable,
 * ListTables), key encoding, the item rows and their index rows, and the
 * dispatch of tables_call. The item operations are in tables_ops.c.
 *
 * Layout: ddb_tables(id, name, def) holds each table's description
 * (DynamoDB's TableDescription, as JSON); table id keeps its items in
 * ddb_t<id>(pk BLOB, sk BLOB, item TEXT, PRIMARY KEY(pk, sk)) WITHOUT
 * ROWID, keys encoded by ddbval_key_bytes so ORDER BY is DynamoDB's
 * order (sk is X'' without a sort key); index n of it is
 * ddb_t<id>_i<n>(ipk, isk, pk, sk), the index keys then the base keys,
 * written in the same transaction as the item; items without the index's
 * keys have no row there (sparse indexes). tables_meta(key, value) holds
 * the schema version.
 *
 * Decisions: CreateTable answers ACTIVE at once (AWS says CREATING, then
 * ACTIVE a few seconds later); DeleteTable answers DELETING and the table
 * is gone at once. An index's rows point at the items, so what it
 * projects (KEYS_ONLY, INCLUDE) is cut when it is read (tables_ops.c).
 * Local secondary indexes are kept like global ones.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tables_int.h"

#define SCHEMA_VERSION 1
#define CACHE_MAX 128   /* prepared statements kept per connection */
#define DEFAULT_PATH ".moonstep/moonstep.db"

typedef struct cached {
  char *sql;
  sqlite3_stmt *st;
} cached_t;

struct tables {
  char *path;
  int refs;
  sqlite3 *db;
  int depth;                   /* nesting of tables_begin */
  bool savepoint;              /* the open transaction is a SAVEPOINT in
                                  the owner's transaction */
  bool borrowed;               /* db is the engine store's connection */
  int schema;                  /* PRAGMA schema_version the catalog is of */
  tdef_t **defs;               /* catalog cache */
  size_t ndefs;
  cached_t cache[CACHE_MAX];
  size_t ncache;
  tables_t *next;              /* the process's open connections */
};

static tables_t *opened;       /* every open connection, by path */
static char *default_path;     /* set by the engine */

/* ---- errors ---------------------------------------------------------- */

void tables_err(fault_t *f, const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = ms_vasprintf(fmt, ap);
  va_end(ap);
  fault_set(f, name, "%s", msg);
  free(msg);
}

int tables_fail_db(tables_t *t, fault_t *f, const char *what) {
  tables_err(f, "InternalServerError", "%s: %s", what,
             sqlite3_errmsg(t->db));
  return -1;
}

sqlite3 *tables_db(tables_t *t) { return t->db; }

void kb_init(kb_t *k) {
  buf_init(&k->pk);
  buf_init(&k->sk);
}

void kb_free(kb_t *k) {
  buf_free(&k->pk);
  buf_free(&k->sk);
}

/* ---- the connection -------------------------------------------------- */

static int exec(tables_t *t, const char *sql, fault_t *f) {
  if (sqlite3_exec(t->db, sql, NULL, NULL, NULL) == SQLITE_OK) return 0;
  return tables_fail_db(t, f, "the table store");
}

static const char *schema_sql =
  "CREATE TABLE IF NOT EXISTS tables_meta(key TEXT PRIMARY KEY, value);"
  "CREATE TABLE IF NOT EXISTS ddb_tables("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  name TEXT NOT NULL UNIQUE,"
  "  def TEXT NOT NULL);"
  "INSERT OR IGNORE INTO tables_meta VALUES ('schema_version', 1);";

static int migrate(tables_t *t, fault_t *f) {
  sqlite3_stmt *st = NULL;
  int v = 0;
  if (sqlite3_prepare_v2(t->db, "SELECT value FROM tables_meta WHERE "
                         "key = 'schema_version'", -1, &st, NULL)
      == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  if (v == SCHEMA_VERSION) return 0;
  if (v > SCHEMA_VERSION) {
    tables_err(f, "InternalServerError", "the table store has schema "
               "version %d; this moonstep knows up to %d", v,
               SCHEMA_VERSION);
    return -1;
  }
  if (exec(t, "BEGIN IMMEDIATE", f) < 0) return -1;
  if (exec(t, schema_sql, f) < 0 || exec(t, "COMMIT", f) < 0) {
    sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

static void drop_cache(tables_t *t) {
  for (size_t i = 0; i < t->ncache; i++) {
    sqlite3_finalize(t->cache[i].st);
    free(t->cache[i].sql);
  }
  t->ncache = 0;
}

static void def_free(tdef_t *td) {
  if (!td) return;
  free(td->name);
  free(td->ks.pk);
  free(td->ks.sk);
  for (size_t i = 0; i < td->nix; i++) {
    free(td->ix[i].name);
    free(td->ix[i].ks.pk);
    free(td->ix[i].ks.sk);
  }
  free(td->ix);
  json_decref(td->desc);
  free(td);
}

static void drop_defs(tables_t *t) {
  for (size_t i = 0; i < t->ndefs; i++) def_free(t->defs[i]);
  free(t->defs);
  t->defs = NULL;
  t->ndefs = 0;
}

/* Let go of the connection (closing it when it is ours). */
static void conn_drop(tables_t *t) {
  drop_cache(t);
  drop_defs(t);
  if (!t->borrowed) sqlite3_close(t->db);
  t->db = NULL;
  t->borrowed = false;
  t->schema = -1;
}

static void conn_free(tables_t *t) {
  conn_drop(t);
  free(t->path);
  free(t);
}

static void unlink_conn(tables_t *t) {
  for (tables_t **p = &opened; *p; p = &(*p)->next)
    if (*p == t) {
      *p = t->next;
      break;
    }
}

/* Open our own connection to t->path. -1 with f set. */
static int conn_open(tables_t *t, fault_t *f) {
  const char *path = t->path;
  if (!strcmp(path, DEFAULT_PATH) && mkdir(".moonstep", 0777) < 0 &&
      errno != EEXIST) {
    tables_err(f, "InternalServerError", "cannot create the folder "
               ".moonstep: %s", strerror(errno));
    return -1;
  }
  int rc = sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE |
                           SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    tables_err(f, "InternalServerError", "%s", t->db ? sqlite3_errmsg(t->db)
                                                      : sqlite3_errstr(rc));
    sqlite3_close(t->db);
    t->db = NULL;
    return -1;
  }
  sqlite3_busy_timeout(t->db, TABLES_BUSY_MS);
  if (exec(t, "PRAGMA journal_mode=WAL", f) < 0 ||
      exec(t, "PRAGMA synchronous=NORMAL", f) < 0 || migrate(t, f) < 0) {
    sqlite3_close(t->db);
    t->db = NULL;
    return -1;
  }
  return 0;
}

void tables_share(const char *path, struct sqlite3 *db) {
  if (!path || !*path || !db) return;
  tables_t *t = opened;
  while (t && strcmp(t->path, path)) t = t->next;
  if (t && !strcmp(path, ":memory:")) return;  /* ours holds its data */
  if (!t) {
    t = ms_calloc(1, sizeof *t);
    t->path = ms_strdup(path);
    t->next = opened;
    opened = t;
  } else {
    conn_drop(t);
  }
  t->db = db;
  t->borrowed = true;
  t->schema = -1;
  fault_t f = FAULT_INIT;
  migrate(t, &f);
  fault_clear(&f);
}

void tables_unshare(struct sqlite3 *db) {
  for (tables_t *t = opened; t; t = t->next)
    if (t->db == db && t->borrowed) {
      conn_drop(t);  /* the next use opens our own */
      if (t->refs <= 0) {
        unlink_conn(t);
        conn_free(t);
      }
      return;
    }
}

void tables_set_default_path(const char *path) {
  free(default_path);
  default_path = path && *path ? ms_strdup(path) : NULL;
}

const char *tables_default_path(void) {
  if (default_path) return default_path;
  const char *env = getenv("MOONSTEP_DB");
  return env && *env ? env : DEFAULT_PATH;
}

tables_t *tables_open(const char *path, char **err) {
  if (!path || !*path) path = tables_default_path();
  for (tables_t *t = opened; t; t = t->next)
    if (!strcmp(t->path, path)) {
      t->refs++;
      return t;
    }
  tables_t *t = ms_calloc(1, sizeof *t);
  t->path = ms_strdup(path);
  t->refs = 1;
  t->schema = -1;
  fault_t f = FAULT_INIT;
  if (conn_open(t, &f) < 0) {
    *err = ms_asprintf("cannot open the database %s: %s", path, f.cause);
    fault_clear(&f);
    conn_free(t);
    return NULL;
  }
  if (!strcmp(path, ":memory:")) t->refs++;  /* kept for the process */
  t->next = opened;
  opened = t;
  return t;
}

void tables_close(tables_t *t) {
  if (!t || --t->refs > 0 || t->borrowed) return;
  unlink_conn(t);
  if (t->depth && t->db) sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
  conn_free(t);
}

sqlite3_stmt *tables_stmt(tables_t *t, const char *sql, fault_t *f) {
  for (size_t i = 0; i < t->ncache; i++)
    if (!strcmp(t->cache[i].sql, sql)) return t->cache[i].st;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                         NULL) != SQLITE_OK) {
    tables_fail_db(t, f, "preparing a statement");
    return NULL;
  }
  if (t->ncache == CACHE_MAX) {  /* full: forget the oldest */
    sqlite3_finalize(t->cache[0].st);
    free(t->cache[0].sql);
    memmove(t->cache, t->cache + 1, --t->ncache * sizeof *t->cache);
  }
  t->cache[t->ncache].sql = ms_strdup(sql);
  t->cache[t->ncache++].st = st;
  return st;
}

/* On the engine store's connection a transaction may be open (the run's
 * events of this transition): the work is a savepoint in it, committed
 * with the transition. */
int tables_begin(tables_t *t, fault_t *f) {
  if (t->depth++ > 0) return 0;
  t->savepoint = !sqlite3_get_autocommit(t->db);
  if (exec(t, t->savepoint ? "SAVEPOINT tables_tx" : "BEGIN IMMEDIATE",
           f) == 0)
    return 0;
  t->depth = 0;
  return -1;
}

void tables_rollback(tables_t *t) {
  if (t->depth == 0 || --t->depth > 0) return;
  sqlite3_exec(t->db, t->savepoint ? "ROLLBACK TO tables_tx; RELEASE "
               "tables_tx" : "ROLLBACK", NULL, NULL, NULL);
}

int tables_commit(tables_t *t, fault_t *f) {
  if (t->depth == 0 || --t->depth > 0) return 0;
  if (exec(t, t->savepoint ? "RELEASE tables_tx" : "COMMIT", f) == 0)
    return 0;
  t->depth = 1;
  tables_rollback(t);
  return -1;
}

/* The catalog cache holds while no process changed the SQL schema (a
 * table created or dropped changes PRAGMA schema_version). */
static int refresh(tables_t *t, fault_t *f) {
  if (!t->db && conn_open(t, f) < 0) return -1;  /* after an unshare */
  sqlite3_stmt *st = tables_stmt(t, "PRAGMA schema_version", f);
  if (!st) return -1;
  int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_reset(st);
  if (v == t->schema) return 0;
  drop_defs(t);
  t->schema = v;
  return 0;
}

/* ---- the catalog ------------------------------------------------------- */

static const char *str(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* The type of attribute name in an AttributeDefinitions array, or 0. */
static char attr_type(const json_t *defs, const char *name) {
  size_t i;
  json_t *d;
  json_array_foreach(defs, i, d) {
    const char *n = str(d, "AttributeName"), *ty = str(d, "AttributeType");
    if (n && ty && !strcmp(n, name)) return ty[0];
  }
  return 0;
}

/* Fill ks from a KeySchema array and the table's AttributeDefinitions. */
static int keyschema_of(const json_t *schema, const json_t *defs,
                        keyschema_t *ks) {
  memset(ks, 0, sizeof *ks);
  size_t i;
  json_t *e;
  json_array_foreach(schema, i, e) {
    const char *n = str(e, "AttributeName"), *kt = str(e, "KeyType");
    if (!n || !kt) return -1;
    if (!strcmp(kt, "HASH") && !ks->pk) {
      ks->pk = ms_strdup(n);
      ks->pkt = attr_type(defs, n);
    } else if (!strcmp(kt, "RANGE") && !ks->sk) {
      ks->sk = ms_strdup(n);
      ks->skt = attr_type(defs, n);
    } else {
      return -1;
    }
  }
  return ks->pk ? 0 : -1;
}

static tdef_t *def_load(int64_t id, const char *name, const char *text) {
  tdef_t *td = ms_calloc(1, sizeof *td);
  td->name = ms_strdup(name);
  td->id = id;
  td->desc = jsonx_parse(text, strlen(text), NULL);
  json_t *defs = json_object_get(td->desc, "AttributeDefinitions");
  if (!td->desc ||
      keyschema_of(json_object_get(td->desc, "KeySchema"), defs,
                   &td->ks) < 0) {
    def_free(td);
    return NULL;
  }
  const char *kinds[] = {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"};
  for (int k = 0; k < 2; k++) {
    json_t *arr = json_object_get(td->desc, kinds[k]);
    size_t i;
    json_t *ix;
    json_array_foreach(arr, i, ix) {
      td->ix = ms_realloc(td->ix, (td->nix + 1) * sizeof *td->ix);
      tindex_t *x = &td->ix[td->nix];
      memset(x, 0, sizeof *x);
      x->name = ms_strdup(str(ix, "IndexName") ? str(ix, "IndexName") : "");
      x->desc = ix;
      json_t *no = json_object_get(ix, "moonstepNo");
      x->no = (int)json_integer_value(no);
      json_object_del(ix, "moonstepNo");
      td->nix++;
      if (keyschema_of(json_object_get(ix, "KeySchema"), defs, &x->ks) < 0) {
        def_free(td);
        return NULL;
      }
    }
  }
  return td;
}

tdef_t *tables_def(tables_t *t, const char *name, fault_t *f) {
  if (!name) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'tableName' failed to satisfy constraint: Member must not "
               "be null");
    return NULL;
  }
  for (size_t i = 0; i < t->ndefs; i++)
    if (!strcmp(t->defs[i]->name, name)) return t->defs[i];
  sqlite3_stmt *st = tables_stmt(t, "SELECT id, def FROM ddb_tables WHERE "
                                 "name = ?1", f);
  if (!st) return NULL;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  tdef_t *td = NULL;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    td = def_load(sqlite3_column_int64(st, 0), name,
                  (const char *)sqlite3_column_text(st, 1));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc == SQLITE_ROW && !td) {
    tables_err(f, "InternalServerError", "the description of table %s is "
               "damaged", name);
    return NULL;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    tables_fail_db(t, f, "reading the catalog");
    return NULL;
  }
  if (!td) {
    tables_err(f, "ResourceNotFoundException", "Requested resource not "
               "found");
    return NULL;
  }
  t->defs = ms_realloc(t->defs, (t->ndefs + 1) * sizeof *t->defs);
  t->defs[t->ndefs++] = td;
  return td;
}

tindex_t *tables_index(tdef_t *td, const char *name, fault_t *f) {
  for (size_t i = 0; i < td->nix; i++)
    if (!strcmp(td->ix[i].name, name)) return &td->ix[i];
  tables_err(f, VALIDATION, "The table does not have the specified index: "
             "%s", name);
  return NULL;
}

/* ---- keys ------------------------------------------------------------- */

static const char *type_of(const json_t *av) {
  const char *ty = ddbval_type(av);
  return ty ? ty : "?";
}

/* Encode av (checked to be of type ty) into out. */
static int encode(const json_t *av, buf_t *out, fault_t *f) {
  char *err = NULL;
  if (ddbval_key_bytes(av, out, &err) == 0) return 0;
  tables_err(f, VALIDATION, "%s", err ? err : "invalid key value");
  free(err);
  return -1;
}

static bool empty_value(const json_t *av) {
  json_t *s = json_object_get(av, "S");
  if (s) return json_string_length(s) == 0;
  json_t *b = json_object_get(av, "B");
  return b && json_string_length(b) == 0;
}

/* One key attribute of the table's key: check and encode. */
static int key_attr(const char *name, char type, const json_t *item,
                    bool exact, buf_t *out, fault_t *f) {
  json_t *av = json_object_get(item, name);
  if (!av) {
    if (exact)
      tables_err(f, VALIDATION, "The provided key element does not match "
                 "the schema");
    else
      tables_err(f, VALIDATION, "One or more parameter values were "
                 "invalid: Missing the key %s in the item", name);
    return -1;
  }
  const char *ty = type_of(av);
  if (ty[0] != type || ty[1]) {
    if (exact)
      tables_err(f, VALIDATION, "The provided key element does not match "
                 "the schema");
    else
      tables_err(f, VALIDATION, "One or more parameter values were "
                 "invalid: Type mismatch for key %s expected: %c actual: "
                 "%s", name, type, ty);
    return -1;
  }
  if (empty_value(av)) {
    tables_err(f, VALIDATION, "One or more parameter values are not valid. "
               "The AttributeValue for a key attribute cannot contain an "
               "empty %s value. Key: %s",
               type == 'S' ? "string" : "binary", name);
    return -1;
  }
  return encode(av, out, f);
}

int tables_key_of(const keyschema_t *ks, const json_t *item, bool exact,
                  kb_t *k, fault_t *f) {
  if (!json_is_object(item)) {
    tables_err(f, VALIDATION, "The provided key element does not match the "
               "schema");
    return -1;
  }
  if (exact && json_object_size(item) != (ks->sk ? 2u : 1u)) {
    tables_err(f, VALIDATION, "The provided key element does not match the "
               "schema");
    return -1;
  }
  k->pk.len = k->sk.len = 0;
  if (key_attr(ks->pk, ks->pkt, item, exact, &k->pk, f) < 0) return -1;
  if (ks->sk && key_attr(ks->sk, ks->skt, item, exact, &k->sk, f) < 0)
    return -1;
  return 0;
}

/* One key attribute of an index: absent -> 0 (the item is not in it). */
static int index_attr(const tindex_t *ix, const char *name, char type,
                      const json_t *item, buf_t *out, fault_t *f) {
  json_t *av = json_object_get(item, name);
  if (!av) return 0;
  const char *ty = type_of(av);
  if (ty[0] != type || ty[1]) {
    tables_err(f, VALIDATION, "One or more parameter values were invalid: "
               "Type mismatch for Index Key %s Expected: %c Actual: %s "
               "IndexName: %s", name, type, ty, ix->name);
    return -1;
  }
  if (empty_value(av)) {
    tables_err(f, VALIDATION, "One or more parameter values are not valid. "
               "A value specified for a secondary index key is not "
               "supported. The AttributeValue for a key attribute cannot "
               "contain an empty string value. IndexName: %s, IndexKey: %s",
               ix->name, name);
    return -1;
  }
  return encode(av, out, f) < 0 ? -1 : 1;
}

int tables_index_key(const tindex_t *ix, const json_t *item, kb_t *k,
                     fault_t *f) {
  k->pk.len = k->sk.len = 0;
  int a = index_attr(ix, ix->ks.pk, ix->ks.pkt, item, &k->pk, f);
  if (a < 0) return -1;
  int b = ix->ks.sk ? index_attr(ix, ix->ks.sk, ix->ks.skt, item, &k->sk, f)
                    : 1;
  if (b < 0) return -1;
  return a && b;
}

json_t *tables_key_attrs(const keyschema_t *ks, const json_t *item) {
  json_t *o = json_object();
  json_t *v = json_object_get(item, ks->pk);
  if (v) json_object_set(o, ks->pk, v);
  if (ks->sk && (v = json_object_get(item, ks->sk)))
    json_object_set(o, ks->sk, v);
  return o;
}

bool tables_raw_prefix(char type) {
  static int raw[2] = {-1, -1};  /* S, B */
  int i = type == 'S' ? 0 : 1;
  if (raw[i] < 0) {
    json_t *av = i ? json_pack("{s:s}", "B", "YWI=") /* "ab" */
                   : json_pack("{s:s}", "S", "ab");
    buf_t b;
    buf_init(&b);
    char *err = NULL;
    raw[i] = ddbval_key_bytes(av, &b, &err) == 0 && b.len == 2 &&
             !memcmp(b.data, "ab", 2);
    free(err);
    buf_free(&b);
    json_decref(av);
  }
  return raw[i];
}

/* ---- items ------------------------------------------------------------ */

static void bind_blob(sqlite3_stmt *st, int i, const buf_t *b) {
  sqlite3_bind_blob(st, i, b->data ? b->data : "", (int)b->len,
                    SQLITE_STATIC);
}

int tables_load(tables_t *t, tdef_t *td, const kb_t *k, json_t **item,
                fault_t *f) {
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT item FROM ddb_t%lld WHERE pk = ?1 AND "
           "sk = ?2", (long long)td->id);
  *item = NULL;
  sqlite3_stmt *st = tables_stmt(t, sql, f);
  if (!st) return -1;
  bind_blob(st, 1, &k->pk);
  bind_blob(st, 2, &k->sk);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    *item = json_loadb(text, (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return tables_fail_db(t, f, "reading an item");
  return 0;
}

/* The stored text of an item is compact JSON, {"name":AV,...}. skip_value
 * returns the end of the JSON value at p (strings, objects and arrays
 * skipped by their brackets and quotes), or NULL when the text ends
 * first. */
static const char *skip_value(const char *p, const char *end) {
  int depth = 0;
  while (p < end) {
    char c = *p++;
    if (c == '"') {
      for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) return NULL;
        const char *b = q;  /* an even run of backslashes: the end */
        while (b > p && b[-1] == '\\') b--;
        p = q + 1;
        if ((q - b) % 2 == 0) break;
      }
      if (depth == 0) return p;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return p - 1;  /* after a scalar: its end */
      if (--depth == 0) return p;
    } else if (depth == 0 && (c == ',' || c == ' ')) {
      return p - 1;  /* the end of a scalar */
    }
  }
  return depth == 0 ? p : NULL;
}

/* Scan text for the top-level names; 1 when it is not the compact form
 * expected (a key with an escape, whitespace): the caller parses it all. */
static int scan_attrs(const char *p, size_t len, const char *const *names,
                      const size_t *nlen, int n, json_t *item) {
  const char *end = p + len;
  if (p == end || *p++ != '{') return 1;
  if (p < end && *p == '}') return 0;
  while (p < end) {
    if (*p++ != '"') return 1;
    const char *key = p, *q = memchr(p, '"', (size_t)(end - p));
    if (!q || memchr(key, '\\', (size_t)(q - key))) return 1;
    size_t klen = (size_t)(q - key);
    p = q + 1;
    if (p >= end || *p++ != ':') return 1;
    const char *v = p;
    if (!(p = skip_value(p, end))) return 1;
    for (int i = 0; i < n; i++) {
      if (nlen[i] != klen || memcmp(names[i], key, klen)) continue;
      json_t *x = json_loadb(v, (size_t)(p - v), 0, NULL);
      if (!x) return 1;
      json_object_set_new(item, names[i], x);
      break;
    }
    if (p >= end) return 1;
    if (*p == '}') return 0;
    if (*p++ != ',') return 1;
  }
  return 1;
}

int tables_load_attrs(tables_t *t, tdef_t *td, const kb_t *k,
                      const char *const *names, int n, json_t **item,
                      fault_t *f) {
  *item = NULL;
  if (n < 1 || n > TABLES_ATTRS_MAX) return 1;
  size_t nlen[TABLES_ATTRS_MAX];
  for (int i = 0; i < n; i++) nlen[i] = strlen(names[i]);
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT item FROM ddb_t%lld WHERE pk = ?1 AND "
           "sk = ?2", (long long)td->id);
  sqlite3_stmt *st = tables_stmt(t, sql, f);
  if (!st) return -1;
  bind_blob(st, 1, &k->pk);
  bind_blob(st, 2, &k->sk);
  int rc = sqlite3_step(st), out = 0;
  if (rc == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    *item = json_object();
    if (text && scan_attrs(text, (size_t)sqlite3_column_bytes(st, 0), names,
                           nlen, n, *item) != 0) {
      json_decref(*item);  /* not the compact form: parse it all */
      *item = NULL;
      out = 1;
    }
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    json_decref(*item);
    *item = NULL;
    return tables_fail_db(t, f, "reading an item");
  }
  return out;
}

static int step_done(tables_t *t, sqlite3_stmt *st, fault_t *f) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : tables_fail_db(t, f, "writing an item");
}

static int index_write(tables_t *t, tdef_t *td, tindex_t *ix, const kb_t *k,
                       const json_t *old, const json_t *item, fault_t *f) {
  kb_t a, b;
  kb_init(&a);
  kb_init(&b);
  int rc = 0, had = 0, has = 0;
  char sql[160];
  if (old && (had = tables_index_key(ix, old, &a, f)) < 0) had = 0;
  if (item && (has = tables_index_key(ix, item, &b, f)) < 0) rc = -1;
  if (rc == 0 && had && !(has && a.pk.len == b.pk.len && a.sk.len ==
                          b.sk.len && !memcmp(a.pk.data, b.pk.data, a.pk.len)
                          && !memcmp(a.sk.data ? a.sk.data : "",
                                     b.sk.data ? b.sk.data : "", a.sk.len))) {
    snprintf(sql, sizeof sql, "DELETE FROM ddb_t%lld_i%d WHERE ipk = ?1 AND "
             "isk = ?2 AND pk = ?3 AND sk = ?4", (long long)td->id, ix->no);
    sqlite3_stmt *st = tables_stmt(t, sql, f);
    if (!st) rc = -1;
    else {
      bind_blob(st, 1, &a.pk);
      bind_blob(st, 2, &a.sk);
      bind_blob(st, 3, &k->pk);
      bind_blob(st, 4, &k->sk);
      rc = step_done(t, st, f);
    }
  }
  if (rc == 0 && has) {
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO ddb_t%lld_i%d VALUES "
             "(?1, ?2, ?3, ?4)", (long long)td->id, ix->no);
    sqlite3_stmt *st = tables_stmt(t, sql, f);
    if (!st) rc = -1;
    else {
      bind_blob(st, 1, &b.pk);
      bind_blob(st, 2, &b.sk);
      bind_blob(st, 3, &k->pk);
      bind_blob(st, 4, &k->sk);
      rc = step_done(t, st, f);
    }
  }
  kb_free(&a);
  kb_free(&b);
  return rc;
}

static int dump_cb(const char *s, size_t n, void *ud) {
  return buf_append(ud, s, n);
}

int tables_store(tables_t *t, tdef_t *td, const kb_t *k, const json_t *old,
                 const json_t *item, fault_t *f) {
  char sql[96];
  sqlite3_stmt *st;
  if (item) {
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO ddb_t%lld VALUES "
             "(?1, ?2, ?3)", (long long)td->id);
    if (!(st = tables_stmt(t, sql, f))) return -1;
    buf_t text;
    buf_init(&text);
    json_dump_callback(item, dump_cb, &text, JSON_COMPACT);
    bind_blob(st, 1, &k->pk);
    bind_blob(st, 2, &k->sk);
    sqlite3_bind_text(st, 3, text.data ? text.data : "{}", (int)text.len,
                      SQLITE_STATIC);
    int rc = step_done(t, st, f);
    buf_free(&text);
    if (rc < 0) return -1;
  } else {
    snprintf(sql, sizeof sql, "DELETE FROM ddb_t%lld WHERE pk = ?1 AND "
             "sk = ?2", (long long)td->id);
    if (!(st = tables_stmt(t, sql, f))) return -1;
    bind_blob(st, 1, &k->pk);
    bind_blob(st, 2, &k->sk);
    if (step_done(t, st, f) < 0) return -1;
  }
  for (size_t i = 0; i < td->nix; i++)
    if (index_write(t, td, &td->ix[i], k, old, item, f) < 0) return -1;
  return 0;
}

/* Whether av holds a number whose text is not DynamoDB's canonical one. */
static bool odd_number(const json_t *av) {
  const char *ty = ddbval_type(av);
  if (!ty) return false;
  json_t *v = json_object_get(av, ty), *e;
  size_t i;
  const char *k;
  if (!strcmp(ty, "N") || !strcmp(ty, "NS")) {
    for (i = 0; i < (json_is_array(v) ? json_array_size(v) : 1); i++) {
      const char *n = json_string_value(json_is_array(v)
                                        ? json_array_get(v, i) : v);
      char *err = NULL, *c = n ? ddbnum_normalize(n, &err) : NULL;
      bool odd = c && strcmp(c, n);
      free(c);
      free(err);
      if (odd) return true;
    }
  } else if (!strcmp(ty, "L")) {
    json_array_foreach(v, i, e) if (odd_number(e)) return true;
  } else if (!strcmp(ty, "M")) {
    json_object_foreach(v, k, e) if (odd_number(e)) return true;
  }
  return false;
}

/* Rewrite the numbers of av (owned, not shared) in canonical form. */
static void fix_numbers(json_t *av) {
  const char *ty = ddbval_type(av);
  if (!ty) return;
  json_t *v = json_object_get(av, ty), *e;
  size_t i;
  const char *k;
  if (!strcmp(ty, "N") || !strcmp(ty, "NS")) {
    for (i = 0; i < (json_is_array(v) ? json_array_size(v) : 1); i++) {
      json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
      char *err = NULL, *c = ddbnum_normalize(json_string_value(s), &err);
      if (c) json_string_set(s, c);
      free(c);
      free(err);
    }
  } else if (!strcmp(ty, "L")) {
    json_array_foreach(v, i, e) fix_numbers(e);
  } else if (!strcmp(ty, "M")) {
    json_object_foreach(v, k, e) fix_numbers(e);
  }
}

json_t *tables_normalize(const json_t *item) {
  const char *k;
  json_t *v;
  bool odd = false;
  json_object_foreach((json_t *)item, k, v) odd = odd || odd_number(v);
  if (!odd) return json_incref((json_t *)item);
  json_t *copy = json_deep_copy(item);
  json_object_foreach(copy, k, v) fix_numbers(v);
  return copy;
}

static size_t b64_len(const char *s) {
  size_t n = strlen(s);
  while (n && s[n - 1] == '=') n--;
  return n * 3 / 4;
}

/* Significant digits of a number's text, as DynamoDB sizes numbers. */
static size_t num_size(const char *s) {
  size_t digits = 0, zeros = 0;
  bool lead = true;
  for (; *s && *s != 'e' && *s != 'E'; s++) {
    if (*s < '0' || *s > '9') continue;
    if (*s == '0' && lead) continue;
    lead = false;
    if (*s == '0') zeros++;
    else {
      digits += zeros + 1;
      zeros = 0;
    }
  }
  return (digits + 1) / 2 + 1;
}

static size_t value_size(const json_t *av) {
  const char *ty = ddbval_type(av);
  json_t *v = ty ? json_object_get(av, ty) : NULL;
  if (!ty) return 0;
  size_t n = 0, i;
  json_t *e;
  const char *key;
  switch (ty[0]) {
  case 'S':
    if (!ty[1]) return json_string_length(v);
    json_array_foreach(v, i, e) n += json_string_length(e);
    return n;
  case 'N':
    if (!ty[1]) return num_size(json_string_value(v) ? json_string_value(v)
                                                     : "");
    json_array_foreach(v, i, e) n += num_size(json_string_value(e));
    return n;
  case 'B':
    if (!strcmp(ty, "BOOL")) return 1;
    if (!ty[1]) return b64_len(json_string_value(v));
    json_array_foreach(v, i, e) n += b64_len(json_string_value(e));
    return n;
  case 'L':
    n = 3;
    json_array_foreach(v, i, e) n += 1 + value_size(e);
    return n;
  case 'M':
    n = 3;
    json_object_foreach((json_t *)v, key, e)
      n += 1 + strlen(key) + value_size(e);
    return n;
  default:  /* NULL */
    return 1;
  }
}

size_t tables_item_size(const json_t *item) {
  size_t n = 0;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)item, key, v) n += strlen(key) +
                                                   value_size(v);
  return n;
}

/* ---- CreateTable, DescribeTable, DeleteTable, ListTables ---------------- */

static int name_check(const char *what, const char *name, fault_t *f) {
  size_t n = strlen(name);
  if (n < 3 || n > 255) {
    tables_err(f, VALIDATION, "1 validation error detected: Value '%s' at "
               "'%s' failed to satisfy constraint: Member must have length "
               "%s", name, what, n < 3 ? "greater than or equal to 3"
                                       : "less than or equal to 255");
    return -1;
  }
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
          *p == '.')) {
      tables_err(f, VALIDATION, "1 validation error detected: Value '%s' "
                 "at '%s' failed to satisfy constraint: Member must "
                 "satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                 name, what);
      return -1;
    }
  return 0;
}

static void iso_now(char *out, size_t n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char s[32];
  strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%s.%03dZ", s, (int)(ts.tv_nsec / 1000000 % 1000));
}


#define ARN_PREFIX "arn:aws:dynamodb:us-east-1:123456789012:table/"

/* Check a KeySchema against AttributeDefinitions; used marks the
 * definitions it names. */
static int schema_check(const json_t *schema, const json_t *defs,
                        const char *what, bool *used, fault_t *f) {
  if (!json_is_array(schema) || json_array_size(schema) < 1 ||
      json_array_size(schema) > 2) {
    tables_err(f, VALIDATION, "1 validation error detected: Value at '%s' "
               "failed to satisfy constraint: Member must have length less "
               "than or equal to 2 and greater than or equal to 1", what);
    return -1;
  }
  size_t i;
  json_t *e;
  json_array_foreach(schema, i, e) {
    const char *n = str(e, "AttributeName"), *kt = str(e, "KeyType");
    if (!n || !kt || strcmp(kt, i == 0 ? "HASH" : "RANGE")) {
      tables_err(f, VALIDATION, "Invalid KeySchema: %s",
                 i == 0 ? "The first KeySchemaElement is not a HASH key type"
                        : "The second KeySchemaElement is not a RANGE key "
                          "type");
      return -1;
    }
    size_t j;
    json_t *d;
    bool found = false;
    json_array_foreach(defs, j, d)
      if (str(d, "AttributeName") && !strcmp(str(d, "AttributeName"), n)) {
        used[j] = found = true;
      }
    if (!found) {
      tables_err(f, VALIDATION, "One or more parameter values were "
                 "invalid: Some index key attributes are not defined in "
                 "AttributeDefinitions. Keys: [%s], AttributeDefinitions: "
                 "[...]", n);
      return -1;
    }
  }
  return 0;
}

/* Copy an index definition into its description. */
static json_t *index_desc(const json_t *ix, const char *table, int no,
                          bool global) {
  json_t *d = json_object();
  json_object_set(d, "IndexName", json_object_get(ix, "IndexName"));
  json_object_set(d, "KeySchema", json_object_get(ix, "KeySchema"));
  json_t *p = json_object_get(ix, "Projection");
  json_object_set_new(d, "Projection", p ? json_deep_copy(p)
                      : json_pack("{s:s}", "ProjectionType", "ALL"));
  if (global) {
    json_object_set_new(d, "IndexStatus", json_string("ACTIVE"));
    json_object_set_new(d, "ProvisionedThroughput",
                        json_pack("{s:i,s:i,s:i}", "NumberOfDecreasesToday",
                                  0, "ReadCapacityUnits", 0,
                                  "WriteCapacityUnits", 0));
  }
  json_object_set_new(d, "IndexSizeBytes", json_integer(0));
  json_object_set_new(d, "ItemCount", json_integer(0));
  json_object_set_new(d, "IndexArn", json_sprintf(ARN_PREFIX "%s/index/%s",
                      table, str(ix, "IndexName")));
  json_object_set_new(d, "moonstepNo", json_integer(no));
  return d;
}

static json_t *create_table(tables_t *t, const json_t *req, fault_t *f) {
  const char *name = str(req, "TableName");
  json_t *defs = json_object_get(req, "AttributeDefinitions");
  json_t *schema = json_object_get(req, "KeySchema");
  if (!name) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'tableName' failed to satisfy constraint: Member must not "
               "be null");
    return NULL;
  }
  if (name_check("tableName", name, f) < 0) return NULL;
  if (!json_is_array(defs) || !json_is_array(schema)) {
    tables_err(f, VALIDATION, "1 validation error detected: Value null at "
               "'%s' failed to satisfy constraint: Member must not be null",
               json_is_array(schema) ? "attributeDefinitions" : "keySchema");
    return NULL;
  }
  size_t i, nd = json_array_size(defs);
  json_t *d;
  json_array_foreach(defs, i, d) {
    const char *ty = str(d, "AttributeType");
    if (!str(d, "AttributeName") || !ty ||
        (strcmp(ty, "S") && strcmp(ty, "N") && strcmp(ty, "B"))) {
      tables_err(f, VALIDATION, "1 validation error detected: Value '%s' "
                 "at 'attributeDefinitions.%zu.member.attributeType' failed "
                 "to satisfy constraint: Member must satisfy enum value "
                 "set: [B, N, S]", ty ? ty : "null", i + 1);
      return NULL;
    }
  }
  bool *used = ms_calloc(nd + 1, sizeof *used);
  json_t *desc = NULL;
  if (schema_check(schema, defs, "keySchema", used, f) < 0) goto fail;
  desc = json_object();
  json_object_set(desc, "AttributeDefinitions", defs);
  json_object_set_new(desc, "TableName", json_string(name));
  json_object_set(desc, "KeySchema", schema);
  json_object_set_new(desc, "TableStatus", json_string("ACTIVE"));
  char now[40], id[40];
  iso_now(now, sizeof now);
  ms_uuid4(id);
  json_object_set_new(desc, "CreationDateTime", json_string(now));
  json_t *pt = json_object_get(req, "ProvisionedThroughput");
  json_t *ptd = json_pack("{s:i,s:i,s:i}", "NumberOfDecreasesToday", 0,
                          "ReadCapacityUnits", 0, "WriteCapacityUnits", 0);
  const char *caps[] = {"ReadCapacityUnits", "WriteCapacityUnits"};
  for (int c = 0; c < 2; c++)
    if (json_is_integer(json_object_get(pt, caps[c])))
      json_object_set(ptd, caps[c], json_object_get(pt, caps[c]));
  json_object_set_new(desc, "ProvisionedThroughput", ptd);
  json_object_set_new(desc, "TableSizeBytes", json_integer(0));
  json_object_set_new(desc, "ItemCount", json_integer(0));
  json_object_set_new(desc, "TableArn", json_sprintf(ARN_PREFIX "%s", name));
  json_object_set_new(desc, "TableId", json_string(id));
  const char *bm = str(req, "BillingMode");
  if (bm && !strcmp(bm, "PAY_PER_REQUEST"))
    json_object_set_new(desc, "BillingModeSummary",
                        json_pack("{s:s,s:s}", "BillingMode",
                                  "PAY_PER_REQUEST",
                                  "LastUpdateToPayPerRequestDateTime", now));
  const char *kinds[] = {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"};
  int no = 0;
  for (int k = 0; k < 2; k++) {
    json_t *arr = json_object_get(req, kinds[k]);
    if (!arr) continue;
    json_t *out = json_array();
    json_object_set_new(desc, kinds[k], out);
    json_t *ix;
    json_array_foreach(arr, i, ix) {
      const char *in = str(ix, "IndexName");
      if (!in || name_check("indexName", in, f) < 0) {
        if (!in)
          tables_err(f, VALIDATION, "1 validation error detected: Value "
                     "null at 'indexName' failed to satisfy constraint: "
                     "Member must not be null");
        goto fail;
      }
      for (int m = 0; m < 2; m++) {
        size_t j;
        json_t *o;
        json_array_foreach(json_object_get(desc, kinds[m]), j, o)
          if (o != ix && !strcmp(str(o, "IndexName"), in)) {
            tables_err(f, VALIDATION, "One or more parameter values were "
                       "invalid: Duplicate index name: %s", in);
            goto fail;
          }
      }
      if (schema_check(json_object_get(ix, "KeySchema"), defs,
                       "indexKeySchema", used, f) < 0)
        goto fail;
      json_array_append_new(out, index_desc(ix, name, ++no, k == 0));
    }
  }
  for (i = 0; i < nd; i++)
    if (!used[i]) {
      tables_err(f, VALIDATION, "One or more parameter values were invalid: "
                 "Number of attributes in KeySchema does not exactly match "
                 "number of attributes defined in AttributeDefinitions");
      goto fail;
    }
  free(used);
  used = NULL;

  if (tables_begin(t, f) < 0) goto fail;
  sqlite3_stmt *st = tables_stmt(t, "INSERT INTO ddb_tables(name, def) "
                                 "VALUES (?1, ?2)", f);
  if (!st) goto rollback;
  char *text = json_dumps(desc, JSON_COMPACT);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
  free(text);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc == SQLITE_CONSTRAINT) {
    tables_err(f, "ResourceInUseException", "Table already exists: %s",
               name);
    goto rollback;
  }
  if (rc != SQLITE_DONE) {
    tables_fail_db(t, f, "creating a table");
    goto rollback;
  }
  long long tid = (long long)sqlite3_last_insert_rowid(t->db);
  char *sql = ms_asprintf("CREATE TABLE ddb_t%lld(pk BLOB NOT NULL, sk BLOB "
                          "NOT NULL, item TEXT NOT NULL, PRIMARY KEY(pk, "
                          "sk)) WITHOUT ROWID", tid);
  rc = exec(t, sql, f);
  free(sql);
  for (int n = 1; rc == 0 && n <= no; n++) {
    sql = ms_asprintf("CREATE TABLE ddb_t%lld_i%d(ipk BLOB NOT NULL, isk "
                      "BLOB NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL, "
                      "PRIMARY KEY(ipk, isk, pk, sk)) WITHOUT ROWID", tid, n);
    rc = exec(t, sql, f);
    free(sql);
  }
  if (rc < 0 || tables_commit(t, f) < 0) goto rollback;
  for (int k = 0; k < 2; k++) {
    json_t *ix;
    json_array_foreach(json_object_get(desc, kinds[k]), i, ix)
      json_object_del(ix, "moonstepNo");
  }
  return json_pack("{s:o}", "TableDescription", desc);
rollback:
  tables_rollback(t);
fail:
  free(used);
  json_decref(desc);
  return NULL;
}

static int64_t count_of(tables_t *t, const char *sql, int64_t *bytes) {
  sqlite3_stmt *st = tables_stmt(t, sql, NULL);
  int64_t n = 0;
  if (!st) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
    if (bytes) *bytes = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  return n;
}

/* The description of td with its counts. */
static json_t *describe(tables_t *t, tdef_t *td) {
  json_t *d = json_deep_copy(td->desc);
  char sql[160];
  int64_t bytes = 0;
  snprintf(sql, sizeof sql, "SELECT count(*), total(length(item)) FROM "
           "ddb_t%lld", (long long)td->id);
  json_object_set_new(d, "ItemCount", json_integer(count_of(t, sql, &bytes)));
  json_object_set_new(d, "TableSizeBytes", json_integer(bytes));
  for (size_t i = 0; i < td->nix; i++) {
    snprintf(sql, sizeof sql, "SELECT count(*), 0 FROM ddb_t%lld_i%d",
             (long long)td->id, td->ix[i].no);
    json_t *kinds[] = {json_object_get(d, "GlobalSecondaryIndexes"),
                       json_object_get(d, "LocalSecondaryIndexes")};
    for (int k = 0; k < 2; k++) {
      size_t j;
      json_t *x;
      json_array_foreach(kinds[k], j, x)
        if (!strcmp(str(x, "IndexName"), td->ix[i].name))
          json_object_set_new(x, "ItemCount",
                              json_integer(count_of(t, sql, NULL)));
    }
  }
  return d;
}

static json_t *describe_table(tables_t *t, const json_t *req, fault_t *f) {
  const char *name = str(req, "TableName");
  tdef_t *td = tables_def(t, name, f);
  if (!td) {
    if (name && !strcmp(f->error, "ResourceNotFoundException")) {
      fault_clear(f);
      tables_err(f, "ResourceNotFoundException", "Requested resource not "
                 "found: Table: %s not found", name);
    }
    return NULL;
  }
  return json_pack("{s:o}", "Table", describe(t, td));
}

static json_t *delete_table(tables_t *t, const json_t *req, fault_t *f) {
  const char *name = str(req, "TableName");
  if (tables_begin(t, f) < 0) return NULL;
  tdef_t *td = tables_def(t, name, f);
  if (!td) {
    tables_rollback(t);
    if (name && !strcmp(f->error, "ResourceNotFoundException")) {
      fault_clear(f);
      tables_err(f, "ResourceNotFoundException", "Requested resource not "
                 "found: Table: %s not found", name);
    }
    return NULL;
  }
  json_t *d = describe(t, td);
  json_object_set_new(d, "TableStatus", json_string("DELETING"));
  char *sql = ms_asprintf("DROP TABLE ddb_t%lld", (long long)td->id);
  int rc = exec(t, sql, f);
  free(sql);
  for (size_t i = 0; rc == 0 && i < td->nix; i++) {
    sql = ms_asprintf("DROP TABLE ddb_t%lld_i%d", (long long)td->id,
                      td->ix[i].no);
    rc = exec(t, sql, f);
    free(sql);
  }
  sqlite3_stmt *st = rc ? NULL : tables_stmt(t, "DELETE FROM ddb_tables "
                                             "WHERE id = ?1", f);
  if (st) {
    sqlite3_bind_int64(st, 1, td->id);
    rc = step_done(t, st, f);
  } else {
    rc = -1;
  }
  if (rc < 0 || tables_commit(t, f) < 0) {
    tables_rollback(t);
    json_decref(d);
    return NULL;
  }
  drop_cache(t);
  drop_defs(t);
  return json_pack("{s:o}", "TableDescription", d);
}

static json_t *list_tables(tables_t *t, const json_t *req, fault_t *f) {
  const char *start = str(req, "ExclusiveStartTableName");
  json_t *lim = json_object_get(req, "Limit");
  json_int_t limit = lim ? json_integer_value(lim) : 100;
  if (lim && (!json_is_integer(lim) || limit < 1 || limit > 100)) {
    tables_err(f, VALIDATION, "1 validation error detected: Value '%s' at "
               "'limit' failed to satisfy constraint: Member must have "
               "value %s", json_is_integer(lim) ? "out of range" : "invalid",
               limit < 1 ? "greater than or equal to 1"
                         : "less than or equal to 100");
    return NULL;
  }
  sqlite3_stmt *st = tables_stmt(t, "SELECT name FROM ddb_tables WHERE "
                                 "name > ?1 ORDER BY name LIMIT ?2", f);
  if (!st) return NULL;
  sqlite3_bind_text(st, 1, start ? start : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, limit + 1);
  json_t *names = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(names,
                          json_string((const char *)
                                      sqlite3_column_text(st, 0)));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) {
    json_decref(names);
    tables_fail_db(t, f, "listing tables");
    return NULL;
  }
  json_t *r = json_object();
  if ((json_int_t)json_array_size(names) > limit) {
    json_array_remove(names, (size_t)limit);
    json_object_set(r, "LastEvaluatedTableName",
                    json_array_get(names, (size_t)limit - 1));
  }
  json_object_set_new(r, "TableNames", names);
  return r;
}

/* ---- the bulk path ------------------------------------------------------ */

int tables_key_names(tables_t *t, const char *table, const char **pk,
                     const char **sk, fault_t *f) {
  if (refresh(t, f) < 0) return -1;
  tdef_t *td = tables_def(t, table, f);
  if (!td) return -1;
  *pk = td->ks.pk;
  *sk = td->ks.sk;
  return 0;
}

int tables_put_rows(tables_t *t, const char *table, size_t n,
                    tables_row_fn next, void *ud, fault_t *f) {
  if (refresh(t, f) < 0) return -1;
  tdef_t *td = tables_def(t, table, f);
  if (!td) return -1;
  if (td->nix) return 1;
  char sql[96];
  snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO ddb_t%lld VALUES "
           "(?1, ?2, ?3)", (long long)td->id);
  sqlite3_stmt *st = tables_stmt(t, sql, f);
  if (!st || tables_begin(t, f) < 0) return -1;
  kb_t k;
  kb_init(&k);
  buf_t text;
  buf_init(&text);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    json_t *key = NULL;
    text.len = 0;
    if (next(ud, i, &text, &key, f) < 0 ||
        tables_key_of(&td->ks, key, false, &k, f) < 0) {
      rc = -1;
    } else {
      bind_blob(st, 1, &k.pk);
      bind_blob(st, 2, &k.sk);
      sqlite3_bind_text(st, 3, text.data, (int)text.len, SQLITE_STATIC);
      rc = step_done(t, st, f);
    }
    json_decref(key);
  }
  kb_free(&k);
  buf_free(&text);
  if (rc < 0 || tables_commit(t, f) < 0) {
    tables_rollback(t);
    return -1;
  }
  return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

typedef enum { A_PUT, A_GET, A_UPDATE, A_DELETE, A_QUERY, A_SCAN, A_BWRITE,
               A_BGET, A_TRANSACT, A_CREATE, A_DESCRIBE, A_DROP, A_LIST,
               A_NONE } action_t;

static const struct { const char *name; action_t a; } actions[] = {
  {"PutItem", A_PUT}, {"GetItem", A_GET}, {"UpdateItem", A_UPDATE},
  {"DeleteItem", A_DELETE}, {"Query", A_QUERY}, {"Scan", A_SCAN},
  {"BatchWriteItem", A_BWRITE}, {"BatchGetItem", A_BGET},
  {"TransactWriteItems", A_TRANSACT}, {"CreateTable", A_CREATE},
  {"DescribeTable", A_DESCRIBE}, {"DeleteTable", A_DROP},
  {"ListTables", A_LIST},
};

static action_t action_of(const char *name) {
  for (size_t i = 0; name && i < sizeof actions / sizeof *actions; i++)
    if (!strcmp(actions[i].name, name)) return actions[i].a;
  return A_NONE;
}

bool tables_has_action(const char *action) {
  return action_of(action) != A_NONE;
}

json_t *tables_call(tables_t *t, const char *action, const json_t *req,
                    int flags, json_t **detail, fault_t *f) {
  json_t *dummy = NULL;
  if (!detail) detail = &dummy;
  *detail = NULL;
  if (!json_is_object(req)) {
    tables_err(f, VALIDATION, "The request must be a JSON object");
    return NULL;
  }
  if (refresh(t, f) < 0) return NULL;
  json_t *r = NULL;
  switch (action_of(action)) {
  case A_PUT: r = tables_op_put(t, req, detail, f); break;
  case A_GET: r = tables_op_get(t, req, f); break;
  case A_UPDATE: r = tables_op_update(t, req, detail, f); break;
  case A_DELETE: r = tables_op_delete(t, req, detail, f); break;
  case A_QUERY: r = tables_op_query(t, req, f); break;
  case A_SCAN: r = tables_op_scan(t, req, f); break;
  case A_BWRITE: r = tables_op_batch_write(t, req, flags, f); break;
  case A_BGET: r = tables_op_batch_get(t, req, flags, f); break;
  case A_TRANSACT: r = tables_op_transact(t, req, flags, detail, f); break;
  case A_CREATE: r = create_table(t, req, f); break;
  case A_DESCRIBE: r = describe_table(t, req, f); break;
  case A_DROP: r = delete_table(t, req, f); break;
  case A_LIST: r = list_tables(t, req, f); break;
  case A_NONE:
    tables_err(f, "UnknownOperationException", "Unknown operation %s",
               action ? action : "(null)");
    break;
  }
  if (!r && detail == &dummy) json_decref(dummy);
  return r;
}
