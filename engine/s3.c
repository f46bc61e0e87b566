/* s3.c - local S3 buckets as folders of files (see s3.h): key checks,
 * atomic puts, metadata sidecars, ListObjectsV2 pages. Holds a streaming
 * MD5 (RFC 1321) for ETags of objects of any size.
 */
#include "s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"

#define TMP_PREFIX ".moonstep-tmp-"
#define META_DIR ".meta"
#define KEY_MAX 1024            /* S3: keys are at most 1,024 bytes */
#define DEFAULT_TYPE "binary/octet-stream"

static char *root;

void s3_set_root(const char *dir) {
  free(root);
  root = dir && *dir ? ms_strdup(dir) : NULL;
}

const char *s3_root(void) {
  if (root) return root;
  const char *env = getenv("MOONSTEP_BUCKETS");
  return env && *env ? env : S3_BUCKETS_DEFAULT;
}

static int err(s3_error_t *e, int status, const char *code,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int err(s3_error_t *e, int status, const char *code,
               const char *fmt, ...) {
  if (e) {
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
  }
  return MS_ERR;
}

static int no_key(s3_error_t *e) {
  return err(e, 404, "NoSuchKey", "The specified key does not exist.");
}

static int no_bucket(s3_error_t *e) {
  return err(e, 404, "NoSuchBucket", "The specified bucket does not exist");
}

static int io_err(s3_error_t *e, const char *what) {
  return err(e, 500, "InternalError", "%s: %s", what, strerror(errno));
}

/* ---- MD5 (RFC 1321) --------------------------------------------------- */

typedef struct md5 {
  uint32_t h[4];
  uint64_t n;
  unsigned char blk[64];
} md5_t;

static const uint32_t md5_k[64] = {
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
  0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
  0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
  0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
  0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
  0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
  0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
  0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
  0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
static const unsigned char md5_r[64] = {
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_init(md5_t *m) {
  m->h[0] = 0x67452301;
  m->h[1] = 0xefcdab89;
  m->h[2] = 0x98badcfe;
  m->h[3] = 0x10325476;
  m->n = 0;
}

static void md5_block(md5_t *m, const unsigned char *p) {
  uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 |
           (uint32_t)p[i * 4 + 2] << 16 | (uint32_t)p[i * 4 + 3] << 24;
  for (int i = 0; i < 64; i++) {
    uint32_t f;
    int g;
    if (i < 16) { f = (b & c) | (~b & d); g = i; }
    else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
    else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
    else { f = c ^ (b | ~d); g = (7 * i) % 16; }
    uint32_t t = d;
    d = c;
    c = b;
    uint32_t x = a + f + md5_k[i] + w[g];
    b = b + (x << md5_r[i] | x >> (32 - md5_r[i]));
    a = t;
  }
  m->h[0] += a;
  m->h[1] += b;
  m->h[2] += c;
  m->h[3] += d;
}

static void md5_add(md5_t *m, const void *data, size_t len) {
  const unsigned char *p = data;
  size_t have = (size_t)(m->n % 64);
  m->n += len;
  if (have) {
    size_t take = 64 - have < len ? 64 - have : len;
    memcpy(m->blk + have, p, take);
    p += take;
    len -= take;
    if (have + take < 64) return;
    md5_block(m, m->blk);
  }
  for (; len >= 64; p += 64, len -= 64) md5_block(m, p);
  memcpy(m->blk, p, len);
}

/* The ETag: the digest as quoted lowercase hex. */
static void md5_etag(md5_t *m, char out[40]) {
  uint64_t bits = m->n * 8;
  unsigned char pad[72] = {0x80};
  size_t have = (size_t)(m->n % 64);
  size_t padlen = have < 56 ? 56 - have : 120 - have;
  for (int i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> 8 * i);
  md5_add(m, pad, padlen + 8);
  char *o = out;
  *o++ = '"';
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      snprintf(o, 3, "%02x", (unsigned)(m->h[i] >> 8 * j) & 0xff);
      o += 2;
    }
  *o++ = '"';
  *o = 0;
}

/* ---- names and paths ---------------------------------------------------- */

/* S3's bucket naming rules, relaxed to also allow uppercase and '_' (old
 * buckets have them): 3-63 chars of [A-Za-z0-9._-], starting and ending
 * with a letter or digit, no "..". */
static bool bucket_ok(const char *b) {
  size_t n = b ? strlen(b) : 0;
  if (n < 3 || n > 63) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)b[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum && c != '.' && c != '-' && c != '_') return false;
    if ((i == 0 || i == n - 1) && !alnum) return false;
  }
  return strstr(b, "..") == NULL;
}

