/* save: what users write, and when it reaches the service — the save state
 * machine of docs/ARCHITECTURE.md.
 *
 * A file that can be written holds a text of the user's (struct text,
 * ns/save_text.h; its fields are the machine's own): a record being edited, a new file (a record, or a
 * payment, to be), a scratch file — what a save targets is decided in one
 * place (ns/save_target.h).  Its state is one of enum save_state, and every
 * change of state is one row of the transition table (ns/save_state.h).
 * Writes only change the text; a commit — on close (FLUSH), fsync, or a
 * rename onto the file's name — sends it whole (feat/writeback.c,
 * ns/save_commit.h), and nothing partial is ever sent.  A refused text stays,
 * with the reason, until it is fixed or removed, and what the service does
 * not have is kept in the journal (ns/save_keep.h).
 *
 * Every operation that changes what the kernel shows returns the change as
 * struct save_effects (ns/save_effects.h); the FUSE layer tells the kernel
 * (this layer never calls up).  One per mount; its lock is private (taken
 * before the inode table's, never the other way round) and never held across
 * a call.
 *
 * This header is the machine's whole interface: its life cycle here, and the
 * headers of the operations (reads and writes, the commit, the names), which
 * it includes.
 */
#ifndef FACTUURFS_NS_SAVE_H
#define FACTUURFS_NS_SAVE_H

#include <stdbool.h>

#include "ns/inode.h"
#include "ns/save_commit.h"
#include "ns/save_effects.h"
#include "ns/save_names.h"
#include "ns/save_state.h"
#include "ns/save_text.h"
#include "ns/save_write.h"

struct cache;
struct deleted;
struct events;
struct times;
struct wb;

struct save_config {
	struct inodes *inodes;
	struct cache *cache;
	struct wb *wb;
	struct events *events;
	double (*now)(void);    /* CLOCK_MONOTONIC seconds; NULL: clock_mono */
};

struct save;

int save_new(struct save **out, const struct save_config *cfg);
/* Keeps what the service does not have in the journal in @dir (ns/journal.h;
 * made 0700 when missing), and brings back every text it holds: each shows
 * again under its name, in its state, with its error.  Before the mount
 * serves; without it (-o nodiskcache) nothing is journaled.  The number of
 * whole entries read, or -errno (then nothing is journaled). */
int save_journal_open(struct save *s, const char *dir);
/* The mount ends cleanly (FUSE's destroy): the names its new files were
 * created under stop leading to their records, in the journal too (a kill
 * keeps them for the next mount: ns/journal.h). */
void save_end(struct save *s);
/* After inodes_free: the nodes' texts count their bytes in @s. */
void save_free(struct save *s);

/* Deletes of records: kept in @d once the service deleted them (may be NULL:
 * not kept), and a collection's delete_guard (a sent invoice) passed only with
 * @allow_guarded (-o allow_invoice_delete).  Before the mount serves. */
void save_set_deletes(struct save *s, struct deleted *d, bool allow_guarded);
/* Where a save the service took is told, so the record's time is no earlier
 * (store/times.h; may be NULL).  Before the mount serves. */
void save_set_times(struct save *s, struct times *t);

#endif
