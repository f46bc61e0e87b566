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
 */
#ifndef MS_RESULTWRITER_H
#define MS_RESULTWRITER_H

#include "jpath.h"

/* Write the results. writer: the ResultWriter object (borrowed, as in the
 * definition; its Parameters {Bucket, Prefix} evaluated in s);
 * machine_arn and label name the Map run; inputs[i] and results[i] are
 * iteration i's input and result (a tolerated failure's result is its
 * {Error, Cause} object, and is written to FAILED). Returns the Map's
 * result (new reference) or NULL with f set (States.ResultWriterFailed). */
json_t *resultwriter_write(const json_t *writer, const jscope_t *s,
                           const char *machine_arn, const char *label,
                           const json_t *inputs, const json_t *results,
                           fault_t *f);

#endif
