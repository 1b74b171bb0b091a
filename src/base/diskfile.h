/* diskfile: the daemon's small state files (listings, records, the journal of
 * unsaved text), written whole or not at all and never trusted when read back.
 *
 * A file is one header line, then the payload:
 *   "factuurfs <kind> <version> <length> <crc32>\n" <length bytes>
 * <kind> names what the payload is ("listing", "journal", ...), so a file put in
 * the wrong place is refused; <version> is the payload format's, so a file of an
 * older or newer factuurfs is refused rather than misread; <length> and the zlib
 * CRC-32 of the payload catch a torn or corrupted file.  A refused file is the
 * caller's to remove and rebuild (refetch): nothing in it is used.
 *
 * Writes go to "<name>.tmp<tid>" (mode 0600, made with O_EXCL: base/safedir.h)
 * and are renamed over the name after fsync, and the directory is fsynced after
 * the rename: a crash leaves the old file or the new one, never a mix, and a
 * write that returned 0 survives a power cut.  Reads never follow a symlink,
 * never block (a FIFO) and take only a regular file of ours.  Thread-safe: no
 * state.
 *
 * Each function names its file by a path, or (the *at forms, which the daemon
 * uses) by a directory descriptor that base/safedir.h opened and checked and a
 * name in it, so that nothing swapped into the path after the check is followed.
 */
#ifndef FACTUURFS_DISKFILE_H
#define FACTUURFS_DISKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* The longest payload diskfile_read accepts: a listing of 10,000 invoices is
 * about 20 MB of JSON; more than this is not a file we wrote. */
#define DISKFILE_MAX (256u << 20)

/* Writes @len bytes of @data as @path's whole content, tagged @kind (a word
 * without spaces) and @version.  Returns 0 or -errno (the old file, if any, is
 * left as it was). */
int diskfile_write(const char *path, const char *kind, unsigned version, const void *data,
		   size_t len);
int diskfile_writeat(int dirfd, const char *name, const char *kind, unsigned version,
		     const void *data, size_t len);

/* A file written in pieces, for a payload too big to hold at once whose length
 * and CRC are known first (store/persist.c renders a listing twice: once to
 * count, once to write).  diskfile_open writes the header to the temporary
 * file; diskfile_put appends; diskfile_close checks that exactly @len bytes
 * with that CRC came, fsyncs and renames, or removes the temporary file (on any
 * error, or with @abort).  Each returns 0 or -errno; close always frees @o. */
struct diskfile_out;
int diskfile_open(struct diskfile_out **out, const char *path, const char *kind,
		  unsigned version, size_t len, unsigned long crc);
int diskfile_openat(struct diskfile_out **out, int dirfd, const char *name, const char *kind,
		    unsigned version, size_t len, unsigned long crc);
int diskfile_put(struct diskfile_out *o, const void *data, size_t len);
int diskfile_close(struct diskfile_out *o, bool abort);

/* diskfile_close in two steps, for a caller that orders the rename with a lock
 * of its own: diskfile_ready checks the payload and fsyncs the temporary file
 * (0; or -errno, and @o is removed and freed); diskfile_commit then renames it
 * into place, with @stale its mtime set to the epoch first, with @durable the
 * directory fsynced after, and frees @o.  Each returns 0 or -errno. */
int diskfile_ready(struct diskfile_out *o);
int diskfile_commit(struct diskfile_out *o, bool stale, bool durable);

/* The zlib CRC-32 of the header, continued over @len bytes of @data: start with
 * @crc 0. */
unsigned long diskfile_crc(unsigned long crc, const void *data, size_t len);

/* Reads @path's payload into *@data (malloc'd, NUL-terminated after *@len
 * bytes; caller frees).  Returns 0; -ENOENT when there is no file; -EBADMSG
 * when it is not a whole file of @kind and @version (torn, corrupted, another
 * version, too big), or not a regular file of ours (a symlink, a FIFO: never
 * opened to wait); another -errno when it cannot be read.  *@data is NULL on
 * every error.  The *at form also gives the file's fstat in *@st (may be NULL);
 * @dir_path is @dirfd's path, for messages. */
int diskfile_read(const char *path, const char *kind, unsigned version, char **data,
		  size_t *len);
int diskfile_readat(int dirfd, const char *dir_path, const char *name, const char *kind,
		    unsigned version, char **data, size_t *len, struct stat *st);

/* Takes the lock file @name of @dirfd (made 0600 if missing) for this process,
 * without waiting: its descriptor (close it to let go; kept across fork), or
 * -EWOULDBLOCK when another process holds it, -EBADMSG when the name holds
 * something other than a file of ours, or another -errno. */
int diskfile_lock(int dirfd, const char *name);

#endif
