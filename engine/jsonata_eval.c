/* jsonata_eval.c - the JSONata evaluator and the public API (jsonata.h).
 *
 * Follows the reference implementation's evaluate(): sequences that
 * collapse to their single item unless kept, flattening of path steps,
 * tuple streams for the focus (@), index (#) and parent (%) bindings,
 * predicates, group-by and order-by, closures and partial application,
 * the ~> chain, the transform operator and tail calls run by a trampoline.
 * Depth and time limits are checked at every evaluation step. The
 * function library is jsonata_fn.c's, values are jsonata_val.c's.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "jsonata_int.h"

struct jsonata {
  jarena a;
  jnode *ast;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

void jeval_tick(jctx *c) {
  if ((++c->ticks & 1023) == 0) {
    if (now_ms() - c->t0 > (double)c->timeout_ms) jerr_timeout(c);
    if (c->a.total > ((size_t)1 << 31))
      jerr(c, "D1005", -1, NULL, NULL, NULL);
  }
}

/* ---- frames */

jframe *jframe_new(jctx *c, jframe *parent) {
  jframe *f = ja_alloc(&c->a, sizeof *f);
  f->parent = parent;
  return f;
}

void jframe_bind(jctx *c, jframe *f, const char *name, jv *v) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->names[i], name)) {
      f->vals[i] = v;
      return;
    }
  if (f->n == f->cap) {
    int cap = f->cap ? f->cap * 2 : 4;
    const char **nn = ja_alloc(&c->a, cap * sizeof *nn);
    jv **nv = ja_alloc(&c->a, cap * sizeof *nv);
    if (f->n) {
      memcpy(nn, f->names, f->n * sizeof *nn);
      memcpy(nv, f->vals, f->n * sizeof *nv);
    }
    f->names = nn;
    f->vals = nv;
    f->cap = cap;
  }
  f->names[f->n] = name;
  f->vals[f->n++] = v;
}

jv *jframe_lookup(jframe *f, const char *name, bool *found) {
  for (; f; f = f->parent) {
    if (f->sorted) {
      int lo = 0, hi = f->n - 1;
      while (lo <= hi) {
        int mid = (lo + hi) / 2, r = strcmp(f->names[mid], name);
        if (r == 0) {
          if (found) *found = true;
          return f->vals[mid];
        }
        if (r < 0) lo = mid + 1;
        else hi = mid - 1;
      }
      continue;
    }
    for (int i = f->n - 1; i >= 0; i--)
      if (!strcmp(f->names[i], name)) {
        if (found) *found = true;
        return f->vals[i];
      }
  }
  if (found) *found = false;
  return NULL;
}

static jframe *tuple_frame(jctx *c, jframe *env, jv *t) {
  jframe *f = jframe_new(c, env);
  if (t && t->t == JV_OBJ)
    for (size_t i = 0; i < t->u.o.n; i++)
      jframe_bind(c, f, t->u.o.k[i], t->u.o.v[i]);
  return f;
}

/* ---- helpers */

static bool isnum(jctx *c, jv *v) {
  if (!v || v->t != JV_NUM) return false;
  if (isnan(v->u.n)) return false;
  if (isinf(v->u.n)) jerr(c, "D1001", -1, NULL, v, NULL);
  return true;
}

static jv *seq1(jctx *c, jv *v) {
  jv *s = jv_seq(c);
  jv_push(c, s, v);
  return s;
}

static jv *tget(jv *t, const char *k) { return jv_get(t, k, strlen(k)); }

static jv *tcopy(jctx *c, jv *t) {
  jv *o = jv_obj(c);
  if (!t || t->t != JV_OBJ) return o;
  for (size_t i = 0; i < t->u.o.n; i++)
    jv_set(c, o, t->u.o.k[i], t->u.o.kl[i], t->u.o.v[i]);
  return o;
}

static void tset(jctx *c, jv *t, const char *k, jv *v) {
  jv_set(c, t, k, strlen(k), v);
}

/* ---- paths */

static jv *filter(jctx *c, jnode *pred, jv *input, jframe *env);
static jv *group(jctx *c, jnodes *pairs, int pos, jv *input, jframe *env);
static jv *sort_expr(jctx *c, jnode *e, jv *input, jframe *env);

static jv *stages(jctx *c, jnodes *st, jv *r, jframe *env) {
  for (int i = 0; i < st->n; i++) {
    jnode *s = st->v[i];
    if (s->type == NT_FILTER) {
      r = filter(c, s->expr, r, env);
    } else if (s->type == NT_INDEX && r && r->t == JV_ARR) {
      for (size_t e = 0; e < r->u.a.n; e++)
        if (r->u.a.v[e] && r->u.a.v[e]->t == JV_OBJ)
          tset(c, r->u.a.v[e], s->value, jv_num(c, (double)e));
    }
  }
  return r;
}

static jv *eval_step(jctx *c, jnode *step, jv *input, jframe *env,
                     bool last) {
  if (step->type == NT_SORT) {
    jv *r = sort_expr(c, step, input, env);
    if (step->stages.n) r = stages(c, &step->stages, r, env);
    return r;
  }
  jv *res = jv_seq(c);
  size_t n = jv_isarr(input) ? input->u.a.n : 0;  /* as JS's .length */
  for (size_t i = 0; i < n; i++) {
    jv *r = jeval(c, step, input->u.a.v[i], env);
    for (int s = 0; s < step->stages.n; s++)
      r = filter(c, step->stages.v[s]->expr, r, env);
    if (r) jv_push(c, res, r);
  }
  if (last && res->u.a.n == 1 && jv_isarr(res->u.a.v[0]) &&
      !res->u.a.v[0]->seq)
    return res->u.a.v[0];
  jv *out = jv_seq(c);
  for (size_t i = 0; i < res->u.a.n; i++) {
    jv *r = res->u.a.v[i];
    if (!jv_isarr(r) || r->cons) {
      jv_push(c, out, r);
    } else {
      for (size_t k = 0; k < r->u.a.n; k++) jv_push(c, out, r->u.a.v[k]);
    }
  }
  return out;
}

