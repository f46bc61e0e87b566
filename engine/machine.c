/* machine.c - compile and validate a state machine definition into the
 * immutable graph of machine.h.
 *
 * Validation follows AWS's ValidateStateMachineDefinition: every problem is
 * reported at once, each at the JSON pointer of the field at fault, and the
 * definition is rejected when any error was found. The fields a state type
 * accepts are rows of one table (state_types; js_fields for states whose
 * QueryLanguage is JSONata). Paths go to jpath.c, templates and
 * expressions to payload.c, JSONata fields to jtmpl.c, Choice rules to
 * choice.c; this file owns the structure: names, transitions,
 * Retry/Catch, the numbers.
 * Parallel branches and Map processors are machines of their own, compiled
 * recursively with their parent set.
 */
#include "machine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itemreader.h"   /* ItemReader and ResultWriter checks */
#include "resultwriter.h"

#define NAME_MAX_CHARS  80        /* AWS: state names are 1..80 characters */
#define LABEL_MAX_CHARS 40        /* AWS: a Map Label is up to 40 characters */
#define INT_FIELD_MAX   99999999  /* AWS: bound of the integer fields */

/* Compile context, shared by a machine and all its nested machines. */
typedef struct cc {
  diags_t *d;
  size_t first;    /* d->n when compiling began */
  json_t *names;   /* every state name seen in the whole tree -> ptr */
  json_t *index;   /* state name -> index in the machine being compiled */
  long near_left;  /* name comparisons left for "did you mean" */
  int depth;       /* nesting of Parallel/Map machines */
  bool jsonata;    /* the enclosing QueryLanguage is JSONata */
} cc_t;

static void verr(cc_t *c, bool warning, const char *ptr, const char *fmt,
                 va_list ap) {
  buf_t b;
  buf_init(&b);
  buf_vprintf(&b, fmt, ap);
  diags_add(c->d, warning, ptr, "%s", b.data ? b.data : "");
  buf_free(&b);
}

static void err(cc_t *c, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(cc_t *c, const char *ptr, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verr(c, false, ptr, fmt, ap);
  va_end(ap);
}

/* Error at ptr/key. */
static void ferr(cc_t *c, const char *ptr, const char *key, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static void ferr(cc_t *c, const char *ptr, const char *key, const char *fmt,
                 ...) {
  char *p = ptr_join(ptr, key);
  va_list ap;
  va_start(ap, fmt);
  verr(c, false, p, fmt, ap);
  va_end(ap);
  free(p);
}

static size_t utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
  return n;
}

/* Bytes of s's first n characters (a quoted prefix stays valid UTF-8). */
static int prefix_bytes(const char *s, size_t n) {
  size_t i = 0;
  for (; s[i]; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80 && n-- == 0) break;
  return (int)i;
}

static bool in_list(const char *const *list, const char *s) {
  for (; *list; list++)
    if (strcmp(*list, s) == 0) return true;
  return false;
}

/* Report every member of obj not in allowed; what names the object. */
static void check_fields(cc_t *c, json_t *obj, const char *ptr,
                         const char *const *allowed, const char *what) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    if (!in_list(allowed, k))
      ferr(c, ptr, k, "field \"%s\" is not allowed in %s", k, what);
  }
}

/* ---- typed field readers ---------------------------------------------- */

/* String member or NULL; a present non-string is an error. */
static const char *get_str(cc_t *c, json_t *obj, const char *ptr,
                           const char *key) {
  json_t *v = json_object_get(obj, key);
  if (!v) return NULL;
  if (!json_is_string(v)) {
    ferr(c, ptr, key, "%s must be a string, not %s", key,
         jsonx_type_name(v));
    return NULL;
  }
  return json_string_value(v);
}

static json_t *get_obj(cc_t *c, json_t *obj, const char *ptr,
                       const char *key) {
  json_t *v = json_object_get(obj, key);
  if (!v) return NULL;
  if (!json_is_object(v)) {
    ferr(c, ptr, key, "%s must be an object, not %s", key,
         jsonx_type_name(v));
    return NULL;
  }
  return v;
}

static void path_free(jpath_t *p) { if (p) jpath_free(p); }

/* Compile the path string v found at ptr/key. ref: must be a reference
 * path; input: its root must be "$". NULL after reporting. */
static jpath_t *path_compile(cc_t *c, json_t *v, const char *ptr,
                             const char *key, bool ref, bool input) {
  if (!json_is_string(v)) {
    ferr(c, ptr, key, "%s must be a JSONPath string, not %s", key,
         jsonx_type_name(v));
    return NULL;
  }
  char *why = NULL;
  jpath_t *p = jpath_compile(json_string_value(v), &why);
  if (!p) {
    if (why)
      ferr(c, ptr, key, "%s: %s", key, why);
    else
      ferr(c, ptr, key, "%s: invalid JSONPath \"%s\"", key,
           json_string_value(v));
    free(why);
    return NULL;
  }
  if (ref && !jpath_is_reference(p)) {
    ferr(c, ptr, key, "%s must be a reference path (names and indexes "
         "only), not \"%s\"", key, json_string_value(v));
    jpath_free(p);
    return NULL;
  }
  if (input && jpath_root(p) != JPATH_INPUT) {
    ferr(c, ptr, key, "%s must start with \"$\" (the state input), not "
         "\"%s\"", key, json_string_value(v));
    jpath_free(p);
    return NULL;
  }
  return p;
}

/* An optional path (InputPath, OutputPath, ResultPath): absent, null or a
 * path. result: ResultPath rules (reference path rooted at "$"). */
static void opt_path(cc_t *c, json_t *obj, const char *ptr, const char *key,
                     bool result, opt_path_t *op) {
  json_t *v = json_object_get(obj, key);
  op->path = NULL;
  op->is_null = false;
  if (!v) return;
  if (json_is_null(v)) { op->is_null = true; return; }
  op->path = path_compile(c, v, ptr, key, result, result);
}

/* Compile a template member; tpl_ptr is its pointer. */
static tmpl_t *tpl(cc_t *c, json_t *v, const char *tpl_ptr,
                   const char *key) {
  size_t before = c->d->nerrors;
  tmpl_t *t = strcmp(key, "Assign") ? tmpl_compile(v, tpl_ptr, c->d)
                                     : tmpl_compile_assign(v, tpl_ptr, c->d);
  if (!t && c->d->nerrors == before)
    err(c, tpl_ptr, "%s could not be compiled", key);
  return t;
}

static tmpl_t *tpl_field(cc_t *c, json_t *obj, const char *ptr,
                         const char *key, bool object_only) {
  json_t *v = json_object_get(obj, key);
  if (!v) return NULL;
  if (object_only && !json_is_object(v)) {
    ferr(c, ptr, key, "%s must be an object, not %s", key,
         jsonx_type_name(v));
    return NULL;
  }
  char *p = ptr_join(ptr, key);
  tmpl_t *t = tpl(c, v, p, key);
  free(p);
  return t;
}

static jexpr_t *expr_field(cc_t *c, json_t *v, const char *ptr,
                           const char *key) {
  if (!json_is_string(v)) {
    ferr(c, ptr, key, "%s must be a string, not %s", key,
         jsonx_type_name(v));
    return NULL;
  }
  char *why = NULL;
  jexpr_t *e = jexpr_compile(json_string_value(v), &why);
  if (!e) {
    ferr(c, ptr, key, "%s: invalid expression \"%s\": %s", key,
         json_string_value(v), why ? why : "syntax error");
    free(why);
  }
  return e;
}

