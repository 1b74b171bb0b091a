/* flight: single-flight fetches (see flight.h). */
#include "base/flight.h"

bool flight_wait(struct flight *f, pthread_mutex_t *lock, pthread_cond_t *done)
{
	if (!f->loading)
		return false;
	unsigned long seen = f->loads;
	/* cppcheck-suppress knownConditionTrueFalse ; pthread_cond_wait lets the fetcher change them */
	while (f->loading && f->loads == seen)
		pthread_cond_wait(done, lock);
	return true;
}

void flight_begin(struct flight *f)
{
	f->loading = true;
}

void flight_end(struct flight *f, pthread_cond_t *done, int rc, double now)
{
	f->loading = false;
	f->loads++;
	f->rc = rc;
	f->ended = now;
	pthread_cond_broadcast(done);
}
