/* retry.h - Retry and Catch decisions: which retrier or catcher matches an
 * error name under AWS's rules for the predefined States.* errors, and how
 * long a retry waits (IntervalSeconds * BackoffRate^n, capped by
 * MaxDelaySeconds, with FULL jitter).
 *
 * The interpreter (exec.c) owns the attempt counters and the timers.
 */
#ifndef MS_RETRY_H
#define MS_RETRY_H

#include "machine.h"

/* True when an ErrorEquals list matches error, following AWS's recorded
 * behaviour: States.Runtime matches nothing (not even its own name: it
 * always fails the execution); "States.ALL" matches every other error,
 * including States.DataLimitExceeded raised for a task's result (the
 * terminal DataLimitExceeded for a state's own input/output is exec.c's:
 * it must not consult Catch); "States.TaskFailed" matches every error
 * except States.Timeout; otherwise names compare exactly. */
bool retry_errors_match(char *const *errors, size_t n, const char *error);

/* Index of the first retrier matching error, or -1. */
int retry_find(const retrier_t *r, size_t n, const char *error);
/* Index of the first catcher matching error, or -1. */
int retry_find_catch(const catcher_t *c, size_t n, const char *error);

/* Whether an error can be retried at all (States.Runtime cannot). */
bool retry_allowed(const char *error);

/* Delay in seconds before retry number attempt (0 for the first retry):
 * IntervalSeconds * BackoffRate^attempt, at most MS_WAIT_MAX_SECONDS, then
 * capped by MaxDelaySeconds when > 0; with FULL jitter a uniform value in
 * [0, delay). rng is a xorshift64 state (advanced; 0 is seeded; NULL means
 * no jitter). */
double retry_delay(const retrier_t *r, int attempt, uint64_t *rng);

#endif