/* Kinds of literal number. */
typedef enum {
  NUM_POS_INT,     /* integer 1..INT_FIELD_MAX */
  NUM_NONNEG_INT,  /* integer 0..INT_FIELD_MAX */
  NUM_PERCENT      /* number 0..100 */
} num_kind_t;

static bool num_ok(json_t *v, num_kind_t kind, double *out) {
  double x;
  if (!jsonx_number(v, &x)) return false;
  *out = x;
  switch (kind) {
  case NUM_POS_INT:
    return json_is_integer(v) && x >= 1 && x <= INT_FIELD_MAX;
  case NUM_NONNEG_INT:
    return json_is_integer(v) && x >= 0 && x <= INT_FIELD_MAX;
  case NUM_PERCENT:
    return x >= 0 && x <= 100;
  }
  return false;
}

static const char *num_want(num_kind_t kind) {
  switch (kind) {
  case NUM_POS_INT: return "a positive integer";
  case NUM_NONNEG_INT: return "a non-negative integer";
  case NUM_PERCENT: return "a number between 0 and 100";
  }
  return "a number";
}

/* A number given literally as key or by a reference path as keyPath. */
static void num_field(cc_t *c, json_t *obj, const char *ptr, const char *key,
                      num_kind_t kind, num_field_t *nf) {
  char pkey[64];
  snprintf(pkey, sizeof pkey, "%sPath", key);
  json_t *lit = json_object_get(obj, key), *path = json_object_get(obj, pkey);
  memset(nf, 0, sizeof *nf);
  if (lit && path) {
    ferr(c, ptr, pkey, "%s and %s are mutually exclusive", key, pkey);
    return;
  }
  if (lit) {
    nf->present = true;
    if (!num_ok(lit, kind, &nf->value))
      ferr(c, ptr, key, "%s must be %s", key, num_want(kind));
  } else if (path) {
    nf->path = path_compile(c, path, ptr, pkey, true, false);
    nf->present = nf->path != NULL;
  }
}

/* ---- Retry and Catch --------------------------------------------------- */

/* ErrorEquals of a retrier or catcher. last: this is the last element. */
static void error_equals(cc_t *c, json_t *obj, const char *ptr, bool last,
                         const char *what, char ***out, size_t *n) {
  json_t *ee = json_object_get(obj, "ErrorEquals");
  *out = NULL;
  *n = 0;
  if (!ee) {
    err(c, ptr, "missing required field \"ErrorEquals\"");
    return;
  }
  if (!json_is_array(ee) || json_array_size(ee) == 0) {
    ferr(c, ptr, "ErrorEquals", "ErrorEquals must be a non-empty array of "
         "error names");
    return;
  }
  char *eptr = ptr_join(ptr, "ErrorEquals");
  size_t i;
  json_t *v;
  *out = ms_calloc(json_array_size(ee), sizeof **out);
  json_array_foreach(ee, i, v) {
    if (!json_is_string(v) || json_string_length(v) == 0) {
      char *p = ptr_index(eptr, i);
      err(c, p, "ErrorEquals entries must be non-empty strings");
      free(p);
      continue;
    }
    const char *s = json_string_value(v);
    if (strcmp(s, "States.ALL") == 0) {
      char *p = ptr_index(eptr, i);
      if (json_array_size(ee) != 1)
        err(c, p, "States.ALL must appear alone in ErrorEquals");
      else if (!last)
        err(c, p, "States.ALL must be in the last %s", what);
      free(p);
    }
    (*out)[(*n)++] = ms_strdup(s);
  }
  free(eptr);
}

static const char *const retrier_fields[] = {
  "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
  "MaxDelaySeconds", "JitterStrategy", "Comment", NULL
};

static void retrier_compile(cc_t *c, json_t *o, const char *ptr, bool last,
                            retrier_t *r) {
  json_t *v;
  r->interval = 1;
  r->max_attempts = 3;
  r->backoff = 2.0;
  check_fields(c, o, ptr, retrier_fields, "a retrier");
  error_equals(c, o, ptr, last, "retrier", &r->errors, &r->nerrors);
  get_str(c, o, ptr, "Comment");
  if ((v = json_object_get(o, "IntervalSeconds"))) {
    if (!num_ok(v, NUM_POS_INT, &r->interval))
      ferr(c, ptr, "IntervalSeconds", "IntervalSeconds must be an integer "
           ">= 1");
  }
  if ((v = json_object_get(o, "MaxAttempts"))) {
    double x = 0;
    if (!num_ok(v, NUM_NONNEG_INT, &x))
      ferr(c, ptr, "MaxAttempts", "MaxAttempts must be an integer >= 0");
    else r->max_attempts = (int)x;
  }
  if ((v = json_object_get(o, "BackoffRate"))) {
    if (!jsonx_number(v, &r->backoff) || r->backoff < 1.0) {
      ferr(c, ptr, "BackoffRate", "BackoffRate must be a number >= 1.0");
      r->backoff = 2.0;
    }
  }
  if ((v = json_object_get(o, "MaxDelaySeconds"))) {
    if (!num_ok(v, NUM_POS_INT, &r->max_delay)) {
      ferr(c, ptr, "MaxDelaySeconds", "MaxDelaySeconds must be a positive "
           "integer");
      r->max_delay = 0;
    }
  }
  const char *j = get_str(c, o, ptr, "JitterStrategy");
  if (j) {
    if (strcmp(j, "FULL") == 0) r->jitter_full = true;
    else if (strcmp(j, "NONE") != 0)
      ferr(c, ptr, "JitterStrategy", "JitterStrategy must be \"FULL\" or "
           "\"NONE\", not \"%s\"", j);
  }
}

/* Edit distance between two names when it is at most NEAR, else NEAR + 1
 * ("did you mean" only wants close names). Only the band |i - j| <= NEAR
 * of the table is computed, so a definition of thousands of long names
 * costs O(length) per pair, not O(length^2). */
#define NEAR 2
#define NEAR_BUDGET 200000L  /* comparisons per definition, then no more
                                suggestions (bounds hostile definitions) */
static size_t distance(const char *a, const char *b) {
  const size_t far = NEAR + 1;
  size_t n = strlen(a), m = strlen(b), prev[NAME_MAX_CHARS * 4 + 2],
         cur[NAME_MAX_CHARS * 4 + 2];
  if (n > NAME_MAX_CHARS * 4 || m > NAME_MAX_CHARS * 4) return far;
  if ((n > m ? n - m : m - n) > NEAR) return far;
  for (size_t j = 0; j <= m; j++) prev[j] = j < far ? j : far;
  for (size_t i = 1; i <= n; i++) {
    size_t lo = i > NEAR ? i - NEAR : 1, hi = i + NEAR < m ? i + NEAR : m;
    cur[lo - 1] = lo == 1 && i < far ? i : far;
    for (size_t j = lo; j <= hi; j++) {
      size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
      if (prev[j] + 1 < best) best = prev[j] + 1;
      if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
      cur[j] = best < far ? best : far;
    }
    if (hi + 1 <= m) cur[hi + 1] = far;
    size_t low = far;
    for (size_t j = lo - 1; j <= hi; j++)
      if (cur[j] < low) low = cur[j];
    if (low >= far) return far;  /* every path is already too far */
    memcpy(prev + lo - 1, cur + lo - 1, (hi - lo + 2 + (hi + 1 <= m)) *
           sizeof *cur);
  }
  return prev[m];
}

/* Report a name that names no state, suggesting the closest one. The
 * search costs a distance per state, so it is skipped once the loader
 * would drop the diagnostic (MS_DIAGS_MAX): a definition with thousands of
 * bad names must not take quadratic time. */
