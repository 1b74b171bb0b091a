/* save_write: what the user wrote, read and written (the part of ns/save.h a
 * READ, WRITE or SETATTR of a node uses).
 *
 * A record starts a text holding its current text (so a write at an offset
 * edits it); a local file always has a text of its own.  Each function takes
 * the save machine's lock itself, except save_write_load.
 */
#ifndef FACTUURFS_NS_SAVE_WRITE_H
#define FACTUURFS_NS_SAVE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ns/inode.h"
#include "ns/save_state.h"

struct save;

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

/* Gives record @n a text holding its current text (nothing to send yet),
 * unless it has one.  With the lock held (dropped while the record is read). */
int save_write_load(struct save *s, struct node *n);

#endif
