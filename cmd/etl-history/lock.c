/*
 * lock: whether the runner of an attempt that has no end has gone, from
 * the job's lock (pipelines/lib/runner.sh).
 *
 * A run holds flock(2) on <state>/locks/<job>.lock from before its first
 * fact until after its last: its attempt and stages inherit the
 * descriptor, so the lock is free only once every process of the run has
 * ended.  The lock file's first line names the run that holds it ("run ID,
 * pid PID, since TIME"), and the runner empties the file when the run ends.
 * So an attempt read without its end, whose job's lock is then free while
 * the file still names its run, belongs to a runner that died without
 * recording the end: had it ended, it would have emptied the file first;
 * were it alive, it would hold the lock.  The order matters: the facts are
 * read first, then the lock is tried, then the file is read (a run that
 * takes the lock in between writes its own name there).
 *
 * Trying the lock takes it, shared, for an instant: the runner waits a
 * moment for a lock it finds taken before it says another run is going,
 * so this never turns a run away.  Only attempts of this host are judged:
 * the lock says nothing of a run elsewhere.
 */
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The longest first line read: "run ", a run id, ", pid ...". */
#define LOCK_LINE_MAX 512

/* Is the name usable as a file name under locks/?  Facts come from anywhere. */
static int plain_name(const char *s)
{
	return s && *s && *s != '.' && !strchr(s, '/') && strlen(s) < NAME_MAX - 5;
}

int runner_gone(const char *locks, const char *job, const char *run_id, const char *host)
{
	char me[HOST_NAME_MAX + 1], path[PATH_MAX], line[LOCK_LINE_MAX];
	if (!locks || !run_id || !host || !plain_name(job))
		return 0;
	if (gethostname(me, sizeof me) < 0)
		return 0;
	me[sizeof me - 1] = '\0';
	if (strcmp(me, host) != 0)
		return 0;
	if (snprintf(path, sizeof path, "%s/%s.lock", locks, job) >= (int)sizeof path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	int free_lock = flock(fd, LOCK_SH | LOCK_NB) == 0;
	if (free_lock)
		flock(fd, LOCK_UN);
	ssize_t n = free_lock ? pread(fd, line, sizeof line - 1, 0) : -1;
	close(fd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	size_t id = strlen(run_id);
	return strncmp(line, "run ", 4) == 0 && strncmp(line + 4, run_id, id) == 0 &&
	       line[4 + id] == ',';
}
