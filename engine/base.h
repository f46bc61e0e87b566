/* base.h - status codes, named limits, the growable buffer, diagnostics and
 * the ASL fault value.
 *
 * Everything in engine/ includes this. It knows nothing of states, Lua or
 * SQLite. Ownership rule for the whole engine (stated once, here):
 *   - a json_t * argument is borrowed;
 *   - a function whose name ends in _take steals its json_t * argument;
 *   - a returned json_t * is a new reference unless the name says _peek;
 *   - a returned char * is malloc'd (caller frees) unless documented const.
 * Two error channels, never mixed: a C failure (memory, I/O, SQL) is an int
 * status (MS_OK / MS_ERR); a workflow failure is a fault_t {Error, Cause}
 * that travels like data until Retry/Catch takes it.
 */
#ifndef MS_BASE_H
#define MS_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MS_OK = 0, MS_ERR = -1 };

/* Named limits. Each has a sentence of why; AWS's quota where there is one.
 * The built-in modules name theirs in their own headers (csv.h CSV_*_MAX,
 * http.h HTTP_*, jsonata.h JSONATA_*, tables.h TABLES_*), jpath.c its
 * filter and regex bounds; the README's Limits section lists them all. */
#define MS_PAYLOAD_MAX      262144  /* AWS: 256 KiB state input/output/result */
#define MS_HISTORY_MAX      25000   /* AWS: events in one execution history */
#define MS_INTRINSIC_DEPTH  10      /* AWS: nesting of intrinsic calls */
#define MS_JSON_DEPTH       2048    /* deeper JSON is refused, not recursed */
#define MS_MACHINE_DEPTH    64      /* nesting of Parallel/Map definitions */
#define MS_DEFINITION_MAX   (1024 * 1024) /* AWS: 1 MiB definition */
#define MS_WAIT_MAX_SECONDS 31536000LL    /* AWS: a year; longer is refused */
#define MS_CAUSE_MAX        32768   /* AWS: length of an error's Cause */
#define MS_FILE_MAX ((size_t)64 << 20) /* whole files read (definitions,
                                  inputs, configs): a guard for /dev/zero,
                                  far above the limits checked after */
#define MS_DIAGS_MAX        100     /* AWS: ValidateStateMachineDefinition
                                       returns at most 100 diagnostics */

/* Growable byte buffer; always NUL-terminated after any append. */
typedef struct buf {
  char *data;   /* NULL until the first append */
  size_t len;   /* bytes used, not counting the NUL */
  size_t cap;   /* bytes allocated */
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
int buf_append(buf_t *b, const char *s, size_t n);
int buf_puts(buf_t *b, const char *s);
int buf_putc(buf_t *b, char c);
int buf_printf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf_t *b, const char *fmt, va_list ap);
char *buf_steal(buf_t *b);  /* returns data ("" if empty), resets b */

/* Allocation wrappers: abort with a message on out-of-memory. The engine
 * treats OOM as fatal (as Lua's default allocator effectively does). */
void *ms_malloc(size_t n);
void *ms_calloc(size_t n, size_t size);
void *ms_realloc(void *p, size_t n);
char *ms_strdup(const char *s);
char *ms_strndup(const char *s, size_t n);
char *ms_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *ms_vasprintf(const char *fmt, va_list ap);

/* Read a whole file ("-" is stdin) of at most max bytes. Returns its text,
 * NUL-terminated (malloc'd), and *len; NULL with errno set on failure
 * (EFBIG when the file is longer than max, EISDIR for a folder, ...). */
char *ms_read_file(const char *path, size_t max, size_t *len);

/* The ASL fault: a workflow failure as a value. */
typedef struct fault {
  char *error;    /* NULL when there is no fault; else the Error name */
  char *cause;    /* NULL when AWS gives no Cause field */
  bool in_state;  /* engine-raised: the interpreter prefixes the cause with
                     "An error occurred while executing the state 'S'
                     (entered at the event id #N). " */
} fault_t;

#define FAULT_INIT {NULL, NULL, false}
void fault_clear(fault_t *f);
/* Set a fault; cause is printf-formatted, fmt NULL means no Cause. */
void fault_set(fault_t *f, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* States.Runtime raised by the engine inside a state (in_state = true). */
void fault_runtime(fault_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fault_move(fault_t *dst, fault_t *src);  /* dst takes src; src cleared */
static inline bool fault_is_set(const fault_t *f) { return f->error != NULL; }

/* Validation diagnostics: a JSON pointer into the definition and a message.
 * line/col are filled by the loader from the source text (0 if unknown). */
typedef struct diag {
  char *ptr;      /* JSON pointer, e.g. "/States/Load/Next" */
  char *msg;      /* e.g. "no state named \"Lod\"" */
  bool warning;   /* true: reported, does not make the definition invalid */
  int line, col;  /* 1-based; 0 when unknown */
} diag_t;

typedef struct diags {
  diag_t *v;
  size_t n, cap;
  size_t nerrors;  /* entries with warning == false */
} diags_t;

void diags_init(diags_t *d);
void diags_free(diags_t *d);
void diags_add(diags_t *d, bool warning, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Escape a name for use inside a JSON pointer (~ -> ~0, / -> ~1). */
char *ptr_join(const char *base, const char *name);
char *ptr_index(const char *base, size_t i);

/* n bytes from the kernel's random source (getrandom, else /dev/urandom;
 * rand() only if both fail). */
void ms_random_bytes(void *p, size_t n);
/* A random version 4 UUID (RFC 4122) as 36 characters and a NUL. */
void ms_uuid4(char out[37]);

#endif
