/* ddbexpr_parse.c - DynamoDB's expression languages parsed into the tree
 * of ddbexpr_int.h: ConditionExpression/FilterExpression, the
 * KeyConditionExpression subset, UpdateExpression and
 * ProjectionExpression, with #name and :value placeholders resolved and
 * the checks DynamoDB makes before it reads an item. Evaluation is in
 * ddbexpr_eval.c.
 *
 * As in DynamoDB, a syntax error wins over every other error; of the
 * others, the first of the most important kind is reported, kinds ranked
 * as dynalite (checked against AWS) ranks them (cond_order, update_order).
 *
 * Sources of the messages (prefix "Invalid <Kind>Expression: "):
 * - the DynamoDB developer guide: the reserved-word list and the
 *   precedence of the operators (comparators, IN, BETWEEN, functions,
 *   parentheses, NOT, AND, OR); IN takes at most 100 operands.
 * - AWS's own responses quoted in public issues (see the "why" of the
 *   fixtures in spec/fixtures/ddbexpr/errors.json): "Syntax error; token:
 *   \"x\", near: \"y\"" where near is the previous, this and the next
 *   token as written, a lone '#' or ':' being a token; the kind prefixes,
 *   FilterExpression included.
 * - DynamoDB's wording as emulators checked against AWS reproduce it
 *   (moto, dynalite, ExtendDB, floci): "Attribute name is a reserved
 *   keyword; reserved keyword: x", "An expression attribute name used in
 *   the document path is not defined; attribute name: #x", "An expression
 *   attribute value used in expression is not defined; attribute value:
 *   :x", "The \"SET\" section can only be used once in an update
 *   expression;", "Two document paths overlap with each other; ...", "Two
 *   document paths conflict with each other; ...", "Invalid function
 *   name; function: f", "Incorrect number of operands for operator or
 *   function; ...", "Incorrect operand type for operator or function;
 *   ...", "Operator or function requires a document path; ...", "The
 *   expression has redundant parentheses;", "The expression can not be
 *   empty;", "The first operand must be distinct from the remaining
 *   operands for this operator or function; ...", "Invalid operator used
 *   in KeyConditionExpression: OR", "Query condition missed key schema
 *   element: x" (ddbexpr_eval.c).
 * - best guesses (wording not seen): the token of a character that starts
 *   no token ('@'), the IN and BETWEEN operand messages, "The function is
 *   not allowed to be used this way in an expression; function: f", the
 *   key-condition structure messages other than the two above, the
 *   typeSet suffix of the DELETE message (ADD's is AWS's), and
 *   "ExpressionAttributeValues contains invalid value: ...".
 */
#include "ddbexpr_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IN_MAX 100   /* DynamoDB: operands of IN */

/* DynamoDB's reserved words (developer guide, "Reserved words in
 * DynamoDB"), sorted for bsearch; matched case-insensitively. */
