/* reply: what every node kind builds its answers from — the attributes of a
 * directory, a file and a symlink, and a READ answered from text in memory (see
 * mount.h).  Below the kinds: nothing here looks at a node's kind.
 */
#include "fuse/mount.h"

#include <string.h>

void attr_dir(struct mount *m, struct stat *st, fuse_ino_t ino, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | FS_DIR_MODE;
	st->st_nlink = 2;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_size = 4096;
	st->st_blocks = 8;
	st->st_mtime = st->st_atime = mtime;
	/* A directory's ctime is the mount's start and never moves, while its
	 * mtime follows the listing (it is unknown until the first listing):
	 * tar takes a ctime that moved while it read a directory for a change
	 * ("file changed as we read it"), and the first `tar cf` of a
	 * collection is what lists it. */
	st->st_ctime = m->started;
}

void attr_file(struct mount *m, struct stat *st, fuse_ino_t ino, mode_t mode, off_t size,
	       time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

void attr_link(struct mount *m, struct stat *st, fuse_ino_t ino, size_t len, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 1;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_size = (off_t)len;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

void reply_negative(fuse_req_t req, double timeout)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.entry_timeout = timeout; /* ino 0: a cached "no such name" */
	fuse_reply_entry(req, &e);
}

void reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	fuse_reply_buf(req, text + off, size);
}
