/* cli_s3.c - the local buckets from the command line, and the bucket
 * trigger:
 *
 *   moonstep s3 cp SRC DST [--content-type T]   local file (or -) <-> s3://,
 *                                               s3:// -> s3://
 *   moonstep s3 ls [s3://BUCKET[/PREFIX]] [--recursive]
 *   moonstep s3 rm s3://BUCKET/KEY [--recursive]
 *   moonstep s3 mb s3://BUCKET | rb s3://BUCKET
 *   moonstep watch s3://BUCKET --machine FILE [--prefix P] [--suffix S]
 *                  [--event s3|eventbridge] [--once] [--interval SEC]
 *                  [--settle SEC] [--tasks DIR] [--db PATH] [--express]
 *
 * Every command takes --buckets DIR (else $MOONSTEP_BUCKETS, else
 * .moonstep/buckets). watch starts one execution per new object with an
 * S3 event as input (the notification's Records[] shape, or EventBridge's
 * "Object Created" event), one line of JSON per execution on stdout. An
 * object put by moonstep (an atomic rename, its metadata recorded) is
 * taken at once; a file dropped in by another tool only once its size and
 * mtime have not changed for --settle seconds (default 1). Without --once
 * the objects there at start are left alone and watch runs until SIGINT or
 * SIGTERM (it then finishes the running execution, which stops at its
 * next transition, and exits 0); with --once it takes what is there (once
 * settled) and exits: 0 when every execution succeeded, else 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "moonstep.h"
#include "s3.h"

static bool has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcmp(s + n - m, suf);
}

static int s3_fail(const char *what, const s3_error_t *e) {
  fprintf(stderr, "%s: %s: %s (%s)\n", cli_progname, what, e->message,
          e->code);
  return MS_EXIT_FAILED;
}

/* The --buckets option at argv[*i]: true when it was (consumed). */
static bool buckets_opt(int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--buckets") || *i + 1 >= argc) return false;
  s3_set_root(argv[++*i]);
  return true;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* ---- s3 cp ------------------------------------------------------------ */

static int cp(const char *src, const char *dst, const char *ctype) {
  bool s_s3 = !strncmp(src, "s3://", 5), d_s3 = !strncmp(dst, "s3://", 5);
  char *sb = NULL, *sk = NULL, *db = NULL, *dk = NULL;
  s3_error_t e;
  int rc = MS_EXIT_OK;
  if ((s_s3 && s3_parse_uri(src, &sb, &sk)) ||
      (d_s3 && s3_parse_uri(dst, &db, &dk))) {
    rc = cli_usage("not an s3:// URI: '%s'", s_s3 && !sb ? src : dst);
    goto out;
  }
  if (!s_s3 && !d_s3) {
    rc = cli_usage("%s", "cp needs an s3:// source or destination");
    goto out;
  }
  if (d_s3 && (!*dk || dk[strlen(dk) - 1] == '/')) {
    /* s3://b/ or s3://b/dir/: the source's name goes after it */
    const char *name = s_s3 ? base_name(sk) : base_name(src);
    char *k = ms_asprintf("%s%s", dk, name);
    free(dk);
    dk = k;
  }
  if (s_s3 && d_s3) {
    if (s3_copy(sb, sk, db, dk, NULL, &e)) rc = s3_fail(src, &e);
  } else if (d_s3) {
    FILE *in = strcmp(src, "-") ? fopen(src, "rb") : stdin;
    if (!in) {
      fprintf(stderr, "%s: %s: %s\n", cli_progname, src, strerror(errno));
      rc = MS_EXIT_FAILED;
      goto out;
    }
    if (s3_put_stream(db, dk, in, ctype, NULL, &e)) rc = s3_fail(dst, &e);
    if (in != stdin) fclose(in);
  } else {
    FILE *in;
    if (s3_open(sb, sk, &in, NULL, &e)) {
      rc = s3_fail(src, &e);
      goto out;
    }
    struct stat st;
    char *path = !strcmp(dst, "-") ? NULL
                 : stat(dst, &st) == 0 && S_ISDIR(st.st_mode)
                 ? ms_asprintf("%s/%s", dst, base_name(sk)) : ms_strdup(dst);
    FILE *o = path ? fopen(path, "wb") : stdout;
    if (!o) {
      fprintf(stderr, "%s: %s: %s\n", cli_progname, path, strerror(errno));
      rc = MS_EXIT_FAILED;
    } else {
      char b[65536];
      size_t n;
      while ((n = fread(b, 1, sizeof b, in)) > 0)
        if (fwrite(b, 1, n, o) != n) break;
      if (ferror(in) || ferror(o) || (o != stdout && fclose(o))) {
        fprintf(stderr, "%s: %s: write error\n", cli_progname,
                path ? path : "-");
        rc = MS_EXIT_FAILED;
      }
    }
    fclose(in);
    free(path);
  }
  if (rc == MS_EXIT_OK && isatty(2)) {
    if (d_s3) fprintf(stderr, "copied %s to s3://%s/%s\n", src, db, dk);
    else fprintf(stderr, "copied %s to %s\n", src, dst);
  }
out:
  free(sb);
  free(sk);
  free(db);
  free(dk);
  return rc;
}

/* ---- s3 ls / rm ------------------------------------------------------- */

/* Each page of a listing, f called per response. */
static int each_page(const char *bucket, const char *prefix, bool deep,
                     int (*f)(const char *bucket, json_t *page, void *ud),
                     void *ud) {
  json_t *req = json_pack("{ss}", "Prefix", prefix);
  if (!deep) json_object_set_new(req, "Delimiter", json_string("/"));
  int rc = MS_EXIT_OK;
  for (;;) {
    s3_error_t e;
    json_t *page = s3_list(bucket, req, &e);
    if (!page) {
      rc = s3_fail(bucket, &e);
      break;
    }
    rc = f(bucket, page, ud);
    const char *next = json_string_value(json_object_get(
        page, "NextContinuationToken"));
    if (next) json_object_set_new(req, "ContinuationToken",
                                  json_string(next));
    json_decref(page);
    if (!next || rc) break;
  }
  json_decref(req);
  return rc;
}

static int ls_page(const char *bucket, json_t *page, void *ud) {
  (void)bucket;
  (void)ud;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(page, "CommonPrefixes"), i, v)
    printf("%30s %s\n", "PRE", json_string_value(json_object_get(v,
                                                                 "Prefix")));
  json_array_foreach(json_object_get(page, "Contents"), i, v) {
    char t[32] = "";
    const char *lm = json_string_value(json_object_get(v, "LastModified"));
    snprintf(t, sizeof t, "%.10s %.8s", lm ? lm : "", lm && strlen(lm) > 11
             ? lm + 11 : "");
    printf("%s %10lld %s\n", t,
           (long long)json_integer_value(json_object_get(v, "Size")),
           json_string_value(json_object_get(v, "Key")));
  }
  return MS_EXIT_OK;
}