static void no_state(cc_t *c, const machine_t *m, const char *ptr,
                     const char *key, const char *name) {
  const char *best = NULL;
  size_t bd = SIZE_MAX;
  bool shown = c->d->n - c->first < MS_DIAGS_MAX;
  for (size_t i = 0; shown && i < m->nstates && c->near_left-- > 0; i++) {
    size_t d = distance(name, m->states[i].name);
    if (d < bd) {
      bd = d;
      best = m->states[i].name;
    }
  }
  if (best && bd <= NEAR && bd < strlen(name))
    ferr(c, ptr, key, "no state named \"%s\" (did you mean \"%s\"?)", name,
         best);
  else
    ferr(c, ptr, key, "no state named \"%s\"", name);
}

/* The index of the state named by the string v in the machine being
 * compiled, or -1. Hashed (a definition may have thousands of states), and
 * by the whole string: "A\u0000x" does not name state "A". */
static int find(cc_t *c, json_t *v) {
  json_t *i = json_object_getn(c->index, json_string_value(v),
                               json_string_length(v));
  return i ? (int)json_integer_value(i) : -1;
}

/* Resolve a transition target: index, or -1 after reporting. */
static int target(cc_t *c, machine_t *m, json_t *v, const char *ptr,
                  const char *key) {
  if (!json_is_string(v)) {
    ferr(c, ptr, key, "%s must be a state name string, not %s", key,
         jsonx_type_name(v));
    return -1;
  }
  int i = find(c, v);
  if (i < 0 && strlen(json_string_value(v)) != json_string_length(v))
    ferr(c, ptr, key, "no state named \"%s\\u0000...\" (state names "
         "cannot contain NUL)", json_string_value(v));
  else if (i < 0)
    no_state(c, m, ptr, key, json_string_value(v));
  return i;
}

static const char *const catcher_fields[] = {
  "ErrorEquals", "Next", "ResultPath", "Assign", "Comment", NULL
};

static void catcher_compile(cc_t *c, machine_t *m, json_t *o,
                            const char *ptr, bool last, catcher_t *k) {
  json_t *v;
  k->next = -1;
  check_fields(c, o, ptr, catcher_fields, "a catcher");
  error_equals(c, o, ptr, last, "catcher", &k->errors, &k->nerrors);
  get_str(c, o, ptr, "Comment");
  if (!(v = json_object_get(o, "Next")))
    err(c, ptr, "missing required field \"Next\"");
  else
    k->next = target(c, m, v, ptr, "Next");
  opt_path(c, o, ptr, "ResultPath", true, &k->result_path);
  k->assign = tpl_field(c, o, ptr, "Assign", true);
}

static void retry_list(cc_t *c, json_t *st, const char *ptr, mstate_t *s) {
  json_t *a = json_object_get(st, "Retry");
  if (!a) return;
  if (!json_is_array(a)) {
    ferr(c, ptr, "Retry", "Retry must be an array of retriers");
    return;
  }
  char *rptr = ptr_join(ptr, "Retry");
  size_t i, n = json_array_size(a);
  json_t *o;
  s->retry = ms_calloc(n, sizeof *s->retry);
  json_array_foreach(a, i, o) {
    char *p = ptr_index(rptr, i);
    if (!json_is_object(o)) err(c, p, "a retrier must be an object");
    else retrier_compile(c, o, p, i + 1 == n, &s->retry[s->nretry++]);
    free(p);
  }
  free(rptr);
}

static void catch_list(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                       mstate_t *s) {
  json_t *a = json_object_get(st, "Catch");
  if (!a) return;
  if (!json_is_array(a)) {
    ferr(c, ptr, "Catch", "Catch must be an array of catchers");
    return;
  }
  char *cptr = ptr_join(ptr, "Catch");
  size_t i, n = json_array_size(a);
  json_t *o;
  s->catch = ms_calloc(n, sizeof *s->catch);
  json_array_foreach(a, i, o) {
    char *p = ptr_index(cptr, i);
    if (!json_is_object(o)) err(c, p, "a catcher must be an object");
    else catcher_compile(c, m, o, p, i + 1 == n, &s->catch[s->ncatch++]);
    free(p);
  }
  free(cptr);
}

/* ---- state types ------------------------------------------------------- */

static machine_t *compile_machine(cc_t *c, json_t *def, const char *ptr,
                                  machine_t *parent, bool processor);

typedef void (*type_fn)(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                        mstate_t *s);

static void pass_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                    mstate_t *s) {
  (void)c; (void)m; (void)ptr;
  json_t *r = json_object_get(st, "Result");
  if (r) s->result = json_incref(r);
}

static void task_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                    mstate_t *s) {
  (void)m;
  const char *r = get_str(c, st, ptr, "Resource");
  if (!json_object_get(st, "Resource"))
    err(c, ptr, "missing required field \"Resource\"");
  else if (r && !*r)
    ferr(c, ptr, "Resource", "Resource must not be empty");
  if (r) s->resource = ms_strdup(r);
  num_field(c, st, ptr, "TimeoutSeconds", NUM_POS_INT, &s->timeout_seconds);
  num_field(c, st, ptr, "HeartbeatSeconds", NUM_POS_INT,
            &s->heartbeat_seconds);
  if (s->timeout_seconds.present && !s->timeout_seconds.path &&
      s->heartbeat_seconds.present && !s->heartbeat_seconds.path &&
      s->heartbeat_seconds.value >= s->timeout_seconds.value)
    ferr(c, ptr, "HeartbeatSeconds", "HeartbeatSeconds must be smaller "
         "than TimeoutSeconds");
  get_obj(c, st, ptr, "Credentials");
}

/* What a Choice state's compile shares in both query languages: Default,
 * and the Choices array (s->choices allocated for it); NULL, with the
 * error, when it is missing or empty. */
static json_t *choices_of(cc_t *c, machine_t *m, json_t *st,
                          const char *ptr, mstate_t *s) {
  json_t *a = json_object_get(st, "Choices"), *v;
  s->default_next = -1;
  if ((v = json_object_get(st, "Default")))
    s->default_next = target(c, m, v, ptr, "Default");
  if (!a) {
    err(c, ptr, "missing required field \"Choices\"");
    return NULL;
  }
  if (!json_is_array(a) || json_array_size(a) == 0) {
    ferr(c, ptr, "Choices", "Choices must be a non-empty array of rules");
    return NULL;
  }
  s->choices = ms_calloc(json_array_size(a), sizeof *s->choices);
  return a;
}

/* Rule i's branch (next unset) and its pointer p; NULL when the rule is
 * not an object (said). */
static choice_branch_t *rule_of(cc_t *c, mstate_t *s, const json_t *rule,
                                const char *p) {
  choice_branch_t *b = &s->choices[s->nchoices++];
  b->next = -1;
  if (json_is_object(rule)) return b;
  err(c, p, "a choice rule must be an object");
  return NULL;
}

/* A rule's Next. */
static void rule_next(cc_t *c, machine_t *m, json_t *rule, const char *p,
                      choice_branch_t *b) {
  json_t *v = json_object_get(rule, "Next");
  if (!v) err(c, p, "missing required field \"Next\" in a choice rule");
  else b->next = target(c, m, v, p, "Next");
}

