/* store.c - the durable store over SQLite (see store.h).
 *
 * Schema version 2: executions (one row each, keyed by an integer row that
 * events refer to; arn and name are unique) and events (execution row, id,
 * type, timestamp, previousEventId and the event's JSON). Migrations run
 * in order in one BEGIN IMMEDIATE transaction, so two processes opening a
 * new file at once do not both create it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sqlite3.h>
#include "store.h"

#define STORE_BUSY_MS 5000  /* how long a writer waits for another's lock */

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[] = {
  "CREATE TABLE executions ("
  "  row INTEGER PRIMARY KEY,"
  "  arn TEXT NOT NULL UNIQUE,"
  "  name TEXT NOT NULL UNIQUE,"
  "  machine TEXT NOT NULL,"
  "  machine_arn TEXT NOT NULL,"
  "  definition TEXT NOT NULL,"
  "  input TEXT NOT NULL,"
  "  status TEXT NOT NULL,"
  "  output TEXT, error TEXT, cause TEXT,"
  "  start_date TEXT NOT NULL, stop_date TEXT,"
  "  express INTEGER NOT NULL DEFAULT 0);"
  "CREATE INDEX executions_start ON executions(start_date, row);"
  "CREATE TABLE events ("
  "  execution INTEGER NOT NULL REFERENCES executions(row),"
  "  id INTEGER NOT NULL,"
  "  type TEXT NOT NULL,"
  "  timestamp TEXT NOT NULL,"
  "  previous_id INTEGER NOT NULL,"
  "  event TEXT NOT NULL,"
  "  PRIMARY KEY (execution, id)) WITHOUT ROWID;",
  /* 2: task tokens (.waitForTaskToken) */
  "CREATE TABLE tokens ("
  "  token TEXT PRIMARY KEY,"
  "  execution INTEGER NOT NULL REFERENCES executions(row),"
  "  status TEXT NOT NULL,"        /* WAITING SUCCEEDED FAILED CLOSED */
  "  output TEXT, error TEXT, cause TEXT,"
  "  heartbeats INTEGER NOT NULL DEFAULT 0,"
  "  heartbeat_date REAL) WITHOUT ROWID;",
  /* 3: checkpoints (resume), the owner's lease, stop requests, redrive */
  "ALTER TABLE executions ADD COLUMN state TEXT;"
  "ALTER TABLE executions ADD COLUMN owner_pid INTEGER;"
  "ALTER TABLE executions ADD COLUMN owner_start INTEGER;"
  "ALTER TABLE executions ADD COLUMN heartbeat REAL;"
  "ALTER TABLE executions ADD COLUMN stop_requested INTEGER NOT NULL"
  "  DEFAULT 0;"
  "ALTER TABLE executions ADD COLUMN stop_error TEXT;"
  "ALTER TABLE executions ADD COLUMN stop_cause TEXT;"
  "ALTER TABLE executions ADD COLUMN redrive_count INTEGER NOT NULL"
  "  DEFAULT 0;"
  "ALTER TABLE executions ADD COLUMN redrive_date TEXT;"
  "CREATE TABLE frames ("
  "  execution INTEGER NOT NULL REFERENCES executions(row),"
  "  fid INTEGER NOT NULL,"
  "  state TEXT NOT NULL,"
  "  PRIMARY KEY (execution, fid)) WITHOUT ROWID;"
  /* a frame's big, rarely changing parts (kind 'items': Map items;
   * 'data': input and effective input) apart from its state, so that
   * rewriting the state does not copy them */
  "CREATE TABLE frame_blobs ("
  "  execution INTEGER NOT NULL REFERENCES executions(row),"
  "  fid INTEGER NOT NULL,"
  "  kind TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  PRIMARY KEY (execution, fid, kind)) WITHOUT ROWID;"
  "CREATE TABLE results ("
  "  execution INTEGER NOT NULL REFERENCES executions(row),"
  "  fid INTEGER NOT NULL,"
  "  slot INTEGER NOT NULL,"
  "  value TEXT NOT NULL,"
  "  PRIMARY KEY (execution, fid, slot)) WITHOUT ROWID;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

enum {
  Q_BEGIN, Q_COMMIT, Q_EVENT, Q_END, Q_CK_EXEC, Q_CK_FRAME, Q_CK_GONE,
  Q_CK_GONE_RESULTS, Q_CK_BLOB, Q_CK_GONE_BLOBS, Q_CK_CLEAR_BLOBS, Q_CK_RESULT, Q_CK_CLEAR, Q_CK_CLEAR_RESULTS, Q_STOP_CHECK,
  Q_COUNT
};

static const char *const queries[Q_COUNT] = {
  [Q_BEGIN] = "BEGIN IMMEDIATE",
  [Q_COMMIT] = "COMMIT",
  [Q_EVENT] = "INSERT INTO events(execution, id, type, timestamp,"
              " previous_id, event) VALUES (?, ?, ?, ?, ?, ?)",
  [Q_END] = "UPDATE executions SET status = ?, output = ?, error = ?,"
            " cause = ?, stop_date = ? WHERE row = ?",
  [Q_CK_EXEC] = "UPDATE executions SET state = ?, heartbeat = ?"
                " WHERE row = ?",
  [Q_CK_FRAME] = "INSERT INTO frames(execution, fid, state)"
                 " VALUES (?, ?, ?) ON CONFLICT(execution, fid) DO"
                 " UPDATE SET state = excluded.state",
  [Q_CK_BLOB] = "INSERT OR REPLACE INTO frame_blobs(execution, fid, kind,"
                " value) VALUES (?, ?, ?, ?)",
  [Q_CK_GONE_BLOBS] = "DELETE FROM frame_blobs WHERE execution = ?"
                      " AND fid = ?",
  [Q_CK_CLEAR_BLOBS] = "DELETE FROM frame_blobs WHERE execution = ?",
  [Q_CK_GONE] = "DELETE FROM frames WHERE execution = ? AND fid = ?",
  [Q_CK_GONE_RESULTS] = "DELETE FROM results WHERE execution = ?"
                        " AND fid = ?",
  [Q_CK_RESULT] = "INSERT OR REPLACE INTO results(execution, fid, slot,"
                  " value) VALUES (?, ?, ?, ?)",
  [Q_CK_CLEAR] = "DELETE FROM frames WHERE execution = ?",
  [Q_CK_CLEAR_RESULTS] = "DELETE FROM results WHERE execution = ?",
  [Q_STOP_CHECK] = "SELECT stop_requested, stop_error, stop_cause FROM"
                   " executions WHERE row = ?",
};

struct store {
  sqlite3 *db;
  sqlite3_stmt *q[Q_COUNT];  /* prepared once, for the hot path */
  bool in_tx;                /* a transaction is open */
  buf_t dump;                /* reused to serialize events */
  char *err;
};

static int fail(store_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(store_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  free(s->err);
  s->err = ms_vasprintf(fmt, ap);
  va_end(ap);
  return -1;
}

static int fail_db(store_t *s, const char *what) {
  return fail(s, "%s: %s", what, sqlite3_errmsg(s->db));
}

const char *store_errmsg(const store_t *s) {
  return s->err ? s->err : "no error";
}

static int exec_sql(store_t *s, const char *sql, const char *what) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
  fail(s, "%s: %s", what, msg ? msg : sqlite3_errmsg(s->db));
  sqlite3_free(msg);
  return -1;
}

/* The version in schema_version (0 for a new file), or -1. */
static int schema_version(store_t *s) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version",
                         -1, &st, NULL) != SQLITE_OK)
    return fail_db(s, "reading the schema version");
  int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  return v < 0 ? fail_db(s, "reading the schema version") : v;
}