static int rm_page(const char *bucket, json_t *page, void *ud) {
  (void)ud;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(page, "Contents"), i, v) {
    s3_error_t e;
    const char *k = json_string_value(json_object_get(v, "Key"));
    if (s3_delete(bucket, k, &e)) return s3_fail(k, &e);
    if (isatty(2)) fprintf(stderr, "deleted s3://%s/%s\n", bucket, k);
  }
  return MS_EXIT_OK;
}

static int ls(const char *uri, bool deep) {
  if (!uri) {
    json_t *b = s3_list_buckets();
    size_t i;
    json_t *v;
    json_array_foreach(b, i, v) printf("%s\n", json_string_value(v));
    json_decref(b);
    return MS_EXIT_OK;
  }
  char *b, *k;
  if (s3_parse_uri(uri, &b, &k)) return cli_usage("not an s3:// URI: '%s'",
                                                  uri);
  int rc = each_page(b, k, deep, ls_page, NULL);
  free(b);
  free(k);
  return rc;
}

static int rm(const char *uri, bool deep) {
  char *b, *k;
  if (s3_parse_uri(uri, &b, &k)) return cli_usage("not an s3:// URI: '%s'",
                                                  uri);
  int rc = MS_EXIT_OK;
  s3_error_t e;
  if (deep) {
    rc = each_page(b, k, true, rm_page, NULL);
  } else if (!*k) {
    rc = cli_usage("%s", "rm needs a key (or --recursive)");
  } else if (s3_head(b, k, NULL, &e)) {
    rc = s3_fail(uri, &e);     /* unlike S3, say so when nothing is there */
  } else if (s3_delete(b, k, &e)) {
    rc = s3_fail(uri, &e);
  }
  free(b);
  free(k);
  return rc;
}

static int bucket_cmd(const char *uri, bool make) {
  char *b, *k;
  if (s3_parse_uri(uri, &b, &k) || *k) {
    free(b);
    free(k);
    return cli_usage("expected s3://BUCKET, not '%s'", uri);
  }
  s3_error_t e;
  int rc = (make ? s3_create_bucket(b, &e) : s3_delete_bucket(b, &e))
           ? s3_fail(uri, &e) : MS_EXIT_OK;
  free(b);
  free(k);
  return rc;
}

