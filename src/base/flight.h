/* flight: single-flight, one fetch at a time of one thing.
 *
 * Whoever asks for a listing, a record or a PDF while its fetch runs waits for
 * that fetch and takes its outcome, failure included, so no caller waits for
 * more than one fetch and eight readers make one call.  A fetch that just
 * failed is not repeated for a short hold: the kernel queues readers one
 * behind the other, and each would otherwise wait out its own timeout.
 *
 * A flight is a field of its owner's entry and is protected by the owner's
 * mutex, which every function here expects held; @done is the owner's
 * condition variable, broadcast whenever any of its flights ends.
 */
#ifndef FACTUURFS_BASE_FLIGHT_H
#define FACTUURFS_BASE_FLIGHT_H

#include <pthread.h>
#include <stdbool.h>

struct flight {
	bool loading;
	unsigned long loads; /* fetches finished: a waiter knows its one ended */
	int rc;              /* how the last one ended: 0 or -errno */
	double ended;        /* and when (the owner's clock) */
};

/* False when no fetch is in flight on @f; else waits for it to end and
 * returns true (its outcome in f->rc).  Releases @lock while waiting. */
bool flight_wait(struct flight *f, pthread_mutex_t *lock, pthread_cond_t *done);

/* This caller fetches: the others will wait for flight_end. */
void flight_begin(struct flight *f);

/* The fetch ended with @rc at @now; wakes every waiter of the owner. */
void flight_end(struct flight *f, pthread_cond_t *done, int rc, double now);

/* True when the last fetch failed less than @hold seconds before @now (then f->rc < 0).
 * Inline so that the static analysers see it: store/detail.c returns f->rc on it as a failure. */
static inline bool flight_failed_within(const struct flight *f, double now, double hold)
{
	return f->rc < 0 && now - f->ended < hold;
}

#endif
