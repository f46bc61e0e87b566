/* jsonloc.h - map a JSON pointer to the line:column where its value starts
 * in the JSON source text, so validation can point at the line and field.
 *
 * A small standalone scanner over the text; no allocation per call beyond
 * what it returns.
 */
#ifndef MS_JSONLOC_H
#define MS_JSONLOC_H

#include "base.h"

/* Find the value at ptr ("" is the whole document). If the exact pointer is
 * missing, the deepest existing ancestor is used. Returns true when found
 * (line and col are 1-based); false if text is not JSON. For a pointer to an
 * object member, the position is that of the member's key. */
bool jsonloc_find(const char *text, size_t len, const char *ptr, int *line,
                  int *col);

/* Fill line/col of every diagnostic in d from text. */
void jsonloc_fill(const char *text, size_t len, diags_t *d);

#endif
