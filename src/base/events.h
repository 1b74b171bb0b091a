/* events: what happened on a mount that its user should hear of — errors
 * (with the service's words) and changes made on the service — kept in two
 * short rings for the status file, and written to the log.
 *
 * One per mount, safe from every thread.  Modules at every layer record into
 * the instance they were given; only feat/status.c reads it back, so no
 * module calls up to the one that shows the status.
 */
#ifndef FACTUURFS_BASE_EVENTS_H
#define FACTUURFS_BASE_EVENTS_H

#include <stddef.h>
#include <time.h>

#define EVENTS_KEPT 10

struct events;

struct events_entry {
	time_t when;
	char what[96];       /* the operation or file; empty for a change */
	char message[512];   /* as long as a refusal's reason (user.factuurfs.error) */
	unsigned long times; /* the same entry in a row, counted once */
};

enum events_ring { EVENTS_ERRORS, EVENTS_CHANGES };

/* A refusal was recorded: @summary ("products/p3.json was not saved") and
 * @reason; called outside the events lock (feat/desktop.c shows it). */
typedef void (*events_refusal_fn)(void *ud, const char *summary, const char *reason);

int events_new(struct events **out);
void events_free(struct events *ev);

/* Who hears of refusals besides the log and the rings (one hook; NULL: none).
 * Set before the mount serves. */
void events_on_refusal(struct events *ev, events_refusal_fn fn, void *ud);

/* An error of operation @what ("list invoices"): logged at LOG_ERR. */
void events_error(struct events *ev, const char *what, const char *message);
/* A save (@done "saved") or rm ("deleted") of @file the service or factuurfs
 * refused for @reason: logged as a refusal (the journal gets the file), kept
 * as an error, and passed to the refusal hook. */
void events_refused(struct events *ev, const char *file, const char *done, const char *reason);
/* A change made on the service ("created products/26 from new.json"). */
void events_change(struct events *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Something the status file shows changed without an entry (a refresh). */
void events_touch(struct events *ev);

/* Bumped by every entry and touch: the status file renders again when it moved. */
unsigned long events_generation(struct events *ev);
/* The newest error's message, malloc'd, or NULL when there was none. */
char *events_last_error(struct events *ev);
/* Copies up to @max entries of @ring, newest first, into @out; the count
 * copied.  *@total (may be NULL) gets the number of errors ever recorded. */
size_t events_list(struct events *ev, enum events_ring ring, struct events_entry *out,
		   size_t max, unsigned long *total);

#endif
