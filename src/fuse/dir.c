/* dir: LOOKUP, FORGET, READDIR(PLUS), READLINK (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>


void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mount *m = mount_of(req);
	struct node *p = inode_get(m->inodes, parent), *n = NULL;
	double neg = VFS_FOREVER;
	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* The kernel lets names up to 1024 bytes through to FUSE. */
	if (strlen(name) > NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	const struct vfs_ops *k = vfs_ops_of(&m->vfs, p->kind);
	if (!k->lookup) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	int rc = k->lookup(&m->vfs, p, name, &n, &neg);
	/* Read before the reply: once it is sent, a FORGET on another thread may free
	 * a node that nothing but the kernel's reference held (a status rendering is
	 * held until its put). */
	const struct vfs_ops *nk = n ? vfs_ops_of(&m->vfs, n->kind) : NULL;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (!n)
		reply_negative(req, neg);
	else
		reply_node(req, m, n);
	if (nk && nk->put)
		nk->put(&m->vfs, n); /* replied: the kernel's reference holds it now */
}

void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(mount_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct mount *m = mount_of(req);
	for (size_t i = 0; i < count; i++)
		inode_forget(m->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Opens need nothing from us: ENOSYS turns on the kernel's no-opendir mode,
 * after which opendirs and releasedirs no longer reach the daemon. */
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

/* Appends one entry; returns false when the buffer is full.  @n may be NULL
 * for "." and "..", which take no lookup reference. */
static bool dir_add(fuse_req_t req, struct mount *m, char *buf, size_t size, size_t *used,
		    bool plus, const char *name, struct node *n, const struct stat *dot,
		    off_t next)
{
	struct fuse_entry_param e;
	size_t need;
	double timeout = 0;
	memset(&e, 0, sizeof(e));
	/* A PDF of unknown size goes with its placeholder and an attribute
	 * timeout of 0 (vfs/coll.c), so `ls -l` costs one GETATTR per such
	 * PDF rather than a LOOKUP and a GETATTR.  Every read() asks for the
	 * attributes again until the size is known, so a placeholder that
	 * reaches the kernel while a reader's fetch runs cannot cut a read
	 * (docs/SEMANTICS.md, "PDF sizes", names the one case it can: mmap
	 * right after fstat, during a concurrent listing). */
	if (!n)
		e.attr = *dot;
	else if (node_attr(m, n, &e.attr, &timeout) < 0)
		return true; /* vanished meanwhile: leave it out */
	if (!plus) {
		need = fuse_add_direntry(req, buf + *used, size - *used, name, &e.attr, next);
		if (need > size - *used)
			return false;
		*used += need;
		return true;
	}
	if (n) {
		e.ino = n->ino;
		e.attr_timeout = timeout;
		/* The status file's name opens its newest rendering (vfs/control.c):
		 * looked up at every open. */
		if (timeout > 0)
			e.entry_timeout = timeout;
		else
			e.entry_timeout = vfs_ops_of(&m->vfs, n->kind)->name_every_open ? 0 : m->ttl;
	}
	need = fuse_add_direntry_plus(req, buf + *used, size - *used, name, &e, next);
	if (need > size - *used)
		return false; /* did not fit: no reference taken */
	*used += need;
	if (n)
		inode_ref(m->inodes, n);
	return true;
}

/* A READDIR's offset: the index of the next entry, and in the bits above
 * DIR_INDEX_BITS the content version of the listing it counts in (0 for a
 * directory without versions, and at the start). */
#define DIR_INDEX_BITS 32
#define DIR_INDEX_MASK ((1ULL << DIR_INDEX_BITS) - 1)
#define DIR_VERSION_MASK 0x7fffffffUL /* the offset stays positive */

/* Entry k: 0 ".", 1 "..", then the directory's own entries in order (its
 * kind's list and entry); the offset handed back is the index of the next, with
 * the version of the listing counted in.
 *
 * A collection is read with one READDIR after another, each a snapshot of its
 * own, and its listing may be replaced in between (a refresh lands): counted in
 * the new one, an index skips a record or gives one twice.  So a read goes on
 * in the listing it began with (cache_listing_version keeps the replaced one a
 * few seconds).  And the kernel's cache of the directory (no-opendir caches it
 * by default) is built from the replies of whichever readers come first, keyed by
 * the directory's mtime when one of them started: a reply made from the old
 * listing, taken in after a reader started with the new mtime (one whose own
 * change made it), would be served to that reader as its directory from then on
 * (a record it created missing).  Every READDIR after the first is sent after
 * what the one before it got is in that cache: when the listing it counts in
 * is no longer the one held, that cache's pages are dropped before the reply,
 * so the kernel lists the directory again at its next read. */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct mount *m = mount_of(req);
	struct node *d = inode_get(m->inodes, ino);
	struct vfs_list snap = {0};
	struct stat dot;
	char name[1024], *buf = NULL;
	size_t used = 0;
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	const struct vfs_ops *k = vfs_ops_of(&m->vfs, d->kind);
	if (!k->list || !k->entry) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	snap.want = ((unsigned long long)off >> DIR_INDEX_BITS) & DIR_VERSION_MASK;
	int rc = k->list(&m->vfs, d, &snap);
	if (rc < 0)
		goto out;
	if (snap.stale)
		kernel_inval_now(m->kernel, d->ino);
	unsigned long long ver = (unsigned long long)(snap.version & DIR_VERSION_MASK)
				 << DIR_INDEX_BITS;
	vfs_attr_dir(&m->vfs, &dot, d->ino, m->started);
	for (off_t i = (off_t)((unsigned long long)off & DIR_INDEX_MASK); i >= 0; i++) {
		struct node *n = NULL;
		const char *nm = name;
		if (i == 0) {
			nm = ".";
		} else if (i == 1) {
			nm = "..";
			dot.st_ino = vfs_parent(&m->vfs, d);
		} else if (!k->entry(&m->vfs, d, &snap, (size_t)i - 2, name, sizeof(name), &n)) {
			break;
		} else if (!n) {
			continue; /* a local file removed meanwhile */
		}
		bool added = dir_add(req, m, buf, size, &used, plus, nm, n, &dot,
				     (off_t)(ver | (unsigned long long)(i + 1)));
		if (n)
			vfs_put(&m->vfs, n); /* (its reply below is sent after) */
		if (!added)
			break;
	}
out:
	vfs_list_free(&snap);
	if (rc < 0 && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	struct stat st;
	double timeout;
	const struct vfs_ops *k = n ? vfs_ops_of(&m->vfs, n->kind) : NULL;
	if (!n || !k->link) {
		fuse_reply_err(req, n ? EINVAL : ENOENT);
		return;
	}
	int rc = node_attr(m, n, &st, &timeout); /* still in its directory? */
	char *t = rc == 0 ? k->link(&m->vfs, n) : NULL;
	if (rc == 0 && !t)
		rc = -ENOMEM;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, t);
	free(t);
}