static const char *const reserved[] = {
  "ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE", "ALL",
  "ALLOCATE", "ALTER", "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE", "ARRAY",
  "AS", "ASC", "ASCII", "ASENSITIVE", "ASSERTION", "ASYMMETRIC", "AT",
  "ATOMIC", "ATTACH", "ATTRIBUTE", "AUTH", "AUTHORIZATION", "AUTHORIZE",
  "AUTO", "AVG", "BACK", "BACKUP", "BASE", "BATCH", "BEFORE", "BEGIN",
  "BETWEEN", "BIGINT", "BINARY", "BIT", "BLOB", "BLOCK", "BOOLEAN", "BOTH",
  "BREADTH", "BUCKET", "BULK", "BY", "BYTE", "CALL", "CALLED", "CALLING",
  "CAPACITY", "CASCADE", "CASCADED", "CASE", "CAST", "CATALOG", "CHAR",
  "CHARACTER", "CHECK", "CLASS", "CLOB", "CLOSE", "CLUSTER", "CLUSTERED",
  "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE", "COLLATION", "COLLECTION",
  "COLUMN", "COLUMNS", "COMBINE", "COMMENT", "COMMIT", "COMPACT", "COMPILE",
  "COMPRESS", "CONDITION", "CONFLICT", "CONNECT", "CONNECTION", "CONSISTENCY",
  "CONSISTENT", "CONSTRAINT", "CONSTRAINTS", "CONSTRUCTOR", "CONSUMED",
  "CONTINUE", "CONVERT", "COPY", "CORRESPONDING", "COUNT", "COUNTER",
  "CREATE", "CROSS", "CUBE", "CURRENT", "CURSOR", "CYCLE", "DATA", "DATABASE",
  "DATE", "DATETIME", "DAY", "DEALLOCATE", "DEC", "DECIMAL", "DECLARE",
  "DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINE", "DEFINED", "DEFINITION",
  "DELETE", "DELIMITED", "DEPTH", "DEREF", "DESC", "DESCRIBE", "DESCRIPTOR",
  "DETACH", "DETERMINISTIC", "DIAGNOSTICS", "DIRECTORIES", "DISABLE",
  "DISCONNECT", "DISTINCT", "DISTRIBUTE", "DO", "DOMAIN", "DOUBLE", "DROP",
  "DUMP", "DURATION", "DYNAMIC", "EACH", "ELEMENT", "ELSE", "ELSEIF", "EMPTY",
  "ENABLE", "END", "EQUAL", "EQUALS", "ERROR", "ESCAPE", "ESCAPED", "EVAL",
  "EVALUATE", "EXCEEDED", "EXCEPT", "EXCEPTION", "EXCEPTIONS", "EXCLUSIVE",
  "EXEC", "EXECUTE", "EXISTS", "EXIT", "EXPLAIN", "EXPLODE", "EXPORT",
  "EXPRESSION", "EXTENDED", "EXTERNAL", "EXTRACT", "FAIL", "FALSE", "FAMILY",
  "FETCH", "FIELDS", "FILE", "FILTER", "FILTERING", "FINAL", "FINISH",
  "FIRST", "FIXED", "FLATTERN", "FLOAT", "FOR", "FORCE", "FOREIGN", "FORMAT",
  "FORWARD", "FOUND", "FREE", "FROM", "FULL", "FUNCTION", "FUNCTIONS",
  "GENERAL", "GENERATE", "GET", "GLOB", "GLOBAL", "GO", "GOTO", "GRANT",
  "GREATER", "GROUP", "GROUPING", "HANDLER", "HASH", "HAVE", "HAVING", "HEAP",
  "HIDDEN", "HOLD", "HOUR", "IDENTIFIED", "IDENTITY", "IF", "IGNORE",
  "IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE", "INCREMENT",
  "INCREMENTAL", "INDEX", "INDEXED", "INDEXES", "INDICATOR", "INFINITE",
  "INITIALLY", "INLINE", "INNER", "INNTER", "INOUT", "INPUT", "INSENSITIVE",
  "INSERT", "INSTEAD", "INT", "INTEGER", "INTERSECT", "INTERVAL", "INTO",
  "INVALIDATE", "IS", "ISOLATION", "ITEM", "ITEMS", "ITERATE", "JOIN", "KEY",
  "KEYS", "LAG", "LANGUAGE", "LARGE", "LAST", "LATERAL", "LEAD", "LEADING",
  "LEAVE", "LEFT", "LENGTH", "LESS", "LEVEL", "LIKE", "LIMIT", "LIMITED",
  "LINES", "LIST", "LOAD", "LOCAL", "LOCALTIME", "LOCALTIMESTAMP", "LOCATION",
  "LOCATOR", "LOCK", "LOCKS", "LOG", "LOGED", "LONG", "LOOP", "LOWER", "MAP",
  "MATCH", "MATERIALIZED", "MAX", "MAXLEN", "MEMBER", "MERGE", "METHOD",
  "METRICS", "MIN", "MINUS", "MINUTE", "MISSING", "MOD", "MODE", "MODIFIES",
  "MODIFY", "MODULE", "MONTH", "MULTI", "MULTISET", "NAME", "NAMES",
  "NATIONAL", "NATURAL", "NCHAR", "NCLOB", "NEW", "NEXT", "NO", "NONE", "NOT",
  "NULL", "NULLIF", "NUMBER", "NUMERIC", "OBJECT", "OF", "OFFLINE", "OFFSET",
  "OLD", "ON", "ONLINE", "ONLY", "OPAQUE", "OPEN", "OPERATOR", "OPTION", "OR",
  "ORDER", "ORDINALITY", "OTHER", "OTHERS", "OUT", "OUTER", "OUTPUT", "OVER",
  "OVERLAPS", "OVERRIDE", "OWNER", "PAD", "PARALLEL", "PARAMETER",
  "PARAMETERS", "PARTIAL", "PARTITION", "PARTITIONED", "PARTITIONS", "PATH",
  "PERCENT", "PERCENTILE", "PERMISSION", "PERMISSIONS", "PIPE", "PIPELINED",
  "PLAN", "POOL", "POSITION", "PRECISION", "PREPARE", "PRESERVE", "PRIMARY",
  "PRIOR", "PRIVATE", "PRIVILEGES", "PROCEDURE", "PROCESSED", "PROJECT",
  "PROJECTION", "PROPERTY", "PROVISIONING", "PUBLIC", "PUT", "QUERY", "QUIT",
  "QUORUM", "RAISE", "RANDOM", "RANGE", "RANK", "RAW", "READ", "READS",
  "REAL", "REBUILD", "RECORD", "RECURSIVE", "REDUCE", "REF", "REFERENCE",
  "REFERENCES", "REFERENCING", "REGEXP", "REGION", "REINDEX", "RELATIVE",
  "RELEASE", "REMAINDER", "RENAME", "REPEAT", "REPLACE", "REQUEST", "RESET",
  "RESIGNAL", "RESOURCE", "RESPONSE", "RESTORE", "RESTRICT", "RESULT",
  "RETURN", "RETURNING", "RETURNS", "REVERSE", "REVOKE", "RIGHT", "ROLE",
  "ROLES", "ROLLBACK", "ROLLUP", "ROUTINE", "ROW", "ROWS", "RULE", "RULES",
  "SAMPLE", "SATISFIES", "SAVE", "SAVEPOINT", "SCAN", "SCHEMA", "SCOPE",
  "SCROLL", "SEARCH", "SECOND", "SECTION", "SEGMENT", "SEGMENTS", "SELECT",
  "SELF", "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE", "SERIALIZABLE",
  "SESSION", "SET", "SETS", "SHARD", "SHARE", "SHARED", "SHORT", "SHOW",
  "SIGNAL", "SIMILAR", "SIZE", "SKEWED", "SMALLINT", "SNAPSHOT", "SOME",
  "SOURCE", "SPACE", "SPACES", "SPARSE", "SPECIFIC", "SPECIFICTYPE", "SPLIT",
  "SQL", "SQLCODE", "SQLERROR", "SQLEXCEPTION", "SQLSTATE", "SQLWARNING",
  "START", "STATE", "STATIC", "STATUS", "STORAGE", "STORE", "STORED",
  "STREAM", "STRING", "STRUCT", "STYLE", "SUB", "SUBMULTISET", "SUBPARTITION",
  "SUBSTRING", "SUBTYPE", "SUM", "SUPER", "SYMMETRIC", "SYNONYM", "SYSTEM",
  "TABLE", "TABLESAMPLE", "TEMP", "TEMPORARY", "TERMINATED", "TEXT", "THAN",
  "THEN", "THROUGHPUT", "TIME", "TIMESTAMP", "TIMEZONE", "TINYINT", "TO",
  "TOKEN", "TOTAL", "TOUCH", "TRAILING", "TRANSACTION", "TRANSFORM",
  "TRANSLATE", "TRANSLATION", "TREAT", "TRIGGER", "TRIM", "TRUE", "TRUNCATE",
  "TTL", "TUPLE", "TYPE", "UNDER", "UNDO", "UNION", "UNIQUE", "UNIT",
  "UNKNOWN", "UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED", "UNTIL",
  "UPDATE", "UPPER", "URL", "USAGE", "USE", "USER", "USERS", "USING", "UUID",
  "VACUUM", "VALUE", "VALUED", "VALUES", "VARCHAR", "VARIABLE", "VARIANCE",
  "VARINT", "VARYING", "VIEW", "VIEWS", "VIRTUAL", "VOID", "WAIT", "WHEN",
  "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH", "WITHIN", "WITHOUT", "WORK",
  "WRAPPED", "WRITE", "YEAR", "ZONE",
};

static int word_cmp(const void *k, const void *m) {
  return strcasecmp(k, *(const char *const *)m);
}

static bool is_reserved(const char *w) {
  return bsearch(w, reserved, sizeof reserved / sizeof *reserved,
                 sizeof *reserved, word_cmp) != NULL;
}

/* ---- the arena -------------------------------------------------------- */

struct ddbx_chunk {
  ddbx_chunk_t *next;
  max_align_t data[];
};

