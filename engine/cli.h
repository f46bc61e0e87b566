/* cli.h - what the moonstep command's files share (cli.c is main and the
 * command table; cli_<family>.c hold command families): the program name
 * for messages, the database path rule, usage errors, JSON arguments and
 * JSON output.
 */
#ifndef MS_CLI_H
#define MS_CLI_H

#include "moonstep.h"

/* "moonstep", for messages ("moonstep: ..."). */
extern const char *cli_progname;

/* The database: flag (--db of the command) if given, else --db before
 * the command, else $MOONSTEP_DB, else MS_DB_DEFAULT. */
const char *cli_db_path(const char *flag);

/* Print "moonstep: " fmt (one %s: arg) and the help hint to stderr;
 * returns MS_EXIT_USAGE. */
int cli_usage(const char *fmt, const char *arg);

/* A JSON argument: literal text, or @FILE ("@-" is stdin). New reference,
 * or NULL with the problem printed (flag names the option). */
json_t *cli_json_arg(const char *flag, const char *arg);

/* Print a value on stdout: indented in a terminal, else one line. */
void cli_print_json(const json_t *v);

/* The end of a run (run, resume, redrive, rerun): d is its DescribeExecution
 * object; prints it (describe), else the output, else the status, the
 * state it failed in (may be NULL), the error and a handler's message and
 * traceback on stderr. Returns the exit status. */
int cli_report(const json_t *d, bool describe, const char *failed_state);

/* cli_executions.c: the durable-execution commands and run's options
 * for them. cli_durable_opt reads one of run's --resume ID, --log,
 * --max-events N, --commit-each at argv[*i] (advancing *i past a value):
 * 1 when it did, 0 when argv[*i] is another option, -1 on a usage error
 * (printed). cli_catch_signals makes SIGINT and SIGTERM abort ro's
 * execution at its next transition. */
int cli_durable_opt(int argc, char **argv, int *i, ms_run_options_t *ro,
                    const char **resume);
void cli_catch_signals(ms_run_options_t *ro);
int cli_cmd_resume(int argc, char **argv);
int cli_cmd_stop(int argc, char **argv);
int cli_cmd_db_check(int argc, char **argv);
int cli_cmd_redrive(int argc, char **argv);
int cli_cmd_rerun(int argc, char **argv);

#define CLI_EXECUTIONS_COMMANDS                                            \
  {"resume", cli_cmd_resume,                                               \
   "resume ID [--tasks DIR] [--clock virtual|real] [--log] [--describe]\n"  \
   "      finish a RUNNING execution whose process died (kill -9, a\n"      \
   "      crash) from its last checkpoint; as run --resume ID"},           \
  {"stop", cli_cmd_stop,                                                   \
   "stop ID [--error E] [--cause C]\n"                                     \
   "      abort a RUNNING execution (StopExecution): ABORTED, with\n"       \
   "      ExecutionAborted; a live run notices at its next transition"},  \
  {"redrive", cli_cmd_redrive,                                             \
   "redrive ID [--tasks DIR] [--clock virtual|real] [--log] [--describe]\n" \
   "      a FAILED, TIMED_OUT or ABORTED execution goes on from where it\n" \
   "      stopped (RedriveExecution); what succeeded does not run again"}, \
  {"rerun", cli_cmd_rerun,                                                 \
   "rerun ID --from STATE [--input JSON|@FILE] [--name NAME] [--tasks DIR]\n"\
   "      a new execution of ID's definition starting at STATE (a top-\n"   \
   "      level state) with the input STATE last had in ID, or --input"},  \
  {"db-check", cli_cmd_db_check,                                           \
   "db-check [--db PATH]\n"                                                \
   "      check the database file (PRAGMA integrity_check): \"ok\""},

/* cli_jsonata.c: eval --jsonata EXPR [--input] [--bindings] [--describe]
 * (argv holds eval's arguments). */
int cli_eval_jsonata(int argc, char **argv);

/* The state machine `moonstep deploy` registered under name (or ARN) in
 * the database (db: a --db flag or NULL): {"Name", "Arn", "Type",
 * "Definition", "Stack", "TasksDir"}, or NULL when there is none. */
json_t *cli_registered_machine(const char *name, const char *db);

/* Command families (cli_<family>.c). */
int cli_deploy(int argc, char **argv);
int cli_repl(int argc, char **argv);
int cli_table(int argc, char **argv);
/* cli_teststate.c: test-state FILE [STATE] [options] (TestState). */
int cli_test_state(int argc, char **argv);
/* cli_s3.c: moonstep s3 cp|ls|rm|mb|rb and moonstep watch. */
int cli_s3(int argc, char **argv);
int cli_watch(int argc, char **argv);

#endif
