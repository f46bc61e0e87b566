/* lineedit.c - line editing at a terminal (see lineedit.h).
 *
 * The terminal is put in raw mode for the length of one read and restored
 * before returning (also when the read ends in Ctrl-C or an error). The
 * line is redrawn whole after each key: carriage return, prompt, the part
 * of the line that fits, erase to the end, then the cursor moved into
 * place; a line wider than the terminal scrolls sideways.
 */
#include "lineedit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base.h"

#define HISTORY_DEFAULT 1000

struct lineedit {
  bool tty;
  char **hist;
  size_t nhist, hist_cap, hist_max;
  lineedit_complete_fn complete;
  void *complete_ud;
  char **cands;                /* completion candidates of this Tab */
  size_t ncands, cands_cap;
};

/* The line being edited. */
typedef struct edit {
  buf_t b;
  size_t pos;                  /* cursor, a byte offset */
  const char *prompt;
  int out;                     /* file descriptor echoed to */
} edit_t;

lineedit_t *lineedit_new(void) {
  lineedit_t *le = ms_calloc(1, sizeof *le);
  le->tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  le->hist_max = HISTORY_DEFAULT;
  return le;
}

static void clear_cands(lineedit_t *le) {
  for (size_t i = 0; i < le->ncands; i++) free(le->cands[i]);
  le->ncands = 0;
}

void lineedit_free(lineedit_t *le) {
  if (!le) return;
  for (size_t i = 0; i < le->nhist; i++) free(le->hist[i]);
  free(le->hist);
  clear_cands(le);
  free(le->cands);
  free(le);
}

bool lineedit_is_tty(const lineedit_t *le) { return le->tty; }

void lineedit_set_completion(lineedit_t *le, lineedit_complete_fn fn,
                             void *ud) {
  le->complete = fn;
  le->complete_ud = ud;
}

void lineedit_add_completion(lineedit_t *le, const char *candidate) {
  for (size_t i = 0; i < le->ncands; i++)
    if (!strcmp(le->cands[i], candidate)) return;
  if (le->ncands == le->cands_cap) {
    le->cands_cap = le->cands_cap ? le->cands_cap * 2 : 16;
    le->cands = ms_realloc(le->cands, le->cands_cap * sizeof *le->cands);
  }
  le->cands[le->ncands++] = ms_strdup(candidate);
}

/* ---- history ----------------------------------------------------------- */

void lineedit_history_max(lineedit_t *le, size_t max) {
  le->hist_max = max ? max : 1;
  while (le->nhist > le->hist_max) {
    free(le->hist[0]);
    memmove(le->hist, le->hist + 1, --le->nhist * sizeof *le->hist);
  }
}

void lineedit_history_add(lineedit_t *le, const char *line) {
  if (!line[strspn(line, " \t\n")]) return;
  if (le->nhist && !strcmp(le->hist[le->nhist - 1], line)) return;
  if (le->nhist == le->hist_cap) {
    le->hist_cap = le->hist_cap ? le->hist_cap * 2 : 64;
    le->hist = ms_realloc(le->hist, le->hist_cap * sizeof *le->hist);
  }
  le->hist[le->nhist++] = ms_strdup(line);
  lineedit_history_max(le, le->hist_max);
}

int lineedit_history_load(lineedit_t *le, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) >= 0) {
    if (n && line[n - 1] == '\n') line[--n] = 0;
    char *w = line;
    for (char *r = line; *r; r++) {   /* undo the escapes of save */
      if (*r == '\\' && r[1]) {
        r++;
        *w++ = *r == 'n' ? '\n' : *r;
      } else {
        *w++ = *r;
      }
    }
    *w = 0;
    lineedit_history_add(le, line);
  }
  free(line);
  fclose(f);
  return 0;
}

int lineedit_history_save(const lineedit_t *le, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  for (size_t i = 0; i < le->nhist; i++) {
    for (const char *s = le->hist[i]; *s; s++) {
      if (*s == '\n') fputs("\\n", f);
      else if (*s == '\\') fputs("\\\\", f);
      else fputc(*s, f);
    }
    fputc('\n', f);
  }
  return fclose(f) ? -1 : 0;
}

/* ---- drawing ----------------------------------------------------------- */

static bool cont_byte(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* Characters (not bytes) in s[0..n). */
static size_t width(const char *s, size_t n) {
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (!cont_byte(s[i])) w++;
  return w;
}

static int columns(int fd) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

static void put(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += w;
    n -= (size_t)w;
  }
}