static int migrate(store_t *s) {
  if (exec_sql(s, "CREATE TABLE IF NOT EXISTS schema_version("
               "version INTEGER NOT NULL)", "creating the schema") < 0)
    return -1;
  int v = schema_version(s);
  if (v < 0) return -1;
  if (v == SCHEMA_VERSION) return 0;
  if (v > SCHEMA_VERSION)
    return fail(s, "the database has schema version %d; this moonstep "
                "knows up to %d (a newer moonstep wrote it)", v,
                SCHEMA_VERSION);
  if (exec_sql(s, "BEGIN IMMEDIATE", "migrating the schema") < 0) return -1;
  v = schema_version(s);  /* another process may have migrated meanwhile */
  int rc = v < 0 ? -1 : 0;
  for (; rc == 0 && v < SCHEMA_VERSION; v++)
    rc = exec_sql(s, migrations[v], "migrating the schema");
  if (rc == 0) {
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO "
             "schema_version VALUES (%d)", SCHEMA_VERSION);
    rc = exec_sql(s, sql, "migrating the schema");
  }
  if (rc == 0) return exec_sql(s, "COMMIT", "migrating the schema");
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

/* The default path's folder is made on demand; others must exist. */
static int make_folder(const char *path, char **err) {
  if (strcmp(path, STORE_DEFAULT_PATH)) return 0;
  if (mkdir(".moonstep", 0777) == 0 || errno == EEXIST) return 0;
  *err = ms_asprintf("cannot create the folder .moonstep: %s",
                     strerror(errno));
  return -1;
}