int cli_s3(int argc, char **argv) {
  if (argc < 1) return cli_usage("%s", "s3 needs cp, ls, rm, mb or rb");
  const char *sub = argv[0];
  const char *pos[2] = {NULL, NULL}, *ctype = NULL;
  int npos = 0;
  bool deep = false;
  for (int i = 1; i < argc; i++) {
    if (buckets_opt(argc, argv, &i)) continue;
    if (!strcmp(argv[i], "--recursive")) deep = true;
    else if (!strcmp(argv[i], "--content-type") && i + 1 < argc)
      ctype = argv[++i];
    else if (argv[i][0] == '-' && argv[i][1]) return cli_usage(
        "unknown option '%s'", argv[i]);
    else if (npos < 2) pos[npos++] = argv[i];
    else return cli_usage("unexpected argument '%s'", argv[i]);
  }
  if (!strcmp(sub, "cp")) {
    if (npos != 2) return cli_usage("%s", "s3 cp needs SRC and DST");
    return cp(pos[0], pos[1], ctype);
  }
  if (!strcmp(sub, "ls")) {
    if (npos > 1) return cli_usage("%s", "s3 ls takes one s3:// URI");
    return ls(pos[0], deep);
  }
  if (!strcmp(sub, "rm") || !strcmp(sub, "mb") || !strcmp(sub, "rb")) {
    if (npos != 1) return cli_usage("s3 %s needs one s3:// URI", sub);
    return sub[0] == 'r' && sub[1] == 'm' ? rm(pos[0], deep)
           : bucket_cmd(pos[0], sub[0] == 'm');
  }
  return cli_usage("unknown s3 command '%s'", sub);
}

/* ---- watch ------------------------------------------------------------ */

typedef struct seen {
  char *key;
  int64_t size;
  double mtime;      /* when last seen changed (file mtime) */
  double since;      /* monotonic time it was first seen like this */
  bool done;         /* started (or present at start, without --once) */
} seen_t;

typedef struct watch {
  const char *bucket, *prefix, *suffix;
  bool eventbridge;
  double settle;
  seen_t *v;
  size_t n;
} watch_t;

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static seen_t *find(watch_t *w, const char *key) {
  for (size_t i = 0; i < w->n; i++)
    if (!strcmp(w->v[i].key, key)) return &w->v[i];
  return NULL;
}

/* S3 notifications URL-encode the key (a space as '+'). */
static char *url_key(const char *k) {
  buf_t b;
  buf_init(&b);
  for (const unsigned char *s = (const unsigned char *)k; *s; s++) {
    if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
        (*s >= '0' && *s <= '9') || strchr("-_.~/*", *s))
      buf_putc(&b, (char)*s);
    else if (*s == ' ')
      buf_putc(&b, '+');
    else
      buf_printf(&b, "%%%02X", *s);
  }
  return buf_steal(&b);
}

static json_t *event_of(const watch_t *w, const char *key,
                        const s3_meta_t *m) {
  char t[40], seq[32];
  s3_time_iso((double)time(NULL), t, sizeof t);
  snprintf(seq, sizeof seq, "%016llX", (unsigned long long)(m->mtime * 1e3));
  char etag[40];
  snprintf(etag, sizeof etag, "%.*s", (int)strlen(m->etag) - 2, m->etag + 1);
  char *arn = ms_asprintf("arn:aws:s3:::%s", w->bucket);
  json_t *ev;
  if (w->eventbridge) {
    ev = json_pack(
        "{ss ss ss ss ss ss ss s[s] s{ss s{ss} s{ss sI ss ss} ss ss ss ss}}",
        "version", "0", "id", seq, "detail-type", "Object Created",
        "source", "aws.s3", "account", "123456789012", "time", t,
        "region", "us-east-1", "resources", arn,
        "detail", "version", "0", "bucket", "name", w->bucket,
        "object", "key", key, "size", (json_int_t)m->size, "etag", etag,
        "sequencer", seq, "request-id", seq, "requester", "123456789012",
        "source-ip-address", "127.0.0.1", "reason", "PutObject");
  } else {
    char *uk = url_key(key);
    ev = json_pack(
        "{s[{ss ss ss ss ss s{ss} s{ss} s{ss ss} "
        "s{ss ss s{ss s{ss} ss} s{ss sI ss ss}}}]}",
        "Records", "eventVersion", "2.1", "eventSource", "aws:s3",
        "awsRegion", "us-east-1", "eventTime", t,
        "eventName", "ObjectCreated:Put",
        "userIdentity", "principalId", "moonstep",
        "requestParameters", "sourceIPAddress", "127.0.0.1",
        "responseElements", "x-amz-request-id", seq, "x-amz-id-2", seq,
        "s3", "s3SchemaVersion", "1.0", "configurationId", "moonstep-watch",
        "bucket", "name", w->bucket, "ownerIdentity", "principalId",
        "moonstep", "arn", arn,
        "object", "key", uk, "size", (json_int_t)m->size, "eTag", etag,
        "sequencer", seq);
    free(uk);
  }
  free(arn);
  return ev;
}