/* A key that maps to a file inside its bucket. */
static int key_check(const char *k, s3_error_t *e) {
  size_t n = k ? strlen(k) : 0;
  if (n == 0) return err(e, 400, "InvalidArgument", "The key is empty");
  if (n > KEY_MAX)
    return err(e, 400, "KeyTooLongError", "Your key is too long");
  if (k[0] == '/' || k[n - 1] == '/')
    return err(e, 400, "InvalidArgument", "moonstep cannot store the key "
               "'%.100s' (it starts or ends with '/')", k);
  for (const char *s = k; *s;) {
    const char *sl = strchr(s, '/');
    size_t len = sl ? (size_t)(sl - s) : strlen(s);
    if (len == 0 || (len == 1 && s[0] == '.') ||
        (len == 2 && s[0] == '.' && s[1] == '.'))
      return err(e, 400, "InvalidArgument", "moonstep cannot store the key "
                 "'%.100s' (an empty, '.' or '..' segment)", k);
    if (len >= sizeof TMP_PREFIX - 1 &&
        !strncmp(s, TMP_PREFIX, sizeof TMP_PREFIX - 1))
      return err(e, 400, "InvalidArgument", "moonstep keeps names starting "
                 "with " TMP_PREFIX " for itself");
    s += len + (sl ? 1 : 0);
  }
  return MS_OK;
}

static char *bucket_dir(const char *b) {
  return ms_asprintf("%s/%s", s3_root(), b);
}

bool s3_bucket_exists(const char *bucket) {
  if (!bucket_ok(bucket)) return false;
  char *d = bucket_dir(bucket);
  struct stat st;
  bool ok = stat(d, &st) == 0 && S_ISDIR(st.st_mode);
  free(d);
  return ok;
}

/* Whether path (existing) resolves inside the bucket folder. */
static bool inside(const char *bucket, const char *path) {
  char *d = bucket_dir(bucket);
  char *rb = realpath(d, NULL), *rp = realpath(path, NULL);
  size_t n = rb ? strlen(rb) : 0;
  bool ok = rb && rp && !strncmp(rb, rp, n) && rp[n] == '/';
  free(d);
  free(rb);
  free(rp);
  return ok;
}

/* The object's file, after the bucket and key checks. */
static char *obj_path(const char *bucket, const char *key, s3_error_t *e) {
  if (!bucket_ok(bucket)) {
    err(e, 400, "InvalidBucketName", "The specified bucket is not valid.");
    return NULL;
  }
  if (!s3_bucket_exists(bucket)) {
    no_bucket(e);
    return NULL;
  }
  if (key_check(key, e)) return NULL;
  return ms_asprintf("%s/%s/%s", s3_root(), bucket, key);
}

static char *meta_path(const char *bucket, const char *key) {
  return ms_asprintf("%s/" META_DIR "/%s/%s", s3_root(), bucket, key);
}

/* mkdir -p of the folders of path below base (base exists). A symlink on
 * the way is refused (nothing is made through it). */
static int make_parents(const char *path, size_t base) {
  char *p = ms_strdup(path);
  for (char *s = p + base + 1; (s = strchr(s, '/')); s++) {
    *s = 0;
    struct stat st;
    bool there = lstat(p, &st) == 0;
    if ((there && !S_ISDIR(st.st_mode)) ||
        (!there && mkdir(p, 0777) < 0 && errno != EEXIST)) {
      free(p);
      return MS_ERR;
    }
    *s = '/';
  }
  free(p);
  return MS_OK;
}

