/* cfn.c - CloudFormation and SAM templates resolved into a local stack
 * (see cfn.h): the intrinsic functions, conditions, physical names and
 * ARNs, and the resource types moonstep stands up.
 *
 * Resolution walks a value and returns a new one; Fn::If's
 * AWS::NoValue comes back as a sentinel that the enclosing object or
 * array drops, as CloudFormation drops the property. The first error
 * stops everything and names the path it was found at.
 */
#include "cfn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base.h"
#include "hash.h"
#include "yaml.h"

#define REGION "us-east-1"
#define ACCOUNT "123456789012"
#define DEPTH_MAX 64   /* nesting of intrinsic calls and of Refs to names */

typedef struct cx {
  json_t *tpl;          /* the template */
  json_t *resources;    /* borrowed from tpl */
  json_t *params;       /* parameter name -> value */
  json_t *conditions;   /* condition name -> true/false, once evaluated */
  json_t *names;        /* logical id -> physical name, once computed */
  json_t *novalue;      /* the AWS::NoValue sentinel */
  const char *stack;
  const char *base_dir;
  char *err;
  int depth;
} cx_t;

static void *fail(cx_t *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void *fail(cx_t *c, const char *where, const char *fmt, ...) {
  if (c->err) return NULL;
  va_list ap;
  va_start(ap, fmt);
  char *m = ms_vasprintf(fmt, ap);
  va_end(ap);
  c->err = where && *where ? ms_asprintf("%s: %s", where, m) : ms_strdup(m);
  free(m);
  return NULL;
}

static const char *type_of(cx_t *c, const char *logical) {
  json_t *r = json_object_get(c->resources, logical);
  return json_string_value(json_object_get(r, "Type"));
}

static json_t *resolve(cx_t *c, json_t *v, const char *where);
static int condition(cx_t *c, const char *name, const char *where);

/* ---- names and ARNs ---------------------------------------------------- */

typedef struct kind {
  const char *type;
  const char *name_prop;   /* the property that names it, or NULL */
  const char *arn_fmt;     /* printf format over the name */
  bool lower;              /* default name lowercased (buckets) */
} kind_t;

static const kind_t kinds[] = {
  {"AWS::DynamoDB::Table", "TableName",
   "arn:aws:dynamodb:" REGION ":" ACCOUNT ":table/%s", false},
  {"AWS::DynamoDB::GlobalTable", "TableName",
   "arn:aws:dynamodb:" REGION ":" ACCOUNT ":table/%s", false},
  {"AWS::Serverless::SimpleTable", "TableName",
   "arn:aws:dynamodb:" REGION ":" ACCOUNT ":table/%s", false},
  {"AWS::Lambda::Function", "FunctionName",
   "arn:aws:lambda:" REGION ":" ACCOUNT ":function:%s", false},
  {"AWS::Serverless::Function", "FunctionName",
   "arn:aws:lambda:" REGION ":" ACCOUNT ":function:%s", false},
  {"AWS::StepFunctions::StateMachine", "StateMachineName",
   "arn:aws:states:" REGION ":" ACCOUNT ":stateMachine:%s", false},
  {"AWS::Serverless::StateMachine", "Name",
   "arn:aws:states:" REGION ":" ACCOUNT ":stateMachine:%s", false},
  {"AWS::S3::Bucket", "BucketName", "arn:aws:s3:::%s", true},
  {"AWS::IAM::Role", "RoleName", "arn:aws:iam::" ACCOUNT ":role/%s", false},
  {"AWS::SQS::Queue", "QueueName",
   "arn:aws:sqs:" REGION ":" ACCOUNT ":%s", false},
  {"AWS::SNS::Topic", "TopicName",
   "arn:aws:sns:" REGION ":" ACCOUNT ":%s", false},
};

static const kind_t *kind_of(const char *type) {
  for (size_t i = 0; type && i < sizeof kinds / sizeof *kinds; i++)
    if (!strcmp(kinds[i].type, type)) return &kinds[i];
  return NULL;
}

/* The physical name of a resource: its name property, resolved, or the
 * logical id. */
static const char *phys(cx_t *c, const char *logical, const char *where) {
  json_t *known = json_object_get(c->names, logical);
  if (known) return json_string_value(known);
  json_t *r = json_object_get(c->resources, logical);
  if (!r) {
    fail(c, where, "no resource or parameter named \"%s\"", logical);
    return NULL;
  }
  const kind_t *k = kind_of(type_of(c, logical));
  json_t *props = json_object_get(r, "Properties");
  json_t *given = k && k->name_prop ? json_object_get(props, k->name_prop)
                                    : NULL;
  json_t *name;
  if (given) {
    char *w = ms_asprintf("Resources/%s/Properties/%s", logical,
                          k->name_prop);
    name = resolve(c, given, w);
    free(w);
    if (!name) return NULL;
    if (!json_is_string(name)) {
      json_decref(name);
      fail(c, where, "the name of %s is not a string", logical);
      return NULL;
    }
  } else if (k && k->lower) {
    char *s = ms_strdup(logical);
    for (char *q = s; *q; q++)
      if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    name = json_string(s);
    free(s);
  } else {
    name = json_string(logical);
  }
  json_object_set_new(c->names, logical, name);
  return json_string_value(name);
}

static json_t *arn_of(cx_t *c, const char *logical, const char *where) {
  const char *name = phys(c, logical, where);
  if (!name) return NULL;
  const kind_t *k = kind_of(type_of(c, logical));
  char *a = k ? ms_asprintf(k->arn_fmt, name)
              : ms_asprintf("arn:aws:local:" REGION ":" ACCOUNT ":%s", name);
  json_t *v = json_string(a);
  free(a);
  return v;
}

/* ---- Ref and Fn::GetAtt ------------------------------------------------ */

static json_t *pseudo(cx_t *c, const char *name) {
  if (!strcmp(name, "AWS::Region")) return json_string(REGION);
  if (!strcmp(name, "AWS::AccountId")) return json_string(ACCOUNT);
  if (!strcmp(name, "AWS::Partition")) return json_string("aws");
  if (!strcmp(name, "AWS::URLSuffix")) return json_string("amazonaws.com");
  if (!strcmp(name, "AWS::StackName")) return json_string(c->stack);
  if (!strcmp(name, "AWS::StackId"))
    return json_sprintf("arn:aws:cloudformation:" REGION ":" ACCOUNT
                        ":stack/%s/moonstep", c->stack);
  if (!strcmp(name, "AWS::NotificationARNs")) return json_array();
  if (!strcmp(name, "AWS::NoValue")) return json_incref(c->novalue);
  return NULL;
}

static json_t *ref(cx_t *c, const char *name, const char *where) {
  json_t *v = json_object_get(c->params, name);
  if (v) return json_incref(v);
  if ((v = pseudo(c, name))) return v;
  if (!strncmp(name, "AWS::", 5))
    return fail(c, where, "unknown pseudo parameter %s", name);
  const char *type = type_of(c, name);
  if (type && (!strcmp(type, "AWS::StepFunctions::StateMachine") ||
               !strcmp(type, "AWS::Serverless::StateMachine") ||
               !strcmp(type, "AWS::SQS::Queue") ||
               !strcmp(type, "AWS::SNS::Topic")))
    return arn_of(c, name, where);  /* these Ref to their ARN */
  const char *p = phys(c, name, where);
  return p ? json_string(p) : NULL;
}

static json_t *get_att(cx_t *c, const char *logical, const char *attr,
                       const char *where) {
  if (!json_object_get(c->resources, logical))
    return fail(c, where, "Fn::GetAtt names no resource \"%s\"", logical);
  if (!strcmp(attr, "Arn")) return arn_of(c, logical, where);
  const char *name = phys(c, logical, where);
  if (!name) return NULL;
  if (!strcmp(attr, "Name") || !strcmp(attr, "StateMachineName") ||
      !strcmp(attr, "TopicName") || !strcmp(attr, "QueueName"))
    return json_string(name);
  if (!strcmp(attr, "StreamArn"))
    return json_sprintf("arn:aws:dynamodb:" REGION ":" ACCOUNT
                        ":table/%s/stream/1970-01-01T00:00:00.000", name);
  if (!strcmp(attr, "DomainName"))
    return json_sprintf("%s.s3.amazonaws.com", name);
  if (!strcmp(attr, "RegionalDomainName"))
    return json_sprintf("%s.s3." REGION ".amazonaws.com", name);
  if (!strcmp(attr, "QueueUrl"))
    return json_sprintf("https://sqs." REGION ".amazonaws.com/" ACCOUNT
                        "/%s", name);
  if (!strcmp(attr, "RoleId") || !strcmp(attr, "Id"))
    return json_string(name);
  return fail(c, where, "Fn::GetAtt: %s has no attribute %s that moonstep "
              "knows", logical, attr);
}

/* ---- Fn::Sub ----------------------------------------------------------- */

static bool scalar_text(json_t *v, buf_t *b) {
  if (json_is_string(v)) return buf_puts(b, json_string_value(v)), true;
  if (json_is_integer(v))
    return buf_printf(b, "%lld", (long long)json_integer_value(v)), true;
  if (json_is_real(v)) return buf_printf(b, "%.17g", json_real_value(v)), true;
  if (json_is_boolean(v))
    return buf_puts(b, json_is_true(v) ? "true" : "false"), true;
  return false;
}

static json_t *sub(cx_t *c, json_t *arg, const char *where) {
  json_t *text = arg, *vars = NULL;
  if (json_is_array(arg)) {
    if (json_array_size(arg) != 2)
      return fail(c, where, "Fn::Sub takes a string or [string, {vars}]");
    text = json_array_get(arg, 0);
    vars = json_array_get(arg, 1);
    if (!json_is_object(vars))
      return fail(c, where, "Fn::Sub's second element must be a mapping");
  }
  if (!json_is_string(text))
    return fail(c, where, "Fn::Sub's template must be a string");
  const char *s = json_string_value(text);
  buf_t b;
  buf_init(&b);
  while (*s) {
    const char *d = strstr(s, "${");
    if (!d) {
      buf_puts(&b, s);
      break;
    }
    buf_append(&b, s, (size_t)(d - s));
    const char *end = strchr(d, '}');
    if (!end) {
      buf_free(&b);
      return fail(c, where, "Fn::Sub: \"${\" without a closing \"}\"");
    }
    if (d[2] == '!') {                 /* ${!Literal} stays ${Literal} */
      buf_puts(&b, "${");
      buf_append(&b, d + 3, (size_t)(end - d - 2));
      s = end + 1;
      continue;
    }
    char *name = ms_strndup(d + 2, (size_t)(end - d - 2));
    json_t *v = NULL;
    json_t *given = vars ? json_object_get(vars, name) : NULL;
    char *dot = strchr(name, '.');
    if (given) {
      v = resolve(c, given, where);
    } else if (dot && strncmp(name, "AWS::", 5)) {
      *dot = 0;
      v = get_att(c, name, dot + 1, where);
    } else {
      v = ref(c, name, where);
    }
    if (v && !scalar_text(v, &b)) {
      json_t *joined = NULL;
      if (json_is_array(v)) {               /* a list joins with commas */
        buf_t j;
        buf_init(&j);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
          if (i) buf_putc(&j, ',');
          scalar_text(e, &j);
        }
        buf_puts(&b, j.data ? j.data : "");
        buf_free(&j);
        joined = v;
      }
      if (!joined) fail(c, where, "Fn::Sub: ${%s} is not a string", name);
    }
    json_decref(v);
    free(name);
    if (c->err) {
      buf_free(&b);
      return NULL;
    }
    s = end + 1;
  }
  json_t *r = json_string(b.data ? b.data : "");
  buf_free(&b);
  return r;
}

