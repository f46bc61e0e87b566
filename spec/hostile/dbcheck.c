/* dbcheck.c - a helper for spec/hostile_spec.lua: checks a SQLite file
 * with PRAGMA integrity_check, or holds it locked, so the specs need no
 * sqlite3 command (not among the Makefile's DEPS_PKGS).
 *
 *   dbcheck FILE            prints integrity_check's answer ("ok"); exit 0
 *                           when it is ok, 1 otherwise
 *   dbcheck FILE lock SECS  takes an exclusive lock, prints "locked",
 *                           holds it SECS seconds, then lets go
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check(sqlite3 *db) {
  sqlite3_stmt *st;
  int ok = 1;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL)) {
    printf("%s\n", sqlite3_errmsg(db));
    return 1;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *row = (const char *)sqlite3_column_text(st, 0);
    printf("%s\n", row ? row : "(null)");
    if (!row || strcmp(row, "ok") != 0) ok = 0;
  }
  sqlite3_finalize(st);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  sqlite3 *db;
  if (argc != 2 && !(argc == 4 && strcmp(argv[2], "lock") == 0)) {
    fprintf(stderr, "usage: dbcheck FILE [lock SECONDS]\n");
    return 2;
  }
  int flags = argc == 2 ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (sqlite3_open_v2(argv[1], &db, flags, NULL)) {
    printf("%s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return 1;
  }
  int rc;
  if (argc == 2) {
    rc = check(db);
  } else {
    rc = sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) ? 1 : 0;
    printf("%s\n", rc ? sqlite3_errmsg(db) : "locked");
    fflush(stdout);
    if (!rc) sleep((unsigned)atoi(argv[3]));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  sqlite3_close(db);
  return rc;
}