static void choice_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                      mstate_t *s) {
  json_t *a = choices_of(c, m, st, ptr, s), *rule;
  if (!a) return;
  char *cptr = ptr_join(ptr, "Choices");
  size_t i;
  json_array_foreach(a, i, rule) {
    char *p = ptr_index(cptr, i);
    choice_branch_t *b = rule_of(c, s, rule, p);
    if (!b) {
      free(p);
      continue;
    }
    /* Assign is the machine's business: choice.c sees the rule without
     * it. */
    json_t *r = rule;
    if (json_object_get(rule, "Assign")) {
      r = json_copy(rule);
      json_object_del(r, "Assign");
    } else {
      json_incref(r);
    }
    b->rule = choice_compile(r, p, true, c->d);
    json_decref(r);
    rule_next(c, m, rule, p, b);
    b->assign = tpl_field(c, rule, p, "Assign", true);
    free(p);
  }
  free(cptr);
}

static void wait_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                    mstate_t *s) {
  (void)m;
  static const char *const keys[] = {
    "Seconds", "SecondsPath", "Timestamp", "TimestampPath", NULL
  };
  int n = 0;
  for (int i = 0; keys[i]; i++)
    if (json_object_get(st, keys[i])) n++;
  if (n != 1) {
    err(c, ptr, "a Wait state needs exactly one of Seconds, SecondsPath, "
        "Timestamp or TimestampPath (found %d)", n);
    if (n > 1) return;
  }
  num_field(c, st, ptr, "Seconds", NUM_NONNEG_INT, &s->seconds);
  json_t *v;
  if ((v = json_object_get(st, "Timestamp"))) {
    if (!json_is_string(v) ||
        !choice_parse_timestamp(json_string_value(v), &s->timestamp_epoch))
      ferr(c, ptr, "Timestamp", "Timestamp must be an RFC 3339 timestamp "
           "such as \"2016-03-14T01:59:00Z\"");
    else
      s->timestamp = ms_strdup(json_string_value(v));
  }
  if ((v = json_object_get(st, "TimestampPath")))
    s->timestamp_path = path_compile(c, v, ptr, "TimestampPath", true,
                                     false);
}

static void fail_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                    mstate_t *s) {
  (void)m;
  static const char *const pairs[2][2] = {
    {"Error", "ErrorPath"}, {"Cause", "CausePath"}
  };
  char **lit[2] = {&s->error, &s->cause};
  jexpr_t **ex[2] = {&s->error_path, &s->cause_path};
  for (int i = 0; i < 2; i++) {
    json_t *l = json_object_get(st, pairs[i][0]);
    json_t *p = json_object_get(st, pairs[i][1]);
    if (l && p) {
      ferr(c, ptr, pairs[i][1], "%s and %s are mutually exclusive",
           pairs[i][0], pairs[i][1]);
      continue;
    }
    const char *str = get_str(c, st, ptr, pairs[i][0]);
    if (str) *lit[i] = ms_strdup(str);
    if (p) *ex[i] = expr_field(c, p, ptr, pairs[i][1]);
  }
}

static void parallel_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                        mstate_t *s) {
  json_t *a = json_object_get(st, "Branches"), *b;
  if (!a) {
    err(c, ptr, "missing required field \"Branches\"");
    return;
  }
  if (!json_is_array(a) || json_array_size(a) == 0) {
    ferr(c, ptr, "Branches", "Branches must be a non-empty array of state "
         "machines");
    return;
  }
  char *bptr = ptr_join(ptr, "Branches");
  size_t i;
  s->branches = ms_calloc(json_array_size(a), sizeof *s->branches);
  json_array_foreach(a, i, b) {
    char *p = ptr_index(bptr, i);
    machine_t *sub = compile_machine(c, b, p, m, false);
    if (sub) s->branches[s->nbranches++] = sub;
    free(p);
  }
  free(bptr);
}

static const char *const batcher_fields[] = {
  "BatchInput", "MaxItemsPerBatch", "MaxItemsPerBatchPath",
  "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath", NULL
};

static void map_processor(cc_t *c, machine_t *m, json_t *st,
                          const char *ptr, mstate_t *s) {
  json_t *ip = json_object_get(st, "ItemProcessor");
  json_t *it = json_object_get(st, "Iterator");
  if (ip && it) {
    ferr(c, ptr, "Iterator", "ItemProcessor and Iterator are mutually "
         "exclusive");
    return;
  }
  if (!ip && !it) {
    err(c, ptr, "missing required field \"ItemProcessor\"");
    return;
  }
  const char *key = ip ? "ItemProcessor" : "Iterator";
  char *p = ptr_join(ptr, key);
  json_t *def = ip ? ip : it;
  if (json_is_object(def)) {
    json_t *pc = get_obj(c, def, p, "ProcessorConfig");
    if (pc) {
      static const char *const pc_fields[] = {"Mode", "ExecutionType", NULL};
      char *pp = ptr_join(p, "ProcessorConfig");
      check_fields(c, pc, pp, pc_fields, "ProcessorConfig");
      const char *mode = get_str(c, pc, pp, "Mode");
      const char *et = get_str(c, pc, pp, "ExecutionType");
      if (mode && strcmp(mode, "DISTRIBUTED") == 0) s->distributed = true;
      else if (mode && strcmp(mode, "INLINE") != 0)
        ferr(c, pp, "Mode", "Mode must be \"INLINE\" or \"DISTRIBUTED\", "
             "not \"%s\"", mode);
      if (et && strcmp(et, "EXPRESS") == 0) s->express_children = true;
      else if (et && strcmp(et, "STANDARD") != 0)
        ferr(c, pp, "ExecutionType", "ExecutionType must be \"STANDARD\" "
             "or \"EXPRESS\", not \"%s\"", et);
      if (et && !s->distributed)
        ferr(c, pp, "ExecutionType", "ExecutionType is only allowed with "
             "Mode \"DISTRIBUTED\"");
      if (s->distributed && !json_object_get(pc, "ExecutionType"))
        err(c, pp, "missing required field \"ExecutionType\" for Mode "
            "\"DISTRIBUTED\"");
      free(pp);
    }
  }
  s->iterator = compile_machine(c, def, p, m, true);
  free(p);
}

static void map_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                   mstate_t *s) {
  json_t *v;
  map_processor(c, m, st, ptr, s);
  if ((v = json_object_get(st, "ItemsPath")))
    s->items_path = path_compile(c, v, ptr, "ItemsPath", true, false);
  if (json_object_get(st, "ItemSelector") &&
      json_object_get(st, "Parameters"))
    ferr(c, ptr, "ItemSelector", "ItemSelector and Parameters are mutually "
         "exclusive");
  else if (json_object_get(st, "ItemSelector"))
    s->parameters = tpl_field(c, st, ptr, "ItemSelector", true);
  num_field(c, st, ptr, "MaxConcurrency", NUM_NONNEG_INT,
            &s->max_concurrency);
  num_field(c, st, ptr, "ToleratedFailurePercentage", NUM_PERCENT,
            &s->tolerated_pct);
  num_field(c, st, ptr, "ToleratedFailureCount", NUM_NONNEG_INT,
            &s->tolerated_count);
  if ((v = get_obj(c, st, ptr, "ItemReader")))
    s->item_reader = json_incref(v);
  if ((v = get_obj(c, st, ptr, "ResultWriter")))
    s->result_writer = json_incref(v);
  if (s->item_reader) itemreader_check(s->item_reader, ptr, false, c->d);
  if (s->result_writer)
    resultwriter_check(s->result_writer, ptr, false, c->d);
  if ((v = get_obj(c, st, ptr, "ItemBatcher"))) {
    char *bp = ptr_join(ptr, "ItemBatcher");
    s->item_batcher = json_incref(v);
    check_fields(c, v, bp, batcher_fields, "ItemBatcher");
    s->batch_input = tpl_field(c, v, bp, "BatchInput", true);
    num_field(c, v, bp, "MaxItemsPerBatch", NUM_POS_INT,
              &s->max_items_per_batch);
    num_field(c, v, bp, "MaxInputBytesPerBatch", NUM_POS_INT,
              &s->max_bytes_per_batch);
    free(bp);
  }
  const char *label = get_str(c, st, ptr, "Label");
  if (label) {
    if (utf8_len(label) > LABEL_MAX_CHARS)
      ferr(c, ptr, "Label", "Label must be at most %d characters",
           LABEL_MAX_CHARS);
    s->label = ms_strdup(label);
  }
}