/* ---- the other intrinsic functions ------------------------------------ */

static json_t *arg_list(cx_t *c, json_t *arg, size_t n, const char *fn,
                        const char *where) {
  if (!json_is_array(arg) || json_array_size(arg) != n)
    return fail(c, where, "%s takes a list of %zu", fn, n);
  json_t *out = json_array();
  size_t i;
  json_t *e;
  json_array_foreach(arg, i, e) {
    json_t *r = resolve(c, e, where);
    if (!r) {
      json_decref(out);
      return NULL;
    }
    json_array_append_new(out, r);
  }
  return out;
}

static json_t *join(cx_t *c, json_t *arg, const char *where) {
  json_t *a = arg_list(c, arg, 2, "Fn::Join", where);
  if (!a) return NULL;
  json_t *sep = json_array_get(a, 0), *list = json_array_get(a, 1);
  json_t *r = NULL;
  if (!json_is_string(sep) || !json_is_array(list)) {
    fail(c, where, "Fn::Join takes [delimiter, [values]]");
  } else {
    buf_t b;
    buf_init(&b);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
      if (i) buf_puts(&b, json_string_value(sep));
      if (!scalar_text(e, &b)) {
        fail(c, where, "Fn::Join: element %zu is not a string", i);
        break;
      }
    }
    if (!c->err) r = json_string(b.data ? b.data : "");
    buf_free(&b);
  }
  json_decref(a);
  return r;
}

