/* store.h - the durable store: one SQLite file holding STANDARD
 * executions (the definition they ran, input, status, output or error)
 * and their AWS-shaped history events.
 *
 * Several processes share one file: WAL mode, a busy timeout, and every
 * write transaction taken with BEGIN IMMEDIATE. Recording an execution
 * writes its row at the start, then its events as they come, one
 * transaction per transition (store_event opens it, store_commit closes
 * it), and its final status at the end. This is the only file that
 * includes sqlite3.h.
 *
 * Functions returning int give 0 on success and -1 on failure, with the
 * message in store_errmsg.
 */
#ifndef MS_STORE_H
#define MS_STORE_H

#include "jsonx.h"

typedef struct store store_t;

#define STORE_DEFAULT_PATH ".moonstep/moonstep.db"

/* Open (creating it, and its folder for the default path) and migrate the
 * database at path; ":memory:" is a private in-memory database.
 * sync_full: fsync at every commit (PRAGMA synchronous=FULL) instead of
 * NORMAL. NULL with *err (malloc'd) on failure. */
store_t *store_open(const char *path, bool sync_full, char **err);
void store_close(store_t *s);
/* The connection, lent to tables.c (tables_share) for its path. */
struct sqlite3 *store_sqlite(store_t *s);
const char *store_errmsg(const store_t *s);

/* Recording. store_exec_begin writes the row of a new execution from its
 * DescribeExecution-shaped object d (status RUNNING), with the machine's
 * name and definition text, and its events so far (array, borrowed), in
 * one transaction. A name already used fails with "an execution named X
 * already exists" and *dup set. Returns the row id, or -1. */
int64_t store_exec_begin(store_t *s, const json_t *d, const char *machine,
                         const char *definition, const json_t *events,
                         bool *dup);
/* Append one event of execution row (opens the transaction if none is). */
int store_event(store_t *s, int64_t row, const json_t *event);
/* Commit the open transaction, if any. */
int store_commit(store_t *s);
/* Write the final status, output or error of d and commit. */
int store_exec_end(store_t *s, int64_t row, const json_t *d);

/* Reading. id is an execution ARN or name. Each returns a new reference,
 * or NULL with store_errmsg set ("no execution named or with the ARN X"
 * for an unknown id, *missing then true). */
json_t *store_describe(store_t *s, const char *id, bool *missing);
/* {"events": [...]} as GetExecutionHistory returns it; oldest first
 * unless reverse. */
json_t *store_history(store_t *s, const char *id, bool reverse,
                      bool *missing);
/* {"executions": [...]} as ListExecutions returns it, newest first;
 * status and machine (state machine name) filter when not NULL. */
json_t *store_list(store_t *s, const char *status, const char *machine);

/* Task tokens (.waitForTaskToken). A token is recorded WAITING for its
 * execution's row; another process completes it (store_token_send); the
 * waiting execution reads it (store_token_check) until it is done, and
 * closes it when it stops waiting for another reason (a timeout, the
 * execution ending). */
typedef enum {
  STORE_TOKEN_MISSING, STORE_TOKEN_WAITING, STORE_TOKEN_SUCCEEDED,
  STORE_TOKEN_FAILED, STORE_TOKEN_CLOSED
} store_token_status_t;

typedef struct store_token {
  store_token_status_t status;
  char *output, *error, *cause;  /* malloc'd or NULL */
  int64_t heartbeats;            /* heartbeats received so far */
} store_token_t;

/* Record token as WAITING for execution row, and commit. */
int store_token_open(store_t *s, int64_t row, const char *token);
/* Read token into *t (free with store_token_free). */
int store_token_check(store_t *s, const char *token, store_token_t *t);
void store_token_free(store_token_t *t);
/* Mark a WAITING token CLOSED (in the open transaction, if any). */
int store_token_close(store_t *s, const char *token);
/* Complete a token (to SUCCEEDED with output, FAILED with error and cause)
 * or, with to WAITING, record a heartbeat; only a WAITING token changes.
 * *was is its status before (MISSING when there is none). */
int store_token_send(store_t *s, const char *token, store_token_status_t to,
                     const char *output, const char *error,
                     const char *cause, store_token_status_t *was);

/* Checkpoints (resume; see durable.c), in the open transaction: the
 * execution's state and heartbeat (epoch seconds), a frame's state and
 * (when not NULL) its Map items, a frame gone (with its results), one
 * result (value NULL: all of the frame's results cleared); data and items
 * NULL keep what the row has; store_ck_clear
 * drops every frame and result of the execution. */
int store_ck_exec(store_t *s, int64_t row, const json_t *state,
                  double heartbeat);
int store_ck_frame(store_t *s, int64_t row, int64_t fid,
                   const json_t *state, const json_t *data,
                   const json_t *items);
int store_ck_gone(store_t *s, int64_t row, int64_t fid);
int store_ck_result(store_t *s, int64_t row, int64_t fid, int64_t slot,
                    const json_t *value);
int store_ck_clear(store_t *s, int64_t row);

/* Everything resume needs, new reference: row, name, arn, machine,
 * definition (text), input, status, state, owner_pid, owner_start,
 * redrive_count, stop_requested, stop_error, stop_cause, start_date, and
 * frames [[fid, state, items|null, data|null], ...] (by fid) and
 * results [[fid,
 * slot, value], ...]. NULL as store_describe. */
json_t *store_exec_load(store_t *s, const char *id, bool *missing);
/* Become the owner of a RUNNING execution (pid and its start time) if
 * its owner is still expect (0: none); *lost when another process took
 * it first or it is no longer RUNNING. Commits. */
int store_exec_own(store_t *s, int64_t row, int64_t pid, int64_t start,
                   int64_t expect, bool *lost);
/* Drop the events after count (a transition lost in a crash). */
int store_events_after(store_t *s, int64_t row, int64_t count);
/* The tokens still WAITING for the execution: [[token], ...]. */
int store_tokens_waiting(store_t *s, int64_t row, json_t **tokens);
/* Back to RUNNING for a redrive, with its count and date. */
int store_exec_reopen(store_t *s, int64_t row, int64_t redrive_count,
                      const char *redrive_date);

/* Stop requests (StopExecution from another process): recorded on a
 * RUNNING execution and committed; the owner reads them. */
int store_stop_request(store_t *s, int64_t row, const char *error,
                       const char *cause);
int store_stop_check(store_t *s, int64_t row, bool *stop, char **error,
                     char **cause);

/* PRAGMA integrity_check: *result (malloc'd) is "ok" when intact. */
int store_check(store_t *s, char **result);

#endif