static void succeed_fn(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                       mstate_t *s) {
  (void)c; (void)m; (void)st; (void)ptr; (void)s;
}

/* The fields each state type accepts, and its compiler. Fields that exist
 * only in JSONata mode are listed in jsonata_only. */
#define F_BASE "Type", "Comment", "QueryLanguage"
#define F_IO "InputPath", "OutputPath"
#define F_FLOW "Next", "End"
static const char *const pass_fields[] = {
  F_BASE, F_IO, F_FLOW, "Parameters", "ResultPath", "Result", "Assign", NULL
};
static const char *const task_fields[] = {
  F_BASE, F_IO, F_FLOW, "Parameters", "ResultSelector", "ResultPath",
  "Retry", "Catch", "Assign", "Resource", "TimeoutSeconds",
  "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath",
  "Credentials", NULL
};
static const char *const choice_fields[] = {
  F_BASE, F_IO, "Choices", "Default", "Assign", NULL
};
static const char *const wait_fields[] = {
  F_BASE, F_IO, F_FLOW, "Assign", "Seconds", "SecondsPath", "Timestamp",
  "TimestampPath", NULL
};
static const char *const succeed_fields[] = { F_BASE, F_IO, NULL };
static const char *const fail_fields[] = {
  F_BASE, "Error", "ErrorPath", "Cause", "CausePath", NULL
};
static const char *const parallel_fields[] = {
  F_BASE, F_IO, F_FLOW, "Parameters", "ResultSelector", "ResultPath",
  "Retry", "Catch", "Assign", "Branches", NULL
};
static const char *const map_fields[] = {
  F_BASE, F_IO, F_FLOW, "Parameters", "ResultSelector", "ResultPath",
  "Retry", "Catch", "Assign", "Iterator", "ItemProcessor", "ItemsPath",
  "ItemSelector", "MaxConcurrency", "MaxConcurrencyPath", "ItemReader",
  "ItemBatcher", "ResultWriter", "ToleratedFailureCount",
  "ToleratedFailureCountPath", "ToleratedFailurePercentage",
  "ToleratedFailurePercentagePath", "Label", NULL
};
static const char *const jsonata_only[] = {
  "Arguments", "Output", "Items", NULL
};

static const struct state_type {
  const char *name;
  state_type_t type;
  bool flows;                  /* needs exactly one of Next / End:true */
  const char *const *fields;
  type_fn fn;
} state_types[] = {
  {"Pass", ST_PASS, true, pass_fields, pass_fn},
  {"Task", ST_TASK, true, task_fields, task_fn},
  {"Choice", ST_CHOICE, false, choice_fields, choice_fn},
  {"Wait", ST_WAIT, true, wait_fields, wait_fn},
  {"Succeed", ST_SUCCEED, false, succeed_fields, succeed_fn},
  {"Fail", ST_FAIL, false, fail_fields, fail_fn},
  {"Parallel", ST_PARALLEL, true, parallel_fields, parallel_fn},
  {"Map", ST_MAP, true, map_fields, map_fn},
};
#define NTYPES (sizeof state_types / sizeof state_types[0])

static const struct state_type *type_find(const char *name) {
  for (size_t i = 0; i < NTYPES; i++)
    if (strcmp(state_types[i].name, name) == 0) return &state_types[i];
  return NULL;
}

/* QueryLanguage of obj: true for JSONata, false for JSONPath, inherit
 * (the enclosing one) when absent. A JSONPath state or machine inside a
 * JSONata one is an error (AWS: JSONata may only be chosen per state in
 * a JSONPath machine, not the reverse). */
static bool query_language(cc_t *c, json_t *obj, const char *ptr,
                           bool inherit) {
  const char *q = get_str(c, obj, ptr, "QueryLanguage");
  if (!q) return inherit;
  if (strcmp(q, "JSONata") == 0) return true;
  if (strcmp(q, "JSONPath") != 0) {
    ferr(c, ptr, "QueryLanguage", "QueryLanguage must be \"JSONPath\" or "
         "\"JSONata\", not \"%s\"", q);
    return inherit;
  }
  if (inherit)
    ferr(c, ptr, "QueryLanguage", "QueryLanguage \"JSONPath\" is not "
         "allowed inside a state machine whose QueryLanguage is "
         "\"JSONata\"");
  return false;
}

/* ---- JSONata states ------------------------------------------------------
 * A state whose QueryLanguage (its own or inherited) is JSONata has
 * Arguments and Output instead of InputPath, Parameters, ResultSelector,
 * ResultPath and OutputPath; its fields take "{% %}" expressions
 * (jtmpl.h). The JSONPath-only fields are errors (AWS rejects them; the
 * wording is ours). */

static const char *const js_common[] = {
  "Type", "Comment", "QueryLanguage", "Output", "Assign", "Next", "End",
  NULL
};
static const char *const js_pass[] = { NULL };
static const char *const js_task[] = {
  "Resource", "Arguments", "Retry", "Catch", "TimeoutSeconds",
  "HeartbeatSeconds", "Credentials", NULL
};
static const char *const js_choice[] = { "Choices", "Default", NULL };
static const char *const js_wait[] = { "Seconds", "Timestamp", NULL };
static const char *const js_fail[] = { "Error", "Cause", NULL };
static const char *const js_parallel[] = {
  "Branches", "Arguments", "Retry", "Catch", NULL
};
static const char *const js_map[] = {
  "ItemProcessor", "Iterator", "Items", "ItemSelector", "ItemReader",
  "ItemBatcher", "ResultWriter", "MaxConcurrency",
  "ToleratedFailureCount", "ToleratedFailurePercentage", "Label", "Retry",
  "Catch", NULL
};
static const char *const *const js_fields[] = {
  [ST_PASS] = js_pass, [ST_TASK] = js_task, [ST_CHOICE] = js_choice,
  [ST_WAIT] = js_wait, [ST_SUCCEED] = js_pass, [ST_FAIL] = js_fail,
  [ST_PARALLEL] = js_parallel, [ST_MAP] = js_map,
};
/* Fields only JSONPath states have. */
static const char *const jsonpath_only[] = {
  "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath",
  "Result", "ItemsPath", "SecondsPath", "TimestampPath", "ErrorPath",
  "CausePath", "TimeoutSecondsPath", "HeartbeatSecondsPath",
  "MaxConcurrencyPath", "ToleratedFailureCountPath",
  "ToleratedFailurePercentagePath", NULL
};