static json_t *select_fn(cx_t *c, json_t *arg, const char *where) {
  json_t *a = arg_list(c, arg, 2, "Fn::Select", where);
  if (!a) return NULL;
  json_t *ix = json_array_get(a, 0), *list = json_array_get(a, 1);
  long long i = json_is_integer(ix) ? json_integer_value(ix)
              : json_is_string(ix) ? strtoll(json_string_value(ix), NULL, 10)
              : -1;
  json_t *r = NULL;
  if (!json_is_array(list) || i < 0 || (size_t)i >= json_array_size(list))
    fail(c, where, "Fn::Select: index %lld is outside the list", i);
  else
    r = json_incref(json_array_get(list, (size_t)i));
  json_decref(a);
  return r;
}

static json_t *split(cx_t *c, json_t *arg, const char *where) {
  json_t *a = arg_list(c, arg, 2, "Fn::Split", where);
  if (!a) return NULL;
  const char *sep = json_string_value(json_array_get(a, 0));
  const char *s = json_string_value(json_array_get(a, 1));
  json_t *r = NULL;
  if (!sep || !*sep || !s) {
    fail(c, where, "Fn::Split takes [delimiter, string]");
  } else {
    r = json_array();
    for (;;) {
      const char *at = strstr(s, sep);
      json_array_append_new(r, json_stringn(s, at ? (size_t)(at - s)
                                                   : strlen(s)));
      if (!at) break;
      s = at + strlen(sep);
    }
  }
  json_decref(a);
  return r;
}

static json_t *find_in_map(cx_t *c, json_t *arg, const char *where) {
  json_t *a = arg_list(c, arg, 3, "Fn::FindInMap", where);
  if (!a) return NULL;
  const char *k[3];
  for (size_t i = 0; i < 3; i++) k[i] = json_string_value(json_array_get(a, i));
  json_t *r = NULL;
  if (!k[0] || !k[1] || !k[2]) {
    fail(c, where, "Fn::FindInMap takes [map, key, key] as strings");
  } else {
    json_t *m = json_object_get(json_object_get(c->tpl, "Mappings"), k[0]);
    json_t *v = json_object_get(json_object_get(m, k[1]), k[2]);
    r = v ? resolve(c, v, where)
          : fail(c, where, "Fn::FindInMap: no %s/%s/%s in Mappings", k[0],
                 k[1], k[2]);
  }
  json_decref(a);
  return r;
}

static json_t *base64(cx_t *c, json_t *arg, const char *where) {
  json_t *v = resolve(c, arg, where);
  if (!v) return NULL;
  if (!json_is_string(v)) {
    json_decref(v);
    return fail(c, where, "Fn::Base64 takes a string");
  }
  char *text = hash_base64_encode(json_string_value(v),
                                  json_string_length(v));
  json_decref(v);
  json_t *r = json_string(text);
  free(text);
  return r;
}

/* A condition operand: {"Condition": name} or any value that resolves to
 * a boolean (or "true"/"false"). 1, 0, or -1 on error. */
static int truth(cx_t *c, json_t *v, const char *where) {
  json_t *named = json_is_object(v) && json_object_size(v) == 1
                      ? json_object_get(v, "Condition") : NULL;
  if (json_is_string(named))
    return condition(c, json_string_value(named), where);
  json_t *r = resolve(c, v, where);
  if (!r) return -1;
  int t = json_is_true(r) ? 1 : json_is_false(r) ? 0 : -1;
  if (json_is_string(r)) {
    if (!strcmp(json_string_value(r), "true")) t = 1;
    if (!strcmp(json_string_value(r), "false")) t = 0;
  }
  json_decref(r);
  if (t < 0) fail(c, where, "a condition operand is not a boolean");
  return t;
}