static jv *tuple_step(jctx *c, jnode *step, jv *input, jv *tb,
                      jframe *env) {
  jv *r;
  if (step->type == NT_SORT) {
    if (tb) {
      r = sort_expr(c, step, tb, env);
    } else {
      jv *sorted = sort_expr(c, step, input, env);
      r = jv_seq(c);
      r->tuple = 1;
      for (size_t i = 0; jv_isarr(sorted) && i < sorted->u.a.n; i++) {
        jv *t = jv_obj(c);
        tset(c, t, "@", sorted->u.a.v[i]);
        tset(c, t, step->index ? step->index : "undefined",
             jv_num(c, (double)i));
        jv_push(c, r, t);
      }
    }
    if (step->stages.n) r = stages(c, &step->stages, r, env);
    return r;
  }
  r = jv_seq(c);
  r->tuple = 1;
  if (!tb) {
    tb = jv_seq(c);
    size_t n = jv_isarr(input) ? input->u.a.n : 0;
    for (size_t i = 0; i < n; i++) {
      jv *t = jv_obj(c);
      tset(c, t, "@", input->u.a.v[i]);
      jv_push(c, tb, t);
    }
  }
  for (size_t e = 0; e < tb->u.a.n; e++) {
    jv *te = tb->u.a.v[e];
    jframe *se = tuple_frame(c, env, te);
    jv *res = jeval(c, step, tget(te, "@"), se);
    if (!res) continue;
    if (!jv_isarr(res)) res = seq1(c, res);
    for (size_t b = 0; b < res->u.a.n; b++) {
      jv *t = tcopy(c, te);
      if (res->tuple) {
        jv *rb = res->u.a.v[b];
        for (size_t k = 0; rb && rb->t == JV_OBJ && k < rb->u.o.n; k++)
          jv_set(c, t, rb->u.o.k[k], rb->u.o.kl[k], rb->u.o.v[k]);
      } else {
        if (step->focus) {
          tset(c, t, step->focus, res->u.a.v[b]);
          tset(c, t, "@", tget(te, "@"));
        } else {
          tset(c, t, "@", res->u.a.v[b]);
        }
        if (step->index) tset(c, t, step->index, jv_num(c, (double)b));
        if (step->ancestor)
          tset(c, t, step->ancestor->label, tget(te, "@"));
      }
      jv_push(c, r, t);
    }
  }
  if (step->stages.n) r = stages(c, &step->stages, r, env);
  return r;
}

static jv *eval_path(jctx *c, jnode *e, jv *input, jframe *env) {
  jv *inseq;
  if (jv_isarr(input) && e->steps.v[0]->type != NT_VARIABLE)
    inseq = input;
  else
    inseq = seq1(c, input);
  jv *result = NULL, *tb = NULL;
  bool ts = false;
  for (int i = 0; i < e->steps.n; i++) {
    jnode *step = e->steps.v[i];
    if (step->tuple) ts = true;
    if (i == 0 && step->consarray) {
      result = jeval(c, step, inseq, env);
    } else if (ts) {
      tb = tuple_step(c, step, inseq, tb, env);
    } else {
      result = eval_step(c, step, inseq, env, i == e->steps.n - 1);
    }
    if (!ts && (!result || (jv_isarr(result) && result->u.a.n == 0)))
      break;
    if (!step->focus) inseq = result;
  }
  if (ts) {
    if (e->tuple) {
      result = tb;
    } else {
      result = jv_seq(c);
      for (size_t i = 0; tb && i < tb->u.a.n; i++)
        jv_push(c, result, tget(tb->u.a.v[i], "@"));
    }
  }
  if (e->keep_singleton && result) {
    if (jv_isarr(result) && result->cons && !result->seq)
      result = seq1(c, result);
    if (jv_isarr(result)) result->keep = 1;
  }
  if (e->has_group)
    result = group(c, &e->group, e->group_pos, ts ? tb : result, env);
  return result;
}

static jv *filter(jctx *c, jnode *pred, jv *input, jframe *env) {
  jv *res = jv_seq(c);
  if (input && input->tuple) res->tuple = 1;
  if (!jv_isarr(input)) input = seq1(c, input);
  if (pred->type == NT_NUMBER) {
    long n = (long)input->u.a.n;
    double fi = floor(pred->num);
    if (fi < 0) fi += n;
    jv *item = fi >= 0 && fi < n ? input->u.a.v[(long)fi] : NULL;
    if (item) {
      if (jv_isarr(item)) res = item;
      else jv_push(c, res, item);
    }
    return res;
  }
  for (size_t i = 0; i < input->u.a.n; i++) {
    jv *item = input->u.a.v[i], *ctx = item;
    jframe *e = env;
    if (input->tuple) {
      ctx = tget(item, "@");
      e = tuple_frame(c, env, item);
    }
    jv *r = jeval(c, pred, ctx, e);
    if (isnum(c, r)) r = seq1(c, r);
    bool nums = jv_isarr(r);
    for (size_t k = 0; nums && k < r->u.a.n; k++)
      if (!r->u.a.v[k] || r->u.a.v[k]->t != JV_NUM) nums = false;
    if (nums) {
      for (size_t k = 0; k < r->u.a.n; k++) {
        isnum(c, r->u.a.v[k]);
        double ii = floor(r->u.a.v[k]->u.n);
        if (ii < 0) ii += (double)input->u.a.n;
        if (ii == (double)i) jv_push(c, res, item);
      }
    } else if (jfn_boolean(c, r)) {
      jv_push(c, res, item);
    }
  }
  return res;
}

/* ---- group-by and object constructors */

