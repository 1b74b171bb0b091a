/* save: what users write, and when it reaches the service — the save state
 * machine of docs/ARCHITECTURE.md.
 *
 * A file that can be written holds a text of the user's (struct text): a
 * record being edited, a new file (a record, or a payment, to be), a scratch
 * file.  Its state is one of enum save_state, and every change of state is
 * one row of the transition table in save.c.  Writes only change the text;
 * a commit — on close (FLUSH), fsync, or a rename onto the file's name —
 * sends it whole (feat/writeback.c), and nothing partial is ever sent.  A
 * refused text stays, with the reason, until it is fixed or removed.
 *
 * Every operation that changes what the kernel shows returns the change as
 * struct save_effects; the FUSE layer tells the kernel (this layer never
 * calls up).  One per mount; its lock is private (taken before the inode
 * table's, never the other way round) and never held across a call.
 */
#ifndef FACTUURFS_NS_SAVE_H
#define FACTUURFS_NS_SAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ns/inode.h"

struct cache;
struct events;
struct wb;

/* Limits of what users write: one file holds at most SAVE_TEXT_MAX bytes
 * (more: -EFBIG), all texts together SAVE_TEXTS_MAX (more: -ENOSPC). */
#define SAVE_TEXT_MAX ((size_t)1 << 20)
#define SAVE_TEXTS_MAX ((size_t)64 << 20)

/* How long a record unlinked by a program that writes files anew (mv across
 * file systems: base/who.h) stays "no such file" for the create that
 * follows; after it the record shows again, untouched. */
#define SAVE_REPLACE_HOLD 2.0

/* How many records' notices (a save taken with fields ignored) are kept at once. */
#define SAVE_NOTICES 32

/* The states of a text (save.c has the transition table). */
enum save_state {
	SAVE_CLEAN,      /* nothing of the user's unsent: a record's own text, or what the
			    service took */
	SAVE_EDITED,     /* written since the last commit */
	SAVE_SENDING,    /* a commit of it is in flight */
	SAVE_REFUSED,    /* refused: the user's text, kept with the reason */
	SAVE_UNANSWERED, /* a POST of it got no answer: the next commit looks for the record
			    it may have made before it posts again */
	SAVE_WAITING,    /* a template copied as it is: kept, not sent, until edited */
	SAVE_NSTATES
};

/* What the kernel must be told after an operation, before its reply. */
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
/* Frees a node's text: inodes_new's hook. */
void save_text_free(struct text *t);

/* ---- what the user wrote --------------------------------------------------- */

/* Reads @n's text when it has one of its own (a local file always has):
 * true, with *@got bytes at @off copied to @buf.  False: read the record. */
bool save_read(struct save *s, struct node *n, char *buf, size_t size, off_t off, size_t *got);
/* The size of @n's text, when it has one (true). */
bool save_size(struct save *s, struct node *n, off_t *size);
/* Why @n's last save was refused, malloc'd, or NULL (user.factuurfs.error). */
char *save_error(struct save *s, struct node *n);
/* Record @n's text @text was served to a read: a version a user here may be
 * editing from, which a save of the record may merge against (wb_edit). */
void save_served(struct save *s, struct node *n, const char *text, size_t len);
/* The state of @n's text (SAVE_CLEAN when it has none). */
enum save_state save_state_of(struct save *s, struct node *n);

/* write(2) and truncate(2) of @n: a record starts a text holding its current
 * text (so a write at an offset edits it); what the API cannot change is
 * -EPERM; -EFBIG, -ENOSPC past the limits. */
int save_write(struct save *s, struct node *n, const char *data, size_t size, off_t off);
int save_truncate(struct save *s, struct node *n, off_t size);

/* Commits @n's text: on FLUSH (@fsync false: close() reports the result),
 * FSYNC (@fsync: a refused text is tried again).  0 when there was nothing to
 * send or the service took it; -errno after a refusal, recorded with the
 * reason.  A commit finding one of the same text in flight waits for it and
 * reports its outcome. */
int save_commit(struct save *s, struct node *n, bool fsync, struct save_effects *fx);

/* ---- names in a collection directory (@dir) ------------------------------------ */

/* create(2) of @name: a new file, a scratch file, or (O_CREAT without
 * O_EXCL, or mv writing the record it unlinked) the existing file, truncated
 * with O_TRUNC.  *@out is the node (no reference taken). */
int save_create(struct save *s, struct node *dir, const char *name, mode_t mode, int flags,
		struct node **out);
/* Deletes of records: kept in @d once the service deleted them (may be NULL:
 * not kept), and a collection's delete_guard (a sent invoice) passed only with
 * @allow_guarded (-o allow_invoice_delete).  Before the mount serves. */
struct deleted;
void save_set_deletes(struct save *s, struct deleted *d, bool allow_guarded);

/* Where a save the service took is told, so the record's time is no earlier
 * (store/times.h; may be NULL).  Before the mount serves. */
struct times;
void save_set_times(struct save *s, struct times *t);

/* unlink(2) of @name by process @pid: a local name goes; a record's refused
 * text is dropped (the record shows again); a record unlinked by a program
 * that writes it anew is held for the save that follows; else DELETE. */
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