static json_t *logic(cx_t *c, const char *fn, json_t *arg,
                     const char *where) {
  if (!strcmp(fn, "Fn::Equals")) {
    json_t *a = arg_list(c, arg, 2, fn, where);
    if (!a) return NULL;
    buf_t x, y;
    buf_init(&x);
    buf_init(&y);
    bool sx = scalar_text(json_array_get(a, 0), &x);
    bool sy = scalar_text(json_array_get(a, 1), &y);
    bool eq = sx && sy ? !strcmp(x.data ? x.data : "", y.data ? y.data : "")
                       : json_equal(json_array_get(a, 0),
                                    json_array_get(a, 1));
    buf_free(&x);
    buf_free(&y);
    json_decref(a);
    return json_boolean(eq);
  }
  bool is_not = !strcmp(fn, "Fn::Not"), is_and = !strcmp(fn, "Fn::And");
  if (!json_is_array(arg) || json_array_size(arg) == 0 ||
      (is_not && json_array_size(arg) != 1))
    return fail(c, where, "%s takes a list of conditions", fn);
  bool acc = is_and;
  size_t i;
  json_t *e;
  json_array_foreach(arg, i, e) {
    int t = truth(c, e, where);
    if (t < 0) return NULL;
    if (is_not) return json_boolean(!t);
    acc = is_and ? acc && t : acc || t;
  }
  return json_boolean(acc);
}

static int condition(cx_t *c, const char *name, const char *where) {
  json_t *known = json_object_get(c->conditions, name);
  if (json_is_boolean(known)) return json_is_true(known);
  if (known) {
    fail(c, where, "condition %s refers to itself", name);
    return -1;
  }
  json_t *def = json_object_get(json_object_get(c->tpl, "Conditions"), name);
  if (!def) {
    fail(c, where, "no condition named \"%s\"", name);
    return -1;
  }
  json_object_set_new(c->conditions, name, json_null());  /* in progress */
  char *w = ms_asprintf("Conditions/%s", name);
  int t = truth(c, def, w);
  free(w);
  if (t >= 0) json_object_set_new(c->conditions, name, json_boolean(t));
  return t;
}

static json_t *if_fn(cx_t *c, json_t *arg, const char *where) {
  if (!json_is_array(arg) || json_array_size(arg) != 3 ||
      !json_is_string(json_array_get(arg, 0)))
    return fail(c, where, "Fn::If takes [condition, value if true, "
                "value if false]");
  int t = condition(c, json_string_value(json_array_get(arg, 0)), where);
  if (t < 0) return NULL;
  return resolve(c, json_array_get(arg, t ? 1 : 2), where);
}

static json_t *intrinsic(cx_t *c, const char *fn, json_t *arg,
                         const char *where) {
  if (!strcmp(fn, "Ref")) {
    if (!json_is_string(arg)) return fail(c, where, "Ref takes a name");
    return ref(c, json_string_value(arg), where);
  }
  if (!strcmp(fn, "Fn::GetAtt")) {
    json_t *a = json_is_string(arg) ? NULL : resolve(c, arg, where);
    const char *l = NULL, *at = NULL;
    char *tmp = NULL;
    if (json_is_string(arg)) {  /* "Logical.Attr" */
      tmp = ms_strdup(json_string_value(arg));
      char *dot = strchr(tmp, '.');
      if (dot) *dot = 0, l = tmp, at = dot + 1;
    } else if (json_is_array(a) && json_array_size(a) == 2) {
      l = json_string_value(json_array_get(a, 0));
      at = json_string_value(json_array_get(a, 1));
    }
    json_t *r = l && at ? get_att(c, l, at, where)
                        : fail(c, where, "Fn::GetAtt takes [resource, "
                               "attribute]");
    free(tmp);
    json_decref(a);
    return r;
  }
  if (!strcmp(fn, "Fn::Sub")) return sub(c, arg, where);
  if (!strcmp(fn, "Fn::Join")) return join(c, arg, where);
  if (!strcmp(fn, "Fn::Select")) return select_fn(c, arg, where);
  if (!strcmp(fn, "Fn::Split")) return split(c, arg, where);
  if (!strcmp(fn, "Fn::If")) return if_fn(c, arg, where);
  if (!strcmp(fn, "Fn::FindInMap")) return find_in_map(c, arg, where);
  if (!strcmp(fn, "Fn::Base64")) return base64(c, arg, where);
  if (!strcmp(fn, "Fn::GetAZs"))
    return json_pack("[sss]", REGION "a", REGION "b", REGION "c");
  if (!strcmp(fn, "Fn::Equals") || !strcmp(fn, "Fn::And") ||
      !strcmp(fn, "Fn::Or") || !strcmp(fn, "Fn::Not"))
    return logic(c, fn, arg, where);
  if (!strcmp(fn, "Condition")) {
    int t = json_is_string(arg) ? condition(c, json_string_value(arg), where)
                                : (fail(c, where, "Condition takes a name"),
                                   -1);
    return t < 0 ? NULL : json_boolean(t);
  }
  return fail(c, where, "%s is not supported locally", fn);
}

static bool is_intrinsic(const char *key) {
  return !strcmp(key, "Ref") || !strncmp(key, "Fn::", 4) ||
         !strcmp(key, "Condition");
}