static jv *reduce_tuples(jctx *c, jv *ts) {
  if (!jv_isarr(ts)) return ts;
  jv *r = jv_obj(c);
  if (ts->u.a.n == 0) return r;
  jv *t0 = ts->u.a.v[0];
  for (size_t k = 0; t0 && t0->t == JV_OBJ && k < t0->u.o.n; k++)
    jv_set(c, r, t0->u.o.k[k], t0->u.o.kl[k], t0->u.o.v[k]);
  for (size_t i = 1; i < ts->u.a.n; i++) {
    jv *t = ts->u.a.v[i];
    for (size_t k = 0; t && t->t == JV_OBJ && k < t->u.o.n; k++)
      jv_set(c, r, t->u.o.k[k], t->u.o.kl[k],
             jv_append(c, jv_get(r, t->u.o.k[k], t->u.o.kl[k]),
                       t->u.o.v[k]));
  }
  return r;
}

static jv *group(jctx *c, jnodes *pairs, int pos, jv *input, jframe *env) {
  bool reduce = input && input->tuple;
  if (!jv_isarr(input)) input = seq1(c, input);
  if (input->u.a.n == 0) input = seq1(c, NULL);
  int np = pairs->n / 2;
  jv *keys = jv_obj(c);          /* key -> index into data/idx */
  jv **data = NULL;
  int *idx = NULL, ng = 0, capg = 0;
  for (size_t i = 0; i < input->u.a.n; i++) {
    jv *item = input->u.a.v[i];
    jframe *e = reduce ? tuple_frame(c, env, item) : env;
    for (int p = 0; p < np; p++) {
      jv *key = jeval(c, pairs->v[2 * p], reduce ? tget(item, "@") : item,
                      e);
      if (key && key->t != JV_STR) jerr(c, "T1003", pos, NULL, key, NULL);
      if (!key) continue;
      jv *g = jv_get(keys, key->u.s.p, key->u.s.len);
      if (g) {
        int gi = (int)g->u.n;
        if (idx[gi] != p) jerr(c, "D1009", pos, NULL, key, NULL);
        data[gi] = jv_append(c, data[gi], item);
      } else {
        if (ng == capg) {
          capg = capg ? capg * 2 : 8;
          jv **nd = ja_alloc(&c->a, capg * sizeof *nd);
          int *ni = ja_alloc(&c->a, capg * sizeof *ni);
          if (ng) {
            memcpy(nd, data, ng * sizeof *nd);
            memcpy(ni, idx, ng * sizeof *ni);
          }
          data = nd;
          idx = ni;
        }
        data[ng] = item;
        idx[ng] = p;
        jv_set(c, keys, key->u.s.p, key->u.s.len, jv_num(c, ng));
        ng++;
      }
    }
  }
  jv *result = jv_obj(c);
  for (int g = 0; g < ng; g++) {
    jv *ctx = data[g];
    jframe *e = env;
    if (reduce) {
      jv *t = reduce_tuples(c, data[g]);
      ctx = NULL;
      if (t && t->t == JV_OBJ) {
        ctx = tget(t, "@");
        t = tcopy(c, t);
        jv_del(t, "@", 1);
        e = tuple_frame(c, env, t);
      }
    }
    jv *v = jeval(c, pairs->v[2 * idx[g] + 1], ctx, e);
    if (v) jv_set(c, result, keys->u.o.k[g], keys->u.o.kl[g], v);
  }
  return result;
}

/* ---- order-by */

typedef struct sortud { jnode *e; jframe *env; bool tuple; } sortud;

static int sort_cmp(jctx *c, jv *a, jv *b, void *ud) {
  sortud *s = ud;
  int comp = 0;
  for (int i = 0; comp == 0 && i < s->e->terms.n; i++) {
    jnode *term = s->e->terms.v[i];
    jv *ctx = a;
    jframe *env = s->env;
    if (s->tuple) { ctx = tget(a, "@"); env = tuple_frame(c, s->env, a); }
    jv *aa = jeval(c, term, ctx, env);
    ctx = b;
    env = s->env;
    if (s->tuple) { ctx = tget(b, "@"); env = tuple_frame(c, s->env, b); }
    jv *bb = jeval(c, term, ctx, env);
    if (!aa) { comp = bb ? 1 : 0; continue; }
    if (!bb) { comp = -1; continue; }
    bool an = aa->t == JV_NUM || aa->t == JV_STR;
    bool bn = bb->t == JV_NUM || bb->t == JV_STR;
    if (!an || !bn)
      jerr(c, "T2008", s->e->pos, NULL, !an ? aa : bb, NULL);
    if (aa->t != bb->t) jerr(c, "T2007", s->e->pos, NULL, aa, bb);
    if (jv_equal(aa, bb)) continue;
    bool lt;
    if (aa->t == JV_NUM) lt = aa->u.n < bb->u.n;
    else {
      size_t m = aa->u.s.len < bb->u.s.len ? aa->u.s.len : bb->u.s.len;
      int r = memcmp(aa->u.s.p, bb->u.s.p, m);
      lt = r < 0 || (r == 0 && aa->u.s.len < bb->u.s.len);
    }
    comp = lt ? -1 : 1;
    if (s->e->desc[i]) comp = -comp;
  }
  return comp == 1;
}

static jv *sort_expr(jctx *c, jnode *e, jv *input, jframe *env) {
  sortud s = {e, env, input && input->tuple};
  return jfn_sort(c, input, sort_cmp, &s);
}

/* ---- operators */

static jv *numeric(jctx *c, jnode *e, jv *l, jv *r) {
  const char *op = e->value;
  if (l && !isnum(c, l)) jerr(c, "T2001", e->pos, op, l, NULL);
  if (r && !isnum(c, r)) jerr(c, "T2002", e->pos, op, r, NULL);
  if (!l || !r) return NULL;
  double a = l->u.n, b = r->u.n, x = 0;
  switch (op[0]) {
  case '+': x = a + b; break;
  case '-': x = a - b; break;
  case '*': x = a * b; break;
  case '/': x = a / b; break;
  case '%': x = fmod(a, b); break;
  }
  return jv_num(c, x);
}

