/* clock: the two clocks every module reads, in seconds.
 *
 * Modules that decide by time (TTLs, holds, backoff) take a `now` function in
 * their config instead of calling these directly when a unit test must drive
 * time (store/cache.h); clock_mono is the default.
 */
#ifndef FACTUURFS_BASE_CLOCK_H
#define FACTUURFS_BASE_CLOCK_H

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

#endif