void *ddbx_alloc(ddbexpr_t *e, size_t n) {
  ddbx_chunk_t *c = ms_calloc(1, sizeof *c + n);
  c->next = e->mem;
  e->mem = c;
  return c->data;
}

static char *astrndup(ddbexpr_t *e, const char *s, size_t n) {
  char *p = ddbx_alloc(e, n + 1);
  memcpy(p, s, n);
  return p;
}

void ddbexpr_free(ddbexpr_t *e) {
  if (!e) return;
  while (e->mem) {
    ddbx_chunk_t *c = e->mem;
    e->mem = c->next;
    free(c);
  }
  json_decref(e->used_names);
  json_decref(e->used_values);
  json_decref(e->held);
  free(e);
}

/* ---- messages --------------------------------------------------------- */

char *ddbx_path_text(const ddbx_path_t *p) {
  buf_t b;
  buf_init(&b);
  buf_putc(&b, '[');
  for (int i = 0; i < p->n; i++) {
    if (i) buf_puts(&b, ", ");
    if (p->v[i].name) buf_puts(&b, p->v[i].name);
    else buf_printf(&b, "[%ld]", p->v[i].index);
  }
  buf_putc(&b, ']');
  return buf_steal(&b);
}

const char *ddbx_type_word(const char *t) {
  static const char *const words[][2] = {
    {"S", "STRING"}, {"N", "NUMBER"}, {"B", "BINARY"}, {"BOOL", "BOOLEAN"},
    {"NULL", "NULL"}, {"L", "LIST"}, {"M", "MAP"}, {"SS", "STRING_SET"},
    {"NS", "NUMBER_SET"}, {"BS", "BINARY_SET"},
  };
  for (size_t i = 0; t && i < sizeof words / sizeof *words; i++)
    if (strcmp(t, words[i][0]) == 0) return words[i][1];
  return "UNKNOWN";
}

/* ---- tokens ----------------------------------------------------------- */

typedef enum {
  T_EOF, T_IDENT, T_NAME, T_VALUE, T_NUM, T_LP, T_RP, T_LB, T_RB, T_COMMA,
  T_DOT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS, T_BAD,
} tok_t;

typedef struct token {
  tok_t t;
  size_t at, len;          /* in the text */
} token_t;

static bool word_char(char c) {
  return isalnum((unsigned char)c) || c == '_';
}

/* Split text into tokens, ended by T_EOF. A character that starts no token
 * becomes T_BAD (a syntax error where the parser meets it). */
static token_t *lex(const char *s, int *ntok) {
  size_t n = 0, cap = 16;
  token_t *v = ms_malloc(cap * sizeof *v);
  size_t i = 0;
  for (;;) {
    while (s[i] && isspace((unsigned char)s[i])) i++;
    if (n + 1 >= cap) v = ms_realloc(v, (cap *= 2) * sizeof *v);
    token_t *k = &v[n++];
    k->at = i;
    k->len = 1;
    char c = s[i];
    if (!c) {
      k->t = T_EOF, k->len = 0;
      break;
    }
    if (isalpha((unsigned char)c) || c == '_') {
      k->t = T_IDENT;
      while (word_char(s[i + k->len])) k->len++;
    } else if (isdigit((unsigned char)c)) {
      k->t = T_NUM;
      while (isdigit((unsigned char)s[i + k->len])) k->len++;
    } else if ((c == '#' || c == ':') && word_char(s[i + 1])) {
      k->t = c == '#' ? T_NAME : T_VALUE;
      while (word_char(s[i + k->len])) k->len++;
    } else {
      static const struct { char c, next; tok_t t; } punct[] = {
        {'<', '>', T_NE}, {'<', '=', T_LE}, {'>', '=', T_GE}, {'<', 0, T_LT},
        {'>', 0, T_GT}, {'=', 0, T_EQ}, {'(', 0, T_LP}, {')', 0, T_RP},
        {'[', 0, T_LB}, {']', 0, T_RB}, {',', 0, T_COMMA}, {'.', 0, T_DOT},
        {'+', 0, T_PLUS}, {'-', 0, T_MINUS},
      };
      k->t = T_BAD;
      for (size_t j = 0; j < sizeof punct / sizeof *punct; j++) {
        if (punct[j].c == c && (!punct[j].next || punct[j].next == s[i + 1])) {
          k->t = punct[j].t;
          k->len = punct[j].next ? 2 : 1;
          break;
        }
      }
      if (k->t == T_BAD && ((unsigned char)c & 0x80))  /* whole UTF-8 char */
        while (((unsigned char)s[i + k->len] & 0xc0) == 0x80) k->len++;
    }
    i += k->len;
  }
  *ntok = (int)n;
  return v;
}

/* ---- the parser ------------------------------------------------------- */

/* The kinds of error other than syntax. When an expression has several,
 * DynamoDB reports one by kind, in an order that differs between
 * conditions and updates (as dynalite, checked against AWS, has it). */
typedef enum {
  E_PARENS, E_UNKNOWN, E_MISUSED, E_RESERVED, E_SECTION, E_ATTR_NAME,
  E_ATTR_VAL, E_OVERLAP, E_CONFLICT, E_OPERAND, E_COUNT, E_DISTINCT,
  E_FUNCTION, E_OTHER, E_KEY, E_NCATS
} ecat_t;

static const ecat_t cond_order[E_NCATS] = {
  E_PARENS, E_UNKNOWN, E_MISUSED, E_RESERVED, E_ATTR_NAME, E_COUNT,
  E_DISTINCT, E_FUNCTION, E_OTHER, E_KEY, E_SECTION, E_ATTR_VAL, E_OVERLAP,
  E_CONFLICT, E_OPERAND,
};
static const ecat_t update_order[E_NCATS] = {
  E_RESERVED, E_UNKNOWN, E_SECTION, E_ATTR_NAME, E_ATTR_VAL, E_OVERLAP,
  E_CONFLICT, E_OPERAND, E_COUNT, E_FUNCTION, E_MISUSED, E_PARENS,
  E_DISTINCT, E_OTHER, E_KEY,
};

typedef struct parser {
  ddbexpr_t *e;
  const char *s;
  token_t *tok;
  int ntok, pos;
  const json_t *names, *values;
  char *syntax;            /* the syntax error, if any (fatal) */
  char *sem[E_NCATS];      /* the first error of each other kind */
} parser_t;

static bool is_condition(const parser_t *p) {
  return p->e->kind == DDBX_CONDITION || p->e->kind == DDBX_FILTER ||
         p->e->kind == DDBX_KEY_CONDITION;
}