/* Remove the empty folders of path up to (not including) base. */
static void prune_parents(const char *path, size_t base) {
  char *p = ms_strdup(path);
  char *s;
  while ((s = strrchr(p, '/')) && (size_t)(s - p) > base) {
    *s = 0;
    if (rmdir(p) < 0) break;
  }
  free(p);
}

/* ---- metadata ----------------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void meta_write(const char *bucket, const char *key,
                       const struct stat *st, const char *etag,
                       const char *ctype, bool put) {
  char *mp = meta_path(bucket, key);
  char *base = ms_asprintf("%s/" META_DIR, s3_root());
  mkdir(base, 0777);
  char *bd = ms_asprintf("%s/%s", base, bucket);
  mkdir(bd, 0777);
  make_parents(mp, strlen(bd));
  json_t *j = json_pack("{sIsIss}", "Size", (json_int_t)st->st_size,
                        "MTimeNs", (json_int_t)mtime_ns(st),
                        "ContentType", ctype ? ctype : DEFAULT_TYPE);
  if (etag) json_object_set_new(j, "ETag", json_string(etag));
  if (put) json_object_set_new(j, "Put", json_true());
  char *tmp = ms_asprintf("%s.tmp%ld", mp, (long)getpid());
  if (json_dump_file(j, tmp, JSON_COMPACT) == 0) rename(tmp, mp);
  else unlink(tmp);
  free(tmp);
  json_decref(j);
  free(bd);
  free(base);
  free(mp);
}

static int hash_file(const char *path, char etag[40]) {
  FILE *f = fopen(path, "rb");
  if (!f) return MS_ERR;
  md5_t m;
  md5_init(&m);
  char b[65536];
  size_t n;
  while ((n = fread(b, 1, sizeof b, f)) > 0) md5_add(&m, b, n);
  int bad = ferror(f);
  fclose(f);
  if (bad) return MS_ERR;
  md5_etag(&m, etag);
  return MS_OK;
}

/* Fill meta for the file at path (stat'ed as st): the sidecar's values
 * when it matches the file, else computed (and cached). */
static int meta_of(const char *bucket, const char *key, const char *path,
                   const struct stat *st, s3_meta_t *meta, s3_error_t *e) {
  memset(meta, 0, sizeof *meta);
  meta->size = st->st_size;
  meta->mtime = (double)st->st_mtim.tv_sec;
  snprintf(meta->content_type, sizeof meta->content_type, DEFAULT_TYPE);
  char *mp = meta_path(bucket, key);
  json_t *j = json_load_file(mp, 0, NULL);
  free(mp);
  const char *ct = json_string_value(json_object_get(j, "ContentType"));
  if (ct) snprintf(meta->content_type, sizeof meta->content_type, "%s", ct);
  const char *et = json_string_value(json_object_get(j, "ETag"));
  bool fresh =
      json_integer_value(json_object_get(j, "Size")) == st->st_size &&
      json_integer_value(json_object_get(j, "MTimeNs")) == mtime_ns(st);
  if (fresh && et && strlen(et) < sizeof meta->etag) {
    snprintf(meta->etag, sizeof meta->etag, "%s", et);
  } else {
    if (hash_file(path, meta->etag)) {
      json_decref(j);
      return io_err(e, "read");
    }
    meta_write(bucket, key, st, meta->etag, fresh ? ct : NULL, false);
  }
  json_decref(j);
  return MS_OK;
}

/* ---- buckets ----------------------------------------------------------- */

