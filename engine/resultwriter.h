/* resultwriter.h - the Distributed Map's ResultWriter: the iterations'
 * results exported to the local buckets (s3.h) as AWS exports them, under
 * PREFIX/MAPRUN-UUID/: SUCCEEDED_0.json, FAILED_0.json, PENDING_0.json
 * (each an array of child-execution records {ExecutionArn, Input,
 * InputDetails, Name, Output | Error and Cause, OutputDetails,
 * RedriveCount, RedriveStatus, RedriveStatusReason, StartDate,
 * StateMachineArn, Status, StopDate}, written only when not empty) and
 * manifest.json {DestinationBucket, MapRunArn, ResultFiles {FAILED,
 * PENDING, SUCCEEDED: [{Key, Size}]}}. The Map's result is then
 * {MapRunArn, ResultWriterDetails {Bucket, Key (the manifest's)}}.
 *
 * Records are written as iterations end (resultwriter_add appends to a
 * temporary file per status), so a Map need not hold every iteration's
 * input and output until its end; resultwriter_finish puts the files and
 * the manifest into the bucket.
 */
#ifndef MS_RESULTWRITER_H
#define MS_RESULTWRITER_H

#include "jpath.h"

/* The ResultWriter's Parameters (writer borrowed, as in the definition)
 * evaluated in s: a new object ({} when it has none), or NULL with f
 * set. A JSONata state evaluates Arguments itself (exec_kids.c). */
json_t *resultwriter_params(const json_t *writer, const jscope_t *s,
                            fault_t *f);

/* A Map run's export. writer: the ResultWriter object (borrowed, kept
 * while open); params: its evaluated Parameters or Arguments {Bucket,
 * Prefix} (borrowed); machine_arn and label name the Map run. NULL with
 * f set (an unsupported Resource). */
typedef struct rwriter rwriter_t;
rwriter_t *resultwriter_open(const json_t *writer, const json_t *params,
                             const char *machine_arn, const char *label,
                             fault_t *f);
/* One iteration's record: its input and result (a tolerated failure's
 * result is its {Error, Cause} object, and goes to FAILED). MS_OK, or
 * MS_ERR with f set (the temporary file could not be written). */
int resultwriter_add(rwriter_t *w, const json_t *input,
                     const json_t *result, fault_t *f);
/* Put the result files and the manifest into the bucket and free w.
 * Returns the Map's result (new reference) or NULL with f set
 * (States.ResultWriterFailed: no such bucket, ...). */
json_t *resultwriter_finish(rwriter_t *w, fault_t *f);
/* Abandon an export (its temporary files go). NULL is ignored. */
void resultwriter_close(rwriter_t *w);

/* All at once: inputs[i] and results[i] are iteration i's. */
json_t *resultwriter_write(const json_t *writer, const json_t *params,
                           const char *machine_arn, const char *label,
                           const json_t *inputs, const json_t *results,
                           fault_t *f);

/* Validation (machine.c) of the ResultWriter object v at ptr: Parameters
 * only in JSONPath states, Arguments only in JSONata ones. Errors to d. */
void resultwriter_check(const json_t *v, const char *ptr, bool jsonata,
                        diags_t *d);

#endif
