/* ddbexpr_int.h - the parsed form of a DynamoDB expression, shared by the
 * parser (ddbexpr_parse.c) and the evaluator (ddbexpr_eval.c). Private to
 * those two files; everyone else uses ddbexpr.h.
 *
 * Everything a ddbexpr_t points to lives in its arena and dies with it;
 * values from ExpressionAttributeValues are held (one reference each) in
 * e->held.
 */
#ifndef MS_DDBEXPR_INT_H
#define MS_DDBEXPR_INT_H

#include "ddbexpr.h"

/* One element of a document path: a.b[2] is {a}, {b}, {[2]}. */
typedef struct ddbx_elem {
  const char *name;        /* attribute or member name; NULL for an index */
  long index;              /* list index when name is NULL */
} ddbx_elem_t;

typedef struct ddbx_path {
  int n;
  ddbx_elem_t *v;
} ddbx_path_t;

typedef enum {
  /* operands */
  X_PATH, X_VALUE, X_SIZE, X_IF_NOT_EXISTS, X_LIST_APPEND, X_PLUS, X_MINUS,
  X_FUNC,                  /* an unknown function (already an error) */
  /* conditions */
  X_CMP, X_BETWEEN, X_IN, X_AND, X_OR, X_NOT, X_EXISTS, X_NOT_EXISTS,
  X_TYPE, X_BEGINS, X_CONTAINS,
} ddbx_op_t;

typedef enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE } ddbx_cmp_t;

typedef struct ddbx_node ddbx_node_t;
struct ddbx_node {
  ddbx_op_t op;
  ddbx_cmp_t cmp;          /* X_CMP */
  ddbx_path_t *path;       /* X_PATH */
  const json_t *value;     /* X_VALUE: held in e->held */
  const char *ph;          /* X_VALUE: its placeholder (":v") */
  const char *fname;       /* functions: the name as written */
  ddbx_node_t **args;      /* operands or sub-conditions */
  int nargs;
  bool paren;              /* written inside parentheses */
};

typedef enum { U_SET, U_REMOVE, U_ADD, U_DELETE } ddbx_clause_t;

typedef struct ddbx_action {
  ddbx_clause_t clause;
  ddbx_path_t *path;       /* the target */
  ddbx_node_t *value;      /* SET: the value; ADD, DELETE: an X_VALUE */
} ddbx_action_t;

/* A term of a KeyConditionExpression, normalized to `name op value`. */
typedef struct ddbx_kterm {
  const char *name;
  ddbx_skop_t op;          /* DDBX_SK_EQ ... DDBX_SK_BEGINS_WITH */
  const json_t *lo, *hi;
} ddbx_kterm_t;

typedef struct ddbx_chunk ddbx_chunk_t;

struct ddbexpr {
  ddbx_kind_t kind;
  ddbx_node_t *root;       /* conditions and key conditions */
  ddbx_action_t *acts;     /* updates */
  int nacts;
  ddbx_path_t **proj;      /* projections */
  int nproj;
  ddbx_kterm_t kterms[2];  /* key conditions */
  int nkterms;
  json_t *used_names;      /* {"#n": true, ...} */
  json_t *used_values;     /* {":v": true, ...} */
  json_t *held;            /* values kept alive */
  ddbx_chunk_t *mem;       /* the arena */
};

/* Zeroed memory from e's arena. */
void *ddbx_alloc(ddbexpr_t *e, size_t n);

/* "[a, b, [0]]" as DynamoDB prints paths in messages (malloc'd). */
char *ddbx_path_text(const ddbx_path_t *p);

/* The type names DynamoDB's messages use for ADD and DELETE operands
 * (STRING, NUMBER, ...). */
const char *ddbx_type_word(const char *type);

#endif