store_t *store_open(const char *path, bool sync_full, char **err) {
  if (!path || !*path) path = STORE_DEFAULT_PATH;
  if (make_folder(path, err) < 0) return NULL;
  store_t *s = ms_calloc(1, sizeof *s);
  buf_init(&s->dump);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
  if (rc != SQLITE_OK) {
    fail(s, "%s", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
  } else {
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    rc = exec_sql(s, "PRAGMA journal_mode=WAL", "setting WAL mode");
    if (rc == 0)
      rc = exec_sql(s, sync_full ? "PRAGMA synchronous=FULL"
                                 : "PRAGMA synchronous=NORMAL",
                    "setting synchronous");
    if (rc == 0) rc = exec_sql(s, "PRAGMA foreign_keys=ON", "pragma");
    if (rc == 0) rc = migrate(s);
    for (int i = 0; rc == 0 && i < Q_COUNT; i++)
      if (sqlite3_prepare_v3(s->db, queries[i], -1,
                             SQLITE_PREPARE_PERSISTENT, &s->q[i],
                             NULL) != SQLITE_OK)
        rc = fail_db(s, "preparing a statement");
    if (rc == 0) return s;
  }
  *err = ms_asprintf("cannot open the database %s: %s", path, s->err);
  store_close(s);
  return NULL;
}

struct sqlite3 *store_sqlite(store_t *s) { return s ? s->db : NULL; }

void store_close(store_t *s) {
  if (!s) return;
  if (s->in_tx && s->db) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->q[i]);
  sqlite3_close(s->db);
  buf_free(&s->dump);
  free(s->err);
  free(s);
}

/* Run a prepared statement that returns no rows, then reset it. */
static int run(store_t *s, int q, const char *what) {
  sqlite3_stmt *st = s->q[q];
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : fail_db(s, what);
}

static int begin(store_t *s) {
  if (s->in_tx) return 0;
  if (run(s, Q_BEGIN, "beginning a transaction") < 0) return -1;
  s->in_tx = true;
  return 0;
}

int store_commit(store_t *s) {
  if (!s->in_tx) return 0;
  s->in_tx = false;
  if (run(s, Q_COMMIT, "committing") == 0) return 0;
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

static const char *str_of(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* Compact JSON text of v (NULL for NULL), malloc'd. */
static char *text_of(const json_t *v) {
  return v ? jsonx_dump(v, JSONX_COMPACT) : NULL;
}

int store_event(store_t *s, int64_t row, const json_t *event) {
  if (begin(s) < 0) return -1;
  sqlite3_stmt *st = s->q[Q_EVENT];
  s->dump.len = 0;
  if (jsonx_dump_buf(&s->dump, event, JSONX_COMPACT) < 0 ||
      buf_putc(&s->dump, '\0') < 0)
    return fail(s, "an event could not be serialized");
  sqlite3_bind_int64(st, 1, row);
  sqlite3_bind_int64(st, 2, json_integer_value(json_object_get(event,
                                                                "id")));
  bind_text(st, 3, str_of(event, "type"));
  bind_text(st, 4, str_of(event, "timestamp"));
  sqlite3_bind_int64(st, 5, json_integer_value(
                                json_object_get(event, "previousEventId")));
  sqlite3_bind_text(st, 6, s->dump.data, (int)s->dump.len - 1,
                    SQLITE_STATIC);
  return run(s, Q_EVENT, "recording an event");
}

int64_t store_exec_begin(store_t *s, const json_t *d, const char *machine,
                         const char *definition, const json_t *events,
                         bool *dup) {
  *dup = false;
  if (store_commit(s) < 0 || begin(s) < 0) return -1;
  const char *name = str_of(d, "name");
  sqlite3_stmt *st = NULL;
  int64_t row = -1;
  char *input = text_of(json_object_get(d, "input"));
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM executions WHERE name = ?",
                         -1, &st, NULL) != SQLITE_OK) {
    fail_db(s, "looking up the name");
    goto done;
  }
  bind_text(st, 1, name);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  st = NULL;
  if (rc == SQLITE_ROW) {
    /* AWS's StartExecution answers ExecutionAlreadyExists for a closed
     * execution's name whatever the input; the open-and-same-input case
     * (idempotent on AWS) is not told apart here. */
    *dup = true;
    fail(s, "an execution named %s already exists "
         "(ExecutionAlreadyExists)", name);
    goto done;
  }
  if (rc != SQLITE_DONE) {
    fail_db(s, "looking up the name");
    goto done;
  }
  if (sqlite3_prepare_v2(s->db, "INSERT INTO executions(arn, name, machine,"
                         " machine_arn, definition, input, status,"
                         " start_date, express) VALUES"
                         " (?, ?, ?, ?, ?, ?, 'RUNNING', ?, 0)", -1, &st,
                         NULL) != SQLITE_OK) {
    fail_db(s, "recording the execution");
    goto done;
  }
  bind_text(st, 1, str_of(d, "executionArn"));
  bind_text(st, 2, name);
  bind_text(st, 3, machine);
  bind_text(st, 4, str_of(d, "stateMachineArn"));
  bind_text(st, 5, definition);
  bind_text(st, 6, input ? input : "{}");
  bind_text(st, 7, str_of(d, "startDate"));
  rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) {
    fail_db(s, "recording the execution");
    goto done;
  }
  row = sqlite3_last_insert_rowid(s->db);
  size_t i;
  json_t *ev;
  json_array_foreach(events, i, ev) {
    if (store_event(s, row, ev) < 0) {
      row = -1;
      goto done;
    }
  }
  if (store_commit(s) < 0) row = -1;
