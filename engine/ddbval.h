/* ddbval.h - DynamoDB's values: AttributeValue JSON checked, compared and
 * encoded for ordered keys, DynamoDB's exact decimal numbers (38 digits),
 * and the DocumentClient mapping between plain JSON and AttributeValues.
 *
 * An AttributeValue is a jansson object with one member naming its type:
 * {"S": "x"}, {"N": "1.50"}, {"B": "<base64>"}, {"BOOL": true},
 * {"NULL": true}, {"L": [AV...]}, {"M": {"name": AV, ...}},
 * {"SS": [...]}, {"NS": [...]}, {"BS": [...]}. An item is an object of
 * attribute name -> AV. Numbers travel as strings, as in DynamoDB.
 *
 * Errors are DynamoDB ValidationException messages in *err (malloc'ed;
 * the caller frees and wraps them).
 */
#ifndef MS_DDBVAL_H
#define MS_DDBVAL_H

#include <stdbool.h>

#include "base.h"
#include "jsonx.h"

/* The type tag of av ("S", "N", ..., "BS"), or NULL if av is not one. */
const char *ddbval_type(const json_t *av);

/* Check av (recursively) as DynamoDB checks a request's values: one type
 * member, numbers valid and within 38 digits, sets non-empty without
 * duplicates, ... 0 ok, -1 with *err. */
int ddbval_check(const json_t *av, char **err);

/* DynamoDB equality: same type and value (numbers by value, sets as sets,
 * maps and lists deeply). */
bool ddbval_equal(const json_t *a, const json_t *b);

/* Order of two values of the same scalar type (S by UTF-8 bytes, N by
 * value, B by bytes): <0, 0, >0. Other types: 0. */
int ddbval_compare(const json_t *a, const json_t *b);

/* Append an encoding of a key value (S, N or B) whose memcmp order is
 * DynamoDB's order for that type, for BLOB key columns. -1 with *err. */
int ddbval_key_bytes(const json_t *av, buf_t *out, char **err);

/* The DocumentClient mapping: plain JSON -> AttributeValue (integers and
 * reals -> N, strings -> S, booleans, null -> NULL, arrays -> L, objects
 * -> M) and back (N -> an integer when it is one and fits 64 bits, else a
 * real; sets -> arrays). New references; from_plain NULL + *err. */
json_t *ddbval_from_plain(const json_t *plain, char **err);
json_t *ddbval_to_plain(const json_t *av);

/* Exact decimals as DynamoDB keeps them: up to 38 significant digits,
 * magnitude 1E-130 to 9.99E+125. Results are new strings in canonical form
 * (no leading or trailing zeros, never an exponent, as DynamoDB returns
 * numbers), NULL + *err (DynamoDB's message) when invalid or out of
 * range. */
char *ddbnum_normalize(const char *text, char **err);
char *ddbnum_add(const char *a, const char *b, char **err);
char *ddbnum_sub(const char *a, const char *b, char **err);
/* Compare two valid numbers by value: <0, 0, >0. */
int ddbnum_cmp(const char *a, const char *b);

#endif
