/* cli_jsonata.c - `moonstep eval --jsonata EXPR [--input JSON|@FILE]
 * [--bindings JSON|@FILE] [--describe] [--timeout MS] [--max-depth N]
 * [--reference]`: evaluate a JSONata expression (jsonata.h) in Step
 * Functions' dialect, as workflows do (--reference: plain JSONata 2.x,
 * with $eval and without AWS's functions), and print the result; with
 * --describe print one object,
 * {"result": ...}, {"undefined": true} or {"error": {"code", "message",
 * "position"}}, and exit 0 whatever the outcome. cli.c's eval routes here
 * when it sees --jsonata.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "jsonata.h"  /* for eval --jsonata: the engine's JSONata API */

int cli_eval_jsonata(int argc, char **argv) {
  const char *expr = NULL;
  json_t *input = NULL, *bindings = NULL;
  bool describe = false;
  jsonata_limits_t lim = {0, 0, JSONATA_STEP_FUNCTIONS};
  int rc = MS_EXIT_OK;
  for (int i = 0; i < argc && rc == MS_EXIT_OK; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    json_t **slot = !strcmp(a, "--input") ? &input
                    : !strcmp(a, "--bindings") ? &bindings : NULL;
    if (slot && more) {
      json_decref(*slot);
      *slot = cli_json_arg(a, argv[++i]);
      if (!*slot) rc = MS_EXIT_USAGE;
    } else if (slot) {
      rc = cli_usage("eval: option '%s' needs a value", a);
    } else if ((!strcmp(a, "--timeout") || !strcmp(a, "--max-depth")) &&
               more) {
      const char *v = argv[++i];
      char *end;
      errno = 0;
      long n = strtol(v, &end, 10);
      if (errno || end == v || *end || n <= 0 || n > INT_MAX) {
        rc = cli_usage("eval: '%s' is not a positive whole number", v);
      } else if (a[2] == 't') {
        lim.timeout_ms = n;
      } else {
        lim.max_depth = (int)n;
      }
    } else if (!strcmp(a, "--describe")) {
      describe = true;
    } else if (!strcmp(a, "--reference")) {
      lim.flags &= ~JSONATA_STEP_FUNCTIONS;
    } else if (!strcmp(a, "--jsonata") && more && !expr) {
      expr = argv[++i];
    } else if (!strcmp(a, "--jsonata")) {
      rc = cli_usage("eval: option '%s' needs an expression", a);
    } else {
      rc = cli_usage("eval: unexpected argument '%s'", a);
    }
  }
  if (rc == MS_EXIT_OK && bindings && !json_is_object(bindings))
    rc = cli_usage("eval: %s", "--bindings must be a JSON object");
  if (rc == MS_EXIT_OK) {
    jsonata_err_t err;
    json_t *r = NULL;
    jsonata_t *c = jsonata_compile(expr, &err);
    int st = c ? jsonata_eval(c, input, bindings, &lim, &r, &err)
               : JSONATA_ERROR;
    jsonata_free(c);
    json_t *out = NULL;
    if (st == JSONATA_ERROR) {
      if (describe) {
        out = json_pack("{s:{s:s,s:s,s:i}}", "error", "code", err.code,
                        "message", err.message ? err.message : err.code,
                        "position", err.position);
      } else {
        fprintf(stderr, "%s: %s: %s\n", cli_progname, err.code,
                err.message ? err.message : "");
        rc = MS_EXIT_FAILED;
      }
      jsonata_err_clear(&err);
    } else if (st == JSONATA_UNDEFINED) {
      if (describe) out = json_pack("{s:b}", "undefined", 1);
    } else {
      out = describe ? json_pack("{s:o}", "result", r) : r;
      r = NULL;
    }
    if (out) cli_print_json(out);
    json_decref(out);
    json_decref(r);
  }
  json_decref(input);
  json_decref(bindings);
  return rc;
}
