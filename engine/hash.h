/* hash.h - message digests and base64, written from the specifications
 * (RFC 1321 MD5, FIPS 180-4 SHA-1 / SHA-256 / SHA-384 / SHA-512, RFC 4648
 * base64) for States.Hash, States.Base64Encode and States.Base64Decode.
 *
 * No state, no JSON; bytes in, malloc'd text out.
 */
#ifndef MS_HASH_H
#define MS_HASH_H

#include <stdbool.h>
#include <stddef.h>

/* Digest of data under the algorithm named as States.Hash names it ("MD5",
 * "SHA-1", "SHA-256", "SHA-384", "SHA-512"; exact case). Returns malloc'd
 * lowercase hex, or NULL for an unknown algorithm. */
char *hash_hex(const char *alg, const void *data, size_t len);

/* True if alg is one of the names hash_hex accepts. */
bool hash_known(const char *alg);

/* Standard base64 (alphabet A-Z a-z 0-9 + /, '=' padding). Returns malloc'd
 * NUL-terminated text. */
char *hash_base64_encode(const void *data, size_t len);

/* Decode standard base64; the trailing '=' padding may be omitted. Returns
 * malloc'd bytes (NUL-terminated, *outlen excludes the NUL), or NULL when
 * the text is not valid base64. */
char *hash_base64_decode(const char *text, size_t len, size_t *outlen);

#endif