/* Whether the object was put by moonstep: its sidecar matches (s3_head
 * would compute one for a foreign file, so read the sidecar first). */
static bool put_by_moonstep(const char *bucket, const char *key,
                            const struct stat *st) {
  char *mp = ms_asprintf("%s/.meta/%s/%s", s3_root(), bucket, key);
  json_t *j = json_load_file(mp, 0, NULL);
  free(mp);
  int64_t ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
               st->st_mtim.tv_nsec;
  bool ok = json_integer_value(json_object_get(j, "Size")) == st->st_size &&
            json_integer_value(json_object_get(j, "MTimeNs")) == ns &&
            json_is_true(json_object_get(j, "Put"));
  json_decref(j);
  return ok;
}

typedef struct scan {
  watch_t *w;
  json_t *ready;      /* keys to start now */
  bool pending;       /* some are still settling */
  bool mark;          /* first scan without --once: mark all done */
} scan_t;

static int scan_page(const char *bucket, json_t *page, void *ud) {
  scan_t *sc = ud;
  watch_t *w = sc->w;
  size_t i;
  json_t *v;
  double now = mono();
  json_array_foreach(json_object_get(page, "Contents"), i, v) {
    const char *key = json_string_value(json_object_get(v, "Key"));
    if (w->suffix && !has_suffix(key, w->suffix)) continue;
    char *path = ms_asprintf("%s/%s/%s", s3_root(), bucket, key);
    struct stat st;
    int ok = stat(path, &st);
    free(path);
    if (ok < 0) continue;
    double mt = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
    seen_t *s = find(w, key);
    if (!s) {
      w->v = ms_realloc(w->v, (w->n + 1) * sizeof *w->v);
      s = &w->v[w->n++];
      s->key = ms_strdup(key);
      s->size = st.st_size;
      s->mtime = mt;
      s->since = now;
      s->done = sc->mark;
    } else if (s->size != st.st_size || s->mtime != mt) {
      /* changed: a new version (or still being written) */
      s->size = st.st_size;
      s->mtime = mt;
      s->since = now;
      s->done = false;
    }
    if (s->done) continue;
    if (put_by_moonstep(bucket, key, &st) || now - s->since >= w->settle)
      json_array_append_new(sc->ready, json_string(key));
    else
      sc->pending = true;
  }
  return MS_EXIT_OK;
}

static char *machine_name(const char *file) {
  const char *b = base_name(file);
  size_t n = strlen(b);
  if (has_suffix(b, ".asl.json")) n -= 9;
  else if (has_suffix(b, ".json")) n -= 5;
  else if (has_suffix(b, ".yaml")) n -= 5;
  return ms_strndup(b, n);
}