int s3_create_bucket(const char *bucket, s3_error_t *e) {
  if (!bucket_ok(bucket))
    return err(e, 400, "InvalidBucketName",
               "The specified bucket is not valid.");
  /* the root is made on demand, like the database's folder */
  const char *r = s3_root();
  char *p = ms_strdup(r);
  for (char *s = p + 1; (s = strchr(s, '/')); s++) {
    *s = 0;
    mkdir(p, 0777);
    *s = '/';
  }
  mkdir(p, 0777);
  free(p);
  char *d = bucket_dir(bucket);
  int rc = mkdir(d, 0777);
  int saved = errno;
  free(d);
  if (rc < 0 && saved == EEXIST)
    return err(e, 409, "BucketAlreadyOwnedByYou", "Your previous request "
               "to create the named bucket succeeded and you already own "
               "it.");
  errno = saved;
  return rc < 0 ? io_err(e, "mkdir") : MS_OK;
}

int s3_delete_bucket(const char *bucket, s3_error_t *e) {
  if (!s3_bucket_exists(bucket)) return no_bucket(e);
  char *d = bucket_dir(bucket);
  int rc = rmdir(d);
  int saved = errno;
  free(d);
  if (rc < 0 && (saved == ENOTEMPTY || saved == EEXIST))
    return err(e, 409, "BucketNotEmpty", "The bucket you tried to delete "
               "is not empty");
  errno = saved;
  if (rc < 0) return io_err(e, "rmdir");
  char *m = ms_asprintf("%s/" META_DIR "/%s", s3_root(), bucket);
  rmdir(m);  /* sidecars of deleted keys are removed with them */
  free(m);
  return MS_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *s3_list_buckets(void) {
  json_t *out = json_array();
  DIR *d = opendir(s3_root());
  if (!d) return out;
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!bucket_ok(de->d_name) || !s3_bucket_exists(de->d_name)) continue;
    names = ms_realloc(names, (n + 1) * sizeof *names);
    names[n++] = ms_strdup(de->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    json_array_append_new(out, json_string(names[i]));
    free(names[i]);
  }
  free(names);
  return out;
}

/* ---- objects ------------------------------------------------------------ */

/* path of an existing object inside its bucket, and its stat. */
static char *existing(const char *bucket, const char *key, struct stat *st,
                      s3_error_t *e) {
  char *p = obj_path(bucket, key, e);
  if (!p) return NULL;
  if (stat(p, st) < 0 || !S_ISREG(st->st_mode) || !inside(bucket, p)) {
    free(p);
    no_key(e);
    return NULL;
  }
  return p;
}

int s3_head(const char *bucket, const char *key, s3_meta_t *meta,
            s3_error_t *e) {
  struct stat st;
  char *p = existing(bucket, key, &st, e);
  if (!p) return MS_ERR;
  s3_meta_t tmp;
  int rc = meta_of(bucket, key, p, &st, meta ? meta : &tmp, e);
  free(p);
  return rc;
}

int s3_open(const char *bucket, const char *key, FILE **fp, s3_meta_t *meta,
            s3_error_t *e) {
  struct stat st;
  *fp = NULL;
  char *p = existing(bucket, key, &st, e);
  if (!p) return MS_ERR;
  if (meta && meta_of(bucket, key, p, &st, meta, e)) {
    free(p);
    return MS_ERR;
  }
  *fp = fopen(p, "rb");
  free(p);
  return *fp ? MS_OK : io_err(e, "open");
}

int s3_get(const char *bucket, const char *key, char **data, size_t *len,
           s3_meta_t *meta, s3_error_t *e) {
  FILE *f;
  *data = NULL;
  *len = 0;
  if (s3_open(bucket, key, &f, meta, e)) return MS_ERR;
  buf_t b;
  buf_init(&b);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    buf_append(&b, chunk, n);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    buf_free(&b);
    return io_err(e, "read");
  }
  *len = b.len;
  *data = buf_steal(&b);
  return MS_OK;
}

