/* lineedit.h - reading a line at a terminal with editing, history and
 * tab completion, for the REPL (no readline: a small editor over termios).
 *
 * At a terminal: cursor keys, Home/End, Ctrl-A/E/B/F/K/U/W/D/L/T,
 * Backspace/Delete, Alt-B/F (word left/right), Up/Down (history), Tab
 * (completion through a callback; several candidates: the common prefix,
 * then a list on the second Tab), Ctrl-C (the line is dropped and the
 * caller told), Ctrl-D on an empty line (end of input). The cursor moves
 * over UTF-8 characters, not bytes. Elsewhere (a pipe, a file) a line is
 * read as is, without echo or editing, so sessions can be scripted.
 */
#ifndef MS_LINEEDIT_H
#define MS_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lineedit lineedit_t;

/* Completion: given the line and the cursor's byte offset, add candidates
 * with lineedit_add_completion; each replaces the word before the cursor
 * (the bytes from *word_start to the cursor; the callback sets it). */
typedef void (*lineedit_complete_fn)(void *ud, lineedit_t *le,
                                     const char *line, size_t cursor,
                                     size_t *word_start);

lineedit_t *lineedit_new(void);
void lineedit_free(lineedit_t *le);
void lineedit_set_completion(lineedit_t *le, lineedit_complete_fn fn,
                             void *ud);
void lineedit_add_completion(lineedit_t *le, const char *candidate);

/* Read a line (without its newline; malloc'd). NULL at the end of input;
 * with *interrupted set when Ctrl-C dropped the line instead. */
char *lineedit_read(lineedit_t *le, const char *prompt, bool *interrupted);

/* History: lines added (consecutive duplicates and blank lines are not),
 * at most max kept (default 1000); loaded from and saved to a file, one
 * entry per line (newlines inside an entry escaped). 0, or -1 with errno. */
void lineedit_history_add(lineedit_t *le, const char *line);
void lineedit_history_max(lineedit_t *le, size_t max);
int lineedit_history_load(lineedit_t *le, const char *path);
int lineedit_history_save(const lineedit_t *le, const char *path);

/* Whether input is a terminal (editing applies). */
bool lineedit_is_tty(const lineedit_t *le);

#endif
