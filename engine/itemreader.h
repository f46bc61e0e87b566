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
 *
 * Failures are States.ItemReaderFailed (a missing object or bucket, bad
 * CSV, a JSON object that is not an array, ...), as AWS raises them.
 */
#ifndef MS_ITEMREADER_H
#define MS_ITEMREADER_H

#include "jpath.h"

/* The items (a new array) for the ItemReader object reader (borrowed, as
 * in the definition); its Parameters and MaxItemsPath are evaluated in s
 * (the Map state's effective input and context). NULL with f set. */
json_t *itemreader_read(const json_t *reader, const jscope_t *s, fault_t *f);

#endif
