/* jsonata_int.h - internals shared by the JSONata parser, evaluator and
 * function library: the arena, values (jv), the syntax tree (jnode) and
 * the evaluation context. Not part of the public API (see jsonata.h).
 *
 * Memory: every value and node lives in an arena; a compiled expression
 * owns one for its tree, each evaluation one for its values, so nothing
 * is freed piecemeal and errors unwind with longjmp.
 */
#ifndef MS_JSONATA_INT_H
#define MS_JSONATA_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include "jsonata.h"

/* ---- arena */
typedef struct jarena_blk jarena_blk;
typedef struct jcleanup { struct jcleanup *next; void (*fn)(void *);
                          void *p; } jcleanup;
typedef struct jarena {
  jarena_blk *head;
  char *ptr, *end;
  jcleanup *cleanups;  /* run at arena_free (regex codes ...) */
  size_t total;        /* bytes allocated, for the memory limit */
} jarena;

void *ja_alloc(jarena *a, size_t n);          /* zeroed; aborts on OOM */
char *ja_strndup(jarena *a, const char *s, size_t n);
void ja_on_free(jarena *a, void (*fn)(void *), void *p);
void ja_free(jarena *a);

/* ---- values; NULL is undefined */
enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ, JV_FN };

typedef struct jv jv;
typedef struct jfn jfn;
struct jv {
  unsigned char t;
  unsigned char seq;     /* array is a sequence */
  unsigned char keep;    /* sequence keeps a singleton */
  unsigned char cons;    /* array made by a constructor, never flattened */
  unsigned char outer;   /* outer wrapper ($eval of an array) */
  unsigned char tuple;   /* sequence of tuples (objects '@' + bindings) */
  union {
    int b;
    double n;
    struct { char *p; size_t len; } s;
    struct { jv **v; size_t n, cap; } a;
    struct { char **k; size_t *kl; jv **v; size_t n, cap;
             int *idx; size_t icap; } o;
    jfn *f;
  } u;
};

/* ---- syntax tree */
typedef struct jnode jnode;
typedef struct { jnode **v; int n, cap; } jnodes;
typedef struct jslot { char *label; int level; int index; } jslot;
typedef struct jsig jsig;

enum {
  NT_PATH = 1, NT_BINARY, NT_UNARY, NT_NAME, NT_STRING, NT_NUMBER,
  NT_VALUE, NT_WILDCARD, NT_DESCENDANT, NT_PARENT, NT_CONDITION,
  NT_BLOCK, NT_BIND, NT_REGEX, NT_FUNCTION, NT_PARTIAL, NT_VARIABLE,
  NT_LAMBDA, NT_APPLY, NT_SORT, NT_TRANSFORM, NT_FILTER, NT_INDEX,
  NT_PLACEHOLDER, NT_COALESCE, NT_ELVIS, NT_OPERATOR, NT_END
};

struct jnode {
  int type;
  int pos;
  const char *value;      /* op / name / variable / string literal */
  size_t vlen;            /* length of a string literal */
  double num;
  jv *lit;                /* literal value (string, number, value) */
  jnode *lhs, *rhs;       /* binary, bind, apply, condition alternatives */
  jnode *expr;            /* unary -, filter stage, coalesce/elvis lhs */
  jnodes items;           /* block / array items, args, lambda params */
  jnodes pairs;           /* object constructor: key, value, key, ... */
  jnodes steps;           /* path */
  jnodes stages;          /* step predicates and index bindings */
  jnodes predicate;       /* predicates of a non-step expression */
  jnodes group;           /* group-by pairs (key, value, ...) */
  int group_pos;
  bool has_group;
  jnode *procedure;       /* function / partial */
  jnode *body;            /* lambda */
  jsig *sig;              /* lambda signature */
  jnode *cond, *then, *els;
  jnode *pattern, *update, *del;   /* transform */
  jnodes terms;           /* sort terms (expr); descending in flags */
  unsigned char *desc;
  const char *focus, *index;       /* @$x, #$i */
  jslot *ancestor;        /* name/wildcard step binds its parent */
  jslot *slot;            /* parent node */
  jslot **seeking; int nseeking, capseeking;
  bool tuple, keep_array, consarray, keep_singleton, thunk;
  void *re;               /* pcre2_code * for NT_REGEX */
  const char *re_src;
};

/* ---- functions */
typedef struct jctx jctx;
typedef struct jframe jframe;
typedef jv *(*jnative)(jctx *c, jv **args, int n, jv *input, jframe *env);

typedef struct jbuiltin {
  const char *name;
  jnative fn;
  const char *sig;     /* reference signature, "<s-nn?:s>" */
  int arity;           /* parameters of the reference's implementation */
} jbuiltin;

