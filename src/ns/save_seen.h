/* save_seen: the versions of records a user here may be editing from.
 *
 * A text the mount served to a read or began a text from, or the base a
 * conflict left: the candidates of a save's base (wb_edit takes the one the
 * text is nearest to).  Under no-open the daemon never sees which version an
 * editor opened, so every version it served counts; an editor that read the
 * record before a newer one was shown still merges against its own.  The
 * newest SAVE_SEEN of all records together are kept (a few KiB each).
 *
 * Plain data: its owner (struct save) holds it under its lock.
 */
#ifndef FACTUURFS_NS_SAVE_SEEN_H
#define FACTUURFS_NS_SAVE_SEEN_H

#include <stddef.h>

#include "model/schema.h"

#define SAVE_SEEN 512

struct save_seen_version {
	const struct schema_collection *c;
	char *id;
	char *text;
	size_t len;
	unsigned long serial; /* higher: newer */
};

struct save_seen {
	struct save_seen_version v[SAVE_SEEN];
	size_t next;
	unsigned long serial;
};

/* Keeps @text (@len bytes) as a version of record @id of @c, the newest (the
 * same version again is moved up).  Without memory it is not kept. */
void save_seen_note(struct save_seen *s, const struct schema_collection *c, const char *id,
		    const char *text, size_t len);
/* The versions kept of record @id of @c, newest first, into @out (room for
 * SAVE_SEEN; they stay @s's): how many. */
size_t save_seen_of(const struct save_seen *s, const struct schema_collection *c,
		    const char *id, const struct save_seen_version **out);
/* Frees every version kept. */
void save_seen_clear(struct save_seen *s);

#endif
