/* deleted: the last JSON of every record deleted through factuurfs, kept on disk
 * for DELETED_KEEP_DAYS so that a delete can be undone (copy it back into its
 * collection: a POST).
 *
 * One plain file per record, <dir>/<collection>/<file name> (0600, directories
 * 0700, each checked when used: base/safedir.h), where <dir> is the account's
 * state directory's deleted/; its mtime is when the record was deleted.  Only
 * regular files of ours count: a symlink or a FIFO there is not listed, read or
 * followed.  A file older than DELETED_KEEP_DAYS is removed
 * when the store opens and whenever a record is kept; listings never show one.
 * The mount shows the files read-only under .factuurfs/deleted/<collection>/.
 * Every function takes a NULL store (-o nodiskcache): nothing is kept.
 */
#ifndef FACTUURFS_STORE_DELETED_H
#define FACTUURFS_STORE_DELETED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#define DELETED_KEEP_DAYS 30

struct deleted;

/* The store in @dir (made 0700 when missing; copied), old files removed.  With
 * @dir NULL, *@out is NULL and 0 is returned.  -errno when @dir cannot be made. */
int deleted_open(struct deleted **out, const char *dir);
void deleted_free(struct deleted *d);

/* Keeps @text as <collection @coll>/<@name> (a file name: "2024-001.json"),
 * replacing an older copy.  Written to a temporary (O_EXCL) and renamed, the
 * directory fsynced: whole or not at all, and kept once this returns 0.  0 or
 * -errno (-EINVAL for a name that is not one file's). */
int deleted_keep(struct deleted *d, const char *coll, const char *name, const char *text,
		 size_t len);

/* The names kept for @coll, sorted (malloc'd array of malloc'd strings, the
 * caller's), younger than DELETED_KEEP_DAYS.  0 (none: *@names NULL) or -errno. */
int deleted_names(struct deleted *d, const char *coll, char ***names, size_t *n);

/* The file kept as @coll/@name: its stat (size, mtime), or its text (malloc'd,
 * the caller's).  -ENOENT when there is none (or it is too old). */
int deleted_stat(struct deleted *d, const char *coll, const char *name, struct stat *st);
int deleted_read(struct deleted *d, const char *coll, const char *name, char **text,
		 size_t *len);

/* When @coll's directory last changed (a record kept or removed); -ENOENT
 * when none was ever kept. */
int deleted_changed(struct deleted *d, const char *coll, struct timespec *when);

/* Removes what is older than DELETED_KEEP_DAYS at wall time @now; the number
 * of files removed. */
size_t deleted_expire(struct deleted *d, time_t now);

#endif
