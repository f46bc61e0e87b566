/* payload.c - value expressions (jexpr) and payload templates (tmpl).
 *
 * A jexpr is the right-hand side of a ".$" field, ErrorPath, CausePath and
 * the like: a JSONPath (jpath.c) or an intrinsic call (intrinsic.c). A tmpl
 * is a Parameters / ItemSelector / ResultSelector / Assign / BatchInput
 * object compiled once into a small tree: literal subtrees are kept as one
 * shared json_t (json_incref'd into every result), so evaluating a template
 * allocates only the objects and arrays that hold an expression somewhere
 * below them. Payload size limits are the interpreter's concern (exec.c).
 */
#include <stdlib.h>
#include <string.h>

#include "intrinsic.h"
#include "payload.h"

#define ASSIGN_NAME_MAX 80  /* AWS: a variable name is at most 80 chars */

/* ---- expressions ----------------------------------------------------- */

struct jexpr {
  char *text;          /* the source text */
  jpath_t *path;       /* a JSONPath, or */
  intrinsic_t *call;   /* an intrinsic function call */
};

jexpr_t *jexpr_compile(const char *text, char **err) {
  jexpr_t *e;
  char *why = NULL;

  *err = NULL;
  if (intrinsic_is_call(text)) {
    intrinsic_t *c = intrinsic_compile(text, &why);
    if (!c) {
      *err = why ? why : ms_strdup("invalid intrinsic function call");
      return NULL;
    }
    e = ms_calloc(1, sizeof *e);
    e->call = c;
  } else {
    jpath_t *p;
    if (text[0] != '$') {
      *err = ms_strdup("not a JSONPath (must start with '$') nor an "
                       "intrinsic function call");
      return NULL;
    }
    p = jpath_compile(text, &why);
    if (!p) {
      *err = why ? why : ms_strdup("invalid JSONPath");
      return NULL;
    }
    e = ms_calloc(1, sizeof *e);
    e->path = p;
  }
  e->text = ms_strdup(text);
  return e;
}

void jexpr_free(jexpr_t *e) {
  if (!e) return;
  jpath_free(e->path);
  intrinsic_free(e->call);
  free(e->text);
  free(e);
}

const char *jexpr_text(const jexpr_t *e) { return e->text; }

json_t *jexpr_eval(const jexpr_t *e, const jscope_t *s, const char *field,
                   fault_t *f) {
  json_t *v;
  char *in;

  if (e->call) return intrinsic_eval(e->call, s, f);
  v = jpath_eval(e->path, s, NULL);
  if (v) return v;
  /* AWS quotes the state input for every root ($, $$ and $var alike). */
  in = s->input ? jsonx_dump(s->input, JSONX_COMPACT) : ms_strdup("null");
  if (field)
    fault_runtime(f, "The JSONPath '%s' specified for the field '%s' could "
                  "not be found in the input '%s'", e->text, field, in);
  else
    fault_runtime(f, "The JSONPath '%s' could not be found in the input "
                  "'%s'", e->text, in);
  free(in);
  return NULL;
}

/* ---- templates ------------------------------------------------------- */

typedef enum { TN_LIT, TN_EXPR, TN_OBJ, TN_ARR } tkind_t;

typedef struct tnode tnode_t;
struct tnode {
  tkind_t kind;
  json_t *lit;      /* TN_LIT: shared literal (one reference held) */
  jexpr_t *expr;    /* TN_EXPR */
  char *field;      /* TN_EXPR: the source key ("a.$") for messages */
  char **keys;      /* TN_OBJ: output keys, in template order */
  tnode_t *kids;    /* TN_OBJ values / TN_ARR elements */
  size_t n;
};

struct tmpl {
  tnode_t root;
};

static void node_clear(tnode_t *t) {
  json_decref(t->lit);
  jexpr_free(t->expr);
  free(t->field);
  for (size_t i = 0; i < t->n; i++) {
    if (t->keys) free(t->keys[i]);
    node_clear(&t->kids[i]);
  }
  free(t->keys);
  free(t->kids);
  memset(t, 0, sizeof *t);
}

static void node_lit(tnode_t *t, json_t *v) {
  node_clear(t);
  t->kind = TN_LIT;
  t->lit = json_incref(v);
}

static bool is_expr_key(const char *k, size_t len) {
  return len >= 2 && k[len - 2] == '.' && k[len - 1] == '$';
}

/* Compile v into t. Returns true when the subtree holds an expression
 * (then t is TN_OBJ/TN_ARR/TN_EXPR); otherwise t is one shared TN_LIT. */
static bool compile(tnode_t *t, json_t *v, const char *ptr, diags_t *d);