done:
  sqlite3_finalize(st);
  free(input);
  if (row < 0 && s->in_tx) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
  }
  return row;
}

int store_exec_end(store_t *s, int64_t row, const json_t *d) {
  if (begin(s) < 0) return -1;
  sqlite3_stmt *st = s->q[Q_END];
  char *output = text_of(json_object_get(d, "output"));
  bind_text(st, 1, str_of(d, "status"));
  bind_text(st, 2, output);
  bind_text(st, 3, str_of(d, "error"));
  bind_text(st, 4, str_of(d, "cause"));
  bind_text(st, 5, str_of(d, "stopDate"));
  sqlite3_bind_int64(st, 6, row);
  int rc = run(s, Q_END, "recording the end of the execution");
  free(output);
  if (rc == 0) return store_commit(s);
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_tx = false;
  return -1;
}

/* ---- reading ------------------------------------------------------------ */

/* Parse stored JSON text; a value that does not parse stays a string. */
static json_t *json_column(sqlite3_stmt *st, int i) {
  const char *t = (const char *)sqlite3_column_text(st, i);
  if (!t) return NULL;
  json_t *v = jsonx_parse(t, (size_t)sqlite3_column_bytes(st, i), NULL);
  return v ? v : json_string(t);
}

static void set_text(json_t *o, const char *key, sqlite3_stmt *st, int i) {
  const char *t = (const char *)sqlite3_column_text(st, i);
  if (t) json_object_set_new(o, key, json_string(t));
}

/* The row of execution id (ARN or name): > 0, 0 when there is none (with
 * the message set), -1 on failure. */
/* The columns every execution query starts with (arn, machine_arn, name,
 * status, start_date, stop_date) as ListExecutions' item. */
static json_t *summary(sqlite3_stmt *st) {
  static const char *const keys[] = {"executionArn", "stateMachineArn",
                                     "name", "status", "startDate",
                                     "stopDate"};
  json_t *e = json_object();
  for (int i = 0; i < 6; i++) set_text(e, keys[i], st, i);
  return e;
}

static int64_t find(store_t *s, const char *id) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT row FROM executions WHERE arn = ?1"
                         " OR name = ?1", -1, &st, NULL) != SQLITE_OK)
    return fail_db(s, "looking up the execution");
  bind_text(st, 1, id);
  int rc = sqlite3_step(st);
  int64_t row = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW) return row;
  if (rc == SQLITE_DONE) {
    fail(s, "no execution named or with the ARN '%s'", id);
    return 0;
  }
  return fail_db(s, "looking up the execution");
}

json_t *store_describe(store_t *s, const char *id, bool *missing) {
  *missing = false;
  int64_t row = find(s, id);
  if (row <= 0) {
    *missing = row == 0;
    return NULL;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT arn, machine_arn, name, status,"
                         " start_date, stop_date, input, output, error,"
                         " cause, redrive_count, redrive_date FROM"
                         " executions WHERE row = ?", -1, &st,
                         NULL) != SQLITE_OK) {
    fail_db(s, "reading the execution");
    return NULL;
  }
  sqlite3_bind_int64(st, 1, row);
  json_t *d = NULL;
  if (sqlite3_step(st) == SQLITE_ROW) {
    d = summary(st);
    json_object_set_new(d, "input", json_column(st, 6));
    json_t *out = json_column(st, 7);
    if (out) json_object_set_new(d, "output", out);
    set_text(d, "error", st, 8);
    set_text(d, "cause", st, 9);
    if (sqlite3_column_int64(st, 10) > 0) {
      json_object_set_new(d, "redriveCount",
                          json_integer(sqlite3_column_int64(st, 10)));
      set_text(d, "redriveDate", st, 11);
    }
  } else {
    fail_db(s, "reading the execution");
  }
  sqlite3_finalize(st);
  return d;
}