static void js_check_fields(cc_t *c, json_t *st, const char *ptr,
                            const struct state_type *t) {
  const char *k;
  json_t *v;
  json_object_foreach(st, k, v) {
    if (in_list(js_fields[t->type], k)) continue;
    if (in_list(js_common, k)) {
      bool flow = !strcmp(k, "Next") || !strcmp(k, "End");
      bool out = !strcmp(k, "Output") || !strcmp(k, "Assign");
      /* AWS ("Passing data between states with variables"): Assign in
       * Pass, Task, Map, Parallel, Choice and Wait; not Succeed or Fail */
      bool assign_ok = strcmp(k, "Assign") || t->type != ST_SUCCEED;
      if ((flow && t->flows) || (out && t->type != ST_FAIL && assign_ok) ||
          (!flow && !out))
        continue;
    }
    if (in_list(jsonpath_only, k))
      ferr(c, ptr, k, "field \"%s\" is not allowed with QueryLanguage "
           "\"JSONata\" (it is a JSONPath field; use Arguments, Output "
           "and \"{%% %%}\" expressions)", k);
    else
      ferr(c, ptr, k, "field \"%s\" is not allowed in a %s state", k,
           t->name);
  }
}

/* Compile member key of obj (if present) as a JSONata template. */
static jtmpl_t *js_field(cc_t *c, json_t *obj, const char *ptr,
                         const char *key) {
  json_t *v = json_object_get(obj, key);
  if (!v) return NULL;
  char *p = ptr_join(ptr, key);
  jtmpl_t *t = !strcmp(key, "Assign") ? jtmpl_compile_assign(v, p, c->d)
                                      : jtmpl_compile(v, p, key, c->d);
  free(p);
  return t;
}

/* A number field: an expression, or a literal checked now. */
static jtmpl_t *js_num(cc_t *c, json_t *obj, const char *ptr,
                       const char *key, num_kind_t kind) {
  jtmpl_t *t = js_field(c, obj, ptr, key);
  const json_t *lit = jtmpl_literal_peek(t);
  double x;
  if (lit && !num_ok((json_t *)lit, kind, &x))
    ferr(c, ptr, key, "%s must be %s or a JSONata expression \"{%% %%}\"",
         key, num_want(kind));
  return t;
}

/* A string field: an expression or a literal string. */
static jtmpl_t *js_str(cc_t *c, json_t *obj, const char *ptr,
                       const char *key) {
  jtmpl_t *t = js_field(c, obj, ptr, key);
  const json_t *lit = jtmpl_literal_peek(t);
  if (lit && !json_is_string(lit))
    ferr(c, ptr, key, "%s must be a string or a JSONata expression "
         "\"{%% %%}\", not %s", key, jsonx_type_name(lit));
  return t;
}

static const char *const js_catcher_fields[] = {
  "ErrorEquals", "Next", "Output", "Assign", "Comment", NULL
};

static void js_catchers(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                        mstate_t *s) {
  json_t *a = json_object_get(st, "Catch"), *o;
  if (!a) return;
  if (!json_is_array(a)) {
    ferr(c, ptr, "Catch", "Catch must be an array of catchers");
    return;
  }
  char *cptr = ptr_join(ptr, "Catch");
  size_t i, n = json_array_size(a);
  s->catch = ms_calloc(n ? n : 1, sizeof *s->catch);
  json_array_foreach(a, i, o) {
    char *p = ptr_index(cptr, i);
    if (!json_is_object(o)) {
      err(c, p, "a catcher must be an object");
    } else {
      catcher_t *k = &s->catch[s->ncatch++];
      json_t *v;
      k->next = -1;
      check_fields(c, o, p, js_catcher_fields, "a JSONata catcher");
      error_equals(c, o, p, i + 1 == n, "catcher", &k->errors, &k->nerrors);
      get_str(c, o, p, "Comment");
      if (!(v = json_object_get(o, "Next")))
        err(c, p, "missing required field \"Next\"");
      else
        k->next = target(c, m, v, p, "Next");
      k->joutput = js_field(c, o, p, "Output");
      k->jassign = js_field(c, o, p, "Assign");
    }
    free(p);
  }
  free(cptr);
}

static const char *const js_rule_fields[] = {
  "Condition", "Next", "Output", "Assign", "Comment", NULL
};

static void js_choices(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                       mstate_t *s) {
  json_t *a = choices_of(c, m, st, ptr, s), *v, *rule;
  if (!a) return;
  char *cptr = ptr_join(ptr, "Choices");
  size_t i;
  json_array_foreach(a, i, rule) {
    char *p = ptr_index(cptr, i);
    choice_branch_t *b = rule_of(c, s, rule, p);
    if (!b) {
      free(p);
      continue;
    }
    const char *k;
    json_object_foreach(rule, k, v) {
      if (in_list(js_rule_fields, k)) continue;
      ferr(c, p, k, "field \"%s\" is not allowed in a JSONata choice rule "
           "(use \"Condition\": \"{%% ... %%}\")", k);
    }
    if (!json_object_get(rule, "Condition"))
      err(c, p, "missing required field \"Condition\" in a choice rule");
    else {
      b->jcond = js_field(c, rule, p, "Condition");
      const json_t *lit = jtmpl_literal_peek(b->jcond);
      if (lit && !json_is_boolean(lit))
        ferr(c, p, "Condition", "Condition must be a boolean or a JSONata "
             "expression \"{%% %%}\", not %s", jsonx_type_name(lit));
    }
    rule_next(c, m, rule, p, b);
    b->joutput = js_field(c, rule, p, "Output");
    b->jassign = js_field(c, rule, p, "Assign");
    free(p);
  }
  free(cptr);
}

/* Compile the fields of a JSONata state (s->js allocated, fields checked,
 * Next/End done). */
