/* save_delete: the delete of a record by rm(1) — its collection's guard (a
 * sent invoice), a copy kept in .factuurfs/deleted/ before the DELETE leaves,
 * then the DELETE (feat/writeback.c).
 */
#ifndef FACTUURFS_NS_SAVE_DELETE_H
#define FACTUURFS_NS_SAVE_DELETE_H

#include "ns/inode.h"
#include "ns/save_effects.h"

struct save;

/* Deletes record @n, named @name in collection directory @dir (@what:
 * "clients/1.json", for the status file).  0, or -errno with the reason told
 * (a record that cannot be read first is not deleted: its guard cannot be
 * checked, nor its copy kept).  Takes no lock of the save machine. */
int save_delete_record(struct save *s, struct node *dir, struct node *n, const char *name,
		       const char *what, struct save_effects *fx);

#endif