static int strcmp_jv(jv *a, jv *b) {
  size_t m = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
  int r = memcmp(a->u.s.p, b->u.s.p, m);
  if (r) return r;
  return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
}

static jv *compare(jctx *c, jnode *e, jv *l, jv *r) {
  const char *op = e->value;
  bool lc = !l || l->t == JV_STR || isnum(c, l) ||
            (l->t == JV_NUM);
  bool rc = !r || r->t == JV_STR || isnum(c, r) || (r->t == JV_NUM);
  if (!lc || !rc)
    jerr(c, "T2010", e->pos, op,
         !(l && (l->t == JV_STR || l->t == JV_NUM)) ? l : r, NULL);
  if (!l || !r) return NULL;
  if (l->t != r->t) jerr(c, "T2009", e->pos, op, l, r);
  int cmp;
  if (l->t == JV_NUM) {
    double a = l->u.n, b = r->u.n;
    if (a != a || b != b) return jv_bool(false);
    cmp = a < b ? -1 : a > b;
  } else {
    cmp = strcmp_jv(l, r);
  }
  bool res = false;
  if (!strcmp(op, "<")) res = cmp < 0;
  else if (!strcmp(op, "<=")) res = cmp <= 0;
  else if (!strcmp(op, ">")) res = cmp > 0;
  else res = cmp >= 0;
  return jv_bool(res);
}

static bool strict_eq(jv *a, jv *b) {
  if (a == b) return true;
  if (!a || !b || a->t != b->t) return false;
  switch (a->t) {
  case JV_NULL: return true;
  case JV_BOOL: return a->u.b == b->u.b;
  case JV_NUM: return a->u.n == b->u.n;
  case JV_STR: return jv_equal(a, b);
  default: return false;
  }
}

static jv *range(jctx *c, jnode *e, jv *l, jv *r) {
  if (l && (l->t != JV_NUM || l->u.n != floor(l->u.n) || isinf(l->u.n)))
    jerr(c, "T2003", e->pos, "..", l, NULL);
  if (r && (r->t != JV_NUM || r->u.n != floor(r->u.n) || isinf(r->u.n)))
    jerr(c, "T2004", e->pos, "..", r, NULL);
  if (!l || !r) return NULL;
  if (l->u.n > r->u.n) return NULL;
  double size = r->u.n - l->u.n + 1;
  if (size > 1e7) jerr(c, "D2014", e->pos, "..", jv_num(c, size), NULL);
  jv *a = jv_seq(c);
  size_t n = (size_t)size;
  a->u.a.v = ja_alloc(&c->a, n * sizeof(jv *));
  a->u.a.cap = n;
  jv *nums = ja_alloc(&c->a, n * sizeof(jv));
  for (size_t i = 0; i < n; i++) {
    nums[i].t = JV_NUM;
    nums[i].u.n = l->u.n + (double)i;
    a->u.a.v[i] = &nums[i];
  }
  a->u.a.n = n;
  return a;
}

static jv *binary(jctx *c, jnode *e, jv *input, jframe *env) {
  const char *op = e->value;
  jv *l = jeval(c, e->lhs, input, env);
  if (op[0] == 'a') {
    if (!jfn_boolean(c, l)) return jv_bool(false);
    return jv_bool(jfn_boolean(c, jeval(c, e->rhs, input, env)));
  }
  if (op[0] == 'o') {
    if (jfn_boolean(c, l)) return jv_bool(true);
    return jv_bool(jfn_boolean(c, jeval(c, e->rhs, input, env)));
  }
  jv *r = jeval(c, e->rhs, input, env);
  switch (op[0]) {
  case '+': case '-': case '*': case '/': case '%':
    return numeric(c, e, l, r);
  case '=':
    if (!l || !r) return jv_bool(false);
    return jv_bool(jv_equal(l, r));
  case '!':
    if (!l || !r) return jv_bool(false);
    return jv_bool(!jv_equal(l, r));
  case '<': case '>':
    return compare(c, e, l, r);
  case '&': {
    jv *ls = l ? jfn_string(c, l, false) : NULL;
    jv *rs = r ? jfn_string(c, r, false) : NULL;
    size_t a = ls ? ls->u.s.len : 0, b = rs ? rs->u.s.len : 0;
    jv *v = ja_alloc(&c->a, sizeof *v);
    v->t = JV_STR;
    v->u.s.p = ja_alloc(&c->a, a + b + 1);
    if (a) memcpy(v->u.s.p, ls->u.s.p, a);
    if (b) memcpy(v->u.s.p + a, rs->u.s.p, b);
    v->u.s.len = a + b;
    return v;
  }
  case '.':
    return range(c, e, l, r);
  case 'i': {
    if (!l || !r) return jv_bool(false);
    if (!jv_isarr(r)) return jv_bool(strict_eq(r, l));
    for (size_t i = 0; i < r->u.a.n; i++)
      if (strict_eq(r->u.a.v[i], l)) return jv_bool(true);
    return jv_bool(false);
  }
  }
  return NULL;
}

static jv *unary(jctx *c, jnode *e, jv *input, jframe *env) {
  if (e->value[0] == '-') {
    jv *r = jeval(c, e->expr, input, env);
    if (!r) return NULL;
    if (isnum(c, r)) return jv_num(c, -r->u.n);
    jerr(c, "D1002", e->pos, "-", r, NULL);
  }
  if (e->value[0] == '[') {
    jv *res = jv_arr(c);
    for (int i = 0; i < e->items.n; i++) {
      jnode *item = e->items.v[i];
      jv *v = jeval(c, item, input, env);
      if (!v) continue;
      if (item->type == NT_UNARY && item->value[0] == '[') {
        jv_push(c, res, v);
      } else if (jv_isarr(v)) {
        for (size_t k = 0; k < v->u.a.n; k++) jv_push(c, res, v->u.a.v[k]);
      } else {
        jv_push(c, res, v);
      }
    }
    if (e->consarray) res->cons = 1;
    return res;
  }
  return group(c, &e->pairs, e->pos, input, env);
}

