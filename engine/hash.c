/* hash.c - MD5 (RFC 1321), SHA-1, SHA-256, SHA-384 and SHA-512 (FIPS 180-4)
 * and base64 (RFC 4648), written from the specifications for the States.Hash
 * and States.Base64* intrinsics.
 *
 * Inputs are small (AWS caps them at 10,000 characters), so each digest pads
 * the whole message into one buffer and runs its block function over it; no
 * streaming interface. Digests are returned as lowercase hex.
 */
#include "hash.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* SHA-256: cube roots of the first 64 primes, square roots of the first 8
 * (FIPS 180-4 4.2.2, 5.3.3); generated, then checked against test vectors. */
static const uint32_t k256[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
static const uint32_t h256[8] = {
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
  0x1f83d9ab, 0x5be0cd19,
};
/* SHA-512: cube roots of the first 80 primes; SHA-512 and SHA-384 start from
 * square roots of primes 1-8 and 9-16 (FIPS 180-4 4.2.3, 5.3.4-5). */
static const uint64_t k512[80] = {
  0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL,
  0xe9b5dba58189dbbcULL, 0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
  0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL, 0xd807aa98a3030242ULL,
  0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
  0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL,
  0xc19bf174cf692694ULL, 0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
  0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL, 0x2de92c6f592b0275ULL,
  0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
  0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL,
  0xbf597fc7beef0ee4ULL, 0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
  0x06ca6351e003826fULL, 0x142929670a0e6e70ULL, 0x27b70a8546d22ffcULL,
  0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
  0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL,
  0x92722c851482353bULL, 0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
  0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL, 0xd192e819d6ef5218ULL,
  0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
  0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL,
  0x34b0bcb5e19b48a8ULL, 0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
  0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL, 0x748f82ee5defb2fcULL,
  0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
  0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL,
  0xc67178f2e372532bULL, 0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
  0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL, 0x06f067aa72176fbaULL,
  0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
  0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL,
  0x431d67c49c100d4cULL, 0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
  0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};
static const uint64_t h512[8] = {
  0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
  0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
  0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};
static const uint64_t h384[8] = {
  0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL,
  0x152fecd8f70e5939ULL, 0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL,
  0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL,
};

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static uint64_t ror64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static uint32_t get_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static uint32_t get_le32(const unsigned char *p) {
  return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 |
         (uint32_t)p[0];
}

static uint64_t get_be64(const unsigned char *p) {
  return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* Pad len bytes of data to a whole number of blocks: a 0x80 byte, zeros,
 * then the bit length in lenbytes bytes (big- or little-endian). */
static unsigned char *pad(const void *data, size_t len, size_t block,
                          size_t lenbytes, bool little, size_t *outlen) {
  size_t n = len + 1 + lenbytes;
  n = (n + block - 1) / block * block;
  unsigned char *m = ms_calloc(n, 1);
  memcpy(m, data, len);
  m[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (size_t i = 0; i < 8; i++) {
    unsigned char byte = (unsigned char)(bits >> (8 * i));
    if (little) m[n - lenbytes + i] = byte;
    else m[n - 1 - i] = byte;
  }
  *outlen = n;
  return m;
}

static char *hex(const unsigned char *d, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char *s = ms_malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = digits[d[i] >> 4];
    s[2 * i + 1] = digits[d[i] & 15];
  }
  s[2 * n] = '\0';
  return s;
}

/* ---- MD5 ------------------------------------------------------------- */

static const int md5_shift[16] = {7, 12, 17, 22, 5, 9, 14, 20,
                                  4, 11, 16, 23, 6, 10, 15, 21};

static void md5(const void *data, size_t len, unsigned char out[16]) {
  uint32_t t[64];
  /* RFC 1321 3.4: T[i] is the integer part of 2^32 * |sin(i)|. */
  for (int i = 0; i < 64; i++)
    t[i] = (uint32_t)(fabs(sin((double)(i + 1))) * 4294967296.0);
  uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  size_t n;
  unsigned char *m = pad(data, len, 64, 8, true, &n);
  for (size_t off = 0; off < n; off += 64) {
    uint32_t x[16];
    for (int i = 0; i < 16; i++) x[i] = get_le32(m + off + 4 * i);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
      uint32_t f;
      int g;
      switch (i / 16) {
      case 0: f = (b & c) | (~b & d); g = i; break;
      case 1: f = (d & b) | (~d & c); g = (5 * i + 1) % 16; break;
      case 2: f = b ^ c ^ d; g = (3 * i + 5) % 16; break;
      default: f = c ^ (b | ~d); g = (7 * i) % 16; break;
      }
      f += a + t[i] + x[g];
      a = d;
      d = c;
      c = b;
      b += rol32(f, md5_shift[(i / 16) * 4 + i % 4]);
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
  }
  free(m);
  for (int i = 0; i < 16; i++)
    out[i] = (unsigned char)(h[i / 4] >> (8 * (i % 4)));
}

/* ---- SHA-1 ----------------------------------------------------------- */

static void sha1(const void *data, size_t len, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                   0xc3d2e1f0};
  size_t n;
  unsigned char *m = pad(data, len, 64, 8, false, &n);
  for (size_t off = 0; off < n; off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++) w[i] = get_be32(m + off + 4 * i);
    for (int i = 16; i < 80; i++)
      w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
      else { f = b ^ c ^ d; k = 0xca62c1d6; }
      uint32_t tmp = rol32(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rol32(b, 30);
      b = a;
      a = tmp;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  }
  free(m);
  for (int i = 0; i < 20; i++)
    out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* ---- SHA-256 --------------------------------------------------------- */

static void sha256(const void *data, size_t len, unsigned char out[32]) {
  uint32_t h[8];
  memcpy(h, h256, sizeof h);
  size_t n;
  unsigned char *m = pad(data, len, 64, 8, false, &n);
  for (size_t off = 0; off < n; off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) w[i] = get_be32(m + off + 4 * i);
    for (int i = 16; i < 64; i++) {
      uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^
                    (w[i - 15] >> 3);
      uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^
                    (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t v[8];
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
      uint32_t s1 = ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25);
      uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      uint32_t t1 = v[7] + s1 + ch + k256[i] + w[i];
      uint32_t s0 = ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22);
      uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      uint32_t t2 = s0 + maj;
      memmove(v + 1, v, 7 * sizeof v[0]);
      v[4] += t1;
      v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) h[i] += v[i];
  }
  free(m);
  for (int i = 0; i < 32; i++)
    out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* ---- SHA-512 and SHA-384 --------------------------------------------- */

/* SHA-384 is SHA-512 from other initial values, cut to 48 bytes. */
static void sha512(const void *data, size_t len, const uint64_t init[8],
                   unsigned char *out, size_t outlen) {
  uint64_t h[8];
  memcpy(h, init, sizeof h);
  size_t n;
  /* 128-bit length field; the high 64 bits stay zero for our sizes. */
  unsigned char *m = pad(data, len, 128, 16, false, &n);
  for (size_t off = 0; off < n; off += 128) {
    uint64_t w[80];
    for (int i = 0; i < 16; i++) w[i] = get_be64(m + off + 8 * i);
    for (int i = 16; i < 80; i++) {
      uint64_t s0 = ror64(w[i - 15], 1) ^ ror64(w[i - 15], 8) ^
                    (w[i - 15] >> 7);
      uint64_t s1 = ror64(w[i - 2], 19) ^ ror64(w[i - 2], 61) ^
                    (w[i - 2] >> 6);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint64_t v[8];
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 80; i++) {
      uint64_t s1 = ror64(v[4], 14) ^ ror64(v[4], 18) ^ ror64(v[4], 41);
      uint64_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      uint64_t t1 = v[7] + s1 + ch + k512[i] + w[i];
      uint64_t s0 = ror64(v[0], 28) ^ ror64(v[0], 34) ^ ror64(v[0], 39);
      uint64_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      uint64_t t2 = s0 + maj;
      memmove(v + 1, v, 7 * sizeof v[0]);
      v[4] += t1;
      v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) h[i] += v[i];
  }
  free(m);
  for (size_t i = 0; i < outlen; i++)
    out[i] = (unsigned char)(h[i / 8] >> (56 - 8 * (i % 8)));
}

/* ---- dispatch -------------------------------------------------------- */

static const char *const algs[] = {"MD5", "SHA-1", "SHA-256", "SHA-384",
                                   "SHA-512"};

bool hash_known(const char *alg) {
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
    if (strcmp(alg, algs[i]) == 0) return true;
  return false;
}

char *hash_hex(const char *alg, const void *data, size_t len) {
  unsigned char d[64];
  size_t n;
  if (strcmp(alg, "MD5") == 0) { md5(data, len, d); n = 16; }
  else if (strcmp(alg, "SHA-1") == 0) { sha1(data, len, d); n = 20; }
  else if (strcmp(alg, "SHA-256") == 0) { sha256(data, len, d); n = 32; }
  else if (strcmp(alg, "SHA-384") == 0) {
    n = 48;
    sha512(data, len, h384, d, n);
  } else if (strcmp(alg, "SHA-512") == 0) {
    n = 64;
    sha512(data, len, h512, d, n);
  }
  else return NULL;
  return hex(d, n);
}

/* ---- base64 ---------------------------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *hash_base64_encode(const void *data, size_t len) {
  const unsigned char *p = data;
  char *s = ms_malloc((len + 2) / 3 * 4 + 1);
  size_t j = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < len) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < len) v |= p[i + 2];
    s[j++] = b64[v >> 18];
    s[j++] = b64[(v >> 12) & 63];
    s[j++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
    s[j++] = i + 2 < len ? b64[v & 63] : '=';
  }
  s[j] = '\0';
  return s;
}

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

char *hash_base64_decode(const char *text, size_t len, size_t *outlen) {
  const unsigned char *s = (const unsigned char *)text;
  size_t n = len;
  /* Up to two '=' at the end, and only where they complete a quantum. */
  if (n > 0 && s[n - 1] == '=') {
    n--;
    if (n > 0 && s[n - 1] == '=') n--;
    if (len % 4 != 0) return NULL;
  }
  if (n % 4 == 1) return NULL;
  char *out = ms_malloc(n / 4 * 3 + 3);
  size_t j = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val(s[i]);
    if (v < 0) { free(out); return NULL; }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (char)((acc >> bits) & 0xff);
    }
  }
  /* Leftover bits must be zero (canonical encoding). */
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) { free(out); return NULL; }
  out[j] = '\0';
  *outlen = j;
  return out;
}