/* A new value with every intrinsic function replaced by its result. */
static json_t *resolve(cx_t *c, json_t *v, const char *where) {
  if (c->err) return NULL;
  if (++c->depth > DEPTH_MAX) {
    c->depth--;
    return fail(c, where, "intrinsic functions nest more than %d deep "
                "(a Ref cycle?)", DEPTH_MAX);
  }
  json_t *out = NULL;
  if (json_is_object(v) && json_object_size(v) == 1 &&
      is_intrinsic(json_object_iter_key(json_object_iter(v)))) {
    void *it = json_object_iter(v);
    out = intrinsic(c, json_object_iter_key(it), json_object_iter_value(it),
                    where);
  } else if (json_is_object(v)) {
    out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
      char *w = ms_asprintf("%s/%s", where, k);
      json_t *r = resolve(c, e, w);
      free(w);
      if (!r) break;
      if (r == c->novalue) json_decref(r);
      else json_object_set_new(out, k, r);
    }
  } else if (json_is_array(v)) {
    out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
      char *w = ms_asprintf("%s/%zu", where, i);
      json_t *r = resolve(c, e, w);
      free(w);
      if (!r) break;
      if (r == c->novalue) json_decref(r);
      else json_array_append_new(out, r);
    }
  } else {
    out = json_incref(v);
  }
  c->depth--;
  if (c->err) {
    json_decref(out);
    return NULL;
  }
  return out;
}

/* ---- parameters -------------------------------------------------------- */

static int parameters(cx_t *c, const json_t *given) {
  json_t *decl = json_object_get(c->tpl, "Parameters");
  const char *name;
  json_t *p;
  json_object_foreach(decl, name, p) {
    char *where = ms_asprintf("Parameters/%s", name);
    json_t *v = given ? json_object_get(given, name) : NULL;
    if (!v) v = json_object_get(p, "Default");
    if (!v) {
      fail(c, where, "no value: give one with --parameter %s=VALUE", name);
      free(where);
      return -1;
    }
    buf_t b;
    buf_init(&b);
    if (!scalar_text(v, &b)) {
      buf_free(&b);
      fail(c, where, "the value must be a string or a number");
      free(where);
      return -1;
    }
    const char *text = b.data ? b.data : "";
    json_t *allowed = json_object_get(p, "AllowedValues");
    if (json_is_array(allowed)) {
      bool ok = false;
      size_t i;
      json_t *a;
      json_array_foreach(allowed, i, a) {
        buf_t t;
        buf_init(&t);
        if (scalar_text(a, &t) && !strcmp(t.data ? t.data : "", text))
          ok = true;
        buf_free(&t);
      }
      if (!ok) {
        fail(c, where, "\"%s\" is not one of its AllowedValues", text);
        buf_free(&b);
        free(where);
        return -1;
      }
    }
    const char *type = json_string_value(json_object_get(p, "Type"));
    json_t *value;
    if (type && (!strcmp(type, "CommaDelimitedList") ||
                 !strncmp(type, "List<", 5))) {
      value = json_array();
      const char *s = text;
      for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        while (n && *s == ' ') s++, n--;
        while (n && s[n - 1] == ' ') n--;
        json_array_append_new(value, json_stringn(s, n));
        if (!comma) break;
        s = comma + 1;
      }
    } else {
      value = json_string(text);  /* Ref of a parameter is a string */
    }
    json_object_set_new(c->params, name, value);
    buf_free(&b);
    free(where);
  }
  if (given) {
    json_t *v;
    json_object_foreach((json_t *)given, name, v) {
      if (!json_object_get(decl, name))
        return fail(c, NULL, "--parameter %s: the template declares no "
                    "such parameter", name), -1;
    }
  }
  return 0;
}

/* ---- resources --------------------------------------------------------- */

typedef struct out {
  cfn_stack_t *s;
} out_t;

static void ignore(out_t *o, const char *what) {
  json_array_append_new(o->s->ignored, json_string(what));
}

static void ignore_props(out_t *o, const char *logical, json_t *props,
                         const char *const *used) {
  const char *k;
  json_t *v;
  json_object_foreach(props, k, v) {
    bool known = false;
    for (const char *const *u = used; *u; u++)
      if (!strcmp(*u, k)) known = true;
    if (!known) {
      char *w = ms_asprintf("%s.%s", logical, k);
      ignore(o, w);
      free(w);
    }
  }
}

static int table(cx_t *c, out_t *o, const char *logical, json_t *props,
                 bool simple) {
  const char *name = phys(c, logical, logical);
  if (!name) return -1;
  json_t *t = json_pack("{ss}", "TableName", name);
  if (simple) {
    static const char *const used[] = {"TableName", "PrimaryKey", NULL};
    json_t *pk = json_object_get(props, "PrimaryKey");
    const char *key = pk ? json_string_value(json_object_get(pk, "Name"))
                         : "id";
    const char *type = pk ? json_string_value(json_object_get(pk, "Type"))
                          : "String";
    if (!key || !type) {
      json_decref(t);
      return fail(c, logical, "PrimaryKey needs Name and Type"), -1;
    }
    const char *short_type = !strcmp(type, "Number") ? "N"
                           : !strcmp(type, "Binary") ? "B" : "S";
    json_object_set_new(t, "KeySchema",
                        json_pack("[{ssss}]", "AttributeName", key,
                                  "KeyType", "HASH"));
    json_object_set_new(t, "AttributeDefinitions",
                        json_pack("[{ssss}]", "AttributeName", key,
                                  "AttributeType", short_type));
    ignore_props(o, logical, props, used);
  } else {
    static const char *const used[] = {
      "TableName", "KeySchema", "AttributeDefinitions",
      "GlobalSecondaryIndexes", "LocalSecondaryIndexes", NULL};
    json_t *ks = json_object_get(props, "KeySchema");
    json_t *ad = json_object_get(props, "AttributeDefinitions");
    if (!json_is_array(ks) || !json_is_array(ad)) {
      json_decref(t);
      return fail(c, logical, "a DynamoDB table needs KeySchema and "
                  "AttributeDefinitions"), -1;
    }
    json_object_set(t, "KeySchema", ks);
    json_object_set(t, "AttributeDefinitions", ad);
    json_t *gsi = json_object_get(props, "GlobalSecondaryIndexes");
    if (json_is_array(gsi)) {
      json_t *g2 = json_array();
      size_t i;
      json_t *g;
      json_array_foreach(gsi, i, g) {
        json_array_append_new(g2, json_pack("{sOsOsO*}",
            "IndexName", json_object_get(g, "IndexName"),
            "KeySchema", json_object_get(g, "KeySchema"),
            "Projection", json_object_get(g, "Projection")));
      }
      json_object_set_new(t, "GlobalSecondaryIndexes", g2);
    }
    json_t *lsi = json_object_get(props, "LocalSecondaryIndexes");
    if (lsi) json_object_set(t, "LocalSecondaryIndexes", lsi);
    ignore_props(o, logical, props, used);
  }
  json_array_append_new(o->s->tables, t);
  return 0;
}

