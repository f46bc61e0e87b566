/* history.c - the AWS-shaped event list of one execution (see history.h).
 */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include "history.h"

void history_init(history_t *h, bool keep) {
  h->events = keep ? json_array() : NULL;
  h->count = 0;
  h->sink = NULL;
  h->sink_ud = NULL;
  h->stream = false;
  h->when_ms = -1;
}

void history_free(history_t *h) {
  json_decref(h->events);
  h->events = NULL;
}

void history_time(double ts, char out[32]) {
  time_t secs = (time_t)floor(ts);
  int ms = (int)((ts - (double)secs) * 1000.0);
  if (ms > 999) ms = 999;
  if (ms < 0) ms = 0;
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", ms);
}

int64_t history_add(history_t *h, const char *type, int64_t prev, double ts,
                    const char *details_key, json_t *details) {
  int64_t id = ++h->count;
  if (!h->events) {
    json_decref(details);
    return id;
  }
  int64_t ms = (int64_t)floor(ts * 1000.0);
  if (ms != h->when_ms) {
    history_time(ts, h->when);
    h->when_ms = ms;
  }
  json_t *ev = json_object();
  json_object_set_new(ev, "timestamp", json_string(h->when));
  json_object_set_new(ev, "type", json_string(type));
  json_object_set_new(ev, "id", json_integer(id));
  json_object_set_new(ev, "previousEventId", json_integer(prev));
  if (details_key && details)
    json_object_set_new(ev, details_key, details);
  else
    json_decref(details);
  if (h->sink) h->sink(h->sink_ud, ev);
  if (h->stream) json_decref(ev);
  else json_array_append_new(h->events, ev);
  return id;
}
