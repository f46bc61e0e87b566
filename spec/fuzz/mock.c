/* mock.c - libFuzzer target: a mock configuration file (AWS Step
 * Functions Local's MockConfigFile.json) through ms_mocks_load, once for
 * each state machine and test case it names (and once for names it does
 * not have), then answering a few invocations of every mocked state.
 */
#include "fuzz.h"

static void answer(ms_mocks_t *k, json_t *states) {
  const char *name;
  json_t *x;
  if (!json_is_object(states)) return;
  json_object_foreach(states, name, x) {
    for (int n = 0; n < 3; n++) {
      json_t *in = json_object(), *r = NULL;
      fault_t f = FAULT_INIT;
      ms_mocks_answer(k, name, in, &r, &f);
      json_decref(r);
      fault_clear(&f);
      json_decref(in);
    }
  }
}

static void load(const uint8_t *data, size_t size, const char *machine,
                 const char *test, json_t *states) {
  ms_mocks_t *k = ms_mocks_new();
  char *err = NULL;
  if (ms_mocks_load(k, (const char *)data, size, machine, test, &err))
    answer(k, states);
  else
    free(err);
  ms_mocks_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FZ_MAX) return 0;
  load(data, size, "M", "T", NULL);
  json_t *cfg = jsonx_parse((const char *)data, size, NULL);
  json_t *machines = json_object_get(cfg, "StateMachines");
  const char *mname, *tname;
  json_t *mv, *tv;
  if (json_is_object(machines)) {
    json_object_foreach(machines, mname, mv) {
      json_t *tests = json_object_get(mv, "TestCases");
      if (!json_is_object(tests)) continue;
      json_object_foreach(tests, tname, tv)
        load(data, size, mname, tname, tv);
    }
  }
  json_decref(cfg);
  return 0;
}
