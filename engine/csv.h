/* csv.h - CSV (RFC 4180) as a push parser over byte chunks of any size,
 * and the encoder that writes it back, quoting only where needed.
 *
 * The parser owns no input: the caller hands it chunks (any split, down to
 * one byte at a time) and takes records out one by one; a record and its
 * fields live in the parser's buffers until the next call. Memory is
 * bounded by the record-size limit, whatever the length of the stream.
 * It knows nothing of Lua (engine/lcsv.c is the Lua face) and of states
 * (the Distributed Map's ItemReader uses csv_record_json). See base.h for
 * the ownership rule.
 *
 * Dialect: fields separated by one byte (any but CR, LF and the quote);
 * records end at LF, CRLF or CR; a field that starts with the quote byte
 * is quoted and may hold delimiters, line breaks and doubled quotes; a
 * quote inside an unquoted field is kept as it is; a UTF-8 BOM at the very
 * start is dropped; nothing is trimmed. Lines and columns are 1-based,
 * columns count bytes (not characters) from the start of the physical
 * line, and a line break inside a quoted field starts a new line.
 */
#ifndef MS_CSV_H
#define MS_CSV_H

#include <jansson.h>
#include "base.h"

/* Named limits (the lead may move them to base.h's list). A record must
 * fit in memory at once, so one bad quote cannot make the parser hold a
 * whole file: a field longer than max_field bytes, or a record longer
 * than max_record bytes of input, is a bad record. */
#define CSV_FIELD_MAX  ((size_t)1 << 20)   /* 1 MiB: one field */
#define CSV_RECORD_MAX ((size_t)8 << 20)   /* 8 MiB: one record's text */

/* Results of csv_parse and csv_finish. */
enum {
  CSV_MORE = 0,   /* the chunk is used up: feed the next (or finish) */
  CSV_RECORD,     /* a record is ready: csv_record() */
  CSV_BAD,        /* a bad record was read and skipped: csv_error() */
  CSV_END,        /* (csv_finish) nothing is left */
};

/* Kinds of bad records. */
enum {
  CSV_EQUOTE = 1, /* unterminated quoted field (at the end of input) */
  CSV_EJUNK,      /* a byte other than a delimiter or line end after a
                     closing quote */
  CSV_EFIELDS,    /* ragged row: not the expected number of fields */
  CSV_EFIELD,     /* a field longer than max_field */
  CSV_ERECORD,    /* a record longer than max_record */
};

typedef struct csv_opts {
  int delim;          /* field separator byte; ',' */
  int quote;          /* quote byte, or -1 for none; '"' */
  bool skip_empty;    /* drop empty lines (no bytes at all); true. When
                         false an empty line is a record of one "" */
  bool backslash;     /* AWS's ItemReader dialect: \\, \" and \<delim>
                         escape that byte; a \ before any other byte is
                         dropped; false */
  size_t fields;      /* expected fields per record: 0 learns it from the
                         first record, SIZE_MAX accepts any count; 0 */
  size_t max_field;   /* CSV_FIELD_MAX */
  size_t max_record;  /* CSV_RECORD_MAX */
  const char *eol;    /* (encoder) record terminator; "\n" */
} csv_opts_t;

/* Fill o with the defaults above. */
void csv_opts_init(csv_opts_t *o);

typedef struct csv_field {
  const char *s;      /* the bytes, NUL-terminated (may hold NULs) */
  size_t len;
} csv_field_t;

typedef struct csv_record {
  long long line;     /* physical line where the record starts */
  size_t n;           /* number of fields (>= 1) */
  const csv_field_t *f;
} csv_record_t;

typedef struct csv_error {
  int code;           /* CSV_E... */
  long long line;     /* where the problem is (CSV_EQUOTE: the opening
                         quote; CSV_EFIELDS: the first extra field, or
                         the record's end when fields are missing) */
  long long column;   /* 1-based byte column of the problem */
  long long record_line; /* where the bad record starts */
  char message[96];   /* "unterminated quoted field", "4 fields,
                         expected 3", ... (no line or column in it) */
  const char *raw;    /* the record's input text, at most max_record
                         bytes of it, line end excluded */
  size_t raw_len;
  bool truncated;     /* raw is only the first max_record bytes */
} csv_error_t;

typedef struct csv csv_t;

/* A new parser (o NULL: defaults). Never NULL (OOM aborts). */
csv_t *csv_new(const csv_opts_t *o);
void csv_free(csv_t *p);

/* Parse from data[0..len). Stops at the end of the first record it
 * completes (CSV_RECORD or CSV_BAD) or at the end of the chunk (CSV_MORE);
 * *used is the number of bytes consumed. Call again with the rest of the
 * chunk until it returns CSV_MORE. Neither the data nor the pointers of
 * csv_record/csv_error may be used after the next call. */
int csv_parse(csv_t *p, const char *data, size_t len, size_t *used);

/* End of input: returns the last record (CSV_RECORD or CSV_BAD) if the
 * input did not end with a line break, then CSV_END. */
int csv_finish(csv_t *p);

/* The record or bad record the last call returned. */
const csv_record_t *csv_record(const csv_t *p);
const csv_error_t *csv_error(const csv_t *p);

/* "line 12, column 7: unterminated quoted field", or for ragged rows
 * "line 9: 4 fields, expected 3" (the line where the record starts).
 * Returns a malloc'd string. */
char *csv_error_text(const csv_error_t *e);

/* The expected number of fields (after the first record when learnt);
 * set it, e.g. to the number of given header names. */
size_t csv_fields(const csv_t *p);
void csv_set_fields(csv_t *p, size_t n);

/* The record as JSON, values all strings. header NULL: an array of the
 * fields. header an array of strings: an object keyed by those names, as
 * AWS's CSV ItemReader builds it (a missing field is "", fields past the
 * header are skipped). Returns a new reference. */
json_t *csv_record_json(const csv_record_t *r, const json_t *header);

/* ---- encoder --------------------------------------------------------- */

/* Whether a field must be quoted: it holds the delimiter, the quote, CR
 * or LF, starts or ends with a space or tab, or starts with a UTF-8 BOM
 * (which a reader drops at the start of a file). */
bool csv_needs_quote(const csv_opts_t *o, const char *s, size_t len);

/* Append a field to b, quoted only when needed. MS_ERR when it needs
 * quoting and o->quote is -1 (nothing is appended then). */
int csv_encode_field(buf_t *b, const csv_opts_t *o, const char *s,
                     size_t len);

/* Append a whole record and o->eol. A record of one empty field is
 * written as "" so that it reads back as a record. MS_ERR as above. */
int csv_encode_record(buf_t *b, const csv_opts_t *o, const csv_field_t *f,
                      size_t n);

#endif
