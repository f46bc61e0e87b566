/* machine.h - a state machine definition compiled once into an immutable
 * graph: states in an array, Next resolved to indices, every path, template,
 * intrinsic and Choice rule compiled. machine.c loads and validates (every
 * problem at once, each with its JSON pointer and line:column).
 *
 * The interpreter (exec.c) only reads these structs.
 */
#ifndef MS_MACHINE_H
#define MS_MACHINE_H

#include "jsonx.h"
#include "jpath.h"
#include "payload.h"
#include "choice.h"
#include "jtmpl.h"

typedef enum {
  ST_PASS, ST_TASK, ST_CHOICE, ST_WAIT, ST_SUCCEED, ST_FAIL, ST_PARALLEL,
  ST_MAP
} state_type_t;

/* An optional path field: absent (default "$"), null, or a path. */
typedef struct opt_path {
  jpath_t *path;   /* NULL when absent or null */
  bool is_null;    /* the field was JSON null */
} opt_path_t;

typedef struct retrier {
  char **errors;        /* ErrorEquals */
  size_t nerrors;
  double interval;      /* IntervalSeconds, default 1 */
  int max_attempts;     /* MaxAttempts, default 3 */
  double backoff;       /* BackoffRate, default 2.0 */
  double max_delay;     /* MaxDelaySeconds, 0 = none */
  bool jitter_full;     /* JitterStrategy FULL */
} retrier_t;

typedef struct catcher {
  char **errors;        /* ErrorEquals */
  size_t nerrors;
  int next;             /* state index */
  opt_path_t result_path;  /* default "$" */
  tmpl_t *assign;       /* Assign (NULL if none) */
  jtmpl_t *joutput;     /* JSONata: Output (NULL: the error output) */
  jtmpl_t *jassign;     /* JSONata: Assign (NULL if none) */
} catcher_t;

typedef struct choice_branch {
  choice_t *rule;
  int next;             /* state index */
  tmpl_t *assign;       /* Assign on the rule (NULL if none) */
  jtmpl_t *jcond;       /* JSONata: Condition (then rule is NULL) */
  jtmpl_t *joutput;     /* JSONata: Output on the rule (NULL if none) */
  jtmpl_t *jassign;     /* JSONata: Assign on the rule (NULL if none) */
} choice_branch_t;

/* A number field that may be given literally or by a path (XPath form). */
typedef struct num_field {
  bool present;         /* either form given */
  double value;         /* literal value */
  jpath_t *path;        /* ...Path form (NULL if literal) */
} num_field_t;

/* The fields of a state whose QueryLanguage is JSONata (jtmpl.h); NULL
 * when absent. A number field may be a literal or an expression. */
typedef struct jstate {
  jtmpl_t *arguments;         /* Task, Parallel */
  jtmpl_t *output;            /* all but Fail */
  jtmpl_t *assign;
  jtmpl_t *items, *item_selector;                /* Map */
  jtmpl_t *max_concurrency, *tolerated_pct, *tolerated_count;
  jtmpl_t *batch_input, *max_items_per_batch, *max_bytes_per_batch;
  jtmpl_t *timeout_seconds, *heartbeat_seconds;  /* Task */
  jtmpl_t *seconds, *timestamp;                  /* Wait */
  jtmpl_t *error, *cause;                        /* Fail */
} jstate_t;

struct machine;

typedef struct mstate {
  char *name;
  state_type_t type;
  jstate_t *js;            /* QueryLanguage JSONata: its fields; NULL for
                              a JSONPath state */
  int index;            /* position in machine.states */
  int next;             /* Next as an index; -1 when End */
  bool end;

  /* Input and output processing */
  opt_path_t input_path;
  opt_path_t output_path;
  opt_path_t result_path;
  tmpl_t *parameters;      /* Parameters, or Map ItemSelector / Parameters */
  tmpl_t *result_selector;
  json_t *result;          /* Pass: Result (literal, may be NULL) */
  tmpl_t *assign;          /* Assign (NULL if none) */

  retrier_t *retry; size_t nretry;
  catcher_t *catch; size_t ncatch;

  /* Task */
  char *resource;
  num_field_t timeout_seconds;    /* TimeoutSeconds / TimeoutSecondsPath */
  num_field_t heartbeat_seconds;  /* HeartbeatSeconds / ...Path */

  /* Choice */
  choice_branch_t *choices; size_t nchoices;
  int default_next;               /* -1 when no Default */

  /* Wait */
  num_field_t seconds;            /* Seconds / SecondsPath */
  char *timestamp;                /* Timestamp literal */
  double timestamp_epoch;
  jpath_t *timestamp_path;

  /* Fail */
  char *error, *cause;            /* literal Error / Cause (may be NULL) */
  jexpr_t *error_path, *cause_path;

  /* Parallel */
  struct machine **branches; size_t nbranches;

  /* Map */
  struct machine *iterator;       /* ItemProcessor or Iterator */
  jpath_t *items_path;            /* ItemsPath (NULL = "$") */
  num_field_t max_concurrency;    /* 0 = unlimited */
  bool distributed;               /* ProcessorConfig.Mode DISTRIBUTED */
  bool express_children;          /* ExecutionType EXPRESS */
  num_field_t tolerated_pct;      /* ToleratedFailurePercentage(+Path) */
  num_field_t tolerated_count;    /* ToleratedFailureCount(+Path) */
  json_t *item_batcher;           /* ItemBatcher object (NULL if none) */
  tmpl_t *batch_input;            /* ItemBatcher.BatchInput */
  num_field_t max_items_per_batch;
  num_field_t max_bytes_per_batch;
  json_t *item_reader;            /* ItemReader (NULL if none) */
  json_t *result_writer;          /* ResultWriter (NULL if none) */
  char *label;
} mstate_t;

typedef struct machine {
  mstate_t *states; size_t nstates;
  int start;                       /* StartAt as an index */
  char *comment;
  num_field_t timeout_seconds;     /* machine-level TimeoutSeconds */
  json_t *definition;              /* the JSON it was compiled from */
  struct machine *parent;          /* enclosing machine for branches/maps */
} machine_t;

/* Compile a definition (borrowed). Problems are added to d (pointers only;
 * the caller fills line:column from the text, see jsonloc.h). Returns NULL
 * when d has errors. */
machine_t *machine_compile(json_t *definition, diags_t *d);
void machine_free(machine_t *m);
/* Find a state by name: index or -1. */
int machine_find(const machine_t *m, const char *name);

#endif
