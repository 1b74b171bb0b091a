/* save_target: what a save of a node targets, decided in one place.
 *
 * A node's kind and collection say what its text is and where it goes: a
 * record (a PUT), a new file (a POST that makes a record, or one made through
 * another collection's POST: a draft), a request about a record (a payment, a
 * reminder, a draft sent: wb_act), a scratch file (an editor's temporary or
 * backup, never sent), or nothing a user writes.  The save machine's steps
 * (write, send, take, keep in the journal, the names) read the target's row
 * of one table rather than testing kinds.  No state, no lock.
 */
#ifndef FACTUURFS_NS_SAVE_TARGET_H
#define FACTUURFS_NS_SAVE_TARGET_H

#include <stdbool.h>

#include "ns/inode.h"

enum save_target {
	SAVE_T_NONE,    /* no text of the user's: a directory, a PDF, a view... */
	SAVE_T_FIXED,   /* a record the API cannot change (no PUT) */
	SAVE_T_RECORD,  /* a record: its save is a PUT, merged against a base (wb_edit) */
	SAVE_T_SCRATCH, /* a local file that never reaches the API (editors' temp files) */
	SAVE_T_NEW,     /* a new file whose collection's POST makes its record (wb_create) */
	SAVE_T_THROUGH, /* a new file made through another collection's POST (a draft of
			   invoices_saved/ through invoices/): its "action" is checked first */
	SAVE_T_ACT,     /* a request about a record, named after it: a payment, a reminder,
			   a draft sent (wb_act) */
	SAVE_NTARGETS
};

/* How a commit sends a target's text. */
enum save_send {
	SAVE_SEND_NONE,   /* not at all */
	SAVE_SEND_EDIT,   /* wb_edit: PUT of a record */
	SAVE_SEND_CREATE, /* wb_create: POST of a new record */
	SAVE_SEND_ACT,    /* wb_act: the request a file stands for */
};

/* What the save machine does with a target's text (one row per target). */
struct save_target_rule {
	const char *name;     /* for the log */
	bool record;          /* a record's node: journaled under the record's name, with
				 its base; its save is never left unanswered */
	bool local;           /* a local file: it always has a text of its own */
	bool newfile;         /* a new file: journaled under its local name, with what a
				 lost POST needs; its commit sends it */
	bool through;         /* (SAVE_SEND_CREATE) made through another collection */
	bool named_by_record; /* its name is the record it acts on (<id>.json) */
	enum save_send send;
};

/* The target of a node of kind @kind (enum node_kind, or a dir_new_kind()
 * -errno: SAVE_T_NONE) in collection @c (may be NULL). */
enum save_target save_target_kind(int kind, const struct schema_collection *c);
/* The target of node @n now (its kind changes as a commit turns a file into a
 * record or a payment done into a scratch file). */
enum save_target save_target_of(const struct node *n);
/* @t's row of the table. */
const struct save_target_rule *save_target_rule(enum save_target t);
/* save_target_rule(save_target_of(n)). */
const struct save_target_rule *save_target_rule_of(const struct node *n);

#endif
