/* who: what the process behind a request is, read from /proc.
 *
 * A file manager's thumbnailer or a desktop indexer reads every PDF in a
 * folder the moment it is shown; on this filesystem each first read is an
 * API call from an hourly budget.  The reserve policy (api_background_take)
 * needs to know which reads those are; the PDFs of unknown size need to know
 * who only looks, who stores the size a stat by path gave, who searches text
 * (who_kind) and who holds a file open (who_holds_open).  This module
 * decides from the process's name, by tables in who.c, and from its
 * descriptors.
 */
#ifndef FACTUURFS_WHO_H
#define FACTUURFS_WHO_H

#include <stdbool.h>
#include <sys/types.h>

/* True when process @pid is a background reader (a thumbnailer, an
 * indexer).  Unknown or vanished processes, and pid 0, count as the user's. */
bool who_is_background(pid_t pid);

/* What a process does with the files it stats (docs/SEMANTICS.md, "PDF
 * sizes"), by the program it runs: a table in who.c. */
enum who_kind {
	WHO_OTHER,    /* anything else */
	WHO_LOOKER,   /* ls, stat, du, find: never opens a regular file it stats */
	WHO_COPIER,   /* bsdtar, pax, cpio, rdiff-backup, rclone: takes a file's size
			 from a stat by path and stores that many bytes */
	WHO_SEARCHER, /* grep, rg, ag, ack: reads every file of a tree for a text */
};

/* The kind of process (or thread) @pid: by its name, its process's, or its
 * program's file name; for some copiers also by their subcommand (`rclone ls`
 * only looks).  Answers are kept a second.  Unknown or vanished processes, and
 * pid 0, are WHO_OTHER. */
enum who_kind who_kind(pid_t pid);

/* True when process @pid is a program that removes a file in order to write
 * it anew (mv across file systems, install, cp --remove-destination): its
 * unlink of a record is followed by a create of the same name, which on
 * this filesystem must be an edit of the record, not DELETE and POST. */
bool who_replaces(pid_t pid);

/* Open files: under the kernel's no-open mode an fstat() after open() reaches
 * the filesystem as a GETATTR without a file handle, like a stat() by path;
 * the difference is that the caller holds the file open, which
 * /proc/PID/fdinfo shows (mnt_id and ino) without asking this filesystem
 * anything (docs/SEMANTICS.md, "PDF sizes").  A mount namespace of its own
 * (a sandboxed thumbnailer) gives the same mount other ids: they are read
 * from that namespace's mountinfo, by the filesystem's device. */
struct who_mount;

/* The filesystem mounted at @mountpoint (an absolute path without symlinks,
 * resolved before mounting: resolving it after would ask the filesystem
 * itself), from /proc/self/mountinfo.  0 or -errno; free with who_mount_free(). */
int who_mount_new(struct who_mount **out, const char *mountpoint);
void who_mount_free(struct who_mount *m);

/* True when thread or process @pid holds open the file @ino of mount @m.
 * @suffix, when not NULL, is how the path of such a file ends ("/x.pdf"): a
 * cheap first filter on each descriptor.  False when @pid cannot be looked
 * at (gone, another user's, not dumpable).  Safe from any thread. */
bool who_holds_open(struct who_mount *m, pid_t pid, unsigned long long ino, const char *suffix);

#endif
