/* jtmpl.c - JSONata templates (jtmpl.h): a field value of a JSONata state
 * compiled once into a small tree whose leaves are literal JSON or compiled
 * JSONata expressions (jsonata.h), and evaluated into a new value with
 * Step Functions' error messages (States.QueryEvaluationError).
 *
 * Literal subtrees are kept whole and shared (json_incref) by every
 * result. The bindings (what $states and the variables are) are built by
 * the interpreter (exec_jsonata.c); this file only evaluates.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonata.h"
#include "jtmpl.h"
#include "payload.h"

typedef enum { J_LIT, J_EXPR, J_OBJ, J_ARR } jkind_t;

struct jtmpl {
  jkind_t kind;
  json_t *lit;         /* J_LIT: the value */
  jsonata_t *expr;     /* J_EXPR: compiled expression */
  char *text;          /* J_EXPR: its text, trimmed, as AWS quotes it */
  char *field;         /* "Output", "Output/result": for messages */
  char **refs;         /* J_EXPR: the variables ($name) the text names */
  size_t nrefs;
  unsigned states;     /* J_EXPR: the $states members it names (S_*) */
  size_t n;            /* J_OBJ / J_ARR: members */
  char **keys;         /* J_OBJ: member names */
  jtmpl_t **kids;
};

/* Members of $states: an expression is given only the variables and
 * the $states members its text names, so that evaluating it does not
 * convert every variable and the whole context (jsonata_eval converts its
 * bindings eagerly). */
static const char *const state_members[] = {
  "input", "context", "result", "errorOutput"
};
#define S_ALL 0xfu

static bool ident_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_' || ch >= 0x80;
}

/* Record the $names of t->text: a superset of the variables it can read
 * (a name inside a string literal only costs a binding). */
static void scan_refs(jtmpl_t *t) {
  const char *s = t->text;
  for (size_t i = 0; s[i]; i++) {
    if (s[i] != '$') continue;
    size_t j = i + 1;
    while (ident_char((unsigned char)s[j])) j++;
    if (j == i + 1) continue;  /* "$" or "$$": the input */
    size_t n = j - i - 1;
    if (n == 6 && !strncmp(s + i + 1, "states", 6)) {
      unsigned bit = S_ALL;
      if (s[j] == '.') {
        size_t k = j + 1;
        while (ident_char((unsigned char)s[k])) k++;
        for (unsigned m = 0; m < 4; m++)
          if (strlen(state_members[m]) == k - j - 1 &&
              !strncmp(s + j + 1, state_members[m], k - j - 1))
            bit = 1u << m;
      }
      t->states |= bit;
    } else {
      bool seen = false;
      for (size_t r = 0; r < t->nrefs && !seen; r++)
        seen = strlen(t->refs[r]) == n && !strncmp(t->refs[r], s + i + 1, n);
      if (!seen) {
        t->refs = ms_realloc(t->refs, (t->nrefs + 1) * sizeof *t->refs);
        t->refs[t->nrefs++] = ms_strndup(s + i + 1, n);
      }
    }
    i = j - 1;
  }
}

/* The expression inside "{% ... %}", trimmed (malloc'd), or NULL when s
 * is not exactly one such string. */
static char *expr_text(const char *s, size_t len) {
  if (len < 4 || strncmp(s, "{%", 2) || strncmp(s + len - 2, "%}", 2))
    return NULL;
  const char *a = s + 2, *b = s + len - 2;
  while (a < b && strchr(" \t\r\n", *a)) a++;
  while (b > a && strchr(" \t\r\n", b[-1])) b--;
  return ms_strndup(a, (size_t)(b - a));
}

static bool has_expr(json_t *v) {
  if (json_is_string(v))
    return json_string_length(v) >= 4 &&
           !strncmp(json_string_value(v), "{%", 2) &&
           !strncmp(json_string_value(v) + json_string_length(v) - 2, "%}",
                    2);
  const char *k;
  json_t *x;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach(v, k, x)
      if (has_expr(x)) return true;
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, x)
      if (has_expr(x)) return true;
  }
  return false;
}