/* ---- names, wildcards, descendants */

static jv *lookup(jctx *c, jv *input, const char *k, size_t kl) {
  if (jv_isarr(input)) {
    jv *res = jv_seq(c);
    for (size_t i = 0; i < input->u.a.n; i++) {
      jv *r = lookup(c, input->u.a.v[i], k, kl);
      if (!r) continue;
      if (jv_isarr(r))
        for (size_t j = 0; j < r->u.a.n; j++) jv_push(c, res, r->u.a.v[j]);
      else
        jv_push(c, res, r);
    }
    return res;
  }
  if (input && input->t == JV_OBJ) return jv_get(input, k, kl);
  return NULL;
}

jv *jeval_lookup(jctx *c, jv *input, const char *k, size_t kl) {
  return lookup(c, input, k, kl);
}

static void flatten(jctx *c, jv *v, jv *out) {
  if (jv_isarr(v))
    for (size_t i = 0; i < v->u.a.n; i++) flatten(c, v->u.a.v[i], out);
  else
    jv_push(c, out, v);
}

static jv *wildcard(jctx *c, jv *input) {
  jv *res = jv_seq(c);
  if (jv_isarr(input) && input->outer && input->u.a.n > 0)
    input = input->u.a.v[0];
  if (input && (input->t == JV_OBJ || input->t == JV_ARR)) {
    /* JavaScript sees an array's items as its values too */
    bool arr = input->t == JV_ARR;
    size_t n = arr ? input->u.a.n : input->u.o.n;
    for (size_t i = 0; i < n; i++) {
      jv *v = arr ? input->u.a.v[i] : input->u.o.v[i];
      if (jv_isarr(v)) {
        jv *f = jv_arr(c);
        flatten(c, v, f);
        res = jv_append(c, res, f);
      } else {
        jv_push(c, res, v);
      }
    }
  }
  return res;
}

static void descend(jctx *c, jv *v, jv *out) {
  if (!jv_isarr(v)) jv_push(c, out, v);
  if (jv_isarr(v)) {
    for (size_t i = 0; i < v->u.a.n; i++) descend(c, v->u.a.v[i], out);
  } else if (v && v->t == JV_OBJ) {
    for (size_t i = 0; i < v->u.o.n; i++) descend(c, v->u.o.v[i], out);
  }
}

static jv *descendants(jctx *c, jv *input) {
  if (!input) return NULL;
  jv *res = jv_seq(c);
  descend(c, input, res);
  if (res->u.a.n == 1) return res->u.a.v[0];
  return res;
}

/* ---- functions */

static jv *make_lambda(jctx *c, jnode *e, jv *input, jframe *env) {
  jfn *f = ja_alloc(&c->a, sizeof *f);
  f->kind = FN_LAMBDA;
  f->node = e;
  f->input = input;
  f->env = env;
  f->sig = e->sig;
  f->thunk = e->thunk;
  f->nparams = e->items.n;
  f->params = ja_alloc(&c->a, (e->items.n + 1) * sizeof *f->params);
  for (int i = 0; i < e->items.n; i++) f->params[i] = e->items.v[i]->value;
  f->arity = f->nparams;
  return jv_fn(c, f);
}

static const char *proc_name(jnode *p) {
  if (p->type == NT_PATH) return p->steps.v[0]->value;
  return p->value;
}

static jv *apply_regex(jctx *c, jfn *f, jv **args, int n) {
  jv *s = n > 0 ? args[0] : NULL;
  if (!s || s->t != JV_STR) return NULL;
  pcre2_code *re = f->node->re;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  size_t from = 0;
  if (n > 1 && args[1] && args[1]->t == JV_NUM) from = (size_t)args[1]->u.n;
  int rc = pcre2_match(re, (PCRE2_SPTR)s->u.s.p, s->u.s.len, from, 0, md,
                       NULL);
  jv *res = NULL;
  if (rc > 0) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    res = jv_obj(c);
    tset(c, res, "match", jv_str(c, s->u.s.p + ov[0], ov[1] - ov[0]));
    tset(c, res, "start",
         jv_num(c, (double)jutf8_len(s->u.s.p, ov[0])));
    tset(c, res, "end", jv_num(c, (double)jutf8_len(s->u.s.p, ov[1])));
    jv *g = jv_arr(c);
    for (int i = 1; i < rc; i++)
      jv_push(c, g, ov[2 * i] == PCRE2_UNSET ? jv_str(c, "", 0)
                    : jv_str(c, s->u.s.p + ov[2 * i],
                             ov[2 * i + 1] - ov[2 * i]));
    tset(c, res, "groups", g);
  }
  pcre2_match_data_free(md);
  return res;
}