static const token_t *cur(parser_t *p) { return &p->tok[p->pos]; }
static tok_t peek_t(parser_t *p, int ahead) {
  int i = p->pos + ahead;
  return i < p->ntok ? p->tok[i].t : T_EOF;
}

static bool tok_is(parser_t *p, const token_t *k, const char *word) {
  return k->t == T_IDENT && strlen(word) == k->len &&
         strncasecmp(p->s + k->at, word, k->len) == 0;
}

/* Syntax error at the current token. Returns NULL for the callers. */
static void *syntax(parser_t *p) {
  if (p->syntax) return NULL;
  const token_t *k = cur(p);
  /* near: the previous, this and the next token, as written */
  const token_t *last = k->t != T_EOF && p->tok[p->pos + 1].t != T_EOF ?
                        &p->tok[p->pos + 1] : k;
  size_t from = p->pos > 0 ? p->tok[p->pos - 1].at : k->at;
  size_t to = last->at + last->len;
  if (k->t == T_EOF)
    to = p->pos > 0 ? p->tok[p->pos - 1].at + p->tok[p->pos - 1].len : 0;
  if (k->t == T_EOF)
    p->syntax = ms_asprintf("Syntax error; token: \"<EOF>\", near: \"%.*s\"",
                            (int)(to - from), p->s + from);
  else
    p->syntax = ms_asprintf("Syntax error; token: \"%.*s\", near: \"%.*s\"",
                            (int)k->len, p->s + k->at, (int)(to - from),
                            p->s + from);
  return NULL;
}