static void refresh(edit_t *e) {
  int cols = columns(e->out);
  size_t pw = width(e->prompt, strlen(e->prompt));
  const char *s = e->b.data ? e->b.data : "";
  size_t from = 0, to = e->b.len;
  /* scroll: drop characters from the left until the cursor fits */
  while (pw + width(s + from, e->pos - from) >= (size_t)cols && from < e->pos)
    do from++; while (from < e->pos && cont_byte(s[from]));
  while (pw + width(s + from, to - from) >= (size_t)cols && to > e->pos)
    do to--; while (to > e->pos && cont_byte(s[to]));
  buf_t o;
  buf_init(&o);
  buf_putc(&o, '\r');
  buf_puts(&o, e->prompt);
  buf_append(&o, s + from, to - from);
  buf_puts(&o, "\x1b[0K\r");
  size_t at = pw + width(s + from, e->pos - from);
  if (at) buf_printf(&o, "\x1b[%zuC", at);
  put(e->out, o.data, o.len);
  buf_free(&o);
}

/* ---- editing ----------------------------------------------------------- */

static void insert(edit_t *e, const char *s, size_t n) {
  buf_append(&e->b, s, n);           /* grow, then shift into place */
  memmove(e->b.data + e->pos + n, e->b.data + e->pos, e->b.len - n - e->pos);
  memcpy(e->b.data + e->pos, s, n);
  e->pos += n;
}

static void erase(edit_t *e, size_t from, size_t to) {
  memmove(e->b.data + from, e->b.data + to, e->b.len - to + 1);
  e->b.len -= to - from;
  if (e->pos > to) e->pos -= to - from;
  else if (e->pos > from) e->pos = from;
}

static void set_line(edit_t *e, const char *s) {
  e->b.len = 0;
  buf_puts(&e->b, s);
  if (!e->b.data) buf_puts(&e->b, "");
  e->pos = e->b.len;
}

static size_t char_left(const edit_t *e, size_t p) {
  if (!p) return 0;
  do p--; while (p && cont_byte(e->b.data[p]));
  return p;
}

static size_t char_right(const edit_t *e, size_t p) {
  if (p >= e->b.len) return e->b.len;
  do p++; while (p < e->b.len && cont_byte(e->b.data[p]));
  return p;
}

static bool word_char(char c) {
  return c == '_' || (unsigned char)c >= 0x80 || (c >= '0' && c <= '9') ||
         ((c | 32) >= 'a' && (c | 32) <= 'z');
}

static size_t word_left(const edit_t *e, size_t p) {
  while (p && !word_char(e->b.data[p - 1])) p--;
  while (p && word_char(e->b.data[p - 1])) p--;
  return p;
}

static size_t word_right(const edit_t *e, size_t p) {
  while (p < e->b.len && !word_char(e->b.data[p])) p++;
  while (p < e->b.len && word_char(e->b.data[p])) p++;
  return p;
}

/* Tab: complete the word before the cursor. second: the previous key was
 * Tab too, so several candidates are listed. */
static void complete(lineedit_t *le, edit_t *e, bool second) {
  if (!le->complete) return;
  clear_cands(le);
  size_t start = e->pos;
  le->complete(le->complete_ud, le, e->b.data, e->pos, &start);
  if (start > e->pos) start = e->pos;
  if (!le->ncands) {
    put(e->out, "\a", 1);
    return;
  }
  /* the candidates' common prefix */
  size_t common = strlen(le->cands[0]);
  for (size_t i = 1; i < le->ncands; i++) {
    size_t k = 0;
    while (k < common && le->cands[i][k] == le->cands[0][k]) k++;
    common = k;
  }
  while (common && cont_byte(le->cands[0][common])) common--;
  size_t have = e->pos - start;
  if (le->ncands == 1 || common > have) {
    erase(e, start, e->pos);
    insert(e, le->cands[0], le->ncands == 1 ? strlen(le->cands[0]) : common);
    return;
  }
  if (!second) {
    put(e->out, "\a", 1);
    return;
  }
  buf_t o;
  buf_init(&o);
  buf_puts(&o, "\r\n");
  for (size_t i = 0; i < le->ncands; i++)
    buf_printf(&o, "%s%s", le->cands[i], i + 1 < le->ncands ? "  " : "\r\n");
  put(e->out, o.data, o.len);
  buf_free(&o);
}

/* Read one byte; -1 at the end of input or on an error. */
static int key(void) {
  unsigned char c;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n == 1) return c;
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
}

enum { K_UP = 1000, K_DOWN, K_LEFT, K_RIGHT, K_HOME, K_END, K_DEL,
       K_WLEFT, K_WRIGHT };

