/* clock: the two clocks every module reads, in seconds.
 *
 * Modules that decide by time (TTLs, holds, backoff) take a `now` function in
 * their config instead of calling these directly when a unit test must drive
 * time (store/cache.h); clock_mono is the default.
 */
#ifndef FACTUURFS_BASE_CLOCK_H
#define FACTUURFS_BASE_CLOCK_H

#include <stdlib.h>
#include <time.h>

/* CLOCK_MONOTONIC: for durations and deadlines. */
static inline double clock_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CLOCK_REALTIME as a timespec: for times shown to users (file times). */
static inline struct timespec clock_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* The length of an hour in seconds for what is paced per hour (the
 * prefetch: N calls an hour, the wait for the service's hourly window to
 * turn): 3600, unless the environment variable FACTUURFS_HOUR_SECONDS gives
 * another (1 to 3600).  For tests only: they run a pace of N an hour in
 * seconds, with the fake's --hour-seconds the same.  The one place factuurfs
 * scales time; read it once (its caller keeps the value). */
static inline double clock_hour(void)
{
	const char *s = getenv("FACTUURFS_HOUR_SECONDS"); /* NOLINT(concurrency-mt-unsafe): no setenv after start */
	char *end = NULL;
	double h = s ? strtod(s, &end) : 0;
	return s && end != s && *end == '\0' && h >= 1 && h <= 3600 ? h : 3600;
}

#endif