static jv *transform_apply(jctx *c, jfn *f, jv *obj) {
  if (!obj) return NULL;
  jnode *e = f->node;
  jv *clone = jframe_lookup(f->env, "clone", NULL);
  if (!jv_isfn(clone)) jerr(c, "T2013", e->pos, NULL, NULL, NULL);
  jv *result = jeval_apply(c, clone, &obj, 1, NULL, f->env, e->pos, NULL);
  jv *matches = jeval(c, e->pattern, result, f->env);
  if (!matches) return result;
  if (!jv_isarr(matches)) matches = seq1(c, matches);
  for (size_t i = 0; i < matches->u.a.n; i++) {
    jv *m = matches->u.a.v[i];
    jv *up = jeval(c, e->update, m, f->env);
    if (up) {
      if (up->t != JV_OBJ)
        jerr(c, "T2011", e->update->pos, NULL, up, NULL);
      if (m && m->t == JV_OBJ)
        for (size_t k = 0; k < up->u.o.n; k++)
          jv_set(c, m, up->u.o.k[k], up->u.o.kl[k], up->u.o.v[k]);
    }
    if (e->del) {
      jv *d = jeval(c, e->del, m, f->env);
      if (d) {
        jv *val = d;
        if (!jv_isarr(d)) d = seq1(c, d);
        for (size_t k = 0; k < d->u.a.n; k++)
          if (!d->u.a.v[k] || d->u.a.v[k]->t != JV_STR)
            jerr(c, "T2012", e->del->pos, NULL, val, NULL);
        for (size_t k = 0; k < d->u.a.n; k++)
          if (m && m->t == JV_OBJ)
            jv_del(m, d->u.a.v[k]->u.s.p, d->u.a.v[k]->u.s.len);
      }
    }
  }
  return result;
}

static jv *apply_inner(jctx *c, jv *proc, jv **args, int n, jv *input,
                       jframe *env, int pos, const char *token) {
  if (!jv_isfn(proc)) jerr(c, "T1006", pos, token, NULL, NULL);
  jfn *f = proc->u.f;
  c->pos = pos;
  if (!token && f->kind == FN_NATIVE) token = f->b->name;
  if (f->sig) args = jsig_validate(c, f->sig, args, n, input, &n, token);
  switch (f->kind) {
  case FN_LAMBDA: {
    jframe *fe = jframe_new(c, f->env);
    for (int i = 0; i < f->nparams; i++)
      jframe_bind(c, fe, f->params[i], i < n ? args[i] : NULL);
    return jeval(c, f->node->body, f->input, fe);
  }
  case FN_NATIVE:
    return f->b->fn(c, args, n, input, env);
  case FN_PARTIAL: {
    jv *target = f->target;
    jv **full = ja_alloc(&c->a, (f->nargs + n + 1) * sizeof *full);
    int k = 0;
    for (int i = 0; i < f->nargs; i++)
      full[i] = f->hole[i] ? (k < n ? args[k++] : NULL) : f->args[i];
    if (target->u.f->kind == FN_NATIVE) {
      /* the reference calls the native as is; its types are checked
       * here all the same, since C cannot take a wrong one */
      int nf = f->nargs;
      jfn *tf = target->u.f;
      if (tf->sig) full = jsig_validate(c, tf->sig, full, nf, NULL, &nf,
                                        token ? token : tf->b->name);
      return tf->b->fn(c, full, nf, NULL, env);
    }
    return apply_inner(c, target, full, f->nargs, input, env, pos, token);
  }
  case FN_TRANSFORM:
    return transform_apply(c, f, n > 0 ? args[0] : NULL);
  case FN_REGEX:
    return apply_regex(c, f, args, n);
  }
  return NULL;
}

jv *jeval_apply(jctx *c, jv *proc, jv **args, int n, jv *input, jframe *env,
                int pos, const char *token) {
  jv *r = apply_inner(c, proc, args, n, input, env, pos, token);
  while (jv_isfn(r) && r->u.f->kind == FN_LAMBDA && r->u.f->thunk) {
    jfn *t = r->u.f;
    /* the thunk's frame holds the caller's parameters; its body is the
     * tail call itself */
    jnode *call = t->node->body;
    jv *next = jeval(c, call->procedure, t->input, t->env);
    int na = call->items.n;
    jv **ea = ja_alloc(&c->a, (na + 1) * sizeof *ea);
    for (int i = 0; i < na; i++)
      ea[i] = jeval(c, call->items.v[i], t->input, t->env);
    r = apply_inner(c, next, ea, na, input, env, call->pos,
                    proc_name(call->procedure));
    jeval_tick(c);
  }
  return r;
}

static jv *eval_function(jctx *c, jnode *e, jv *input, jframe *env,
                         bool has_ctx, jv *ctx) {
  jv *proc = jeval(c, e->procedure, input, env);
  const char *name = proc_name(e->procedure);
  if (!proc && e->procedure->type == NT_PATH && name &&
      jframe_lookup(env, name, NULL))
    jerr(c, "T1005", e->pos, name, NULL, NULL);
  int n = e->items.n + (has_ctx ? 1 : 0), k = 0;
  jv **args = ja_alloc(&c->a, (n + 1) * sizeof *args);
  if (has_ctx) args[k++] = ctx;
  for (int i = 0; i < e->items.n; i++)
    args[k++] = jeval(c, e->items.v[i], input, env);
  return jeval_apply(c, proc, args, n, input, env, e->pos, name);
}

static jv *eval_partial(jctx *c, jnode *e, jv *input, jframe *env) {
  int n = e->items.n;
  jv **args = ja_alloc(&c->a, (n + 1) * sizeof *args);
  unsigned char *hole = ja_alloc(&c->a, n + 1);
  for (int i = 0; i < n; i++) {
    if (e->items.v[i]->type == NT_PLACEHOLDER) hole[i] = 1;
    else args[i] = jeval(c, e->items.v[i], input, env);
  }
  jv *proc = jeval(c, e->procedure, input, env);
  const char *name = proc_name(e->procedure);
  if (!proc && e->procedure->type == NT_PATH && name &&
      jframe_lookup(env, name, NULL))
    jerr(c, "T1007", e->pos, name, NULL, NULL);
  if (!jv_isfn(proc)) jerr(c, "T1008", e->pos, name, NULL, NULL);
  jfn *pf = proc->u.f;
  if (pf->kind == FN_LAMBDA) {
    jfn *f = ja_alloc(&c->a, sizeof *f);
    *f = *pf;
    f->sig = NULL;
    f->thunk = false;
    f->env = jframe_new(c, pf->env);
    f->params = ja_alloc(&c->a, (pf->nparams + 1) * sizeof *f->params);
    f->nparams = 0;
    for (int i = 0; i < pf->nparams; i++) {
      if (i < n && hole[i]) f->params[f->nparams++] = pf->params[i];
      else jframe_bind(c, f->env, pf->params[i], i < n ? args[i] : NULL);
    }
    f->arity = f->nparams;
    return jv_fn(c, f);
  }
  jfn *f = ja_alloc(&c->a, sizeof *f);
  f->kind = FN_PARTIAL;
  f->target = proc;
  int total = n;
  if (pf->kind == FN_NATIVE && pf->b->arity > total) total = pf->b->arity;
  f->args = ja_alloc(&c->a, (total + 1) * sizeof *f->args);
  f->hole = ja_alloc(&c->a, total + 1);
  for (int i = 0; i < total; i++) {
    if (i < n) {
      f->args[i] = args[i];
      f->hole[i] = hole[i];
    }
    if (f->hole[i]) f->arity++;
  }
  f->nargs = total;
  return jv_fn(c, f);
}

