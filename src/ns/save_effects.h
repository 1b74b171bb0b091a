/* save_effects: what the kernel must be told after an operation of the save
 * machine, before its reply.
 *
 * Data: every operation that changes what the kernel shows fills one, and
 * the FUSE layer tells the kernel (ns never calls up).  The caller owns it;
 * no lock.
 */
#ifndef FACTUURFS_NS_SAVE_EFFECTS_H
#define FACTUURFS_NS_SAVE_EFFECTS_H

#include <stdbool.h>
#include <stddef.h>

#include "ns/inode.h"

struct save_effects {
	fuse_ino_t now[8];      /* drop the attributes and pages of these, at once */
	size_t nnow;
	struct {
		fuse_ino_t parent;
		char name[256];
	} entries[2];           /* drop these names (queued: the operation may hold the
				   directory's lock) */
	size_t nentries;
	bool views;             /* every view directory and export: a change may move
				   invoices between them */
};

/* Adds @ino to @fx->now (once; past the array's room it is not told). */
void save_effects_now(struct save_effects *fx, fuse_ino_t ino);
/* Adds the name @name of directory @parent to @fx->entries. */
void save_effects_entry(struct save_effects *fx, fuse_ino_t parent, const char *name);

#endif
