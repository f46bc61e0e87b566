/* registry.c - deployed stacks in SQLite (see registry.h). */
#include "registry.h"

#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"

#define BUSY_MS 5000  /* how long to wait for another writer's lock */

static const char schema[] =
  "CREATE TABLE IF NOT EXISTS reg_stacks("
  "  name TEXT PRIMARY KEY, template TEXT NOT NULL, tasks_dir TEXT,"
  "  deployed TEXT NOT NULL, stack TEXT NOT NULL);"
  "CREATE TABLE IF NOT EXISTS reg_machines("
  "  name TEXT PRIMARY KEY, arn TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
  "  definition TEXT NOT NULL,"
  "  stack TEXT NOT NULL REFERENCES reg_stacks(name));";

/* Open the database; readers (create false) get NULL and no error when
 * there is no database or nothing was ever deployed into it. */
static sqlite3 *open_db(const char *path, bool create, char **err) {
  if (!path || !*path) path = ".moonstep/moonstep.db";
  if (!create) {
    sqlite3 *db = NULL;
    bool memory = !strcmp(path, ":memory:");
    if (memory || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY |
                                  SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
      sqlite3_close(db);
      return NULL;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    sqlite3_stmt *st = NULL;
    bool deployed = sqlite3_prepare_v2(db, "SELECT 1 FROM reg_stacks", -1,
                                       &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    if (!deployed) {
      sqlite3_close(db);
      return NULL;
    }
    return db;
  }
  if (!strcmp(path, ".moonstep/moonstep.db") && mkdir(".moonstep", 0777) &&
      errno != EEXIST) {
    *err = ms_asprintf("cannot create the folder .moonstep: %s",
                       strerror(errno));
    return NULL;
  }
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                           SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, BUSY_MS);
    rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
  }
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    *err = ms_asprintf("%s: %s", path, db ? sqlite3_errmsg(db)
                                          : sqlite3_errstr(rc));
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static int sql_fail(sqlite3 *db, const char *what, char **err) {
  *err = ms_asprintf("%s: %s", what, sqlite3_errmsg(db));
  return -1;
}

/* Run sql with text parameters (NULL-terminated list). */
static int run(sqlite3 *db, const char *sql, const char *const *args,
               char **err) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, "registry", err);
  for (int i = 0; args && args[i]; i++)
    sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : sql_fail(db, "registry", err);
}

static const char *text_or_empty(sqlite3_stmt *st, int k) {
  const char *t = (const char *)sqlite3_column_text(st, k);
  return t ? t : "";
}

static const char *field(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

int registry_put_stack(const char *path, const cfn_stack_t *s,
                       const char *template_path, const char *tasks_dir,
                       char **err) {
  *err = NULL;
  sqlite3 *db = open_db(path, true, err);
  if (!db) return -1;
  json_t *whole = json_pack("{sOsOsOsOsOsO}", "tables", s->tables,
                            "functions", s->functions, "machines",
                            s->machines, "buckets", s->buckets, "triggers",
                            s->triggers, "outputs", s->outputs);
  char *stack_json = json_dumps(whole, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(whole);
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
               ? 0 : sql_fail(db, "registry", err);
  const char *name[] = {s->name, NULL};
  if (!rc) rc = run(db, "DELETE FROM reg_machines WHERE stack = ?1", name,
                    err);
  if (!rc) rc = run(db, "DELETE FROM reg_stacks WHERE name = ?1", name, err);
  const char *st[] = {s->name, template_path, tasks_dir ? tasks_dir : "",
                      stack_json, NULL};
  if (!rc)
    rc = run(db, "INSERT INTO reg_stacks(name, template, tasks_dir, stack,"
             " deployed) VALUES(?1, ?2, ?3, ?4,"
             " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", st, err);
  size_t i;
  json_t *m;
  json_array_foreach(s->machines, i, m) {
    if (rc) break;
    const char *args[] = {field(m, "Name"), field(m, "Arn"), field(m, "Type"),
                          field(m, "Definition"), s->name, NULL};
    rc = run(db, "INSERT INTO reg_machines(name, arn, type, definition, "
             "stack) VALUES(?1, ?2, ?3, ?4, ?5)", args, err);
    if (rc && strstr(*err, "UNIQUE")) {
      free(*err);
      *err = ms_asprintf("a state machine named %s is already deployed by "
                         "another stack", field(m, "Name"));
    }
  }
  if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    rc = sql_fail(db, "registry", err);
  if (rc) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  free(stack_json);
  sqlite3_close(db);
  return rc;
}

json_t *registry_machine(const char *path, const char *name, char **err) {
  *err = NULL;
  sqlite3 *db = open_db(path, false, err);
  if (!db) return NULL;
  sqlite3_stmt *st = NULL;
  json_t *out = NULL;
  if (sqlite3_prepare_v2(db,
        "SELECT m.name, m.arn, m.type, m.definition, m.stack, s.tasks_dir "
        "FROM reg_machines m JOIN reg_stacks s ON s.name = m.stack "
        "WHERE m.name = ?1 OR m.arn = ?1", -1, &st, NULL) != SQLITE_OK) {
    sql_fail(db, "registry", err);
  } else {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      static const char *const keys[] = {"Name", "Arn", "Type",
                                         "Definition", "Stack", "TasksDir"};
      out = json_object();
      for (int k = 0; k < 6; k++)
        json_object_set_new(out, keys[k], json_string(
            text_or_empty(st, k)));
    } else if (rc != SQLITE_DONE) {
      sql_fail(db, "registry", err);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

json_t *registry_triggers(const char *path, char **err) {
  *err = NULL;
  sqlite3 *db = open_db(path, false, err);
  if (!db) return NULL;
  sqlite3_stmt *st = NULL;
  json_t *out = json_array();
  if (sqlite3_prepare_v2(db, "SELECT name, tasks_dir, stack FROM reg_stacks"
                         " ORDER BY name", -1, &st, NULL) != SQLITE_OK) {
    sql_fail(db, "registry", err);
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *stack = (const char *)sqlite3_column_text(st, 0);
      const char *tasks = (const char *)sqlite3_column_text(st, 1);
      const char *text = (const char *)sqlite3_column_text(st, 2);
      json_t *whole = text ? json_loads(text, 0, NULL) : NULL;
      size_t i;
      json_t *t;
      json_array_foreach(json_object_get(whole, "triggers"), i, t) {
        json_t *c = json_deep_copy(t);
        json_object_set_new(c, "Stack", json_string(stack ? stack : ""));
        json_object_set_new(c, "TasksDir", json_string(tasks ? tasks : ""));
        json_array_append_new(out, c);
      }
      json_decref(whole);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (*err) {
    json_decref(out);
    return NULL;
  }
  return out;
}