static void sem(parser_t *p, ecat_t cat, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sem(parser_t *p, ecat_t cat, const char *fmt, ...) {
  if (cat == E_ATTR_VAL && is_condition(p))
    cat = E_ATTR_NAME;  /* conditions report the first of the two */
  if (p->sem[cat]) return;
  va_list ap;
  va_start(ap, fmt);
  p->sem[cat] = ms_vasprintf(fmt, ap);
  va_end(ap);
}

/* The error DynamoDB reports (NULL: none). */
static char *first_sem(parser_t *p) {
  const ecat_t *order = is_condition(p) ? cond_order : update_order;
  for (int i = 0; i < E_NCATS; i++)
    if (p->sem[order[i]]) return p->sem[order[i]];
  return NULL;
}

static bool any_sem(parser_t *p) { return first_sem(p) != NULL; }

static bool accept(parser_t *p, tok_t t) {
  if (cur(p)->t != t) return false;
  p->pos++;
  return true;
}

static bool expect(parser_t *p, tok_t t) {
  if (accept(p, t)) return true;
  syntax(p);
  return false;
}

/* Words the grammar uses, which can never start a path. */
static bool keyword(parser_t *p, const token_t *k) {
  static const char *const kw[] = {
    "AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE",
  };
  for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
    if (tok_is(p, k, kw[i])) return true;
  return false;
}

static ddbx_node_t *node(parser_t *p, ddbx_op_t op) {
  ddbx_node_t *n = ddbx_alloc(p->e, sizeof *n);
  n->op = op;
  return n;
}

/* A name element: an identifier (not a reserved word) or a #placeholder
 * that names defines. */
static const char *elem_name(parser_t *p) {
  const token_t *k = cur(p);
  const char *text = p->s + k->at;
  if (k->t == T_IDENT && !keyword(p, k)) {
    char *w = astrndup(p->e, text, k->len);
    if (is_reserved(w))
      sem(p, E_RESERVED, "Attribute name is a reserved keyword; reserved "
          "keyword: %s", w);
    p->pos++;
    return w;
  }
  if (k->t == T_NAME) {
    char *ph = astrndup(p->e, text, k->len);
    p->pos++;
    json_t *v = p->names ? json_object_get(p->names, ph) : NULL;
    json_object_set_new(p->e->used_names, ph, json_true());
    if (!json_is_string(v)) {
      sem(p, E_ATTR_NAME, "An expression attribute name used in the document "
          "path is not defined; attribute name: %s", ph);
      return ph;
    }
    return astrndup(p->e, json_string_value(v), json_string_length(v));
  }
  return syntax(p);
}

static ddbx_path_t *parse_path(parser_t *p) {
  int cap = 4;
  ddbx_path_t *path = ddbx_alloc(p->e, sizeof *path);
  ddbx_elem_t *v = ms_malloc((size_t)cap * sizeof *v);
  int n = 0;
  const char *name = elem_name(p);
  if (!name) goto fail;
  v[n++] = (ddbx_elem_t){name, 0};
  for (;;) {
    if (n == cap) v = ms_realloc(v, (size_t)(cap *= 2) * sizeof *v);
    if (accept(p, T_DOT)) {
      if (!(name = elem_name(p))) goto fail;
      v[n++] = (ddbx_elem_t){name, 0};
    } else if (accept(p, T_LB)) {
      const token_t *k = cur(p);
      if (k->t != T_NUM) {
        syntax(p);
        goto fail;
      }
      long idx = 0;
      for (size_t i = 0; i < k->len; i++)
        idx = idx > (LONG_MAX - 9) / 10 ? LONG_MAX :
              idx * 10 + (p->s[k->at + i] - '0');
      p->pos++;
      if (!expect(p, T_RB)) goto fail;
      v[n++] = (ddbx_elem_t){NULL, idx};
    } else {
      break;
    }
  }
  path->n = n;
  path->v = ddbx_alloc(p->e, (size_t)n * sizeof *v);
  memcpy(path->v, v, (size_t)n * sizeof *v);
  free(v);
  return path;
fail:
  free(v);
  return NULL;
}

static ddbx_node_t *value_node(parser_t *p) {
  const token_t *k = cur(p);
  char *ph = astrndup(p->e, p->s + k->at, k->len);
  p->pos++;
  ddbx_node_t *n = node(p, X_VALUE);
  n->ph = ph;
  json_object_set_new(p->e->used_values, ph, json_true());
  json_t *v = p->values ? json_object_get(p->values, ph) : NULL;
  if (!v) {
    sem(p, E_ATTR_VAL, "An expression attribute value used in expression is "
        "not defined; attribute value: %s", ph);
    v = json_null();  /* a placeholder that matches nothing */
    json_array_append_new(p->e->held, v);
  } else {
    char *err = NULL;
    if (ddbval_check(v, &err) != MS_OK) {
      sem(p, E_OTHER, "ExpressionAttributeValues contains invalid value: %s "
          "for key %s", err, ph);
      free(err);
    }
    json_array_append(p->e->held, v);
  }
  n->value = v;
  return n;
}

/* The functions, their operand counts and where they may appear. */
static const struct fn {
  const char *name;
  ddbx_op_t op;
  int nargs;
  bool cond;               /* a condition (true) or an operand */
  bool update;             /* only in UpdateExpression's SET */
} fns[] = {
  {"attribute_exists", X_EXISTS, 1, true, false},
  {"attribute_not_exists", X_NOT_EXISTS, 1, true, false},
  {"attribute_type", X_TYPE, 2, true, false},
  {"begins_with", X_BEGINS, 2, true, false},
  {"contains", X_CONTAINS, 2, true, false},
  {"size", X_SIZE, 1, false, false},
  {"if_not_exists", X_IF_NOT_EXISTS, 2, false, true},
  {"list_append", X_LIST_APPEND, 2, false, true},
};

static ddbx_node_t *parse_operand(parser_t *p);
static ddbx_node_t *operand_parens(parser_t *p);

static const char *value_type(const ddbx_node_t *n) {
  return n->op == X_VALUE ? ddbval_type(n->value) : NULL;
}

static bool same_path(const ddbx_path_t *a, const ddbx_path_t *b) {
  if (a->n != b->n) return false;
  for (int i = 0; i < a->n; i++) {
    if (!a->v[i].name != !b->v[i].name) return false;
    if (a->v[i].name ? strcmp(a->v[i].name, b->v[i].name) != 0 :
        a->v[i].index != b->v[i].index)
      return false;
  }
  return true;
}

/* DynamoDB refuses `a = a`, `contains(a, a)`, ...: the first operand, when
 * a path, must differ from the others. */
static void distinct(parser_t *p, const char *op, ddbx_node_t *first,
                     ddbx_node_t **rest, int n) {
  if (first->op != X_PATH) return;
  for (int i = 0; i < n; i++) {
    if (rest[i]->op == X_PATH && same_path(first->path, rest[i]->path)) {
      char *t = ddbx_path_text(first->path);
      sem(p, E_DISTINCT, "The first operand must be distinct from the "
          "remaining operands for this operator or function; operator: %s, "
          "first operand: %s", op, t);
      free(t);
      return;
    }
  }
}

/* Checks of a function's operands that DynamoDB makes before reading an
 * item. */
static void check_fn(parser_t *p, const struct fn *f, ddbx_node_t *n) {
  ddbx_node_t **a = n->args;
  const char *t;
  switch (f->op) {
  case X_EXISTS: case X_NOT_EXISTS: case X_TYPE: case X_IF_NOT_EXISTS:
    if (a[0]->op != X_PATH) {
      sem(p, E_FUNCTION, "Operator or function requires a document path; "
          "operator or function: %s", f->name);
      return;
    }
    if (f->op != X_TYPE) return;
    /* the type sets are printed in dynalite's (Java's hash) order */
    t = a[1]->op == X_VALUE ? value_type(a[1]) :
        a[1]->op == X_SIZE ? "N" : "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}";
    if (!t) return;  /* an undefined :value, reported already */
    if (strcmp(t, "S") != 0) {
      sem(p, E_FUNCTION, "Incorrect operand type for operator or function; "
          "operator or function: attribute_type, operand type: %s", t);
    } else {
      const char *name = json_string_value(json_object_get(a[1]->value, "S"));
      static const char *const ok[] = {
        "S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M",
      };
      for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (name && strcmp(name, ok[i]) == 0) return;
      sem(p, E_FUNCTION, "Invalid attribute type name found; type: %s, valid "
          "types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}", name ? name : "");
    }
    return;
  case X_BEGINS:
    t = value_type(a[1]);
    if (t && strcmp(t, "S") != 0 && strcmp(t, "B") != 0)
      sem(p, E_FUNCTION, "Incorrect operand type for operator or function; "
          "operator or function: begins_with, operand type: %s", t);
    else if ((t = value_type(a[0])) && strcmp(t, "S") != 0 &&
             strcmp(t, "B") != 0)
      sem(p, E_FUNCTION, "Incorrect operand type for operator or function; "
          "operator or function: begins_with, operand type: %s", t);
    distinct(p, "begins_with", a[0], a + 1, 1);
    return;
  case X_CONTAINS:
    distinct(p, "contains", a[0], a + 1, 1);
    return;
  case X_SIZE:
    t = value_type(a[0]);
    if (t && (strcmp(t, "N") == 0 || strcmp(t, "BOOL") == 0 ||
              strcmp(t, "NULL") == 0))
      sem(p, E_FUNCTION, "Incorrect operand type for operator or function; "
          "operator or function: size, operand type: %s", t);
    return;
  case X_LIST_APPEND:
    for (int i = 0; i < 2; i++)
      if ((t = value_type(a[i])) && strcmp(t, "L") != 0) {
        sem(p, E_FUNCTION, "Incorrect operand type for operator or function; "
            "operator or function: list_append, operand type: %s", t);
        return;
      }
    return;
  default:
    return;
  }
}

/* name(args...) with the name token current. Condition functions come
 * back as conditions; the caller decides whether that is allowed. */
static ddbx_node_t *parse_call(parser_t *p) {
  const token_t *k = cur(p);
  char *name = astrndup(p->e, p->s + k->at, k->len);
  p->pos += 2;  /* name ( */
  ddbx_node_t *args[8];
  int n = 0;
  if (cur(p)->t != T_RP) {
    do {
      ddbx_node_t *a = operand_parens(p);
      if (!a) return NULL;
      if (a->op >= X_CMP)  /* a condition function as an operand */
        sem(p, E_MISUSED, "The function is not allowed to be used this way in "
            "an expression; function: %s", a->fname);
      if (n < 8) args[n] = a;
      n++;
    } while (accept(p, T_COMMA));
  }
  if (!expect(p, T_RP)) return NULL;
  /* names are case-sensitive; each language knows only its own */
  const struct fn *f = NULL;
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
    if (strcmp(name, fns[i].name) == 0 && fns[i].update != is_condition(p))
      f = &fns[i];
  ddbx_node_t *r = node(p, f ? f->op : X_FUNC);
  r->fname = name;
  r->nargs = n < 8 ? n : 8;
  r->args = ddbx_alloc(p->e, (size_t)r->nargs * sizeof *r->args);
  memcpy(r->args, args, (size_t)r->nargs * sizeof *r->args);
  if (!f) {
    sem(p, E_UNKNOWN, "Invalid function name; function: %s", name);
    return r;
  }
  if (n != f->nargs) {
    sem(p, E_COUNT, "Incorrect number of operands for operator or function; "
        "operator or function: %s, number of operands: %d", name, n);
    r->op = X_FUNC;
    return r;
  }
  check_fn(p, f, r);
  return r;
}

/* path | :value | function(...) */
static ddbx_node_t *parse_operand(parser_t *p) {
  const token_t *k = cur(p);
  if (k->t == T_VALUE) {
    if (p->e->kind == DDBX_PROJECTION) return syntax(p);
    return value_node(p);
  }
  if (k->t == T_IDENT && peek_t(p, 1) == T_LP && !keyword(p, k) &&
      p->e->kind != DDBX_PROJECTION)
    return parse_call(p);
  ddbx_path_t *path = parse_path(p);
  if (!path) return NULL;
  ddbx_node_t *n = node(p, X_PATH);
  n->path = path;
  return n;
}

/* ( operand ), as conditions allow; ((operand)) is redundant. */
static ddbx_node_t *operand_parens(parser_t *p) {
  if (cur(p)->t != T_LP) return parse_operand(p);
  p->pos++;
  ddbx_node_t *n = operand_parens(p);
  if (!n || !expect(p, T_RP)) return NULL;
  if (n->paren) sem(p, E_PARENS, "The expression has redundant parentheses;");
  n->paren = true;
  return n;
}

/* ---- conditions ------------------------------------------------------- */

static ddbx_node_t *parse_or(parser_t *p);

static ddbx_node_t *binary(parser_t *p, ddbx_op_t op, ddbx_node_t *a,
                           ddbx_node_t *b) {
  ddbx_node_t *n = node(p, op);
  n->nargs = 2;
  n->args = ddbx_alloc(p->e, 2 * sizeof *n->args);
  n->args[0] = a, n->args[1] = b;
  return n;
}

static bool cmp_tok(tok_t t, ddbx_cmp_t *c) {
  static const struct { tok_t t; ddbx_cmp_t c; } m[] = {
    {T_EQ, C_EQ}, {T_NE, C_NE}, {T_LT, C_LT}, {T_LE, C_LE}, {T_GT, C_GT},
    {T_GE, C_GE},
  };
  for (size_t i = 0; i < sizeof m / sizeof *m; i++)
    if (m[i].t == t) {
      *c = m[i].c;
      return true;
    }
  return false;
}

static const char *const cmp_text[] = {"=", "<>", "<", "<=", ">", ">="};

/* An operand of a comparison, BETWEEN or IN: not a condition function. */
static ddbx_node_t *cmp_operand(parser_t *p) {
  ddbx_node_t *n = operand_parens(p);
  if (n && n->op >= X_CMP)
    sem(p, E_MISUSED, "The function is not allowed to be used this way in an "
        "expression; function: %s", n->fname);
  return n;
}

/* Print a value for the BETWEEN message as DynamoDB does: {N:5}. */
static char *av_text(const json_t *av) {
  const char *t = ddbval_type(av);
  json_t *v = t ? json_object_get(av, t) : NULL;
  if (json_is_string(v))
    return ms_asprintf("{%s:%s}", t, json_string_value(v));
  char *d = jsonx_dump(av, JSONX_COMPACT);
  return d;
}

/* Whether the ( at the current token opens an operand, not a condition:
 * what follows its ) decides. */
static bool paren_operand(parser_t *p) {
  int depth = 0;
  for (int i = p->pos; i < p->ntok && p->tok[i].t != T_EOF; i++) {
    if (p->tok[i].t == T_LP) {
      depth++;
    } else if (p->tok[i].t == T_RP && --depth == 0) {
      const token_t *nx = &p->tok[i + 1];
      ddbx_cmp_t c;
      return cmp_tok(nx->t, &c) || tok_is(p, nx, "BETWEEN") ||
             tok_is(p, nx, "IN");
    }
  }
  return false;
}

static ddbx_node_t *parse_primary(parser_t *p) {
  const token_t *k = cur(p);
  if (k->t == T_LP && !paren_operand(p)) {
    p->pos++;
    ddbx_node_t *in = parse_or(p);
    if (!in || !expect(p, T_RP)) return NULL;
    if (in->paren)
      sem(p, E_PARENS, "The expression has redundant parentheses;");
    in->paren = true;
    return in;
  }
  ddbx_node_t *a = operand_parens(p);
  if (!a) return NULL;
  if (a->op >= X_CMP) return a;  /* a condition function */
  ddbx_cmp_t c;
  const token_t *o = cur(p);
  if (cmp_tok(o->t, &c)) {
    p->pos++;
    ddbx_node_t *b = cmp_operand(p);
    if (!b) return NULL;
    ddbx_node_t *n = binary(p, X_CMP, a, b);
    n->cmp = c;
    distinct(p, cmp_text[c], a, &b, 1);
    return n;
  }
  if (tok_is(p, o, "BETWEEN")) {
    p->pos++;
    ddbx_node_t *lo = cmp_operand(p);
    if (!lo) return NULL;
    if (!tok_is(p, cur(p), "AND")) return syntax(p);
    p->pos++;
    ddbx_node_t *hi = cmp_operand(p);
    if (!hi) return NULL;
    ddbx_node_t *n = node(p, X_BETWEEN);
    n->nargs = 3;
    n->args = ddbx_alloc(p->e, 3 * sizeof *n->args);
    n->args[0] = a, n->args[1] = lo, n->args[2] = hi;
    const char *tl = value_type(lo), *th = value_type(hi);
    if (tl && th && (strcmp(tl, th) != 0 ||
                     ddbval_compare(lo->value, hi->value) > 0)) {
      char *l = av_text(lo->value), *h = av_text(hi->value);
      if (strcmp(tl, th) != 0)
        sem(p, E_FUNCTION, "The BETWEEN operator requires same data type for "
            "lower and upper bounds; lower bound operand: AttributeValue: %s, "
            "upper bound operand: AttributeValue: %s", l, h);
      else
        sem(p, E_FUNCTION, "The BETWEEN operator requires upper bound to be "
            "greater than or equal to lower bound; lower bound operand: "
            "AttributeValue: %s, upper bound operand: AttributeValue: %s",
            l, h);
      free(l), free(h);
    }
    return n;
  }
  if (tok_is(p, o, "IN")) {
    p->pos++;
    if (!expect(p, T_LP)) return NULL;
    int cap = 8, n = 0;
    ddbx_node_t **v = ms_malloc((size_t)cap * sizeof *v);
    do {
      ddbx_node_t *x = cmp_operand(p);
      if (!x) {
        free(v);
        return NULL;
      }
      if (n == cap) v = ms_realloc(v, (size_t)(cap *= 2) * sizeof *v);
      v[n++] = x;
    } while (accept(p, T_COMMA));
    if (!expect(p, T_RP)) {
      free(v);
      return NULL;
    }
    if (n > IN_MAX)
      sem(p, E_OTHER, "The IN operator is provided with too many operands; "
          "number of operands: %d", n);
    ddbx_node_t *r = node(p, X_IN);
    r->nargs = n + 1;
    r->args = ddbx_alloc(p->e, (size_t)(n + 1) * sizeof *r->args);
    r->args[0] = a;
    memcpy(r->args + 1, v, (size_t)n * sizeof *v);
    free(v);
    return r;
  }
  if ((a->op == X_SIZE || a->op == X_FUNC) &&
      (o->t == T_EOF || o->t == T_RP || tok_is(p, o, "AND") ||
       tok_is(p, o, "OR"))) {
    if (a->op == X_SIZE)  /* X_FUNC: already an error */
      sem(p, E_MISUSED, "The function is not allowed to be used this way in "
          "an expression; function: size");
    return a;
  }
  return syntax(p);
}

static ddbx_node_t *parse_not(parser_t *p) {
  if (tok_is(p, cur(p), "NOT")) {
    p->pos++;
    ddbx_node_t *a = parse_not(p);
    if (!a) return NULL;
    ddbx_node_t *n = node(p, X_NOT);
    n->nargs = 1;
    n->args = ddbx_alloc(p->e, sizeof *n->args);
    n->args[0] = a;
    return n;
  }
  return parse_primary(p);
}

static ddbx_node_t *parse_and(parser_t *p) {
  ddbx_node_t *a = parse_not(p);
  while (a && tok_is(p, cur(p), "AND")) {
    p->pos++;
    ddbx_node_t *b = parse_not(p);
    a = b ? binary(p, X_AND, a, b) : NULL;
  }
  return a;
}

static ddbx_node_t *parse_or(parser_t *p) {
  ddbx_node_t *a = parse_and(p);
  while (a && tok_is(p, cur(p), "OR")) {
    p->pos++;
    ddbx_node_t *b = parse_and(p);
    a = b ? binary(p, X_OR, a, b) : NULL;
  }
  return a;
}

/* ---- key conditions --------------------------------------------------- */

static const char *op_word(const ddbx_node_t *n) {
  switch (n->op) {
  case X_OR: return "OR";
  case X_NOT: return "NOT";
  case X_IN: return "IN";
  case X_CMP: return cmp_text[n->cmp];
  default: return n->fname ? n->fname : "?";
  }
}

/* One term of a key condition into e->kterms. */
static void key_term(parser_t *p, ddbx_node_t *n) {
  ddbexpr_t *e = p->e;
  if (n->op == X_AND) {
    key_term(p, n->args[0]);
    key_term(p, n->args[1]);
    return;
  }
  if (n->op == X_SIZE) {
    sem(p, E_KEY, "KeyConditionExpressions cannot contain nested operations");
    return;
  }
  if ((n->op != X_CMP && n->op != X_BETWEEN && n->op != X_BEGINS) ||
      (n->op == X_CMP && n->cmp == C_NE)) {
    sem(p, E_KEY, "Invalid operator used in KeyConditionExpression: %s",
        op_word(n));
    return;
  }
  if (n->op != X_CMP && n->args[0]->op != X_PATH) {
    sem(p, E_KEY, "Invalid condition in KeyConditionExpression: %s operator "
        "must have the key attribute as its first operand",
        n->op == X_BETWEEN ? "BETWEEN" : "begins_with");
    return;
  }
  ddbx_node_t *a = NULL;
  int at = 0;
  for (int i = 0; i < n->nargs; i++) {
    ddbx_node_t *x = n->args[i];
    if (x->op == X_PATH) {
      if (a) {
        sem(p, E_KEY, "Invalid condition in KeyConditionExpression: Multiple "
            "attribute names used in one condition");
        return;
      }
      if (x->path->n != 1) {
        sem(p, E_KEY, "KeyConditionExpressions cannot have conditions on "
            "nested attributes");
        return;
      }
      a = x, at = i;
    } else if (x->op != X_VALUE) {  /* size() */
      sem(p, E_KEY,
          "KeyConditionExpressions cannot contain nested operations");
      return;
    }
  }
  if (!a) {
    sem(p, E_KEY, "Invalid condition in KeyConditionExpression: No key "
        "attribute specified");
    return;
  }
  const char *name = a->path->v[0].name;
  for (int i = 0; i < e->nkterms; i++)
    if (strcmp(e->kterms[i].name, name) == 0) {
      sem(p, E_KEY, "KeyConditionExpressions must only contain one condition "
          "per key");
      return;
    }
  if (e->nkterms == 2) {  /* a guess: a third key attribute */
    sem(p, E_KEY, "KeyConditionExpressions must only contain one condition "
        "per key");
    return;
  }
  ddbx_cmp_t c = n->cmp;
  if (at == 1) {  /* :v < k  is  k > :v */
    static const ddbx_cmp_t flip[] = {C_EQ, C_NE, C_GT, C_GE, C_LT, C_LE};
    c = flip[c];
    n->args[1] = n->args[0];
    n->args[0] = a;
  }
  ddbx_kterm_t *t = &e->kterms[e->nkterms++];
  static const ddbx_skop_t sk[] = {DDBX_SK_EQ, DDBX_SK_NONE, DDBX_SK_LT,
                                   DDBX_SK_LE, DDBX_SK_GT, DDBX_SK_GE};
  t->name = name;
  t->op = n->op == X_BETWEEN ? DDBX_SK_BETWEEN :
          n->op == X_BEGINS ? DDBX_SK_BEGINS_WITH : sk[c];
  t->lo = n->args[1]->value;
  t->hi = n->op == X_BETWEEN ? n->args[2]->value : NULL;
}

/* ---- updates and projections ------------------------------------------ */

/* Report the first pair of paths that overlap or conflict. */
static void overlaps(parser_t *p, ddbx_path_t **v, int n) {
  for (int i = 0; i < n; i++) {
    for (int j = i + 1; j < n; j++) {
      const ddbx_path_t *a = v[i], *b = v[j];
      int m = a->n < b->n ? a->n : b->n, k;
      bool conflict = false, differ = false;
      for (k = 0; k < m && !conflict && !differ; k++) {
        const ddbx_elem_t *x = &a->v[k], *y = &b->v[k];
        if (!x->name != !y->name) conflict = true;
        else if (x->name ? strcmp(x->name, y->name) != 0 :
                 x->index != y->index) differ = true;
      }
      if (differ) continue;
      char *ta = ddbx_path_text(a), *tb = ddbx_path_text(b);
      sem(p, conflict ? E_CONFLICT : E_OVERLAP, "Two document paths %s with "
          "each other; must remove or rewrite one of these paths; path one: "
          "%s, path two: %s", conflict ? "conflict" : "overlap", ta, tb);
      free(ta), free(tb);
      return;
    }
  }
}

static const char *const clause_word[] = {"SET", "REMOVE", "ADD", "DELETE"};

/* SET's value: operand [(+|-) operand]. */
static ddbx_node_t *set_value(parser_t *p) {
  ddbx_node_t *a = parse_operand(p);
  if (!a) return NULL;
  if (a->op == X_SIZE || a->op >= X_CMP) return a;  /* already reported */
  tok_t t = cur(p)->t;
  if (t != T_PLUS && t != T_MINUS) return a;
  p->pos++;
  ddbx_node_t *b = parse_operand(p);
  if (!b) return NULL;
  const char *op = t == T_PLUS ? "+" : "-";
  for (int i = 0; i < 2; i++) {
    const char *ty = value_type(i ? b : a);
    if (ty && strcmp(ty, "N") != 0) {
      sem(p, E_FUNCTION, "Incorrect operand type for operator or function; "
          "operator or function: %s, operand type: %s", op, ty);
      break;
    }
  }
  return binary(p, t == T_PLUS ? X_PLUS : X_MINUS, a, b);
}

static bool parse_update(parser_t *p) {
  ddbexpr_t *e = p->e;
  bool seen[4] = {false};
  int cap = 8;
  e->acts = NULL;
  ddbx_action_t *acts = ms_malloc((size_t)cap * sizeof *acts);
  int n = 0;
  bool ok = false;
  do {
    int c;
    for (c = 0; c < 4; c++)
      if (tok_is(p, cur(p), clause_word[c])) break;
    if (c == 4) {
      syntax(p);
      goto done;
    }
    p->pos++;
    if (seen[c])
      sem(p, E_SECTION, "The \"%s\" section can only be used once in an "
          "update expression;", clause_word[c]);
    seen[c] = true;
    do {
      ddbx_action_t a = {(ddbx_clause_t)c, NULL, NULL};
      if (!(a.path = parse_path(p))) goto done;
      if (c == U_SET) {
        if (!expect(p, T_EQ) || !(a.value = set_value(p))) goto done;
      } else if (c == U_ADD || c == U_DELETE) {
        if (cur(p)->t != T_VALUE) {
          syntax(p);
          goto done;
        }
        a.value = value_node(p);
        const char *t = value_type(a.value);
        bool set = t && t[1] == 'S' && t[0] != 'S';
        set = set || (t && strcmp(t, "SS") == 0);
        if (t && !(set || (c == U_ADD && strcmp(t, "N") == 0)))
          sem(p, E_OPERAND, "Incorrect operand type for operator or function; "
              "operator: %s, operand type: %s, typeSet: "
              "ALLOWED_FOR_%s_OPERAND",
              clause_word[c], ddbx_type_word(t), clause_word[c]);
      }
      if (n == cap) acts = ms_realloc(acts, (size_t)(cap *= 2) * sizeof *acts);
      acts[n++] = a;
    } while (accept(p, T_COMMA));
  } while (cur(p)->t != T_EOF);
  ok = true;
  ddbx_path_t **paths = ms_malloc((size_t)n * sizeof *paths);
  for (int i = 0; i < n; i++) paths[i] = acts[i].path;
  overlaps(p, paths, n);
  free(paths);
done:
  e->nacts = n;
  e->acts = ddbx_alloc(e, (size_t)n * sizeof *acts);
  memcpy(e->acts, acts, (size_t)n * sizeof *acts);
  free(acts);
  return ok;
}

static bool parse_projection(parser_t *p) {
  ddbexpr_t *e = p->e;
  int cap = 8, n = 0;
  ddbx_path_t **v = ms_malloc((size_t)cap * sizeof *v);
  bool ok = false;
  do {
    ddbx_path_t *path = parse_path(p);
    if (!path) goto done;
    if (n == cap) v = ms_realloc(v, (size_t)(cap *= 2) * sizeof *v);
    v[n++] = path;
  } while (accept(p, T_COMMA));
  if (cur(p)->t != T_EOF) {
    syntax(p);
    goto done;
  }
  ok = true;
  overlaps(p, v, n);
done:
  e->nproj = n;
  e->proj = ddbx_alloc(e, (size_t)n * sizeof *v);
  memcpy(e->proj, v, (size_t)n * sizeof *v);
  free(v);
  return ok;
}

/* ---- the entry point -------------------------------------------------- */

static const char *const kind_word[] = {
  "ConditionExpression", "KeyConditionExpression", "UpdateExpression",
  "ProjectionExpression", "FilterExpression",
};

ddbexpr_t *ddbexpr_parse(ddbx_kind_t kind, const char *text,
                         const json_t *names, const json_t *values,
                         char **err) {
  ddbexpr_t *e = ms_calloc(1, sizeof *e);
  e->kind = kind;
  e->used_names = json_object();
  e->used_values = json_object();
  e->held = json_array();
  parser_t p = {e, text ? text : "", NULL, 0, 0, names, values, NULL, {NULL}};
  p.tok = lex(p.s, &p.ntok);
  if (p.tok[0].t == T_EOF) {
    p.syntax = ms_strdup("The expression can not be empty;");
  } else if (kind == DDBX_UPDATE) {
    parse_update(&p);
  } else if (kind == DDBX_PROJECTION) {
    parse_projection(&p);
  } else {
    e->root = parse_or(&p);
    if (e->root && cur(&p)->t != T_EOF) syntax(&p);
    if (e->root && !p.syntax && e->root->op < X_CMP && !any_sem(&p))
      syntax(&p);  /* an operand alone (a path or :v) is no condition */
    if (kind == DDBX_KEY_CONDITION && e->root && !p.syntax && !any_sem(&p))
      key_term(&p, e->root);
  }
  free(p.tok);
  char *msg = p.syntax ? p.syntax : first_sem(&p);
  if (msg) *err = ms_asprintf("Invalid %s: %s", kind_word[kind], msg);
  free(p.syntax);
  for (int i = 0; i < E_NCATS; i++) free(p.sem[i]);
  if (msg) {
    ddbexpr_free(e);
    return NULL;
  }
  return e;
}
