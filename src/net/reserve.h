/* reserve: the hourly window of calls, and the background budget.
 *
 * The service's budget is per hour, so the mount counts the calls it sent in
 * the last 60 minutes (per minute, in a ring).  Of those, programs nobody
 * asked to read the account (file managers' thumbnailers, desktop indexers:
 * base/who.h decides) may cause at most background_per_hour in any hour; the
 * rest of the hourly budget stays in reserve for what the user asks for.
 * One struct reserve per mount (net/api owns it), safe from every thread.
 */
#ifndef FACTUURFS_NET_RESERVE_H
#define FACTUURFS_NET_RESERVE_H

#include <stdbool.h>
#include <time.h>

struct reserve;

struct reserve_config {
	long background_per_hour; /* < 0: no limit */
	/* The wall clock in epoch seconds (the persisted file holds those);
	 * NULL: time(NULL).  Tests drive the hour with their own. */
	time_t (*now)(void *arg);
	void *now_arg;
};

struct reserve_stats {
	unsigned long last_hour;	    /* calls sent in the last 60 minutes */
	unsigned long background_last_hour; /* background calls taken in that hour */
	unsigned long background_refused;   /* background calls refused since the start */
	long background_per_hour;	    /* the limit, < 0: none */
};

/* 0 and a new reserve in *@out, or -ENOMEM. */
int reserve_new(struct reserve **out, const struct reserve_config *cfg);
void reserve_free(struct reserve *r);

/* Counts one call sent now in the hourly window. */
void reserve_note_call(struct reserve *r);

/* Before a call made for a background reader: true counts it (go ahead),
 * false means refuse it without a call. */
bool reserve_background_take(struct reserve *r);

/* Keeps the background count across remounts (without it a remount grants
 * the share anew): the calls of the last hour are read from @path, one epoch
 * second a line, the file is rewritten with just those (mode 0600), and each
 * new one is appended.  Opened through base/safedir.h: a symlink or a FIFO at
 * @path is not read (the count starts empty) and is replaced.  0, or -errno
 * (the count then stays per mount).  Call once, before the mount serves. */
int reserve_persist(struct reserve *r, const char *path);

void reserve_get_stats(struct reserve *r, struct reserve_stats *out);

#endif
