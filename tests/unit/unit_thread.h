/* unit_thread: making threads meet in the C unit tests, without sleeping.
 *
 * A single-flight test needs every caller waiting on the fetch in flight
 * before that fetch may end; a waiter cannot say so itself (it is inside the
 * module, on the module's condition variable).  The kernel can: a thread
 * blocked on a futex is in state S in /proc/self/task/<tid>/stat.  A thread
 * announces its tid before it calls in; the test waits until each is asleep,
 * then releases the fetch.
 */
#ifndef FACTUURFS_UNIT_THREAD_H
#define FACTUURFS_UNIT_THREAD_H

#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline pid_t unit_tid(void)
{
	return gettid();
}

/* True when thread @tid of this process is blocked (S or D). */
static inline bool unit_thread_asleep(pid_t tid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "tid (comm) S ...": the state follows the last ')'. */
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'S' || p[2] == 'D');
}

/* Waits until every thread of @tids is blocked: true, or false after 10 s
 * (a real-time bound only so that a broken test fails instead of hanging). */
static inline bool unit_wait_asleep(const pid_t *tids, size_t n)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		size_t asleep = 0;

		for (size_t i = 0; i < n; i++)
			asleep += unit_thread_asleep(tids[i]);
		if (asleep == n)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return false;
		sched_yield();
	}
}

#endif