/* After ESC: an arrow, Home/End, Delete, Alt-B/F; 0 for anything else. */
static int escape_key(void) {
  int a = key();
  if (a == 'b') return K_WLEFT;
  if (a == 'f') return K_WRIGHT;
  if (a != '[' && a != 'O') return 0;
  int b = key();
  if (b >= '0' && b <= '9') {
    int t = key();
    if (t != '~') return 0;
    switch (b) {
    case '1': case '7': return K_HOME;
    case '4': case '8': return K_END;
    case '3': return K_DEL;
    default: return 0;
    }
  }
  switch (b) {
  case 'A': return K_UP;
  case 'B': return K_DOWN;
  case 'C': return K_RIGHT;
  case 'D': return K_LEFT;
  case 'H': return K_HOME;
  case 'F': return K_END;
  default: return 0;
  }
}

static char *read_plain(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n && line[n - 1] == '\n') line[--n] = 0;
  if (n && line[n - 1] == '\r') line[--n] = 0;
  return line;
}

static char *edit_loop(lineedit_t *le, edit_t *e, bool *interrupted) {
  size_t hi = le->nhist;       /* history index; nhist = the new line */
  char *saved = NULL;          /* the new line while browsing history */
  bool last_tab = false;
  refresh(e);
  for (;;) {
    int c = key();
    bool tab = false;
    if (c == 27) c = escape_key();
    switch (c) {
    case -1:
      free(saved);
      if (e->b.len) goto done;   /* input ended mid-line: keep it */
      return NULL;
    case '\r': case '\n':
      goto done;
    case 3:                      /* Ctrl-C */
      put(e->out, "^C\r\n", 4);
      free(saved);
      *interrupted = true;
      return NULL;
    case 4:                      /* Ctrl-D */
      if (!e->b.len) {
        put(e->out, "\r\n", 2);
        free(saved);
        return NULL;
      }
      erase(e, e->pos, char_right(e, e->pos));
      break;
    case K_DEL:
      erase(e, e->pos, char_right(e, e->pos));
      break;
    case 127: case 8:            /* Backspace */
      erase(e, char_left(e, e->pos), e->pos);
      break;
    case 1: case K_HOME: e->pos = 0; break;
    case 5: case K_END: e->pos = e->b.len; break;
    case 2: case K_LEFT: e->pos = char_left(e, e->pos); break;
    case 6: case K_RIGHT: e->pos = char_right(e, e->pos); break;
    case K_WLEFT: e->pos = word_left(e, e->pos); break;
    case K_WRIGHT: e->pos = word_right(e, e->pos); break;
    case 11: erase(e, e->pos, e->b.len); break;             /* Ctrl-K */
    case 21: erase(e, 0, e->pos); break;                    /* Ctrl-U */
    case 23: erase(e, word_left(e, e->pos), e->pos); break; /* Ctrl-W */
    case 12: put(e->out, "\x1b[H\x1b[2J", 7); break;        /* Ctrl-L */
    case 20:                                                /* Ctrl-T */
      if (e->pos && e->b.len > 1) {
        size_t p = e->pos == e->b.len ? e->pos - 1 : e->pos;
        char t = e->b.data[p - 1];
        e->b.data[p - 1] = e->b.data[p];
        e->b.data[p] = t;
        e->pos = p + 1;
      }
      break;
    case 16: case K_UP:                                     /* Ctrl-P */
      if (hi > 0) {
        if (hi == le->nhist) saved = ms_strdup(e->b.data ? e->b.data : "");
        set_line(e, le->hist[--hi]);
      }
      break;
    case 14: case K_DOWN:                                   /* Ctrl-N */
      if (hi < le->nhist) {
        hi++;
        set_line(e, hi == le->nhist ? (saved ? saved : "") : le->hist[hi]);
        if (hi == le->nhist) {
          free(saved);
          saved = NULL;
        }
      }
      break;
    case '\t':
      complete(le, e, last_tab);
      tab = true;
      break;
    default:
      if (c >= 32 && c < 256) {
        char ch = (char)c;
        insert(e, &ch, 1);
      }
      break;
    }
    last_tab = tab;
    refresh(e);
  }
done:
  free(saved);
  put(e->out, "\r\n", 2);
  return buf_steal(&e->b);
}

char *lineedit_read(lineedit_t *le, const char *prompt, bool *interrupted) {
  *interrupted = false;
  if (!le->tty) return read_plain();
  struct termios old, raw;
  if (tcgetattr(STDIN_FILENO, &old) < 0) return read_plain();
  raw = old;
  raw.c_iflag &= (tcflag_t)~(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
  raw.c_cflag |= CS8;
  raw.c_lflag &= (tcflag_t)~(ECHO | ICANON | IEXTEN | ISIG);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) < 0) return read_plain();
  fflush(stdout);
  edit_t e = {{NULL, 0, 0}, 0, prompt ? prompt : "", STDOUT_FILENO};
  buf_puts(&e.b, "");
  char *line = edit_loop(le, &e, interrupted);
  if (!line) buf_free(&e.b);
  tcsetattr(STDIN_FILENO, TCSADRAIN, &old);
  return line;
}