static void js_compile(cc_t *c, machine_t *m, json_t *st, const char *ptr,
                       const struct state_type *t, mstate_t *s) {
  jstate_t *j = s->js;
  json_t *v;
  if (t->type != ST_FAIL) {
    j->output = js_field(c, st, ptr, "Output");
    j->assign = js_field(c, st, ptr, "Assign");
  }
  if (t->type == ST_TASK || t->type == ST_PARALLEL || t->type == ST_MAP) {
    retry_list(c, st, ptr, s);
    js_catchers(c, m, st, ptr, s);
  }
  switch (t->type) {
  case ST_PASS:
  case ST_SUCCEED:
    break;
  case ST_TASK: {
    const char *r = get_str(c, st, ptr, "Resource");
    if (!json_object_get(st, "Resource"))
      err(c, ptr, "missing required field \"Resource\"");
    else if (r && !*r)
      ferr(c, ptr, "Resource", "Resource must not be empty");
    if (r) s->resource = ms_strdup(r);
    j->arguments = js_field(c, st, ptr, "Arguments");
    j->timeout_seconds = js_num(c, st, ptr, "TimeoutSeconds", NUM_POS_INT);
    j->heartbeat_seconds = js_num(c, st, ptr, "HeartbeatSeconds",
                                  NUM_POS_INT);
    get_obj(c, st, ptr, "Credentials");
    break;
  }
  case ST_CHOICE:
    js_choices(c, m, st, ptr, s);
    break;
  case ST_WAIT: {
    bool sec = json_object_get(st, "Seconds") != NULL;
    bool ts = json_object_get(st, "Timestamp") != NULL;
    if (sec == ts)
      err(c, ptr, "a Wait state needs exactly one of Seconds or Timestamp");
    j->seconds = js_num(c, st, ptr, "Seconds", NUM_NONNEG_INT);
    j->timestamp = js_str(c, st, ptr, "Timestamp");
    const json_t *lit = jtmpl_literal_peek(j->timestamp);
    if (lit && json_is_string(lit) &&
        !choice_parse_timestamp(json_string_value(lit), &s->timestamp_epoch))
      ferr(c, ptr, "Timestamp", "Timestamp must be an RFC 3339 timestamp "
           "such as \"2016-03-14T01:59:00Z\"");
    break;
  }
  case ST_FAIL:
    j->error = js_str(c, st, ptr, "Error");
    j->cause = js_str(c, st, ptr, "Cause");
    break;
  case ST_PARALLEL:
    parallel_fn(c, m, st, ptr, s);
    j->arguments = js_field(c, st, ptr, "Arguments");
    break;
  case ST_MAP:
    map_processor(c, m, st, ptr, s);
    j->items = js_field(c, st, ptr, "Items");
    if ((v = json_object_get(st, "Items")) && !json_is_array(v) &&
        !(json_is_string(v) && !jtmpl_literal_peek(j->items)))
      ferr(c, ptr, "Items", "Items must be an array or a JSONata "
           "expression \"{%% %%}\", not %s", jsonx_type_name(v));
    j->item_selector = js_field(c, st, ptr, "ItemSelector");
    j->max_concurrency = js_num(c, st, ptr, "MaxConcurrency",
                                NUM_NONNEG_INT);
    j->tolerated_pct = js_num(c, st, ptr, "ToleratedFailurePercentage",
                              NUM_PERCENT);
    j->tolerated_count = js_num(c, st, ptr, "ToleratedFailureCount",
                                NUM_NONNEG_INT);
    if ((v = get_obj(c, st, ptr, "ItemReader")))
      s->item_reader = json_incref(v);
    if ((v = get_obj(c, st, ptr, "ResultWriter")))
      s->result_writer = json_incref(v);
    if (s->item_reader) itemreader_check(s->item_reader, ptr, true, c->d);
    if (s->result_writer)
      resultwriter_check(s->result_writer, ptr, true, c->d);
    if ((v = get_obj(c, st, ptr, "ItemBatcher"))) {
      static const char *const bf[] = {
        "BatchInput", "MaxItemsPerBatch", "MaxInputBytesPerBatch", NULL
      };
      char *bp = ptr_join(ptr, "ItemBatcher");
      s->item_batcher = json_incref(v);
      check_fields(c, v, bp, bf, "a JSONata ItemBatcher");
      j->batch_input = js_field(c, v, bp, "BatchInput");
      j->max_items_per_batch = js_num(c, v, bp, "MaxItemsPerBatch",
                                      NUM_POS_INT);
      j->max_bytes_per_batch = js_num(c, v, bp, "MaxInputBytesPerBatch",
                                      NUM_POS_INT);
      free(bp);
    }
    const char *label = get_str(c, st, ptr, "Label");
    if (label) {
      if (utf8_len(label) > LABEL_MAX_CHARS)
        ferr(c, ptr, "Label", "Label must be at most %d characters",
             LABEL_MAX_CHARS);
      s->label = ms_strdup(label);
    }
    break;
  }
}

static void js_free(jstate_t *j) {
  if (!j) return;
  jtmpl_t **all[] = {
    &j->arguments, &j->output, &j->assign, &j->items, &j->item_selector,
    &j->max_concurrency, &j->tolerated_pct, &j->tolerated_count,
    &j->batch_input, &j->max_items_per_batch, &j->max_bytes_per_batch,
    &j->timeout_seconds, &j->heartbeat_seconds, &j->seconds, &j->timestamp,
    &j->error, &j->cause
  };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    jtmpl_free(*all[i]);
  free(j);
}

/* Compile one state object into s (name and type already known). */
static void state_compile(cc_t *c, machine_t *m, json_t *st,
                          const char *ptr, const struct state_type *t,
                          mstate_t *s) {
  const char *k;
  json_t *v;
  char what[48];
  bool ja = query_language(c, st, ptr, c->jsonata);
  snprintf(what, sizeof what, "a %s state", t->name);
  if (ja) {
    s->js = ms_calloc(1, sizeof *s->js);
    js_check_fields(c, st, ptr, t);
  } else json_object_foreach(st, k, v) {
    if (in_list(t->fields, k)) continue;
    if (in_list(jsonata_only, k))
      ferr(c, ptr, k, "field \"%s\" is only allowed with QueryLanguage "
           "\"JSONata\"", k);
    else
      ferr(c, ptr, k, "field \"%s\" is not allowed in %s", k, what);
  }
  get_str(c, st, ptr, "Comment");

  s->next = -1;
  s->default_next = -1;
  if (t->flows) {
    json_t *next = json_object_get(st, "Next");
    json_t *end = json_object_get(st, "End");
    if (end && !json_is_boolean(end)) {
      ferr(c, ptr, "End", "End must be a boolean");
      end = NULL;
    }
    s->end = end && json_is_true(end);
    if (next && s->end)
      ferr(c, ptr, "End", "Next and End are mutually exclusive");
    else if (next)
      s->next = target(c, m, next, ptr, "Next");
    else if (!s->end)
      err(c, ptr, "a %s state needs exactly one of \"Next\" or "
          "\"End\": true", t->name);
  }
  if (ja) {
    js_compile(c, m, st, ptr, t, s);
    return;
  }

  if (in_list(t->fields, "InputPath")) {
    opt_path(c, st, ptr, "InputPath", false, &s->input_path);
    opt_path(c, st, ptr, "OutputPath", false, &s->output_path);
  }
  if (in_list(t->fields, "ResultPath"))
    opt_path(c, st, ptr, "ResultPath", true, &s->result_path);
  if (in_list(t->fields, "Parameters"))
    s->parameters = tpl_field(c, st, ptr, "Parameters", false);
  if (in_list(t->fields, "ResultSelector"))
    s->result_selector = tpl_field(c, st, ptr, "ResultSelector", false);
  if (in_list(t->fields, "Assign"))
    s->assign = tpl_field(c, st, ptr, "Assign", true);
  if (in_list(t->fields, "Retry")) {
    retry_list(c, st, ptr, s);
    catch_list(c, m, st, ptr, s);
  }
  t->fn(c, m, st, ptr, s);
}

/* ---- machines ---------------------------------------------------------- */

static const char *const top_fields[] = {
  "StartAt", "States", "Comment", "Version", "TimeoutSeconds",
  "QueryLanguage", NULL
};
static const char *const branch_fields[] = {
  "StartAt", "States", "Comment", "QueryLanguage", NULL
};
static const char *const processor_fields[] = {
  "StartAt", "States", "Comment", "QueryLanguage", "ProcessorConfig", NULL
};

static void mark(const machine_t *m, int i, bool *seen) {
  while (i >= 0 && !seen[i]) {
    const mstate_t *s = &m->states[i];
    seen[i] = true;
    for (size_t k = 0; k < s->ncatch; k++) mark(m, s->catch[k].next, seen);
    for (size_t k = 0; k < s->nchoices; k++)
      mark(m, s->choices[k].next, seen);
    if (s->default_next >= 0) mark(m, s->default_next, seen);
    i = s->next;
  }
}

/* Warn about states no transition reaches. */
static void reachability(cc_t *c, machine_t *m, const char *sptr) {
  if (m->start < 0 || m->nstates == 0) return;
  bool *seen = ms_calloc(m->nstates, sizeof *seen);
  mark(m, m->start, seen);
  for (size_t i = 0; i < m->nstates; i++) {
    if (seen[i]) continue;
    char *p = ptr_join(sptr, m->states[i].name);
    diags_add(c->d, true, p, "state \"%s\" is unreachable from StartAt",
              m->states[i].name);
    free(p);
  }
  free(seen);
}

/* Compile def found at ptr. Always returns a machine when def is an object
 * (possibly partial, for freeing); NULL otherwise. */