jtmpl_t *jtmpl_compile(json_t *v, const char *ptr, const char *field,
                       diags_t *d) {
  jtmpl_t *t = ms_calloc(1, sizeof *t);
  t->field = ms_strdup(field);
  if (!has_expr(v)) {
    t->kind = J_LIT;
    t->lit = json_incref(v);
    return t;
  }
  if (json_is_string(v)) {
    t->kind = J_EXPR;
    t->text = expr_text(json_string_value(v), json_string_length(v));
    jsonata_err_t err = {{0}, NULL, -1, NULL};
    if (!*t->text) {
      diags_add(d, false, ptr, "the JSONata expression of %s is empty",
                field);
    } else if (!(t->expr = jsonata_compile(t->text, &err))) {
      diags_add(d, false, ptr, "invalid JSONata expression '%s': %s: %s "
                "(at character %d of the expression)", t->text, err.code,
                err.message ? err.message : "syntax error", err.position);
      jsonata_err_clear(&err);
    }
    if (!t->expr) {
      jtmpl_free(t);
      return NULL;
    }
    scan_refs(t);
    return t;
  }
  bool obj = json_is_object(v);
  t->kind = obj ? J_OBJ : J_ARR;
  size_t n = obj ? json_object_size(v) : json_array_size(v);
  t->kids = ms_calloc(n ? n : 1, sizeof *t->kids);
  if (obj) t->keys = ms_calloc(n ? n : 1, sizeof *t->keys);
  bool ok = true;
  const char *k;
  json_t *x;
  size_t i;
  if (obj) {
    json_object_foreach(v, k, x) {
      char *p = ptr_join(ptr, k), *fl = ms_asprintf("%s/%s", field, k);
      t->keys[t->n] = ms_strdup(k);
      if (!(t->kids[t->n++] = jtmpl_compile(x, p, fl, d))) ok = false;
      free(p);
      free(fl);
    }
  } else {
    json_array_foreach(v, i, x) {
      char *p = ptr_index(ptr, i), *fl = ms_asprintf("%s/%zu", field, i);
      if (!(t->kids[t->n++] = jtmpl_compile(x, p, fl, d))) ok = false;
      free(p);
      free(fl);
    }
  }
  if (!ok) {
    jtmpl_free(t);
    return NULL;
  }
  return t;
}

jtmpl_t *jtmpl_compile_assign(json_t *v, const char *ptr, diags_t *d) {
  const char *k;
  json_t *x;
  if (!json_is_object(v)) {
    diags_add(d, false, ptr, "Assign must be a JSON object, not %s",
              jsonx_type_name(v));
    return NULL;
  }
  json_object_foreach(v, k, x) {
    const char *why = tmpl_var_name_problem(k);
    if (!why && strcmp(k, "states") == 0)
      why = "is reserved ($states)";  /* AWS reserves $states */
    if (why) {
      char *kp = ptr_join(ptr, k);
      diags_add(d, false, kp, "invalid variable name '%s': it %s", k, why);
      free(kp);
    }
  }
  return jtmpl_compile(v, ptr, "Assign", d);
}

void jtmpl_free(jtmpl_t *t) {
  if (!t) return;
  json_decref(t->lit);
  if (t->expr) jsonata_free(t->expr);
  free(t->text);
  free(t->field);
  for (size_t i = 0; i < t->nrefs; i++) free(t->refs[i]);
  free(t->refs);
  for (size_t i = 0; i < t->n; i++) {
    if (t->keys) free(t->keys[i]);
    jtmpl_free(t->kids[i]);
  }
  free(t->keys);
  free(t->kids);
  free(t);
}

const json_t *jtmpl_literal_peek(const jtmpl_t *t) {
  return t && t->kind == J_LIT ? t->lit : NULL;
}

const char *jtmpl_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER:
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "null";
  }
  return "unknown";
}