/* S3 key filter rules -> Prefix / Suffix on a trigger. */
static void key_filter(json_t *trigger, json_t *filter) {
  json_t *rules = json_object_get(json_object_get(filter, "S3Key"), "Rules");
  size_t i;
  json_t *r;
  json_array_foreach(rules, i, r) {
    const char *n = json_string_value(json_object_get(r, "Name"));
    json_t *v = json_object_get(r, "Value");
    if (n && !strcasecmp(n, "prefix")) json_object_set(trigger, "Prefix", v);
    if (n && !strcasecmp(n, "suffix")) json_object_set(trigger, "Suffix", v);
  }
}

static const char *arn_name(const char *arn) {
  const char *s = arn ? strrchr(arn, ':') : NULL;
  return s ? s + 1 : arn;
}

static int function(cx_t *c, out_t *o, const char *logical, json_t *props,
                    json_t *globals, bool sam) {
  const char *name = phys(c, logical, logical);
  if (!name) return -1;
  json_t *arn = arn_of(c, logical, logical);
  json_t *f = json_pack("{sssssO}", "LogicalId", logical, "FunctionName",
                        name, "Arn", arn);
  json_decref(arn);
  static const char *const keep[] = {"Timeout", "MemorySize", "Environment",
                                     NULL};
  for (const char *const *k = keep; *k; k++) {
    json_t *v = json_object_get(props, *k);
    if (!v && globals) v = json_object_get(globals, *k);
    if (v) json_object_set(f, *k, v);
  }
  /* SAM merges Globals' environment variables under the function's */
  json_t *gvars = json_object_get(json_object_get(globals, "Environment"),
                                  "Variables");
  json_t *fvars = json_object_get(json_object_get(props, "Environment"),
                                  "Variables");
  if (json_is_object(gvars) && json_is_object(fvars)) {
    json_t *vars = json_deep_copy(gvars);
    json_object_update(vars, fvars);
    json_object_set_new(f, "Environment", json_pack("{so}", "Variables",
                                                    vars));
  }
  json_array_append_new(o->s->functions, f);
  static const char *const used[] = {
    "FunctionName", "Timeout", "MemorySize", "Environment", "Events",
    "Handler", "Runtime", "CodeUri", "Code", "InlineCode", NULL};
  ignore_props(o, logical, props, used);
  if (!sam) return 0;
  const char *ev;
  json_t *e;
  json_object_foreach(json_object_get(props, "Events"), ev, e) {
    const char *type = json_string_value(json_object_get(e, "Type"));
    json_t *p = json_object_get(e, "Properties");
    if (type && !strcmp(type, "S3")) {
      json_t *bucket = json_object_get(p, "Bucket");
      json_t *t = json_pack("{sOssssssss}", "Bucket",
                            bucket ? bucket : json_null(), "Event", "s3",
                            "Function", name, "Prefix", "", "Suffix", "");
      key_filter(t, json_object_get(p, "Filter"));
      json_array_append_new(o->s->triggers, t);
    } else {
      char *w = ms_asprintf("%s.Events.%s (%s)", logical, ev,
                            type ? type : "?");
      ignore(o, w);
      free(w);
    }
  }
  return 0;
}

/* ${Name} -> value in a definition's text, as DefinitionSubstitutions. */
static char *substitute(cx_t *c, const char *text, json_t *subs,
                        const char *where) {
  buf_t b;
  buf_init(&b);
  const char *s = text;
  while (*s) {
    const char *d = strstr(s, "${");
    const char *end = d ? strchr(d, '}') : NULL;
    if (!d || !end) {
      buf_puts(&b, s);
      break;
    }
    buf_append(&b, s, (size_t)(d - s));
    char *name = ms_strndup(d + 2, (size_t)(end - d - 2));
    json_t *v = json_object_get(subs, name);
    if (!v) {
      fail(c, where, "the definition uses ${%s}, which "
           "DefinitionSubstitutions does not define", name);
    } else if (!scalar_text(v, &b)) {
      fail(c, where, "DefinitionSubstitutions: %s is not a string", name);
    }
    free(name);
    if (c->err) {
      buf_free(&b);
      return NULL;
    }
    s = end + 1;
  }
  return buf_steal(&b);
}

static char *definition_file(cx_t *c, const char *file, const char *where) {
  if (strstr(file, "://"))
    return fail(c, where, "DefinitionUri %s: only local files can be "
                "deployed", file);
  char *path = c->base_dir && *file != '/'
                   ? ms_asprintf("%s/%s", c->base_dir, file)
                   : ms_strdup(file);
  size_t n;
  char *text = ms_read_file(path, MS_DEFINITION_MAX, &n);
  if (!text) {
    fail(c, where, "cannot read %s: %s", path, strerror(errno));
    free(path);
    return NULL;
  }
  free(path);
  const char *p = text;
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
  if (*p == '{') return text;
  char *err = NULL;                        /* a YAML definition file */
  json_t *v = yaml_parse(text, n, &err);
  free(text);
  if (!v) {
    fail(c, where, "%s:%s", file, err);
    free(err);
    return NULL;
  }
  char *out = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(v);
  return out;
}

