/* s3.h - local S3 buckets: s3://BUCKET/KEY is the file KEY under the
 * folder BUCKET of the buckets folder (S3_BUCKETS_DEFAULT, $MOONSTEP_BUCKETS
 * or s3_set_root). Keys never leave their bucket: empty, absolute, "." and
 * ".." segments, empty segments and NULs are refused, and a file reached
 * through a symlink must still lie inside the bucket.
 *
 * Puts are atomic (a temp file ".moonstep-tmp-*" in the key's folder, then
 * rename), so a reader or `moonstep watch` never sees half an object.
 * Object metadata as S3 gives it: ETag (the MD5 of the bytes, hex, in
 * double quotes), size, LastModified (the file's mtime), ContentType. They
 * are cached in a sidecar under BUCKETS/.meta/BUCKET/KEY (valid while size
 * and mtime match; files dropped in by other tools get theirs computed at
 * first use). Bucket folders are named as S3 names buckets, so ".meta"
 * can never be one.
 *
 * Errors carry S3's code ("NoSuchKey", "NoSuchBucket", ...), its message
 * and HTTP status. Callers shape them (moonstep.s3, svc_s3.c, ItemReader).
 */
#ifndef MS_S3_H
#define MS_S3_H

#include <stdint.h>
#include <stdio.h>
#include "jsonx.h"

#define S3_BUCKETS_DEFAULT ".moonstep/buckets"
#define S3_MAX_KEYS 1000          /* ListObjectsV2's page size limit */

typedef struct s3_error {
  char code[48];       /* S3's error code: "NoSuchKey", "NoSuchBucket",
                          "InvalidBucketName", "KeyTooLongError",
                          "InvalidArgument", "BucketAlreadyOwnedByYou",
                          "BucketNotEmpty", "InternalError" */
  char message[256];   /* S3's message, e.g. "The specified key does not
                          exist." */
  int status;          /* HTTP status: 404, 400, 409, 500 */
} s3_error_t;

typedef struct s3_meta {
  int64_t size;
  char etag[40];           /* "\"<32 hex>\"" */
  double mtime;            /* seconds since the epoch */
  char content_type[128];  /* "binary/octet-stream" when none was given */
} s3_meta_t;

/* The buckets folder: dir, or NULL for $MOONSTEP_BUCKETS, else
 * S3_BUCKETS_DEFAULT (copied). */
void s3_set_root(const char *dir);
const char *s3_root(void);

/* Split "s3://BUCKET[/KEY]": *bucket and *key malloc'd (*key "" when
 * absent). MS_ERR when uri is not of that form. */
int s3_parse_uri(const char *uri, char **bucket, char **key);

/* Bucket operations. */
bool s3_bucket_exists(const char *bucket);
int s3_create_bucket(const char *bucket, s3_error_t *e);
int s3_delete_bucket(const char *bucket, s3_error_t *e);
/* The bucket names, sorted (new reference, array of strings). */
json_t *s3_list_buckets(void);

/* Objects. Each returns MS_OK or MS_ERR with e set; meta may be NULL. */
int s3_head(const char *bucket, const char *key, s3_meta_t *meta,
            s3_error_t *e);
/* The whole object, malloc'd, NUL-terminated (*len excludes the NUL). */
int s3_get(const char *bucket, const char *key, char **data, size_t *len,
           s3_meta_t *meta, s3_error_t *e);
/* The object open for reading (streamed; the caller fcloses *fp). */
int s3_open(const char *bucket, const char *key, FILE **fp,
            s3_meta_t *meta, s3_error_t *e);
/* Atomic put of data[0..len); content_type NULL: binary/octet-stream. */
int s3_put(const char *bucket, const char *key, const void *data,
           size_t len, const char *content_type, s3_meta_t *meta,
           s3_error_t *e);
/* Atomic put of what fp holds from its position to its end. */
int s3_put_stream(const char *bucket, const char *key, FILE *fp,
                  const char *content_type, s3_meta_t *meta, s3_error_t *e);
/* Removing a missing key succeeds, as in S3. */
int s3_delete(const char *bucket, const char *key, s3_error_t *e);
int s3_copy(const char *src_bucket, const char *src_key,
            const char *bucket, const char *key, s3_meta_t *meta,
            s3_error_t *e);

/* ListObjectsV2. req holds Prefix, Delimiter, MaxKeys (default and at
 * most 1000), ContinuationToken, StartAfter (all optional). Returns S3's
 * response as the AWS SDK shapes it (new reference): Name, Prefix,
 * MaxKeys, KeyCount, IsTruncated, Contents [{Key, LastModified, ETag,
 * Size, StorageClass}], CommonPrefixes [{Prefix}] with a Delimiter,
 * ContinuationToken / NextContinuationToken / StartAfter when given or
 * needed. LastModified is an ISO 8601 string. NULL with e set. */
json_t *s3_list(const char *bucket, const json_t *req, s3_error_t *e);

/* "2026-11-25T15:04:05Z" into out (>= 32 bytes): whole seconds, as S3
 * keeps them and as the SDK (Java Instant) prints them (a guess for what
 * Step Functions shows). */
void s3_time_iso(double t, char *out, size_t cap);

#endif
