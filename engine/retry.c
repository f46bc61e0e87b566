/* retry.c - Retry and Catch decisions: which retrier or catcher matches an
 * error name, whether an error may be retried, and how long a retry waits.
 *
 * Matching follows what AWS does (checked against recorded executions):
 *  - States.Runtime is never matched, not even by an explicit
 *    "States.Runtime" (the execution fails; test_catch_states_runtime);
 *  - "States.ALL" matches every other error, States.DataLimitExceeded
 *    from a task result included (recorded: a Lambda result over 256 KiB is
 *    caught by States.ALL). AWS documents DataLimitExceeded as terminal when
 *    a state's own input/output is over the quota: exec.c raises that one
 *    without consulting Catch;
 *  - "States.TaskFailed" matches every error except States.Timeout;
 *  - any other name matches exactly (case-sensitive).
 * The attempt counters and timers belong to the interpreter (exec.c).
 */
#include <math.h>
#include <string.h>

#include "retry.h"

static bool is(const char *a, const char *b) { return strcmp(a, b) == 0; }

bool retry_errors_match(char *const *errors, size_t n, const char *error) {
  if (!error || is(error, "States.Runtime")) return false;
  for (size_t i = 0; i < n; i++) {
    const char *e = errors[i];
    if (is(e, error) || is(e, "States.ALL")) return true;
    if (is(e, "States.TaskFailed") && !is(error, "States.Timeout"))
      return true;
  }
  return false;
}

int retry_find(const retrier_t *r, size_t n, const char *error) {
  for (size_t i = 0; i < n; i++)
    if (retry_errors_match(r[i].errors, r[i].nerrors, error)) return (int)i;
  return -1;
}

int retry_find_catch(const catcher_t *c, size_t n, const char *error) {
  for (size_t i = 0; i < n; i++)
    if (retry_errors_match(c[i].errors, c[i].nerrors, error)) return (int)i;
  return -1;
}

bool retry_allowed(const char *error) {
  return error && !is(error, "States.Runtime");
}

/* xorshift64 (Marsaglia); a zero state would stay zero, so it is seeded. */
static uint64_t next(uint64_t *s) {
  uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

double retry_delay(const retrier_t *r, int attempt, uint64_t *rng) {
  double d = r->interval * pow(r->backoff, attempt < 0 ? 0 : attempt);

  if (!isfinite(d) || d > (double)MS_WAIT_MAX_SECONDS)
    d = (double)MS_WAIT_MAX_SECONDS;
  if (d < 0) d = 0;
  if (r->max_delay > 0 && d > r->max_delay) d = r->max_delay;
  if (r->jitter_full && rng)
    d *= (double)(next(rng) >> 11) * 0x1.0p-53;  /* uniform in [0, 1) */
  return d;
}
