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
 * Writes go to "<path>.tmp<tid>" (mode 0600) and are renamed over @path after
 * fsync, so a crash leaves the old file or the new one, never a mix; directories
 * are made 0700.  Thread-safe: no state.
 */
#ifndef FACTUURFS_DISKFILE_H
#define FACTUURFS_DISKFILE_H

#include <stddef.h>

/* The longest payload diskfile_read accepts: a listing of 10,000 invoices is
 * about 20 MB of JSON; more than this is not a file we wrote. */
#define DISKFILE_MAX (256u << 20)

/* Writes @len bytes of @data as @path's whole content, tagged @kind (a word
 * without spaces) and @version.  Returns 0 or -errno (the old file, if any, is
 * left as it was). */
int diskfile_write(const char *path, const char *kind, unsigned version, const void *data,
		   size_t len);

/* Reads @path's payload into *@data (malloc'd, NUL-terminated after *@len
 * bytes; caller frees).  Returns 0; -ENOENT when there is no file; -EBADMSG
 * when it is not a whole file of @kind and @version (torn, corrupted, another
 * version, too big); another -errno when it cannot be read.  *@data is NULL on
 * every error. */
int diskfile_read(const char *path, const char *kind, unsigned version, char **data,
		  size_t *len);

/* mkdir -p of @dir with mode 0700 for what it makes.  Returns 0 or -errno. */
int diskfile_mkdirs(const char *dir);

/* Takes the lock file @path (made 0600 if missing) for this process, without
 * waiting: its descriptor (close it to let go; kept across fork), or -EWOULDBLOCK
 * when another process holds it, or another -errno. */
int diskfile_lock(const char *path);

#endif
