/* history.h - an execution's history as AWS writes it: events with AWS's
 * types, ids, previousEventId, timestamps and "...EventDetails" objects.
 *
 * EXPRESS executions only count events (ids still number as AWS numbers
 * them, so causes that cite "the event id #N" agree); STANDARD executions
 * keep every event. exec.c decides what to emit; this file owns the shape.
 */
#ifndef MS_HISTORY_H
#define MS_HISTORY_H

#include "jsonx.h"

typedef struct history {
  json_t *events;   /* array of events; NULL when events are not kept */
  int64_t count;    /* events emitted so far (the last id) */
  void (*sink)(void *ud, const json_t *event);  /* sees each kept event */
  void *sink_ud;
  bool stream;      /* events go to sink only; events stays empty */
  int64_t when_ms;  /* the millisecond `when` spells (-1: none yet) */
  char when[32];    /* its timestamp text: events in one millisecond
                     * share it, as formatting a time is costly */
} history_t;

void history_init(history_t *h, bool keep);
void history_free(history_t *h);
static inline bool history_keeps(const history_t *h) { return h->events; }

/* Append an event and return its id. details_key names the details member
 * (e.g. "stateEnteredEventDetails"; NULL for none); details is stolen (may
 * be NULL). ts is epoch seconds. */
int64_t history_add(history_t *h, const char *type, int64_t prev, double ts,
                    const char *details_key, json_t *details);

/* Format epoch seconds as 2024-06-30T16:12:59.123Z into out[32]. */
void history_time(double ts, char out[32]);

#endif