static jnode *chain_ast;
static jsig *transform_sig;

static jv *apply_expr(jctx *c, jnode *e, jv *input, jframe *env) {
  jv *l = jeval(c, e->lhs, input, env);
  if (e->rhs->type == NT_FUNCTION) {
    jv *r = eval_function(c, e->rhs, input, env, true, l);
    if (e->rhs->keep_array && jv_isarr(r) && r->seq) r->keep = 1;
    return r;
  }
  jv *f = jeval(c, e->rhs, input, env);
  if (!jv_isfn(f)) jerr(c, "T2006", e->pos, NULL, f, NULL);
  if (jv_isfn(l)) {
    jv *chain = jeval(c, chain_ast, NULL, env);
    jv *args[2] = {l, f};
    return jeval_apply(c, chain, args, 2, NULL, env, e->pos, NULL);
  }
  return jeval_apply(c, f, &l, 1, NULL, env, e->pos, NULL);
}

/* ---- the evaluator */

jv *jeval(jctx *c, jnode *e, jv *input, jframe *env) {
  if (++c->depth > c->max_depth) jerr(c, "U1001", e->pos, NULL, NULL, NULL);
  jeval_tick(c);
  jv *r = NULL;
  switch (e->type) {
  case NT_PATH: r = eval_path(c, e, input, env); break;
  case NT_BINARY: r = binary(c, e, input, env); break;
  case NT_UNARY: r = unary(c, e, input, env); break;
  case NT_NAME: r = lookup(c, input, e->value, e->vlen); break;
  case NT_STRING: {
    r = ja_alloc(&c->a, sizeof *r);
    r->t = JV_STR;
    r->u.s.p = (char *)e->value;
    r->u.s.len = e->vlen;
    break;
  }
  case NT_NUMBER: r = jv_num(c, e->num); break;
  case NT_VALUE:
    r = e->num == 1 ? jv_bool(true) : e->num == 2 ? jv_bool(false)
        : jv_null();
    break;
  case NT_WILDCARD: r = wildcard(c, input); break;
  case NT_DESCENDANT: r = descendants(c, input); break;
  case NT_PARENT: r = jframe_lookup(env, e->slot->label, NULL); break;
  case NT_CONDITION:
    if (jfn_boolean(c, jeval(c, e->cond, input, env)))
      r = jeval(c, e->then, input, env);
    else if (e->els)
      r = jeval(c, e->els, input, env);
    break;
  case NT_COALESCE:
    r = jeval(c, e->cond, input, env);
    if (!r) r = jeval(c, e->els, input, env);
    break;
  case NT_ELVIS:
    r = jeval(c, e->cond, input, env);
    if (!jfn_boolean(c, r)) r = jeval(c, e->els, input, env);
    break;
  case NT_BLOCK: {
    jframe *f = jframe_new(c, env);
    for (int i = 0; i < e->items.n; i++)
      r = jeval(c, e->items.v[i], input, f);
    break;
  }
  case NT_BIND:
    r = jeval(c, e->rhs, input, env);
    jframe_bind(c, env, e->lhs->value, r);
    break;
  case NT_REGEX: {
    jfn *f = ja_alloc(&c->a, sizeof *f);
    f->kind = FN_REGEX;
    f->node = e;
    f->arity = 2;
    r = jv_fn(c, f);
    break;
  }
  case NT_FUNCTION: r = eval_function(c, e, input, env, false, NULL); break;
  case NT_VARIABLE:
    if (!e->value[0])
      r = jv_isarr(input) && input->outer && input->u.a.n ? input->u.a.v[0]
          : input;
    else
      r = jframe_lookup(env, e->value, NULL);
    break;
  case NT_LAMBDA: r = make_lambda(c, e, input, env); break;
  case NT_PARTIAL: r = eval_partial(c, e, input, env); break;
  case NT_APPLY: r = apply_expr(c, e, input, env); break;
  case NT_SORT: r = sort_expr(c, e, input, env); break;
  case NT_TRANSFORM: {
    jfn *f = ja_alloc(&c->a, sizeof *f);
    f->kind = FN_TRANSFORM;
    f->node = e;
    f->env = env;
    f->arity = 1;
    f->sig = transform_sig;
    r = jv_fn(c, f);
    break;
  }
  default: break;
  }
  for (int i = 0; i < e->predicate.n; i++)
    r = filter(c, e->predicate.v[i]->expr, r, env);
  if (e->type != NT_PATH && e->has_group)
    r = group(c, &e->group, e->group_pos, r, env);
  if (r && r->t == JV_ARR && r->seq && !r->tuple) {
    if (e->keep_array) r->keep = 1;
    if (r->u.a.n == 0) r = NULL;
    else if (r->u.a.n == 1 && !r->keep) r = r->u.a.v[0];
  }
  c->depth--;
  return r;
}

