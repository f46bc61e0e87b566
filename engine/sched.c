/* sched.c - run queue, timer heap and clock of the cooperative scheduler
 * (see sched.h). Frames, states and executions are exec.c's business.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include "sched.h"

double sched_wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sched_init(sched_t *s, bool virtual_clock) {
  *s = (sched_t){0};
  s->virtual_clock = virtual_clock;
  s->vnow = sched_wall_now();
}

void sched_free(sched_t *s) {
  free(s->heap);
  s->heap = NULL;
  s->nheap = s->heap_cap = 0;
}

double sched_now(const sched_t *s) {
  return s->virtual_clock ? s->vnow : sched_wall_now();
}

/* ---- timer heap --------------------------------------------------------- */

static void heap_set(sched_t *s, size_t i, sched_item_t *it) {
  s->heap[i] = it;
  it->heap_at = i;
}

static void heap_up(sched_t *s, size_t i) {
  sched_item_t *it = s->heap[i];
  while (i > 0 && it->wake < s->heap[(i - 1) / 2]->wake) {
    heap_set(s, i, s->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  heap_set(s, i, it);
}

static void heap_down(sched_t *s, size_t i) {
  sched_item_t *it = s->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->nheap) break;
    if (c + 1 < s->nheap && s->heap[c + 1]->wake < s->heap[c]->wake) c++;
    if (!(s->heap[c]->wake < it->wake)) break;
    heap_set(s, i, s->heap[c]);
    i = c;
  }
  heap_set(s, i, it);
}

static void heap_remove(sched_t *s, size_t i) {
  sched_item_t *last = s->heap[--s->nheap];
  if (i == s->nheap) return;
  heap_set(s, i, last);
  heap_up(s, i);
  heap_down(s, last->heap_at);
}

/* ---- queues ----------------------------------------------------------- */

void sched_remove(sched_t *s, sched_item_t *it) {
  if (it->where == SCHED_READY) {
    if (it->prev) it->prev->next = it->next; else s->head = it->next;
    if (it->next) it->next->prev = it->prev; else s->tail = it->prev;
  } else if (it->where == SCHED_SLEEP) {
    heap_remove(s, it->heap_at);
  }
  it->where = SCHED_NONE;
  it->prev = it->next = NULL;
}

void sched_ready(sched_t *s, sched_item_t *it) {
  sched_remove(s, it);
  it->where = SCHED_READY;
  it->prev = s->tail;
  if (s->tail) s->tail->next = it; else s->head = it;
  s->tail = it;
}

void sched_sleep(sched_t *s, sched_item_t *it, double when) {
  sched_remove(s, it);
  it->wake = when;
  it->where = SCHED_SLEEP;
  if (s->nheap == s->heap_cap) {
    s->heap_cap = s->heap_cap ? 2 * s->heap_cap : 16;
    s->heap = ms_realloc(s->heap, s->heap_cap * sizeof *s->heap);
  }
  heap_set(s, s->nheap++, it);
  heap_up(s, s->nheap - 1);
}

sched_item_t *sched_pop(sched_t *s) {
  /* on the real clock, timers that came due wake even while the run
   * queue stays busy, so a looping branch cannot starve a Wait */
  if (s->nheap && !s->virtual_clock) sched_wake_due(s);
  sched_item_t *it = s->head;
  if (it) sched_remove(s, it);
  return it;
}

double sched_next_wake(const sched_t *s) {
  return s->nheap ? s->heap[0]->wake : INFINITY;
}

void sched_wake_due(sched_t *s) {
  double t = sched_now(s);
  while (s->nheap && s->heap[0]->wake <= t) sched_ready(s, s->heap[0]);
}

void sched_wait(sched_t *s, double until) {
  if (s->virtual_clock) {
    if (until > s->vnow) s->vnow = until;
  } else {
    double d = until - sched_wall_now();
    if (d > 0 && !(s->idle && s->idle(s->idle_ud, d))) {
      struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  sched_wake_due(s);
}