json_t *store_history(store_t *s, const char *id, bool reverse,
                      bool *missing) {
  *missing = false;
  int64_t row = find(s, id);
  if (row <= 0) {
    *missing = row == 0;
    return NULL;
  }
  sqlite3_stmt *st = NULL;
  const char *sql = reverse
      ? "SELECT event FROM events WHERE execution = ? ORDER BY id DESC"
      : "SELECT event FROM events WHERE execution = ? ORDER BY id";
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    fail_db(s, "reading the history");
    return NULL;
  }
  sqlite3_bind_int64(st, 1, row);
  json_t *events = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(events, json_column(st, 0));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    json_decref(events);
    fail_db(s, "reading the history");
    return NULL;
  }
  return json_pack("{so}", "events", events);
}

json_t *store_list(store_t *s, const char *status, const char *machine) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT arn, machine_arn, name, status,"
                         " start_date, stop_date FROM executions"
                         " WHERE (?1 IS NULL OR status = ?1)"
                         " AND (?2 IS NULL OR machine = ?2)"
                         " ORDER BY start_date DESC, row DESC", -1, &st,
                         NULL) != SQLITE_OK) {
    fail_db(s, "listing executions");
    return NULL;
  }
  bind_text(st, 1, status);
  bind_text(st, 2, machine);
  json_t *list = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_array_append_new(list, summary(st));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    json_decref(list);
    fail_db(s, "listing executions");
    return NULL;
  }
  return json_pack("{so}", "executions", list);
}

/* ---- task tokens -------------------------------------------------------- */

/* Prepare sql into *st; -1 (message set) on failure. */
static int prepare(store_t *s, const char *sql, sqlite3_stmt **st,
                   const char *what) {
  *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK) return 0;
  return fail_db(s, what);
}

int store_token_open(store_t *s, int64_t row, const char *token) {
  if (begin(s) < 0) return -1;
  sqlite3_stmt *st;
  if (prepare(s, "INSERT INTO tokens(token, execution, status) VALUES"
              " (?, ?, 'WAITING')", &st, "recording a task token") < 0)
    return -1;
  bind_text(st, 1, token);
  sqlite3_bind_int64(st, 2, row);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return fail_db(s, "recording a task token");
  /* committed at once: the handler may hand the token on right away */
  return store_commit(s);
}

int store_token_check(store_t *s, const char *token, store_token_t *t) {
  *t = (store_token_t){0};
  sqlite3_stmt *st;
  if (prepare(s, "SELECT status, output, error, cause, heartbeats FROM"
              " tokens WHERE token = ?", &st, "reading a task token") < 0)
    return -1;
  bind_text(st, 1, token);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *status = (const char *)sqlite3_column_text(st, 0);
    t->status = !status ? STORE_TOKEN_CLOSED
                : !strcmp(status, "WAITING") ? STORE_TOKEN_WAITING
                : !strcmp(status, "SUCCEEDED") ? STORE_TOKEN_SUCCEEDED
                : !strcmp(status, "FAILED") ? STORE_TOKEN_FAILED
                : STORE_TOKEN_CLOSED;
    const char *v = (const char *)sqlite3_column_text(st, 1);
    t->output = v ? ms_strdup(v) : NULL;
    v = (const char *)sqlite3_column_text(st, 2);
    t->error = v ? ms_strdup(v) : NULL;
    v = (const char *)sqlite3_column_text(st, 3);
    t->cause = v ? ms_strdup(v) : NULL;
    t->heartbeats = sqlite3_column_int64(st, 4);
  } else if (rc == SQLITE_DONE) {
    t->status = STORE_TOKEN_MISSING;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE
             ? 0 : fail_db(s, "reading a task token");
}

void store_token_free(store_token_t *t) {
  free(t->output);
  free(t->error);
  free(t->cause);
  *t = (store_token_t){0};
}

int store_token_close(store_t *s, const char *token) {
  if (begin(s) < 0) return -1;
  sqlite3_stmt *st;
  if (prepare(s, "UPDATE tokens SET status = 'CLOSED' WHERE token = ? AND"
              " status = 'WAITING'", &st, "closing a task token") < 0)
    return -1;
  bind_text(st, 1, token);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : fail_db(s, "closing a task token");
}

