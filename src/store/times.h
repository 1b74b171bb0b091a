/* times: a record file's modification time, as well as factuurfs can know when
 * the record last changed (docs/SEMANTICS.md, "File times").
 *
 * The one rule (times_rule): the service's own change time where the record
 * carries one (model/schema.h, schema_record_changed: a client's `timestamp`,
 * the newest event of an invoice's `history`), else the time this account's
 * mount first saw the record's current content; never before a save of ours,
 * never in the future, and later than the time kept for its previous content.
 * What was decided is kept per record (the hash of the text it was decided
 * for, the time, the last save's time), so that the same content has the same
 * time on every mount of the same cache, and a new content a new time.
 *
 * Kept on disk in the account's state/times/, one file per collection
 * (base/diskfile.h: whole or not at all, never trusted when read: a file that
 * is not one whole file of ours is set aside and rebuilt; an entry in the
 * future is not used), written at most once a second as times are decided and
 * at times_free.  Without a directory (-o nodiskcache, a second mount of the
 * account) they are kept in memory only.  Thread-safe: one lock, innermost.
 */
#ifndef FACTUURFS_STORE_TIMES_H
#define FACTUURFS_STORE_TIMES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "model/schema.h"

struct times;

/* The store in directory @dir (made 0700 when missing), or in memory only with
 * @dir NULL.  0 or -errno (then *@out is an in-memory store all the same, unless
 * -ENOMEM). */
int times_open(struct times **out, const char *dir);
/* Writes what was decided since the last write, then frees.  @t may be NULL. */
void times_free(struct times *t);

/* The file time of record @stem of @c (its file-name stem) whose file's text is
 * @text (@len bytes), fetched at wall time @seen (its listing's fetch; 0: now).
 * With @t NULL: @seen. */
struct timespec times_of(struct times *t, const struct schema_collection *c, const char *stem,
			 const char *text, size_t len, time_t seen);

/* The time last decided for record @stem of @c, whatever its content then, into
 * *@ts: true; false when none was.  Decides nothing (a text being edited starts
 * with the time its file showed). */
bool times_peek(struct times *t, const struct schema_collection *c, const char *stem,
		struct timespec *ts);

/* The service took a save of ours that changes record @stem of @c, at @when: its
 * time from now on is no earlier (whatever content it shows next). */
void times_saved(struct times *t, const struct schema_collection *c, const char *stem,
		 struct timespec when);

/* What is kept of a record: the hash of the text its time was decided for (0:
 * none yet), that time and the time of the last save of ours (0: none), in
 * nanoseconds since the epoch. */
struct times_kept {
	unsigned long long hash;
	long long mtime, saved;
};

/* The rule: the time of a record whose content is new to @k (NULL: nothing kept
 * of it), which the service says changed no later than @service (0: it says
 * nothing), fetched at @seen, at @now (all in nanoseconds since the epoch). */
long long times_rule(const struct times_kept *k, long long service, long long seen,
		     long long now);

#endif
