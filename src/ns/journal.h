/* journal: the unsaved texts of a mount, on disk.
 *
 * The save machine (ns/save_keep.c) keeps here every text the service does
 * not have and that close(), fsync() or rename() has already answered for: a
 * refused save, a new file not yet accepted (a template waiting for its edit), a POST whose
 * answer was lost, and a POST about to leave (written before it does); and,
 * once a POST's record is known, that the new file's name is that record
 * now, so that the name is never posted again by a later mount.  The
 * next mount of the same account reads them back (save_journal_open), so
 * they survive kill -9, unmount and reboot (docs/SEMANTICS.md, "Unsaved text
 * survives").
 *
 * One file per text in <account dir>/state/journal/, named after the file it
 * holds ("clients=1.json.entry"; a created name's is "clients=new.json.made",
 * read before the texts), written whole or not at all with
 * base/diskfile (kind "journal", JOURNAL_VERSION; 0600, the directory 0700).
 * Its payload is one line of JSON (the entry's fields), a newline, then the
 * text's bytes as they are.  A file that is not one whole entry of this
 * version (torn, corrupted, another version, a name that does not match its
 * content) is never used: it is renamed "<file>.bad" and left for the user;
 * leftover temporary files of a torn write are removed.
 *
 * The directory is opened once and checked, and every entry opened in it,
 * through base/safedir.h: a symlink or a FIFO under an entry's name is set aside,
 * never followed or waited on; each write and removal is durable (the directory
 * fsynced) before it returns.  Calls are not concurrent: the save machine
 * makes every one under its jlock (a directory removed by hand is made again, and its
 * descriptor replaced, inside journal_write).
 */
#ifndef FACTUURFS_NS_JOURNAL_H
#define FACTUURFS_NS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct wb_pending;

#define JOURNAL_KIND "journal"
/* The payload's format: bumped on any change an older reader could misread
 * (an older file is then set aside, never misread).  A new state is not one:
 * an older reader sets an entry of a state it does not know aside. */
#define JOURNAL_VERSION 1

/* What an entry's text is waiting for. */
enum journal_state {
	JOURNAL_REFUSED,    /* the save was refused: the reason in error */
	JOURNAL_UNANSWERED, /* its POST got no answer: pending says what to look for */
	JOURNAL_WAITING,    /* a template as it is: kept, not sent, until edited */
	JOURNAL_POSTING,    /* its POST was about to leave (and may have): as UNANSWERED */
	JOURNAL_CREATED,    /* its POST made record made_id of made_in: the name leads
			     * there until the mount ends cleanly (text: what was posted) */
	JOURNAL_NSTATES
};

/* One text.  journal_put borrows every field; journal_decode and
 * journal_load's callback give owned ones (journal_entry_clear frees them;
 * a callback may take one and set it to NULL). */
struct journal_entry {
	char *collection;   /* the collection's name: "clients" */
	char *name;         /* the file's name in that directory: "1.json", "new.json" */
	char *id;           /* a record's identifier (name is its file name); NULL: a new file */
	enum journal_state state;
	int err;            /* the errno its save failed with (positive), 0 if none */
	char *error;        /* why (user.factuurfs.error), or NULL */
	unsigned mode;      /* the file's permission bits */
	int64_t mtime;      /* its modification time */
	long mtime_ns;
	/* UNANSWERED and POSTING (required), WAITING (may carry one): the POST whose
	 * answer was lost, as feat/writeback.h reads it back; NULL otherwise. */
	struct wb_pending *pending;
	/* CREATED (required, and only there): the record the new file became,
	 * record made_id of the collection named made_in. */
	char *made_in;
	char *made_id;
	/* A record's (may be NULL): the version its text started from, as a file shows
	 * it (pythonic JSON text), which its save merges against. */
	char *base;
	size_t base_len;
	char *text;         /* the user's bytes (NUL-terminated after len when decoded) */
	size_t len;
};

void journal_entry_clear(struct journal_entry *e);

/* The entry's file name in the journal directory (malloc'd), or NULL when
 * @collection or @name cannot be one (or on ENOMEM). */
char *journal_file(const char *collection, const char *name);
/* The same for a CREATED entry, which holds no text of the user's: a file of
 * its own beside the name's text entry, "clients=new.json.made". */
char *journal_made_file(const char *collection, const char *name);

/* The payload of @e (malloc'd in *@out, *@len bytes).  0 or -errno. */
int journal_encode(const struct journal_entry *e, char **out, size_t *len);
/* Reads payload @data of @len bytes into @e (zeroed first).  0, or -EBADMSG
 * when it is not one whole, valid entry (nothing kept then), or -ENOMEM. */
int journal_decode(const char *data, size_t len, struct journal_entry *e);

struct journal;

/* The journal in directory @dir (made 0700 when missing; checked: base/safedir.h).
 * 0 or -errno. */
int journal_open(struct journal **out, const char *dir);
void journal_free(struct journal *j);
const char *journal_dir(const struct journal *j);

/* Writes @e as its file (journal_file, journal_made_file for a CREATED
 * one), replacing what it held.  0 or -errno:
 * the old content, if any, stays. */
int journal_put(struct journal *j, const struct journal_entry *e);
/* The same for a payload journal_encode made, as file @file. */
int journal_write(struct journal *j, const char *file, const void *data, size_t len);
/* Removes entry file @file (a journal_file name).  0 when it is gone (or was
 * never there), else -errno. */
int journal_drop(struct journal *j, const char *file);

/* Calls @fn for every whole entry in the directory, with its file name: the
 * created names first, then the texts, each in the order of the names; sets
 * aside what is not whole and removes torn temporary files (see above).  The number of entries passed, or -errno when
 * the directory cannot be read. */
int journal_load(struct journal *j,
		 void (*fn)(void *ud, struct journal_entry *e, const char *file), void *ud);

#endif
