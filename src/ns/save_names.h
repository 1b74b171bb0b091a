/* save_names: the names of a collection directory that the save machine
 * answers for — create(2), unlink(2), link(2) and rename(2) of local files
 * and records (editors' temporary files and backups, mv, cp).
 *
 * Each takes the save machine's locks itself; none may be held.
 */
#ifndef FACTUURFS_NS_SAVE_NAMES_H
#define FACTUURFS_NS_SAVE_NAMES_H

#include <sys/types.h>

#include "ns/inode.h"
#include "ns/save_effects.h"

struct save;

/* How long a record unlinked by a program that writes files anew (mv across
 * file systems: base/who.h) stays "no such file" for the create that
 * follows; after it the record shows again, untouched. */
#define SAVE_REPLACE_HOLD 2.0

/* create(2) of @name in @dir: a new file, a scratch file, or (O_CREAT without
 * O_EXCL, or mv writing the record it unlinked) the existing file, truncated
 * with O_TRUNC.  *@out is the node (no reference taken). */
int save_create(struct save *s, struct node *dir, const char *name, mode_t mode, int flags,
		struct node **out);
/* unlink(2) of @name by process @pid: a local name goes; a record's refused
 * text is dropped (the record shows again); a record unlinked by a program
 * that writes it anew is held for the save that follows; else DELETE
 * (ns/save_delete.h). */
int save_unlink(struct save *s, struct node *dir, const char *name, pid_t pid,
		struct save_effects *fx);
/* rename(2) of @from to @to within @dir: a scratch file onto a record or a new
 * name commits it (refused: the target shows the refused text, the source
 * stays); a record to a scratch name (an editor's backup) copies it; anything
 * else the API cannot do is -EPERM. */
int save_rename(struct save *s, struct node *dir, const char *from, const char *to,
		unsigned int flags, struct save_effects *fx);
/* link(2) of @src as scratch name @name (gio save -b): a local copy; *@out the
 * new node (no reference taken). */
int save_link(struct save *s, struct node *src, struct node *dir, const char *name,
	      struct node **out);

#endif