int store_token_send(store_t *s, const char *token, store_token_status_t to,
                     const char *output, const char *error,
                     const char *cause, store_token_status_t *was) {
  *was = STORE_TOKEN_MISSING;
  if (store_commit(s) < 0 || begin(s) < 0) return -1;
  store_token_t t;
  int rc = store_token_check(s, token, &t);
  *was = t.status;
  store_token_free(&t);
  if (rc == 0 && *was == STORE_TOKEN_WAITING) {
    sqlite3_stmt *st;
    const char *sql = to == STORE_TOKEN_WAITING
        ? "UPDATE tokens SET heartbeats = heartbeats + 1, heartbeat_date ="
          " julianday('now') WHERE token = ?1"
        : "UPDATE tokens SET status = ?2, output = ?3, error = ?4,"
          " cause = ?5 WHERE token = ?1";
    rc = prepare(s, sql, &st, "completing a task token");
    if (rc == 0) {
      bind_text(st, 1, token);
      if (to != STORE_TOKEN_WAITING) {
        bind_text(st, 2, to == STORE_TOKEN_SUCCEEDED ? "SUCCEEDED"
                                                     : "FAILED");
        bind_text(st, 3, output);
        bind_text(st, 4, error);
        bind_text(st, 5, cause);
      }
      if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail_db(s, "completing a task token");
      sqlite3_finalize(st);
    }
  }
  if (rc == 0) return store_commit(s);
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_tx = false;
  return -1;
}

/* ---- checkpoints, the owner's lease, stop requests ---------------------
 * durable.c decides what is written when; these write it in the open
 * transaction (opening one if none is), next to the events. */

/* Bind v's compact JSON text (NULL: SQL NULL) to parameter i; the text
 * stays in s->dump until the statement ran. */
static int bind_json(store_t *s, sqlite3_stmt *st, int i, const json_t *v) {
  if (!v) {
    sqlite3_bind_null(st, i);
    return 0;
  }
  s->dump.len = 0;
  if (jsonx_dump_buf(&s->dump, v, JSONX_COMPACT) < 0)
    return fail(s, "a checkpoint could not be serialized");
  sqlite3_bind_text(st, i, s->dump.data, (int)s->dump.len, SQLITE_STATIC);
  return 0;
}

int store_ck_exec(store_t *s, int64_t row, const json_t *state,
                  double heartbeat) {
  if (begin(s) < 0) return -1;
  sqlite3_stmt *st = s->q[Q_CK_EXEC];
  if (bind_json(s, st, 1, state) < 0) return -1;
  sqlite3_bind_double(st, 2, heartbeat);
  sqlite3_bind_int64(st, 3, row);
  return run(s, Q_CK_EXEC, "writing a checkpoint");
}

int store_ck_frame(store_t *s, int64_t row, int64_t fid,
                   const json_t *state, const json_t *data,
                   const json_t *items) {
  if (begin(s) < 0) return -1;
  sqlite3_stmt *st = s->q[Q_CK_FRAME];
  sqlite3_bind_int64(st, 1, row);
  sqlite3_bind_int64(st, 2, fid);
  int rc = bind_json(s, st, 3, state);
  if (rc == 0) rc = run(s, Q_CK_FRAME, "writing a checkpoint");
  else sqlite3_clear_bindings(st);
  const json_t *blob[2] = {items, data};
  static const char *const kind[2] = {"items", "data"};
  for (int i = 0; i < 2 && rc == 0; i++) {
    if (!blob[i]) continue;
    st = s->q[Q_CK_BLOB];
    sqlite3_bind_int64(st, 1, row);
    sqlite3_bind_int64(st, 2, fid);
    sqlite3_bind_text(st, 3, kind[i], -1, SQLITE_STATIC);
    rc = bind_json(s, st, 4, blob[i]);
    if (rc == 0) rc = run(s, Q_CK_BLOB, "writing a checkpoint");
    else sqlite3_clear_bindings(st);
  }
  return rc;
}

static int by_row_fid(store_t *s, int q, int64_t row, int64_t fid) {
  sqlite3_bind_int64(s->q[q], 1, row);
  sqlite3_bind_int64(s->q[q], 2, fid);
  return run(s, q, "writing a checkpoint");
}

int store_ck_gone(store_t *s, int64_t row, int64_t fid) {
  if (begin(s) < 0 || by_row_fid(s, Q_CK_GONE, row, fid) < 0 ||
      by_row_fid(s, Q_CK_GONE_BLOBS, row, fid) < 0)
    return -1;
  return by_row_fid(s, Q_CK_GONE_RESULTS, row, fid);
}