int cli_watch(int argc, char **argv) {
  watch_t w = {0};
  const char *uri = NULL, *machine = NULL, *tasks = NULL, *db = NULL;
  bool once = false, express = false;
  double interval = 0.25;
  w.settle = 1.0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (buckets_opt(argc, argv, &i)) continue;
    if (!strcmp(a, "--machine") && more) machine = argv[++i];
    else if (!strcmp(a, "--prefix") && more) w.prefix = argv[++i];
    else if (!strcmp(a, "--suffix") && more) w.suffix = argv[++i];
    else if (!strcmp(a, "--tasks") && more) tasks = argv[++i];
    else if (!strcmp(a, "--db") && more) db = argv[++i];
    else if (!strcmp(a, "--interval") && more) interval = atof(argv[++i]);
    else if (!strcmp(a, "--settle") && more) w.settle = atof(argv[++i]);
    else if (!strcmp(a, "--once")) once = true;
    else if (!strcmp(a, "--express")) express = true;
    else if (!strcmp(a, "--event") && more) {
      const char *ev = argv[++i];
      if (!strcmp(ev, "eventbridge")) w.eventbridge = true;
      else if (strcmp(ev, "s3")) return cli_usage(
          "--event is s3 or eventbridge, not '%s'", ev);
    } else if (a[0] == '-') {
      return cli_usage("unknown option '%s'", a);
    } else if (!uri) {
      uri = a;
    } else {
      return cli_usage("unexpected argument '%s'", a);
    }
  }
  if (!uri || !machine)
    return cli_usage("%s", "watch needs s3://BUCKET and --machine FILE");
  char *bucket, *pre;
  if (s3_parse_uri(uri, &bucket, &pre))
    return cli_usage("not an s3:// URI: '%s'", uri);
  if (!w.prefix && *pre) w.prefix = pre;
  w.bucket = bucket;
  if (interval < 0.01) interval = 0.01;

  int rc = MS_EXIT_OK;
  size_t len;
  char *text = ms_read_file(machine, MS_FILE_MAX, &len);
  diags_t d;
  diags_init(&d);
  ms_machine_t *m = text ? ms_machine_load(text, len, &d) : NULL;
  ms_engine_t *e = NULL;
  char *name = machine_name(machine);
  if (!text) {
    fprintf(stderr, "%s: %s: %s\n", cli_progname, machine, strerror(errno));
    rc = MS_EXIT_USAGE;
    goto out;
  }
  if (!m) {
    ms_diags_print(&d, machine, stderr);
    rc = MS_EXIT_INVALID;
    goto out;
  }
  if (!s3_bucket_exists(bucket)) {
    fprintf(stderr, "%s: %s: The specified bucket does not exist "
            "(NoSuchBucket)\n", cli_progname, uri);
    rc = MS_EXIT_FAILED;
    goto out;
  }
  ms_options_t eo = {0};
  eo.tasks_dir = tasks;
  eo.db_path = cli_db_path(db);
  char *err = NULL;
  e = ms_engine_new(&eo, &err);
  if (!e) {
    fprintf(stderr, "%s: %s\n", cli_progname, err ? err : "no engine");
    free(err);
    rc = MS_EXIT_FAILED;
    goto out;
  }
  ms_run_options_t ro = {0};
  ro.machine_name = name;
  ro.express = express;
  cli_catch_signals(&ro);
  if (!once && isatty(2))
    fprintf(stderr, "watching %s for new objects (Ctrl-C stops)\n", uri);
  bool first = true;
  while (!*ro.interrupt) {
    scan_t sc = {&w, json_array(), false, first && !once};
    first = false;
    int lrc = each_page(bucket, w.prefix ? w.prefix : "", true, scan_page,
                        &sc);
    if (lrc) {
      json_decref(sc.ready);
      rc = lrc;
      break;
    }
    size_t i;
    json_t *k;
    json_array_foreach(sc.ready, i, k) {
      if (*ro.interrupt) break;
      const char *key = json_string_value(k);
      s3_meta_t meta;
      s3_error_t se;
      seen_t *s = find(&w, key);
      s->done = true;
      if (s3_head(bucket, key, &meta, &se)) continue;  /* gone again */
      json_t *ev = event_of(&w, key, &meta);
      json_t *desc = ms_run(e, m, ev, &ro);
      json_decref(ev);
      json_t *line;
      if (!desc) {
        line = json_pack("{sssss?}", "key", key, "status", "NOT_STARTED",
                         "error", ms_engine_error(e));
        rc = MS_EXIT_FAILED;
      } else {
        const char *st = json_string_value(json_object_get(desc, "status"));
        line = json_pack("{sssOsO}", "key", key, "executionArn",
                         json_object_get(desc, "executionArn"), "status",
                         json_object_get(desc, "status"));
        if (json_object_get(desc, "error"))
          json_object_set(line, "error", json_object_get(desc, "error"));
        if (json_object_get(desc, "output"))
          json_object_set(line, "output", json_object_get(desc, "output"));
        if (!st || strcmp(st, "SUCCEEDED")) rc = MS_EXIT_FAILED;
        json_decref(desc);
      }
      char *txt = jsonx_dump(line, JSONX_COMPACT);
      printf("%s\n", txt);
      fflush(stdout);
      free(txt);
      json_decref(line);
    }
    bool pending = sc.pending;
    json_decref(sc.ready);
    if (once && !pending) break;
    if (!*ro.interrupt) usleep((useconds_t)(interval * 1e6));
  }
  if (!once && *ro.interrupt && rc == MS_EXIT_FAILED) rc = MS_EXIT_OK;
out:
  for (size_t i = 0; i < w.n; i++) free(w.v[i].key);
  free(w.v);
  ms_engine_free(e);
  ms_machine_free(m);
  diags_free(&d);
  free(text);
  free(name);
  free(bucket);
  free(pre);
  return rc;
}