static bool text_is(const json_t *v, const char *s) {
  return json_is_string(v) && !strcmp(json_string_value(v), s);
}

/* An EventBridge pattern for S3's "Object Created" -> a trigger. */
static void eventbridge_trigger(cx_t *c, out_t *o, json_t *pattern,
                                const char *machine, const char *function) {
  (void)c;
  json_t *src = json_object_get(pattern, "source");
  json_t *dt = json_object_get(pattern, "detail-type");
  json_t *detail = json_object_get(pattern, "detail");
  json_t *names = json_object_get(json_object_get(detail, "bucket"), "name");
  if (!json_is_array(src) || !json_is_array(names) ||
      !text_is(json_array_get(src, 0), "aws.s3"))
    return;
  if (json_is_array(dt) && !text_is(json_array_get(dt, 0), "Object Created"))
    return;
  json_t *key = json_object_get(json_object_get(detail, "object"), "key");
  json_t *k0 = json_array_get(key, 0);
  size_t i;
  json_t *b;
  json_array_foreach(names, i, b) {
    json_t *t = json_pack("{sOssssssss}", "Bucket", b, "Event", "eventbridge",
                          machine ? "Machine" : "Function",
                          machine ? machine : function, "Prefix", "",
                          "Suffix", "");
    if (json_object_get(k0, "prefix"))
      json_object_set(t, "Prefix", json_object_get(k0, "prefix"));
    if (json_object_get(k0, "suffix"))
      json_object_set(t, "Suffix", json_object_get(k0, "suffix"));
    json_array_append_new(o->s->triggers, t);
  }
}

static int machine(cx_t *c, out_t *o, const char *logical, json_t *props,
                   bool sam) {
  const char *name = phys(c, logical, logical);
  if (!name) return -1;
  char *where = ms_asprintf("Resources/%s/Properties", logical);
  char *text = NULL;
  json_t *def = json_object_get(props, "Definition");
  json_t *defs = json_object_get(props, "DefinitionString");
  json_t *uri = json_object_get(props, sam ? "DefinitionUri" : "");
  if (json_object_get(props, "DefinitionS3Location")) {
    fail(c, where, "DefinitionS3Location cannot be deployed locally: use "
         "Definition or DefinitionString");
  } else if (def) {
    text = json_dumps(def, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  } else if (json_is_string(defs)) {
    text = ms_strdup(json_string_value(defs));
  } else if (json_is_string(uri)) {
    text = definition_file(c, json_string_value(uri), where);
  } else {
    fail(c, where, "a state machine needs %s", sam ? "Definition or "
         "DefinitionUri (a local file)" : "Definition or DefinitionString");
  }
  json_t *subs = json_object_get(props, "DefinitionSubstitutions");
  if (text && json_is_object(subs)) {
    char *t2 = substitute(c, text, subs, where);
    free(text);
    text = t2;
  }
  json_t *parsed = text ? jsonx_parse(text, strlen(text), NULL) : NULL;
  if (text && !json_is_object(parsed))
    fail(c, where, "the definition of %s is not a JSON object", logical);
  json_decref(parsed);
  free(where);
  if (c->err) {
    free(text);
    return -1;
  }
  const char *type = json_string_value(json_object_get(
      props, sam ? "Type" : "StateMachineType"));
  json_t *arn = arn_of(c, logical, logical);
  json_array_append_new(o->s->machines, json_pack(
      "{sssssOssss}", "LogicalId", logical, "Name", name, "Arn", arn,
      "Type", type ? type : "STANDARD", "Definition", text));
  json_decref(arn);
  free(text);
  static const char *const used[] = {
    "Definition", "DefinitionString", "DefinitionUri", "Name",
    "StateMachineName", "DefinitionSubstitutions", "Type",
    "StateMachineType", "Events", NULL};
  ignore_props(o, logical, props, used);
  const char *ev;
  json_t *e;
  json_object_foreach(json_object_get(props, "Events"), ev, e) {
    const char *t = json_string_value(json_object_get(e, "Type"));
    json_t *pattern = json_object_get(json_object_get(e, "Properties"),
                                      "Pattern");
    if (t && (!strcmp(t, "EventBridgeRule") || !strcmp(t, "CloudWatchEvent"))
        && pattern) {
      eventbridge_trigger(c, o, pattern, name, NULL);
    } else {
      char *w = ms_asprintf("%s.Events.%s (%s)", logical, ev, t ? t : "?");
      ignore(o, w);
      free(w);
    }
  }
  return 0;
}

static int events_rule(cx_t *c, out_t *o, const char *logical,
                       json_t *props) {
  (void)logical;
  json_t *pattern = json_object_get(props, "EventPattern");
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(props, "Targets"), i, t) {
    const char *arn = json_string_value(json_object_get(t, "Arn"));
    if (!arn) continue;
    if (strstr(arn, ":stateMachine:"))
      eventbridge_trigger(c, o, pattern, arn_name(arn), NULL);
    else if (strstr(arn, ":function:"))
      eventbridge_trigger(c, o, pattern, NULL, arn_name(arn));
  }
  return 0;
}

static int bucket(cx_t *c, out_t *o, const char *logical, json_t *props) {
  const char *name = phys(c, logical, logical);
  if (!name) return -1;
  json_array_append_new(o->s->buckets, json_pack("{ssss}", "LogicalId",
                                                 logical, "BucketName",
                                                 name));
  json_t *nc = json_object_get(props, "NotificationConfiguration");
  size_t i;
  json_t *lc;
  json_array_foreach(json_object_get(nc, "LambdaConfigurations"), i, lc) {
    const char *fn = arn_name(json_string_value(json_object_get(lc,
                                                                "Function")));
    if (!fn) continue;
    json_t *t = json_pack("{ssssssssss}", "Bucket", name, "Event", "s3",
                          "Function", fn, "Prefix", "", "Suffix", "");
    key_filter(t, json_object_get(lc, "Filter"));
    json_array_append_new(o->s->triggers, t);
  }
  static const char *const used[] = {"BucketName",
                                     "NotificationConfiguration", NULL};
  ignore_props(o, logical, props, used);
  return 0;
}