static machine_t *compile_machine(cc_t *c, json_t *def, const char *ptr,
                                  machine_t *parent, bool processor) {
  const char *what = parent ? (processor ? "a Map processor" : "a branch")
                            : "a state machine definition";
  if (!json_is_object(def)) {
    err(c, ptr, "%s must be a JSON object, not %s", what,
        jsonx_type_name(def));
    return NULL;
  }
  if (c->depth >= MS_MACHINE_DEPTH) {
    err(c, ptr, "Parallel/Map nesting deeper than %d", MS_MACHINE_DEPTH);
    return NULL;
  }
  machine_t *m = ms_calloc(1, sizeof *m);
  json_t *outer = c->index;
  c->index = json_object();
  m->definition = json_incref(def);
  m->parent = parent;
  m->start = -1;
  check_fields(c, def, ptr,
               !parent ? top_fields
                       : processor ? processor_fields : branch_fields,
               what);
  const char *cm = get_str(c, def, ptr, "Comment");
  if (cm) m->comment = ms_strdup(cm);
  bool outer_ja = c->jsonata;
  c->jsonata = query_language(c, def, ptr, c->jsonata);
  if (!parent) {
    const char *ver = get_str(c, def, ptr, "Version");
    if (ver && strcmp(ver, "1.0") != 0)
      ferr(c, ptr, "Version", "Version must be \"1.0\", not \"%s\"", ver);
    num_field(c, def, ptr, "TimeoutSeconds", NUM_POS_INT,
              &m->timeout_seconds);
    if (m->timeout_seconds.path) {
      /* The top level has no TimeoutSecondsPath; check_fields said so. */
      jpath_free(m->timeout_seconds.path);
      m->timeout_seconds.path = NULL;
      m->timeout_seconds.present = false;
    }
  }

  json_t *states = json_object_get(def, "States");
  char *sptr = ptr_join(ptr, "States");
  if (!states)
    err(c, ptr, "missing required field \"States\"");
  else if (!json_is_object(states) || json_object_size(states) == 0) {
    err(c, sptr, "States must be a non-empty object");
    states = NULL;
  }

  /* First pass: names and types, so transitions resolve in one pass. */
  const char *name;
  json_t *st;
  const struct state_type **types = NULL;
  if (states) {
    m->states = ms_calloc(json_object_size(states), sizeof *m->states);
    types = ms_calloc(json_object_size(states), sizeof *types);
    json_object_foreach(states, name, st) {
      size_t i = m->nstates++;
      mstate_t *s = &m->states[i];
      char *p = ptr_join(sptr, name);
      s->name = ms_strdup(name);
      s->index = (int)i;
      json_object_set_new(c->index, name, json_integer((json_int_t)i));
      s->next = s->default_next = -1;
      size_t len = utf8_len(name);
      if (len == 0 || len > NAME_MAX_CHARS)
        err(c, p, "state name must be 1 to %d characters (\"%.*s...\" has "
            "%zu)", NAME_MAX_CHARS, prefix_bytes(name, 20), name, len);
      json_t *prev = json_object_get(c->names, name);
      if (prev)
        err(c, p, "state name \"%s\" is already used at %s; names must be "
            "unique in the whole state machine", name,
            json_string_value(prev));
      else
        json_object_set_new(c->names, name, json_string(p));
      if (!json_is_object(st)) {
        err(c, p, "a state must be a JSON object, not %s",
            jsonx_type_name(st));
      } else {
        json_t *ty = json_object_get(st, "Type");
        if (!ty)
          err(c, p, "missing required field \"Type\"");
        else if (!json_is_string(ty) ||
                 !(types[i] = type_find(json_string_value(ty))))
          ferr(c, p, "Type", "Type must be one of Pass, Task, Choice, "
               "Wait, Succeed, Fail, Parallel, Map");
        if (types[i]) s->type = types[i]->type;
      }
      free(p);
    }
  }

  json_t *sa = json_object_get(def, "StartAt");
  if (!sa)
    err(c, ptr, "missing required field \"StartAt\"");
  else if (!json_is_string(sa))
    ferr(c, ptr, "StartAt", "StartAt must be a state name string");
  else if (states)
    m->start = target(c, m, sa, ptr, "StartAt");

  /* Second pass: compile each state. */
  if (states) {
    size_t i = 0;
    c->depth++;
    json_object_foreach(states, name, st) {
      if (types[i]) {
        char *p = ptr_join(sptr, name);
        state_compile(c, m, st, p, types[i], &m->states[i]);
        free(p);
      }
      i++;
    }
    c->depth--;
    reachability(c, m, sptr);
  }
  free(types);
  free(sptr);
  json_decref(c->index);
  c->index = outer;
  c->jsonata = outer_ja;
  return m;
}

machine_t *machine_compile(json_t *definition, diags_t *d) {
  cc_t c = {d, d->n, json_object(), NULL, NEAR_BUDGET, 0, false};
  size_t before = d->nerrors;
  machine_t *m = compile_machine(&c, definition, "", NULL, false);
  json_decref(c.names);
  if (d->nerrors != before) {
    machine_free(m);
    return NULL;
  }
  return m;
}

int machine_find(const machine_t *m, const char *name) {
  for (size_t i = 0; i < m->nstates; i++)
    if (strcmp(m->states[i].name, name) == 0) return (int)i;
  return -1;
}

/* ---- freeing ----------------------------------------------------------- */

static void tfree(tmpl_t *t) { if (t) tmpl_free(t); }

static void num_free(num_field_t *n) { path_free(n->path); }

static void strv_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void state_free(mstate_t *s) {
  free(s->name);
  path_free(s->input_path.path);
  path_free(s->output_path.path);
  path_free(s->result_path.path);
  tfree(s->parameters);
  tfree(s->result_selector);
  json_decref(s->result);
  tfree(s->assign);
  for (size_t i = 0; i < s->nretry; i++)
    strv_free(s->retry[i].errors, s->retry[i].nerrors);
  free(s->retry);
  for (size_t i = 0; i < s->ncatch; i++) {
    strv_free(s->catch[i].errors, s->catch[i].nerrors);
    path_free(s->catch[i].result_path.path);
    tfree(s->catch[i].assign);
    jtmpl_free(s->catch[i].joutput);
    jtmpl_free(s->catch[i].jassign);
  }
  free(s->catch);
  free(s->resource);
  num_free(&s->timeout_seconds);
  num_free(&s->heartbeat_seconds);
  for (size_t i = 0; i < s->nchoices; i++) {
    if (s->choices[i].rule) choice_free(s->choices[i].rule);
    tfree(s->choices[i].assign);
    jtmpl_free(s->choices[i].jcond);
    jtmpl_free(s->choices[i].joutput);
    jtmpl_free(s->choices[i].jassign);
  }
  free(s->choices);
  num_free(&s->seconds);
  free(s->timestamp);
  path_free(s->timestamp_path);
  free(s->error);
  free(s->cause);
  if (s->error_path) jexpr_free(s->error_path);
  if (s->cause_path) jexpr_free(s->cause_path);
  for (size_t i = 0; i < s->nbranches; i++) machine_free(s->branches[i]);
  free(s->branches);
  machine_free(s->iterator);
  path_free(s->items_path);
  num_free(&s->max_concurrency);
  num_free(&s->tolerated_pct);
  num_free(&s->tolerated_count);
  json_decref(s->item_batcher);
  tfree(s->batch_input);
  num_free(&s->max_items_per_batch);
  num_free(&s->max_bytes_per_batch);
  json_decref(s->item_reader);
  json_decref(s->result_writer);
  free(s->label);
  js_free(s->js);
}

void machine_free(machine_t *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nstates; i++) state_free(&m->states[i]);
  free(m->states);
  free(m->comment);
  num_free(&m->timeout_seconds);
  json_decref(m->definition);
  free(m);
}