enum { FN_LAMBDA, FN_NATIVE, FN_PARTIAL, FN_TRANSFORM, FN_REGEX };
struct jfn {
  int kind;
  jnode *node;          /* lambda / transform / regex node */
  jv *input;            /* lambda: captured input */
  jframe *env;          /* lambda: captured environment */
  const jbuiltin *b;    /* native */
  jsig *sig;            /* signature to validate (NULL: none) */
  jv *target;           /* partial: the function */
  jv **args; int nargs; /* partial: bound args (NULL entries = ?) */
  unsigned char *hole;  /* partial: 1 where the arg is a placeholder */
  const char **params;  /* lambda: parameter names (no $) */
  int nparams;
  int arity;
  bool thunk;
};

struct jframe {
  jframe *parent;
  const char **names;
  jv **vals;
  int n, cap;
  bool sorted;          /* names in strcmp order (the built-ins' frame) */
};

/* ---- signatures */
jsig *jsig_parse(jarena *a, const char *text, int pos, int *errpos,
                 char *code);
jv **jsig_validate(jctx *c, jsig *s, jv **args, int n, jv *context,
                   int *nout, const char *fname);

/* ---- evaluation context */
struct jctx {
  jarena a;
  jmp_buf *jb;
  jsonata_err_t *err;
  int depth, max_depth;
  long timeout_ms;
  double t0;
  unsigned ticks;
  jframe *global;
  double now_ms;        /* $now/$millis: fixed per evaluation */
  int pos;              /* position of the function being applied */
  void *md;             /* pcre2_match_data for signatures, lazily made */
};

/* raise an error: code, position (-1 unknown), token (may be NULL) and
 * the value and second value the message inserts (may be NULL). */
_Noreturn void jerr(jctx *c, const char *code, int pos, const char *token,
                    jv *value, jv *value2);
_Noreturn void jerr_idx(jctx *c, const char *code, int pos,
                        const char *token, jv *value, int index,
                        const char *type);
_Noreturn void jerr_text(jctx *c, const char *code, int pos,
                         const char *message);
_Noreturn void jerr_timeout(jctx *c);
char *jerr_message(const char *code, const char *token, const char *value,
                   const char *value2, int index, const char *type);

/* values */
jv *jv_null(void);
jv *jv_bool(bool b);
jv *jv_num(jctx *c, double n);
jv *jv_str(jctx *c, const char *s, size_t len);
jv *jv_cstr(jctx *c, const char *s);
jv *jv_arr(jctx *c);
jv *jv_seq(jctx *c);
void jv_push(jctx *c, jv *arr, jv *v);
jv *jv_obj(jctx *c);
void jv_set(jctx *c, jv *obj, const char *k, size_t kl, jv *v);
jv *jv_get(jv *obj, const char *k, size_t kl);
bool jv_del(jv *obj, const char *k, size_t kl);
jv *jv_fn(jctx *c, jfn *f);
bool jv_isfn(jv *v);
bool jv_isarr(jv *v);
jv *jv_from_json(jctx *c, const json_t *j);
json_t *jv_to_json(jv *v);
bool jv_equal(jv *a, jv *b);
bool jv_truthy(jctx *c, jv *v, bool *defined);
char *jv_stringify(jctx *c, jv *v, bool pretty, size_t *len);
void jnum_fmt(double d, char *buf);    /* JavaScript Number#toString */
jv *jv_append(jctx *c, jv *a, jv *b);  /* the reference's fn.append */
jv *jv_clone(jctx *c, jv *v);
int jv_arity(jv *f);
const char *jv_typename(jv *v);

/* evaluator */
jv *jeval(jctx *c, jnode *n, jv *input, jframe *env);
jv *jeval_apply(jctx *c, jv *fn, jv **args, int n, jv *input, jframe *env,
                int pos, const char *token);
jframe *jframe_new(jctx *c, jframe *parent);
void jframe_bind(jctx *c, jframe *f, const char *name, jv *v);
jv *jframe_lookup(jframe *f, const char *name, bool *found);
void jeval_tick(jctx *c);

/* parser: returns the processed tree or NULL with err set */
jnode *jparse(jarena *a, const char *text, jsonata_err_t *err);

/* function library */
const jbuiltin *jfn_lookup(const char *name);
void jfn_bind_all(jctx *c, jframe *f);
/* Step Functions' additions, a sorted frame over the built-ins' one
 * (jsonata_sfn.c) */
void jsfn_bind_all(jctx *c, jframe *f);
jv *jfn_string(jctx *c, jv *v, bool pretty);
bool jfn_boolean(jctx *c, jv *v);
jv *jfn_eval_text(jctx *c, const char *text, jv *input, jframe *env);
jv *jfn_sort(jctx *c, jv *arr, int (*cmp)(jctx *, jv *, jv *, void *),
             void *ud);

/* strings (UTF-8) */
size_t jutf8_len(const char *s, size_t n);  /* code points */

#endif