int store_ck_result(store_t *s, int64_t row, int64_t fid, int64_t slot,
                    const json_t *value) {
  if (begin(s) < 0) return -1;
  if (!value) return by_row_fid(s, Q_CK_GONE_RESULTS, row, fid);
  sqlite3_stmt *st = s->q[Q_CK_RESULT];
  sqlite3_bind_int64(st, 1, row);
  sqlite3_bind_int64(st, 2, fid);
  sqlite3_bind_int64(st, 3, slot);
  if (bind_json(s, st, 4, value) < 0) {
    sqlite3_clear_bindings(st);
    return -1;
  }
  return run(s, Q_CK_RESULT, "writing a checkpoint");
}

int store_ck_clear(store_t *s, int64_t row) {
  if (begin(s) < 0) return -1;
  sqlite3_bind_int64(s->q[Q_CK_CLEAR], 1, row);
  if (run(s, Q_CK_CLEAR, "clearing a checkpoint") < 0) return -1;
  sqlite3_bind_int64(s->q[Q_CK_CLEAR_BLOBS], 1, row);
  if (run(s, Q_CK_CLEAR_BLOBS, "clearing a checkpoint") < 0) return -1;
  sqlite3_bind_int64(s->q[Q_CK_CLEAR_RESULTS], 1, row);
  return run(s, Q_CK_CLEAR_RESULTS, "clearing a checkpoint");
}

int store_stop_check(store_t *s, int64_t row, bool *stop, char **error,
                     char **cause) {
  sqlite3_stmt *st = s->q[Q_STOP_CHECK];
  *stop = false;
  *error = *cause = NULL;
  sqlite3_bind_int64(st, 1, row);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_int(st, 0)) {
    const char *e = (const char *)sqlite3_column_text(st, 1);
    const char *c = (const char *)sqlite3_column_text(st, 2);
    *stop = true;
    *error = e ? ms_strdup(e) : NULL;
    *cause = c ? ms_strdup(c) : NULL;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE
             ? 0 : fail_db(s, "reading a stop request");
}

/* Run sql with row bound to ?1 (and text to ?2, ?3 when given) and no
 * result rows, in the open transaction. */
static int exec_row(store_t *s, const char *sql, int64_t row,
                    const char *t2, const char *t3, const char *what) {
  sqlite3_stmt *st;
  if (begin(s) < 0 || prepare(s, sql, &st, what) < 0) return -1;
  sqlite3_bind_int64(st, 1, row);
  if (sqlite3_bind_parameter_count(st) >= 2) bind_text(st, 2, t2);
  if (sqlite3_bind_parameter_count(st) >= 3) bind_text(st, 3, t3);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : fail_db(s, what);
}

int store_stop_request(store_t *s, int64_t row, const char *error,
                       const char *cause) {
  if (exec_row(s, "UPDATE executions SET stop_requested = 1,"
               " stop_error = ?2, stop_cause = ?3 WHERE row = ?1 AND"
               " status = 'RUNNING'", row, error, cause,
               "recording a stop request") < 0)
    return -1;
  return store_commit(s);
}

/* Each row of sql (row bound to ?1) as an array of its columns parsed as
 * JSON where they parse, integers as integers. */
static json_t *rows_of(store_t *s, const char *sql, int64_t row) {
  sqlite3_stmt *st;
  if (prepare(s, sql, &st, "reading a checkpoint") < 0) return NULL;
  sqlite3_bind_int64(st, 1, row);
  json_t *out = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *r = json_array();
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      int t = sqlite3_column_type(st, i);
      json_array_append_new(r, t == SQLITE_INTEGER
                                   ? json_integer(sqlite3_column_int64(st, i))
                               : t == SQLITE_NULL ? json_null()
                               : json_column(st, i));
    }
    json_array_append_new(out, r);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    json_decref(out);
    fail_db(s, "reading a checkpoint");
    return NULL;
  }
  return out;
}

