/* proctime.c - runs one command and reports what it cost as a whole
 * process: `proctime CMD [ARG...]` runs CMD with the caller's stdin,
 * stdout and stderr, waits for it, then prints one line to stdout
 *
 *   @proctime WALL_S MAXRSS_KB USER_S SYS_S
 *
 * (monotonic wall time from just before fork to the end of wait4, and the
 * child's own rusage) and exits with the child's status. The bench driver
 * (bench/bench.lua) reads that line; /usr/bin/time prints only 10 ms.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double secs(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: proctime CMD [ARG...]\n");
    return 2;
  }
  fflush(stdout);
  double t0 = now();
  pid_t pid = fork();
  if (pid < 0) {
    perror("proctime: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    fprintf(stderr, "proctime: %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("proctime: wait4");
      return 2;
    }
  }
  double wall = now() - t0;
  printf("@proctime %.6f %ld %.6f %.6f\n", wall, ru.ru_maxrss,
         secs(ru.ru_utime), secs(ru.ru_stime));
  fflush(stdout);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
