/* mock.h - mocked Task states for workflow tests: AWS Step Functions
 * Local's mock configuration file (StateMachines -> TestCases -> state ->
 * MockedResponses, with "0" / "1-2" invocation ranges of Return / Throw),
 * fixed responses and responses computed by a callback (the Lua module's
 * `mocks` option). A mock_t answers through mock_answer, an ms_mock_fn
 * (moonstep.h), before a Task runs its Resource.
 *
 * Counting follows Step Functions Local: one counter per state per
 * execution, advanced on every invocation of that state (retries and Map
 * iterations included). A mock_t holds the counters of one execution.
 */
#ifndef MS_MOCK_H
#define MS_MOCK_H

#include "jsonx.h"
#include "machine.h"

typedef struct mock mock_t;

/* A state mocked by code: n is the 0-based invocation count of the state.
 * Returns the result (new reference) or NULL with f set. */
typedef json_t *(*mock_call_fn)(void *ud, const char *state, json_t *input,
                                int n, fault_t *f);

mock_t *mock_new(void);
void mock_free(mock_t *k);

/* Take the test case test_case of state machine machine from a mock
 * configuration (borrowed). Only the parts the test case uses are checked
 * (Step Functions Local resolves a response when its state runs). false
 * with *err (malloc'd) when the file is malformed or the names are not in
 * it. A state set again later replaces what was set before. */
bool mock_load(mock_t *k, json_t *config, const char *machine,
               const char *test_case, char **err);

/* Answer every invocation of state with one mocked response object
 * ({"Return": value} or {"Throw": {"Error", "Cause"}}, borrowed). false
 * with *err when it has another shape. */
bool mock_set_response(mock_t *k, const char *state, json_t *response,
                       char **err);

/* Answer every invocation of state by calling fn(ud, ...). */
void mock_set_call(mock_t *k, const char *state, mock_call_fn fn, void *ud);

/* Check that every mocked state is a Task state of m (nested branches and
 * Map processors included). false with *err naming the first that is
 * not. */
bool mock_check(const mock_t *k, const machine_t *m, char **err);

/* An ms_mock_fn over the mock_t ud: false for a state that is not mocked;
 * else true with *result or f. An invocation past the responses given
 * fails with States.Runtime (Step Functions Local fails the execution). */
bool mock_answer(void *ud, const char *state, json_t *input,
                 json_t **result, fault_t *f);

#endif
