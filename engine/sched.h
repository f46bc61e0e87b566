/* sched.h - the cooperative scheduler's clock and queues: a FIFO run queue
 * of ready items and a min-heap of sleeping items ordered by wake time, over
 * a real or a virtual clock.
 *
 * An item is embedded in whatever is scheduled (exec.c embeds one in each
 * frame) and carries only its links; the scheduler never allocates per
 * item. With the virtual clock, time stands still while anything is ready
 * and jumps to the next wake time when nothing is, so long Waits and retry
 * backoffs finish at once while timestamps move as if they had passed.
 */
#ifndef MS_SCHED_H
#define MS_SCHED_H

#include "base.h"

typedef struct sched_item {
  int where;                   /* SCHED_NONE, SCHED_READY or SCHED_SLEEP */
  struct sched_item *prev, *next;  /* run queue links */
  size_t heap_at;              /* index in the heap while sleeping */
  double wake;                 /* epoch seconds, while sleeping */
} sched_item_t;

enum { SCHED_NONE, SCHED_READY, SCHED_SLEEP };

typedef struct sched {
  bool virtual_clock;
  double vnow;                 /* the virtual clock's time */
  sched_item_t *head, *tail;   /* run queue */
  sched_item_t **heap;         /* sleeping items, earliest first */
  size_t nheap, heap_cap;
  /* While nothing is ready on the real clock, something else may have
   * to be waited for (the network): idle(idle_ud, seconds) waits at most
   * that long and returns true, or returns false to let sched_wait sleep.
   * NULL: sched_wait sleeps. */
  bool (*idle)(void *ud, double seconds);
  void *idle_ud;
} sched_t;

/* Epoch seconds on the wall clock. */
double sched_wall_now(void);

void sched_init(sched_t *s, bool virtual_clock);
void sched_free(sched_t *s);
/* Now, on the scheduler's clock. */
double sched_now(const sched_t *s);

/* Queue an item at the tail of the run queue (from anywhere it was). */
void sched_ready(sched_t *s, sched_item_t *it);
/* Put an item to sleep until when (epoch seconds). */
void sched_sleep(sched_t *s, sched_item_t *it, double when);
/* Take an item out of whichever list holds it (no-op if none). */
void sched_remove(sched_t *s, sched_item_t *it);
/* The next ready item, removed from the queue; NULL if none. */
sched_item_t *sched_pop(sched_t *s);

/* The earliest wake time, or INFINITY when nothing sleeps. */
double sched_next_wake(const sched_t *s);
/* Move sleeping items due by now to the run queue. */
void sched_wake_due(sched_t *s);
/* Nothing is ready: let time pass until `until` (sleep, or the idle hook,
 * on the real clock; jump on the virtual one), then wake what is due. The
 * idle hook may return early: whoever it woke is then ready. */
void sched_wait(sched_t *s, double until);

#endif