/* The temp file for a put of bucket/key: its folders made and checked. */
static int put_begin(const char *bucket, const char *key, char **path,
                     char **tmp, int *fd, s3_error_t *e) {
  char *p = obj_path(bucket, key, e);
  if (!p) return MS_ERR;
  char *bd = bucket_dir(bucket);
  size_t base = strlen(bd);
  free(bd);
  if (make_parents(p, base)) {
    free(p);
    return err(e, 400, "InvalidArgument", "moonstep cannot store the key "
               "'%.100s' (a part of it is an object or a link)", key);
  }
  char *dir = ms_strdup(p);
  *strrchr(dir, '/') = 0;
  /* the folder (after symlinks) must be the bucket or inside it */
  char *rd = realpath(dir, NULL), *rb = NULL;
  bd = bucket_dir(bucket);
  rb = realpath(bd, NULL);
  free(bd);
  size_t n = rb ? strlen(rb) : 0;
  bool ok = rd && rb && !strncmp(rd, rb, n) && (rd[n] == '/' || !rd[n]);
  free(rd);
  free(rb);
  struct stat st;
  if (!ok || (lstat(p, &st) == 0 && (S_ISLNK(st.st_mode) ||
                                     S_ISDIR(st.st_mode)))) {
    free(dir);
    free(p);
    return err(e, 400, "InvalidArgument", "moonstep cannot store the key "
               "'%.100s' (it leads outside its bucket or onto a folder)",
               key);
  }
  *tmp = ms_asprintf("%s/" TMP_PREFIX "XXXXXX", dir);
  free(dir);
  *fd = mkstemp(*tmp);
  if (*fd < 0) {
    free(*tmp);
    free(p);
    return io_err(e, "create");
  }
  fchmod(*fd, 0644);
  *path = p;
  return MS_OK;
}

static int put_end(const char *bucket, const char *key, char *path,
                   char *tmp, const char *etag, const char *ctype,
                   s3_meta_t *meta, s3_error_t *e) {
  int rc = MS_OK;
  struct stat st;
  if (rename(tmp, path) < 0) {
    rc = io_err(e, "rename");
    unlink(tmp);
  } else if (stat(path, &st) == 0) {
    meta_write(bucket, key, &st, etag, ctype, true);
    if (meta) {
      memset(meta, 0, sizeof *meta);
      meta->size = st.st_size;
      meta->mtime = (double)st.st_mtim.tv_sec;
      snprintf(meta->etag, sizeof meta->etag, "%s", etag);
      snprintf(meta->content_type, sizeof meta->content_type, "%s",
               ctype ? ctype : DEFAULT_TYPE);
    }
  }
  free(tmp);
  free(path);
  return rc;
}

int s3_put(const char *bucket, const char *key, const void *data,
           size_t len, const char *content_type, s3_meta_t *meta,
           s3_error_t *e) {
  char *path, *tmp;
  int fd;
  if (put_begin(bucket, key, &path, &tmp, &fd, e)) return MS_ERR;
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    p += w;
    left -= (size_t)w;
  }
  if (close(fd) < 0 || left) {
    unlink(tmp);
    free(tmp);
    free(path);
    return io_err(e, "write");
  }
  md5_t m;
  md5_init(&m);
  md5_add(&m, data, len);
  char etag[40];
  md5_etag(&m, etag);
  return put_end(bucket, key, path, tmp, etag, content_type, meta, e);
}

int s3_put_stream(const char *bucket, const char *key, FILE *in,
                  const char *content_type, s3_meta_t *meta,
                  s3_error_t *e) {
  char *path, *tmp;
  int fd;
  if (put_begin(bucket, key, &path, &tmp, &fd, e)) return MS_ERR;
  FILE *out = fdopen(fd, "wb");
  md5_t m;
  md5_init(&m);
  char b[65536];
  size_t n;
  bool bad = !out;
  while (!bad && (n = fread(b, 1, sizeof b, in)) > 0) {
    md5_add(&m, b, n);
    if (fwrite(b, 1, n, out) != n) bad = true;
  }
  if (ferror(in)) bad = true;
  if (out ? fclose(out) != 0 : close(fd) != 0) bad = true;
  if (bad) {
    unlink(tmp);
    free(tmp);
    free(path);
    return io_err(e, "write");
  }
  char etag[40];
  md5_etag(&m, etag);
  return put_end(bucket, key, path, tmp, etag, content_type, meta, e);
}