static bool compile_obj(tnode_t *t, json_t *v, const char *ptr,
                        diags_t *d) {
  size_t n = json_object_size(v), i = 0;
  bool dyn = false;
  const char *key;
  json_t *val;

  t->kind = TN_OBJ;
  t->keys = ms_calloc(n ? n : 1, sizeof *t->keys);
  t->kids = ms_calloc(n ? n : 1, sizeof *t->kids);
  json_object_foreach(v, key, val) {
    size_t len = strlen(key);
    tnode_t *k = &t->kids[i];
    char *kp = ptr_join(ptr, key);
    t->n = i + 1;
    if (is_expr_key(key, len)) {
      char *err = NULL;
      t->keys[i] = ms_strndup(key, len - 2);
      dyn = true;
      k->kind = TN_LIT;
      k->lit = json_null();
      if (!json_is_string(val)) {
        diags_add(d, false, kp, "the value of '%s' must be a string", key);
      } else {
        jexpr_t *e = jexpr_compile(json_string_value(val), &err);
        if (!e) {
          diags_add(d, false, kp, "the value of '%s' must be a valid "
                    "JSONPath or a valid intrinsic function call: %s",
                    key, err);
          free(err);
        } else {
          node_clear(k);
          k->kind = TN_EXPR;
          k->expr = e;
          k->field = ms_strdup(key);
        }
      }
    } else {
      t->keys[i] = ms_strdup(key);
      if (compile(k, val, kp, d)) dyn = true;
    }
    /* Keys of a JSON object are unique, so only "k" and "k.$" can give
     * one output field twice: look "k" up from "k.$", reported there (a
     * pairwise scan was quadratic in the keys). */
    if (is_expr_key(key, len) && json_object_get(v, t->keys[i]))
      diags_add(d, false, kp, "the field '%s' is given twice (a key and "
                "its '.$' form produce the same output field)",
                t->keys[i]);
    free(kp);
    i++;
  }
  return dyn;
}

static bool compile_arr(tnode_t *t, json_t *v, const char *ptr,
                        diags_t *d) {
  size_t n = json_array_size(v);
  bool dyn = false;

  t->kind = TN_ARR;
  t->kids = ms_calloc(n ? n : 1, sizeof *t->kids);
  t->n = n;
  for (size_t i = 0; i < n; i++) {
    char *ip = ptr_index(ptr, i);
    if (compile(&t->kids[i], json_array_get(v, i), ip, d)) dyn = true;
    free(ip);
  }
  return dyn;
}

static bool compile(tnode_t *t, json_t *v, const char *ptr, diags_t *d) {
  bool dyn = false;

  memset(t, 0, sizeof *t);
  if (json_is_object(v)) dyn = compile_obj(t, v, ptr, d);
  else if (json_is_array(v)) dyn = compile_arr(t, v, ptr, d);
  if (!dyn) node_lit(t, v);
  return dyn;
}

tmpl_t *tmpl_compile(json_t *tpl, const char *ptr, diags_t *d) {
  tmpl_t *t;

  if (!tpl) return NULL;
  t = ms_calloc(1, sizeof *t);
  compile(&t->root, tpl, ptr ? ptr : "", d);
  return t;
}

/* A variable name: an identifier of at most ASSIGN_NAME_MAX characters.
 * ASCII letters, '_' and (approximating Unicode ID_Start/ID_Continue) any
 * non-ASCII character may start it; digits may follow. */
const char *tmpl_var_name_problem(const char *name) {
  size_t chars = 0;
  const unsigned char *p = (const unsigned char *)name;

  if (!*p) return "is empty";
  if (*p >= '0' && *p <= '9') return "starts with a digit";
  for (; *p; p++) {
    unsigned c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
    if (!ok) return "may hold only letters, digits and '_'";
    if ((c & 0xC0) != 0x80) chars++;  /* count UTF-8 lead bytes */
  }
  if (chars > ASSIGN_NAME_MAX) return "is longer than 80 characters";
  return NULL;
}

tmpl_t *tmpl_compile_assign(json_t *tpl, const char *ptr, diags_t *d) {
  const char *key;
  json_t *val;

  if (!json_is_object(tpl)) {
    diags_add(d, false, ptr, "Assign must be a JSON object, not %s",
              jsonx_type_name(tpl));
    return NULL;
  }
  json_object_foreach(tpl, key, val) {
    size_t len = strlen(key);
    char *name = is_expr_key(key, len) ? ms_strndup(key, len - 2)
                                       : ms_strdup(key);
    const char *why = tmpl_var_name_problem(name);
    if (why) {
      char *kp = ptr_join(ptr, key);
      diags_add(d, false, kp, "invalid variable name '%s': it %s", name,
                why);
      free(kp);
    }
    free(name);
  }
  return tmpl_compile(tpl, ptr, d);
}

void tmpl_free(tmpl_t *t) {
  if (!t) return;
  node_clear(&t->root);
  free(t);
}

static json_t *eval(const tnode_t *t, const jscope_t *s, fault_t *f) {
  json_t *out;

  switch (t->kind) {
  case TN_LIT:
    return json_incref(t->lit);
  case TN_EXPR:
    return jexpr_eval(t->expr, s, t->field, f);
  case TN_OBJ:
    out = json_object();
    for (size_t i = 0; i < t->n; i++) {
      json_t *v = eval(&t->kids[i], s, f);
      if (!v) goto fail;
      /* keys came from a parsed JSON object: already valid UTF-8 */
      json_object_set_new_nocheck(out, t->keys[i], v);
    }
    return out;
  case TN_ARR:
    out = json_array();
    for (size_t i = 0; i < t->n; i++) {
      json_t *v = eval(&t->kids[i], s, f);
      if (!v) goto fail;
      json_array_append_new(out, v);
    }
    return out;
  }
  return NULL;
fail:
  json_decref(out);
  return NULL;
}

/* The top-level container is always the caller's own: a template with no
 * expression would otherwise hand out its compiled literal, and a caller
 * that adds members (exec merges a Choice rule's Assign into the state's)
 * changed the template for every later evaluation. One shallow copy, only
 * for all-literal templates; nested values stay shared. */
json_t *tmpl_eval(const tmpl_t *t, const jscope_t *s, fault_t *f) {
  if (t->root.kind == TN_LIT && (json_is_object(t->root.lit) ||
                                 json_is_array(t->root.lit)))
    return json_copy(t->root.lit);
  return eval(&t->root, s, f);
}
