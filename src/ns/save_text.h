/* save_text: a text of the user's in a node, and its limits.
 *
 * What a user wrote into a node (node->text; struct text is the save
 * machine's, ns/save_i.h), where its save stands (its state, moved along
 * ns/save_state.h's table), and what its journal entry holds.  Every function
 * here but save_text_free is called with the save machine's lock (struct
 * save's) held.
 */
#ifndef FACTUURFS_NS_SAVE_TEXT_H
#define FACTUURFS_NS_SAVE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ns/inode.h"
#include "ns/save_state.h"

struct save;
struct text;

/* Limits of what users write: one file holds at most SAVE_TEXT_MAX bytes
 * (more: -EFBIG), all texts together SAVE_TEXTS_MAX (more: -ENOSPC). */
#define SAVE_TEXT_MAX ((size_t)1 << 20)
#define SAVE_TEXTS_MAX ((size_t)64 << 20)

/* Frees a node's text (may be NULL): inodes_new's hook, called with the inode
 * table's lock held, never the save machine's. */
void save_text_free(struct text *t);

/* @n's text, made empty (CLEAN) on first use; NULL on ENOMEM. */
struct text *save_text_of(struct save *s, struct node *n);
/* Moves @t along the transition table (no such transition: logged, kept). */
void save_text_step(struct text *t, enum save_event ev);
/* @t's reason (copied; NULL: none). */
void save_text_set_error(struct text *t, const char *reason);
/* Makes room for @len bytes in @t: -EFBIG, -ENOSPC past the limits. */
int save_text_reserve(struct text *t, size_t len);
/* write(2) and truncate(2) of @n's text (a change by the user, now). */
int save_text_write(struct save *s, struct node *n, const char *data, size_t size, off_t off);
int save_text_truncate(struct save *s, struct node *n, off_t size);
/* Makes @n's text a copy of @from, refused (what a refused rename leaves at
 * its target), or unanswered with @from's pending POST, which moves to @n:
 * saving @n again must look for the record it may have made, not post again. */
int save_text_keep_refused(struct save *s, struct node *n, struct text *from);
/* Hands @t's journal file to the next save_keep() to remove: false on ENOMEM
 * (it stays @t's). */
bool save_text_orphan(struct save *s, struct text *t);
/* Drops @n's text (the record's own shows again); its journal entry goes at
 * the next save_keep(). */
void save_text_drop(struct save *s, struct node *n);

#endif