int s3_delete(const char *bucket, const char *key, s3_error_t *e) {
  char *p = obj_path(bucket, key, e);
  if (!p) return MS_ERR;
  struct stat st;
  if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
    if ((!S_ISLNK(st.st_mode) || inside(bucket, p)) && unlink(p) < 0) {
      free(p);
      return io_err(e, "unlink");
    }
    char *bd = bucket_dir(bucket);
    prune_parents(p, strlen(bd));
    free(bd);
    char *mp = meta_path(bucket, key);
    if (unlink(mp) == 0) {
      char *mb = ms_asprintf("%s/" META_DIR "/%s", s3_root(), bucket);
      prune_parents(mp, strlen(mb));
      free(mb);
    }
    free(mp);
  }
  free(p);
  return MS_OK;
}

int s3_copy(const char *src_bucket, const char *src_key, const char *bucket,
            const char *key, s3_meta_t *meta, s3_error_t *e) {
  FILE *f;
  s3_meta_t sm;
  if (s3_open(src_bucket, src_key, &f, &sm, e)) return MS_ERR;
  int rc = s3_put_stream(bucket, key, f, sm.content_type, meta, e);
  fclose(f);
  return rc;
}

/* ---- listing ------------------------------------------------------------ */

typedef struct keys {
  char **v;
  size_t n, cap;
} keys_t;

/* Collect the keys under dir (rel is the key prefix of dir, "" or
 * ending in '/'). */
static void walk(const char *bucket, const char *dir, const char *rel,
                 keys_t *k, int depth) {
  if (depth > 64) return;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *nm = de->d_name;
    if (!strcmp(nm, ".") || !strcmp(nm, "..") ||
        !strncmp(nm, TMP_PREFIX, sizeof TMP_PREFIX - 1))
      continue;
    char *p = ms_asprintf("%s/%s", dir, nm);
    char *r = ms_asprintf("%s%s", rel, nm);
    struct stat st, lst;
    if (lstat(p, &lst) == 0 && stat(p, &st) == 0 &&
        (!S_ISLNK(lst.st_mode) || inside(bucket, p))) {
      if (S_ISDIR(st.st_mode) && !S_ISLNK(lst.st_mode)) {
        char *r2 = ms_asprintf("%s/", r);
        walk(bucket, p, r2, k, depth + 1);
        free(r2);
      } else if (S_ISREG(st.st_mode)) {
        if (k->n == k->cap) {
          k->cap = k->cap ? k->cap * 2 : 64;
          k->v = ms_realloc(k->v, k->cap * sizeof *k->v);
        }
        k->v[k->n++] = r;
        r = NULL;
      }
    }
    free(p);
    free(r);
  }
  closedir(d);
}

void s3_time_iso(double t, char *out, size_t cap) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *req_str(const json_t *req, const char *k) {
  return json_string_value(json_object_get(req, k));
}