static int resources_with(cx_t *c, out_t *o, json_t *globals);

static int resources(cx_t *c, out_t *o) {
  json_t *raw_globals = json_object_get(json_object_get(c->tpl, "Globals"),
                                        "Function");
  json_t *globals = raw_globals ? resolve(c, raw_globals,
                                          "Globals/Function") : NULL;
  if (raw_globals && !globals) return -1;
  int rc = resources_with(c, o, globals);
  json_decref(globals);
  return rc;
}

static int resources_with(cx_t *c, out_t *o, json_t *globals) {
  const char *logical;
  json_t *r;
  json_object_foreach(c->resources, logical, r) {
    const char *type = json_string_value(json_object_get(r, "Type"));
    if (!type) return fail(c, logical, "a resource needs a Type"), -1;
    const char *cond = json_string_value(json_object_get(r, "Condition"));
    if (cond) {
      int t = condition(c, cond, logical);
      if (t < 0) return -1;
      if (!t) continue;
    }
    char *where = ms_asprintf("Resources/%s/Properties", logical);
    json_t *raw = json_object_get(r, "Properties");
    json_t *props = raw ? resolve(c, raw, where) : json_object();
    free(where);
    if (!props) return -1;
    int rc = 0;
    if (!strcmp(type, "AWS::DynamoDB::Table") ||
        !strcmp(type, "AWS::DynamoDB::GlobalTable"))
      rc = table(c, o, logical, props, false);
    else if (!strcmp(type, "AWS::Serverless::SimpleTable"))
      rc = table(c, o, logical, props, true);
    else if (!strcmp(type, "AWS::Lambda::Function"))
      rc = function(c, o, logical, props, NULL, false);
    else if (!strcmp(type, "AWS::Serverless::Function"))
      rc = function(c, o, logical, props, globals, true);
    else if (!strcmp(type, "AWS::StepFunctions::StateMachine"))
      rc = machine(c, o, logical, props, false);
    else if (!strcmp(type, "AWS::Serverless::StateMachine"))
      rc = machine(c, o, logical, props, true);
    else if (!strcmp(type, "AWS::S3::Bucket"))
      rc = bucket(c, o, logical, props);
    else if (!strcmp(type, "AWS::Events::Rule"))
      rc = events_rule(c, o, logical, props);
    else {
      char *w = ms_asprintf("%s (%s)", logical, type);
      ignore(o, w);
      free(w);
    }
    json_decref(props);
    if (rc) return -1;
  }
  /* an S3 trigger's Bucket was a Ref: it resolved to the bucket's name */
  size_t i;
  json_t *t;
  json_array_foreach(o->s->triggers, i, t) {
    if (!json_is_string(json_object_get(t, "Bucket")))
      return fail(c, "Events", "an S3 event names no bucket"), -1;
  }
  return 0;
}

/* ---- entry ------------------------------------------------------------- */

void cfn_stack_free(cfn_stack_t *s) {
  free(s->name);
  json_decref(s->tables);
  json_decref(s->functions);
  json_decref(s->machines);
  json_decref(s->buckets);
  json_decref(s->triggers);
  json_decref(s->ignored);
  json_decref(s->outputs);
  memset(s, 0, sizeof *s);
}

static json_t *parse_template(const char *text, size_t len, char **err) {
  size_t i = 0;
  while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' ||
                     text[i] == '\r'))
    i++;
  if (i < len && text[i] == '{') {
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!v) *err = ms_asprintf("%d:%d: %s", je.line, je.column, je.text);
    return v;
  }
  return yaml_parse(text, len, err);
}

int cfn_load(const char *text, size_t len, const char *stack_name,
             const json_t *params, const char *base_dir, cfn_stack_t *out,
             char **err) {
  memset(out, 0, sizeof *out);
  *err = NULL;
  json_t *tpl = parse_template(text, len, err);
  if (!tpl) return -1;
  if (!json_is_object(tpl) ||
      !json_is_object(json_object_get(tpl, "Resources"))) {
    json_decref(tpl);
    *err = ms_strdup("a template is a mapping with a Resources mapping");
    return -1;
  }
  cx_t c = {tpl, json_object_get(tpl, "Resources"), json_object(),
            json_object(), json_object(), json_object(), stack_name,
            base_dir, NULL, 0};
  out->name = ms_strdup(stack_name);
  out->tables = json_array();
  out->functions = json_array();
  out->machines = json_array();
  out->buckets = json_array();
  out->triggers = json_array();
  out->ignored = json_array();
  out->outputs = json_object();
  out_t o = {out};
  if (parameters(&c, params) == 0 && resources(&c, &o) == 0) {
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(tpl, "Outputs"), k, v) {
      const char *cond = json_string_value(json_object_get(v, "Condition"));
      if (cond && condition(&c, cond, k) != 1) continue;
      char *w = ms_asprintf("Outputs/%s", k);
      json_t *r = resolve(&c, json_object_get(v, "Value"), w);
      free(w);
      if (!r) break;
      json_object_set_new(out->outputs, k, r);
    }
  }
  json_decref(c.params);
  json_decref(c.conditions);
  json_decref(c.names);
  json_decref(c.novalue);
  json_decref(tpl);
  if (c.err) {
    *err = c.err;
    cfn_stack_free(out);
    return -1;
  }
  return 0;
}
