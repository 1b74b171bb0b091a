/* save_notice: what the last save of a record the service took left unsaid
 * but must be told (fields it sets, ignored).
 *
 * A notice is the node's user.factuurfs.error until the file is written
 * again; at most SAVE_NOTICES are kept, the oldest dropped first.  Plain
 * data: its owner (struct save) holds it under its lock.
 */
#ifndef FACTUURFS_NS_SAVE_NOTICE_H
#define FACTUURFS_NS_SAVE_NOTICE_H

#include <stddef.h>

#include "ns/inode.h"

/* How many records' notices are kept at once. */
#define SAVE_NOTICES 32

struct save_notices {
	struct {
		fuse_ino_t ino;
		char *text;
	} at[SAVE_NOTICES]; /* newest last */
	size_t n;
};

/* @ino's notice (@ns's), or NULL. */
const char *save_notice_get(const struct save_notices *ns, fuse_ino_t ino);
/* Drops @ino's notice, if any. */
void save_notice_drop(struct save_notices *ns, fuse_ino_t ino);
/* Keeps a copy of @text as @ino's notice, the oldest dropped when full. */
void save_notice_keep(struct save_notices *ns, fuse_ino_t ino, const char *text);
/* Frees them all. */
void save_notice_clear(struct save_notices *ns);

#endif