json_t *s3_list(const char *bucket, const json_t *req, s3_error_t *e) {
  if (!bucket_ok(bucket)) {
    err(e, 400, "InvalidBucketName", "The specified bucket is not valid.");
    return NULL;
  }
  if (!s3_bucket_exists(bucket)) {
    no_bucket(e);
    return NULL;
  }
  const char *prefix = req_str(req, "Prefix");
  const char *delim = req_str(req, "Delimiter");
  const char *token = req_str(req, "ContinuationToken");
  const char *after = req_str(req, "StartAfter");
  json_t *mk = json_object_get(req, "MaxKeys");
  json_int_t max = S3_MAX_KEYS;
  double dv;
  if (mk && jsonx_number(mk, &dv)) max = (json_int_t)dv;
  else if (json_is_string(mk)) max = strtoll(json_string_value(mk), NULL, 10);
  if (max < 0) {
    err(e, 400, "InvalidArgument", "Provided max-keys not an integer or "
        "within integer range");
    return NULL;
  }
  if (max > S3_MAX_KEYS) max = S3_MAX_KEYS;
  if (!prefix) prefix = "";
  if (delim && !*delim) delim = NULL;
  char *from = NULL;  /* keys after this one */
  if (token) {
    size_t n;
    from = hash_base64_decode(token, strlen(token), &n);
    if (!from) {
      err(e, 400, "InvalidArgument", "The continuation token provided is "
          "incorrect");
      return NULL;
    }
  } else if (after) {
    from = ms_strdup(after);
  }

  /* walk only the folder the prefix names, when it names one */
  keys_t k = {0};
  char *bd = bucket_dir(bucket);
  const char *sl = strrchr(prefix, '/');
  char *rel = sl ? ms_strndup(prefix, (size_t)(sl - prefix) + 1)
                 : ms_strdup("");
  char *start = ms_asprintf("%s/%s", bd, rel);
  bool safe = *rel && !strstr(rel, "..") && rel[0] != '/' &&
              inside(bucket, start);  /* not through a link out */
  walk(bucket, safe ? start : bd, safe ? rel : "", &k, 0);
  free(start);
  free(rel);
  free(bd);
  if (k.n) qsort(k.v, k.n, sizeof *k.v, cmp_str);

  json_t *contents = json_array(), *common = json_array();
  size_t plen = strlen(prefix);
  json_int_t count = 0;
  bool truncated = false;
  const char *last = NULL;
  char *last_common = NULL;
  for (size_t i = 0; i < k.n; i++) {
    const char *key = k.v[i];
    if (strncmp(key, prefix, plen)) continue;
    if (from && strcmp(key, from) <= 0) continue;
    const char *d = delim ? strstr(key + plen, delim) : NULL;
    char *cp = d ? ms_strndup(key, (size_t)(d - key) + strlen(delim)) : NULL;
    if (cp && last_common && !strcmp(cp, last_common)) {
      free(cp);
      last = key;
      continue;
    }
    if (count >= max) {
      free(cp);
      truncated = true;
      break;
    }
    count++;
    last = key;
    if (cp) {
      json_array_append_new(common, json_pack("{ss}", "Prefix", cp));
      free(last_common);
      last_common = cp;
      continue;
    }
    struct stat st;
    char *p = ms_asprintf("%s/%s/%s", s3_root(), bucket, key);
    s3_meta_t m;
    if (stat(p, &st) == 0 && meta_of(bucket, key, p, &st, &m, NULL) == 0) {
      char t[40];
      s3_time_iso(m.mtime, t, sizeof t);
      json_array_append_new(contents, json_pack(
          "{sssssssIss}", "Key", key, "LastModified", t, "ETag", m.etag,
          "Size", (json_int_t)m.size, "StorageClass", "STANDARD"));
    }
    free(p);
  }
  free(last_common);

  json_t *out = json_pack("{sbsosssssIsI}", "IsTruncated", truncated,
                          "Contents", contents, "Name", bucket,
                          "Prefix", prefix, "MaxKeys", max,
                          "KeyCount", count);
  if (delim) {
    json_object_set_new(out, "Delimiter", json_string(delim));
    json_object_set_new(out, "CommonPrefixes", common);
  } else {
    json_decref(common);
  }
  if (token) json_object_set_new(out, "ContinuationToken",
                                 json_string(token));
  if (after) json_object_set_new(out, "StartAfter", json_string(after));
  if (truncated && last) {
    char *t = hash_base64_encode(last, strlen(last));
    json_object_set_new(out, "NextContinuationToken", json_string(t));
    free(t);
  }
  for (size_t i = 0; i < k.n; i++) free(k.v[i]);
  free(k.v);
  free(from);
  return out;
}

int s3_parse_uri(const char *uri, char **bucket, char **key) {
  *bucket = *key = NULL;
  if (!uri || strncmp(uri, "s3://", 5)) return MS_ERR;
  const char *b = uri + 5;
  const char *sl = strchr(b, '/');
  size_t bl = sl ? (size_t)(sl - b) : strlen(b);
  if (bl == 0) return MS_ERR;
  *bucket = ms_strndup(b, bl);
  *key = ms_strdup(sl ? sl + 1 : "");
  return MS_OK;
}
