/* save_keep: the journal (ns/journal.h) kept in agreement with the texts.
 *
 * After every transition that leaves a text the service does not have, its
 * entry is written; after every one that ends it, the entry goes; before a
 * POST leaves, a "posting" entry with what the lost-POST search needs; once a
 * POST's record is known, the created name.  Without a journal (-o
 * nodiskcache) every function does nothing.  Each says which of the save
 * machine's locks it takes (jlock before lock, never the other way round).
 */
#ifndef FACTUURFS_NS_SAVE_KEEP_H
#define FACTUURFS_NS_SAVE_KEEP_H

#include <stddef.h>
#include <sys/types.h>

#include "ns/inode.h"

struct save;
struct wb_pending;

/* Makes the journal agree with @n's text now (docs/SEMANTICS.md, "Unsaved
 * text survives").  A refused, unanswered or waiting text is written under
 * its name; a text that ended (taken, dropped, reverted, or @n no longer
 * holding a name of its own) has its entry removed; a text in flux (edited,
 * being sent) is left as its entry last had it, for the commit that settles
 * it.  Returns 0, or the -errno of a failed write (a failed removal is only
 * logged: the text it held was taken or dropped).  Takes jlock, then lock;
 * call it with neither held, while @n lives. */
int save_keep(struct save *s, struct node *n);

/* What a POST about to leave needs to journal itself: the ud of a
 * wb_post_hook whose fn is save_keep_posting and created save_keep_created. */
struct save_posting {
	struct save *s;
	struct node *n;
	const char *lname; /* the new file's local name */
	const char *text;
	size_t len;
};
/* wb_post_hook's fn: the new file's entry, in state "posting", on disk before
 * the POST leaves.  Takes jlock, then lock. */
int save_keep_posting(void *ud, const struct wb_pending *p);
/* wb_post_hook's created: the POST made record @id of @in; the journal keeps
 * that the file's name is that record now.  Takes jlock. */
void save_keep_created(void *ud, const struct schema_collection *in, const char *id);

/* With jlock held: the index of created name @file in the names kept, or -1. */
ssize_t save_keep_made_find(struct save *s, const char *file);
/* With jlock held: keeps created name @file (taken; freed on ENOMEM). */
void save_keep_made_add(struct save *s, char *file);
/* rm of the name @name of @c: a created name's entry goes (the name is free
 * for a new file).  Takes jlock. */
void save_keep_unmade(struct save *s, const struct schema_collection *c, const char *name);
/* rm of new file @n, named @name in @c: its journal entry goes for good.
 * Takes jlock, then lock. */
void save_keep_unkeep(struct save *s, const struct schema_collection *c, const char *name,
		      struct node *n);

#endif
