/* itemreader.h - the Distributed Map's ItemReader: the items a Map run
 * iterates over, read from the local buckets (s3.h) instead of the state
 * input.
 *
 *   Resource arn:aws:states:::s3:getObject, Parameters {Bucket, Key},
 *     ReaderConfig.InputType CSV (CSVHeaderLocation FIRST_ROW | GIVEN with
 *     CSVHeaders; CSVDelimiter COMMA | PIPE | SEMICOLON | SPACE | TAB), JSON
 *     (the object is an array) or JSONL (one value a line);
 *   Resource arn:aws:states:::s3:listObjectsV2, Parameters {Bucket,
 *     Prefix}: one item per object;
 *   ReaderConfig.MaxItems / MaxItemsPath: at most that many items.
 *   In a JSONata state Arguments replaces Parameters, and Arguments and
 *   ReaderConfig take "{% %}" expressions (exec_kids.c evaluates them).
 *
 * Failures are States.ItemReaderFailed (a missing object or bucket, bad
 * CSV, a JSON object that is not an array, ...), as AWS raises them.
 */
#ifndef MS_ITEMREADER_H
#define MS_ITEMREADER_H

#include "jpath.h"

/* The items for the ItemReader object reader (borrowed, as in the
 * definition), one at a time: itemreader_open evaluates its Parameters
 * and MaxItemsPath in s (the Map state's effective input and context) and
 * opens the object (NULL with f set); itemreader_next sets *item to the
 * next item (a new reference) and returns 1, returns 0 at the end, or -1
 * with f set (bad CSV or JSON Lines further on); itemreader_close ends
 * it. Only CSV and JSON Lines are read as they go; a JSON array and a
 * listing are read whole on open. */
typedef struct itemsrc itemsrc_t;
itemsrc_t *itemreader_open(const json_t *reader, const jscope_t *s,
                           fault_t *f);
/* itemreader_open for a JSONata state: args is the evaluated Arguments
 * (borrowed; NULL: none) and rc the evaluated ReaderConfig (borrowed; its
 * MaxItems an integer, else States.QueryEvaluationError). */
itemsrc_t *itemreader_open_with(const json_t *reader, const json_t *args,
                                const json_t *rc, fault_t *f);
int itemreader_next(itemsrc_t *r, json_t **item, fault_t *f);
void itemreader_close(itemsrc_t *r);

/* All the items at once (a new array). NULL with f set. */
json_t *itemreader_read(const json_t *reader, const jscope_t *s, fault_t *f);

/* Validation (machine.c) of the ItemReader object v at ptr: Parameters
 * only in JSONPath states, Arguments and no MaxItemsPath in JSONata ones.
 * Errors go to d. */
void itemreader_check(const json_t *v, const char *ptr, bool jsonata,
                      diags_t *d);

#endif