json_t *store_exec_load(store_t *s, const char *id, bool *missing) {
  *missing = false;
  int64_t row = find(s, id);
  if (row <= 0) {
    *missing = row == 0;
    return NULL;
  }
  json_t *r = rows_of(s, "SELECT row, name, arn, machine, definition,"
                      " input, status, state, owner_pid, owner_start,"
                      " redrive_count, stop_requested, stop_error,"
                      " stop_cause, start_date FROM executions"
                      " WHERE row = ?1", row);
  json_t *c = json_array_get(r, 0);
  if (!c) {
    json_decref(r);
    if (!s->err) fail(s, "the execution vanished");
    return NULL;
  }
  static const char *const keys[] = {
    "row", "name", "arn", "machine", "definition", "input", "status",
    "state", "owner_pid", "owner_start", "redrive_count", "stop_requested",
    "stop_error", "stop_cause", "start_date"};
  json_t *o = json_object();
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    json_object_set(o, keys[i], json_array_get(c, i));
  json_decref(r);
  /* the definition and names are text even when they parse as JSON */
  sqlite3_stmt *st;
  if (prepare(s, "SELECT definition, name, machine FROM executions"
              " WHERE row = ?", &st, "reading the execution") < 0) {
    json_decref(o);
    return NULL;
  }
  sqlite3_bind_int64(st, 1, row);
  if (sqlite3_step(st) == SQLITE_ROW) {
    set_text(o, "definition", st, 0);
    set_text(o, "name", st, 1);
    set_text(o, "machine", st, 2);
  }
  sqlite3_finalize(st);
  json_t *frames = rows_of(s, "SELECT fid, state, (SELECT value FROM"
                           " frame_blobs b WHERE b.execution = ?1 AND"
                           " b.fid = f.fid AND kind = 'items'), (SELECT"
                           " value FROM frame_blobs b WHERE b.execution ="
                           " ?1 AND b.fid = f.fid AND kind = 'data') FROM"
                           " frames f WHERE execution = ?1 ORDER BY fid",
                           row);
  json_t *results = frames ? rows_of(s, "SELECT fid, slot, value FROM"
                                     " results WHERE execution = ?1", row)
                           : NULL;
  if (!results) {
    json_decref(frames);
    json_decref(o);
    return NULL;
  }
  json_object_set_new(o, "frames", frames);
  json_object_set_new(o, "results", results);
  return o;
}

int store_exec_own(store_t *s, int64_t row, int64_t pid, int64_t start,
                   int64_t expect, bool *lost) {
  *lost = false;
  sqlite3_stmt *st;
  if (begin(s) < 0 ||
      prepare(s, "UPDATE executions SET owner_pid = ?, owner_start = ?,"
              " heartbeat = ? WHERE row = ? AND status = 'RUNNING' AND"
              " coalesce(owner_pid, 0) = ?", &st, "taking the execution")
          < 0)
    return -1;
  sqlite3_bind_int64(st, 1, pid);
  sqlite3_bind_int64(st, 2, start);
  sqlite3_bind_double(st, 3, (double)time(NULL));
  sqlite3_bind_int64(st, 4, row);
  sqlite3_bind_int64(st, 5, expect);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return fail_db(s, "taking the execution");
  *lost = sqlite3_changes(s->db) == 0;
  return store_commit(s);
}

int store_events_after(store_t *s, int64_t row, int64_t count) {
  if (begin(s) < 0) return -1;
  sqlite3_stmt *st;
  if (prepare(s, "DELETE FROM events WHERE execution = ? AND id > ?", &st,
              "dropping events of a lost transition") < 0)
    return -1;
  sqlite3_bind_int64(st, 1, row);
  sqlite3_bind_int64(st, 2, count);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0
                           : fail_db(s, "dropping events of a lost "
                                     "transition");
}

int store_tokens_waiting(store_t *s, int64_t row, json_t **tokens) {
  *tokens = rows_of(s, "SELECT token FROM tokens WHERE execution = ?1 AND"
                    " status = 'WAITING'", row);
  return *tokens ? 0 : -1;
}

int store_exec_reopen(store_t *s, int64_t row, int64_t redrive_count,
                      const char *redrive_date) {
  char n[24];
  snprintf(n, sizeof n, "%lld", (long long)redrive_count);
  return exec_row(s, "UPDATE executions SET status = 'RUNNING', output ="
                  " NULL, error = NULL, cause = NULL, stop_date = NULL,"
                  " stop_requested = 0, stop_error = NULL, stop_cause ="
                  " NULL, redrive_count = CAST(?2 AS INTEGER),"
                  " redrive_date = ?3 WHERE row = ?1", row, n,
                  redrive_date, "reopening the execution");
}

int store_check(store_t *s, char **result) {
  *result = NULL;
  sqlite3_stmt *st;
  if (prepare(s, "PRAGMA integrity_check", &st, "checking the database")
      < 0)
    return -1;
  buf_t b;
  buf_init(&b);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (b.len) buf_putc(&b, '\n');
    buf_append(&b, t ? t : "", t ? strlen(t) : 0);
  }
  sqlite3_finalize(st);
  buf_putc(&b, '\0');
  *result = ms_strdup(b.data);
  buf_free(&b);
  return rc == SQLITE_DONE ? 0 : fail_db(s, "checking the database");
}