static void qfault(fault_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void qfault(fault_t *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *c = ms_vasprintf(fmt, ap);
  va_end(ap);
  fault_set(f, "States.QueryEvaluationError", "%s", c);
  f->in_state = true;
  free(c);
}

void jtmpl_type_fault(const jtmpl_t *t, const char *want, const json_t *v,
                      fault_t *f) {
  char *txt = jsonx_dump(v, JSONX_COMPACT);
  if (t->kind == J_EXPR)
    qfault(f, "The JSONata expression '%s' specified for the field '%s' "
           "returned an unexpected result type. Expected '%s', but was "
           "'%s' for value: %s", t->text, t->field, want,
           jtmpl_type_name(v), txt);
  else  /* a literal of the wrong type (a guess at AWS's words) */
    qfault(f, "The value specified for the field '%s' has an unexpected "
           "type. Expected '%s', but was '%s' for value: %s", t->field,
           want, jtmpl_type_name(v), txt);
  free(txt);
}

/* The limits of a workflow evaluation: Step Functions' dialect of the
 * function library when the evaluator has it (jsonata.h). */
static jsonata_limits_t limits(void) {
  jsonata_limits_t l;
  memset(&l, 0, sizeof l);
#ifdef JSONATA_STEP_FUNCTIONS
  l.flags = JSONATA_STEP_FUNCTIONS;
#endif
  return l;
}

/* Did text give a function (which jsonata_eval reports as undefined)?
 * Asked again through $type, only on the undefined path. */
static bool gave_function(const jtmpl_t *t, const json_t *in,
                          const json_t *bindings) {
  char *probe = ms_asprintf("$type((%s\n))", t->text);
  jsonata_t *p = jsonata_compile(probe, NULL);
  free(probe);
  if (!p) return false;
  jsonata_limits_t l = limits();
  json_t *r = NULL;
  bool fn = jsonata_eval(p, in, bindings, &l, &r, NULL) == JSONATA_OK &&
            json_is_string(r) && !strcmp(json_string_value(r), "function");
  json_decref(r);
  jsonata_free(p);
  return fn;
}

/* The part of bindings t's text names (see scan_refs). New reference. */
static json_t *needed(const jtmpl_t *t, const json_t *bindings) {
  json_t *b = json_object(), *v;
  for (size_t i = 0; i < t->nrefs; i++)
    if ((v = json_object_get(bindings, t->refs[i])))
      json_object_set(b, t->refs[i], v);
  json_t *st = json_object_get(bindings, "states");
  if (st && t->states == S_ALL) {
    json_object_set(b, "states", st);
  } else if (st && t->states) {
    json_t *part = json_object();
    for (unsigned m = 0; m < 4; m++)
      if ((t->states & (1u << m)) &&
          (v = json_object_get(st, state_members[m])))
        json_object_set(part, state_members[m], v);
    json_object_set_new(b, "states", part);
  }
  return b;
}

static json_t *eval_expr(const jtmpl_t *t, const json_t *all,
                         fault_t *f) {
  json_t *bindings = needed(t, all);
  /* "$" is the state input, as $states.input (a guess: AWS documents
   * only $states.input) */
  const json_t *states = json_object_get(all, "states");
  const json_t *in = json_object_get(states, "input");
  jsonata_limits_t l = limits();
  jsonata_err_t err = {{0}, NULL, -1, NULL};
  json_t *r = NULL;
  int rc = jsonata_eval(t->expr, in, bindings, &l, &r, &err);
  if (rc == JSONATA_OK) {
    json_decref(bindings);
    return r;
  }
  if (rc == JSONATA_ERROR) {
    qfault(f, "The JSONata expression '%s' specified for the field '%s' "
           "threw an error during evaluation. %s: %s", t->text, t->field,
           err.code, err.message ? err.message : "");
    jsonata_err_clear(&err);
  } else if (gave_function(t, in, bindings)) {
    qfault(f, "The JSONata expression '%s' specified for the field '%s' "
           "returned an unsupported result type.", t->text, t->field);
  } else {
    qfault(f, "The JSONata expression '%s' specified for the field '%s' "
           "returned nothing (undefined).", t->text, t->field);
  }
  json_decref(bindings);
  return NULL;
}

static json_t *eval(const jtmpl_t *t, const json_t *bindings, fault_t *f) {
  switch (t->kind) {
  case J_LIT: return json_incref(t->lit);
  case J_EXPR: return eval_expr(t, bindings, f);
  case J_OBJ: {
    json_t *o = json_object();
    for (size_t i = 0; i < t->n; i++) {
      json_t *v = eval(t->kids[i], bindings, f);
      if (!v) {
        json_decref(o);
        return NULL;
      }
      json_object_set_new(o, t->keys[i], v);
    }
    return o;
  }
  case J_ARR: {
    json_t *a = json_array();
    for (size_t i = 0; i < t->n; i++) {
      json_t *v = eval(t->kids[i], bindings, f);
      if (!v) {
        json_decref(a);
        return NULL;
      }
      json_array_append_new(a, v);
    }
    return a;
  }
  }
  return NULL;
}

json_t *jtmpl_eval(const jtmpl_t *t, const json_t *bindings, fault_t *f) {
  /* the top-level object or array is new (the caller may change its
   * members); below it, literal subtrees are shared */
  if (t->kind == J_LIT && (json_is_object(t->lit) || json_is_array(t->lit)))
    return json_copy(t->lit);
  return eval(t, bindings, f);
}

const char *jtmpl_field(const jtmpl_t *t) { return t->field; }

/* ---- where in the source an expression's error is ----------------------
 * A diagnostic of jtmpl_compile points (after jsonloc_fill) at the field;
 * jtmpl_locate finds the character the JSONata error names inside the
 * field's string in the text and says where it is too. */

#define AT_MARK "(at character "

/* Byte offset of 1-based line:col (columns count UTF-8 characters, as
 * jsonloc.c does), or len when past the end. */
static size_t offset_of(const char *s, size_t len, int line, int col) {
  size_t i = 0;
  for (int l = 1; l < line && i < len; i++)
    if (s[i] == '\n') l++;
  for (int c = 1; c < col && i < len; c++) {
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
  }
  return i;
}

static void line_col(const char *s, size_t at, int *line, int *col) {
  int l = 1, c = 1;
  for (size_t i = 0; i < at; i++) {
    if (s[i] == '\n') { l++; c = 1; }
    else if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
  }
  *line = l;
  *col = c;
}

/* Past the JSON string starting at s[i] (a quote). */
static size_t skip_str(const char *s, size_t len, size_t i) {
  for (i++; i < len && s[i] != '"'; i++)
    if (s[i] == '\\') i++;
  return i < len ? i + 1 : len;
}

static size_t skip_ws(const char *s, size_t len, size_t i) {
  while (i < len && strchr(" \t\r\n", s[i])) i++;
  return i;
}

/* The source offset of the pos-th byte (0-based) of the expression in the
 * JSON string at s[i], or len. Escapes count as one byte (a guess for
 * \u escapes, exact otherwise). */
static size_t expr_offset(const char *s, size_t len, size_t i, long pos) {
  size_t end = skip_str(s, len, i);
  if (end >= len || end < i + 6) return len;
  size_t j = skip_ws(s, end - 3, i + 3);  /* past "{% and blanks */
  for (long k = 0; k < pos && j < end - 3; k++)
    j += s[j] == '\\' ? (s[j + 1] == 'u' ? 6 : 2) : 1;
  return j < end - 3 ? j : len;
}

void jtmpl_locate(const char *text, size_t len, diags_t *d) {
  for (size_t n = 0; n < d->n; n++) {
    diag_t *g = &d->v[n];
    const char *at = NULL, *p = g->msg;
    while ((p = strstr(p, AT_MARK))) at = p++;  /* the last one */
    if (!g->line || !at || !strstr(g->msg, "JSONata expression")) continue;
    long pos = strtol(at + strlen(AT_MARK), NULL, 10);
    size_t i = offset_of(text, len, g->line, g->col);
    if (i >= len || text[i] != '"') continue;
    size_t k = skip_ws(text, len, skip_str(text, len, i));
    if (k < len && text[k] == ':') i = skip_ws(text, len, k + 1);  /* key */
    if (i >= len || text[i] != '"') continue;
    /* JSONata positions are just past the offending token */
    size_t o = expr_offset(text, len, i, pos > 0 ? pos - 1 : 0);
    if (o >= len) continue;
    int l, c;
    line_col(text, o, &l, &c);
    size_t ml = strlen(g->msg);
    if (g->msg[ml - 1] != ')') continue;
    char *m = ms_asprintf("%.*s; line %d, column %d)", (int)(ml - 1),
                          g->msg, l, c);
    free(g->msg);
    g->msg = m;
  }
}
