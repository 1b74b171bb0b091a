/* safedir: the cache directory, treated as untrusted input.
 *
 * Everything a mount keeps on disk is under one directory per account
 * ($XDG_CACHE_HOME/factuurfs/<user>@<host>/), which another user may have made
 * first, or filled with symlinks, FIFOs and files of their own, and the daemon
 * may run as root.  So every module that touches it goes through here:
 *
 * - A directory is opened once, never through a symlink, and checked then: owned
 *   by the process's effective user, or refused (-EPERM); writable by group or
 *   others, it is made 0700 (only its owner could do that: it is ours).  A missing
 *   one is made 0700.  Each refusal and repair is one log line naming the path.
 * - Files are then opened relative to that descriptor, so a name swapped for a
 *   symlink after the check cannot redirect them; never through a symlink
 *   (O_NOFOLLOW), never blocking (O_NONBLOCK: opening a FIFO would wait for a
 *   writer for good), and read only when they are regular files of ours.
 * - Temporary files are made with O_EXCL: whatever held the name (a dead
 *   writer's file, a planted symlink) is removed, never written through.
 * - A rename or removal that must survive a power cut is followed by an fsync
 *   of its directory.
 *
 * No state: safe from every thread.  A @dir_path argument is the directory's
 * path, for messages only.
 */
#ifndef FACTUURFS_SAFEDIR_H
#define FACTUURFS_SAFEDIR_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>

#define SAFEDIR_CREATE 1u /* make what is missing (0700) */
/* The cache's root, a directory the user may have chosen (-o cache_dir=/tmp):
 * root's is trusted too, and one with the sticky bit may be writable by others
 * (nobody can rename or remove what is ours in it); one writable by others
 * without it is made 0700 when ours, else refused.  Never chmods a sticky one. */
#define SAFEDIR_ROOT 2u

/* Opens directory @name relative to directory descriptor @at (whose path is
 * @at_path), checked as above.  @name may hold several components ("state/journal"):
 * each is opened and checked in turn.  With @at AT_FDCWD, @name is a path and
 * only its last component is checked: the way to it is the caller's choice and
 * is followed (made, with SAFEDIR_CREATE, as mkdir -p).  Returns the descriptor
 * (O_RDONLY | O_DIRECTORY | O_CLOEXEC: the caller closes it), or -EPERM (another
 * user's), -ENOTDIR (a symlink, a file: not a directory), another -errno. */
int safedir_open(int at, const char *at_path, const char *name, unsigned flags);

/* Opens @name in directory @dirfd to read: its descriptor (and its fstat in *@st,
 * which may be NULL), or -ENOENT, or -EBADMSG when it is not a regular file of
 * ours (a symlink, a FIFO, a device, a directory, another user's: said in one log
 * line; the caller removes or sets aside what it cannot use), or another -errno.
 * With @dirfd AT_FDCWD, @name may be a path (its last component is not followed). */
int safedir_open_read(int dirfd, const char *dir_path, const char *name, struct stat *st);

/* Makes @name in @dirfd a new empty file of ours (0600) and opens it to write,
 * with @oflags added (O_APPEND): the descriptor or -errno.  What held the name
 * is removed first, never followed. */
int safedir_create(int dirfd, const char *name, int oflags);

/* Renames @from to @to in @dirfd; with @durable, the directory is fsynced
 * after, so the new name survives a power cut.  0 or -errno. */
int safedir_rename(int dirfd, const char *from, const char *to, bool durable);

/* Removes @name from @dirfd (a file: a symlink is removed, not followed); with
 * @durable, then fsyncs the directory.  0 when it is gone (or never was), else
 * -errno. */
int safedir_remove(int dirfd, const char *name, bool durable);

/* A readdir stream of directory @dirfd, of its own (its offset shared with no
 * other; closedir closes it), or NULL with errno set. */
DIR *safedir_list(int dirfd);

/* fsync of directory @dirfd (an AT_FDCWD: the current directory).  0 or -errno. */
int safedir_sync(int dirfd);

/* What @st is, in words ("a FIFO", "a symlink", ...), for messages. */
const char *safedir_kind(const struct stat *st);

#endif