/* ---- public API */

static jarena static_arena;
static jframe *static_frame;
static jframe *sfn_frame;          /* JSONATA_STEP_FUNCTIONS */
static atomic_int static_state;   /* 0 none, 1 running, 2 done */

static void static_init(void) {
  jsonata_err_t e = {{0}, NULL, 0, NULL};
  chain_ast = jparse(&static_arena,
                     "function($f, $g) { function($x){ $g($f($x)) } }", &e);
  int ep = 0;
  char code[8];
  transform_sig = jsig_parse(&static_arena, "<(oa):o>", 0, &ep, code);
  jctx c;
  memset(&c, 0, sizeof c);
  c.a = static_arena;
  static_frame = jframe_new(&c, NULL);
  jfn_bind_all(&c, static_frame);
  jframe *f = static_frame;     /* sort for binary search */
  for (int i = 1; i < f->n; i++)
    for (int k = i; k > 0 && strcmp(f->names[k - 1], f->names[k]) > 0;
         k--) {
      const char *tn = f->names[k];
      jv *tv = f->vals[k];
      f->names[k] = f->names[k - 1];
      f->vals[k] = f->vals[k - 1];
      f->names[k - 1] = tn;
      f->vals[k - 1] = tv;
    }
  f->sorted = true;
  sfn_frame = jframe_new(&c, static_frame);
  jsfn_bind_all(&c, sfn_frame);
  static_arena = c.a;
}

/* one-time set-up of the built-in functions (the C library's pthread.h
 * is out of reach: engine/sched.h shadows <sched.h>) */
static void static_once(void) {
  if (atomic_load(&static_state) == 2) return;
  int expect = 0;
  if (atomic_compare_exchange_strong(&static_state, &expect, 1)) {
    static_init();
    atomic_store(&static_state, 2);
    return;
  }
  while (atomic_load(&static_state) != 2) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
}

jsonata_t *jsonata_compile(const char *text, jsonata_err_t *err) {
  static_once();
  jsonata_t *j = calloc(1, sizeof *j);
  if (!j) abort();
  if (err) memset(err, 0, sizeof *err);
  jsonata_err_t tmp = {{0}, NULL, 0, NULL};
  j->ast = jparse(&j->a, text, err ? err : &tmp);
  jsonata_err_clear(&tmp);
  if (!j->ast) {
    jsonata_free(j);
    return NULL;
  }
  return j;
}

void jsonata_free(jsonata_t *j) {
  if (!j) return;
  ja_free(&j->a);
  free(j);
}

void jsonata_err_clear(jsonata_err_t *e) {
  if (!e) return;
  free(e->message);
  free(e->token);
  memset(e, 0, sizeof *e);
}

/* evaluate text with $eval: parse errors are D3120, others D3121 */
jv *jfn_eval_text(jctx *c, const char *text, jv *input, jframe *env) {
  jsonata_err_t pe = {{0}, NULL, 0, NULL};
  jnode *ast = jparse(&c->a, text, &pe);
  if (!ast) {
    jv *m = jv_cstr(c, pe.message ? pe.message : pe.code);
    jsonata_err_clear(&pe);
    jerr(c, "D3120", -1, NULL, m, NULL);
  }
  jmp_buf jb, *outer = c->jb;
  int depth = c->depth;
  volatile jv *r = NULL;
  c->jb = &jb;
  if (setjmp(jb) == 0) {
    r = jeval(c, ast, input, env);
    c->jb = outer;
    return (jv *)r;
  }
  c->jb = outer;
  c->depth = depth;
  if (!strcmp(c->err->code, "U1001")) longjmp(*c->jb, 1);
  jv *m = jv_cstr(c, c->err->message ? c->err->message : c->err->code);
  jerr(c, "D3121", -1, NULL, m, NULL);
}

int jsonata_eval(const jsonata_t *j, const json_t *input,
                 const json_t *bindings, const jsonata_limits_t *limits,
                 json_t **result, jsonata_err_t *err) {
  static_once();
  *result = NULL;
  jsonata_err_t tmp = {{0}, NULL, 0, NULL};
  if (!err) err = &tmp;
  memset(err, 0, sizeof *err);
  jctx *c = calloc(1, sizeof *c);
  if (!c) abort();
  jmp_buf jb;
  c->jb = &jb;
  c->err = err;
  c->max_depth = limits && limits->max_depth > 0 ? limits->max_depth
                                                 : JSONATA_MAX_DEPTH;
  c->timeout_ms = limits && limits->timeout_ms > 0 ? limits->timeout_ms
                                                   : JSONATA_TIMEOUT_MS;
  c->t0 = now_ms();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  c->now_ms = (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
  int rc;
  if (setjmp(jb) == 0) {
    bool sfn = limits && (limits->flags & JSONATA_STEP_FUNCTIONS);
    jframe *env = jframe_new(c, sfn ? sfn_frame : static_frame);
    if (bindings && json_is_object(bindings)) {
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)bindings, k, v)
        jframe_bind(c, env, ja_strndup(&c->a, k, strlen(k)),
                    jv_from_json(c, v));
    }
    jv *in = jv_from_json(c, input);
    jframe_bind(c, env, "$", in);
    if (jv_isarr(in)) {
      jv *w = jv_seq(c);
      jv_push(c, w, in);
      w->outer = 1;
      in = w;
    }
    jv *r = jeval(c, j->ast, in, env);
    if (jv_isfn(r)) r = NULL;
    if (r && r->t == JV_NUM && !isfinite(r->u.n))
      jerr(c, "D1001", -1, NULL, r, NULL);
    *result = jv_to_json(r);
    rc = *result ? JSONATA_OK : JSONATA_UNDEFINED;
  } else {
    rc = JSONATA_ERROR;
  }
  ja_free(&c->a);
  free(c);
  jsonata_err_clear(&tmp);
  return rc;
}
