/* save_restore: the journal read back at the mount's start (save_journal_open):
 * every text it holds shows again under its name, in its state, with its
 * error; every created name leads to its record again.
 */
#ifndef FACTUURFS_NS_SAVE_RESTORE_H
#define FACTUURFS_NS_SAVE_RESTORE_H

struct journal_entry;

/* journal_load's callback (@ud: the struct save): entry @e (file @file) back
 * as the text it was; what it takes of @e is cleared there.  With the save
 * machine's jlock held, before the mount serves. */
void save_restore(void *ud, struct journal_entry *e, const char *file);

#endif
