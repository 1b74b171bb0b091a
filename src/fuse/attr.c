/* attr: a node's attributes through its kind, the entries replied for it, GETATTR
 * and SETATTR (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/names.h"
#include "base/who.h"

int node_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	return vfs_node_attr(&m->vfs, n, st, timeout);
}

int entry_of(struct mount *m, struct node *n, struct fuse_entry_param *e)
{
	double timeout;
	memset(e, 0, sizeof(*e));
	int rc = node_attr(m, n, &e->attr, &timeout);
	if (rc < 0)
		return rc;
	e->ino = n->ino;
	e->attr_timeout = timeout;
	e->entry_timeout = timeout > 0 ? timeout
				       : (vfs_ops_of(&m->vfs, n->kind)->name_keeps ? m->ttl : 0);
	inode_ref(m->inodes, n);
	return 0;
}

void reply_node(fuse_req_t req, struct mount *m, struct node *n)
{
	struct fuse_entry_param e;
	int rc = entry_of(m, n, &e);
	if (rc == -ENOENT)
		reply_negative(req, 0);
	else if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_entry(req, &e) != 0)
		inode_forget(m->inodes, n->ino, 1);
}

/* ---- GETATTR ------------------------------------------------------------------------ */

/* True when process @pid holds record file @n (its kind's name @suffix) open: its
 * fstat() after open() reaches us without a file handle, like a stat() by path
 * (no-open). */
static bool caller_holds(struct mount *m, pid_t pid, struct node *n, const char *suffix)
{
	char *stem = names_encode(n->id), tail[1200];
	if (!stem)
		return false;
	snprintf(tail, sizeof(tail), "/%s/%s%s", n->c->name, stem, suffix ? suffix : "");
	free(stem);
	return who_holds_open(m->who, pid, n->ino, tail);
}

/* cppcheck-suppress constParameter ; libfuse's getattr signature */
void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	struct stat st;
	double timeout;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* A file whose size is not known until fetched (docs/SEMANTICS.md, "PDF
	 * sizes").  Fetched first, for the true size, when the caller will read
	 * it: a GETATTR with a file handle (lseek(SEEK_END), every read), one
	 * from a process holding it open (its fstat), and one from a program
	 * that takes the size from a stat by path and stores that many bytes
	 * (bsdtar, pax, cpio, rdiff-backup, rclone).  So archivers copy it
	 * whole, while ls -l, stat and du see the placeholder and cost nothing.
	 * A failed fetch leaves the placeholder: the read that follows gives
	 * the errno; a copier's stat fails with it at once, since it would
	 * store the placeholder's length. */
	pid_t pid = fuse_req_ctx(req)->pid;
	const struct vfs_ops *k = vfs_ops_of(&m->vfs, n->kind);
	enum who_kind who = fi || !k->size_unknown ? WHO_OTHER : who_kind(pid);
	/* (ls -l: a looker's GETATTR goes straight to the attributes, which
	 * say the placeholder themselves.) */
	if (who != WHO_LOOKER && k->size_unknown && k->size_unknown(&m->vfs, n)) {
		if (fi || who == WHO_COPIER || caller_holds(m, pid, n, k->suffix)) {
			int rc = k->fetch_size(&m->vfs, n, pid);
			if (rc < 0 && who == WHO_COPIER) {
				fuse_reply_err(req, -rc);
				return;
			}
		}
	}
	int rc = node_attr(m, n, &st, &timeout);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* ---- SETATTR ------------------------------------------------------------------------ */

void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	struct stat st;
	double timeout;
	int rc = 0;
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Owners cannot change: the files are the mounting user's. */
	if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != m->uid) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != m->gid)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* A directory is a kind that lists; a kind that takes its writes itself
	 * (.factuurfs/refresh) has no text to truncate, and takes them offline too. */
	const struct vfs_ops *k = vfs_ops_of(&m->vfs, n->kind);
	if (!k->write && mount_offline(m)) {
		/* Offline (mount.h): truncation, modes and times alike. */
		rc = -EROFS;
	} else if (k->list) {
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE))
			rc = -EPERM;
	} else if ((to_set & FUSE_SET_ATTR_SIZE) && !k->write) {
		/* O_TRUNC arrives here (atomic_o_trunc is off: docs/ARCHITECTURE.md, "no-open"). */
		rc = save_truncate(m->save, n, attr->st_size);
	}
	if (rc == 0 && k->set_times) {
		/* A kind that keeps them (local files); other kinds accept them and
		 * ignore them (the service has neither). */
		mode_t mode = attr->st_mode;
		struct timespec mtime =
		    (to_set & FUSE_SET_ATTR_MTIME_NOW) ? clock_wall() : attr->st_mtim;
		bool times = to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW);
		k->set_times(&m->vfs, n, (to_set & FUSE_SET_ATTR_MODE) ? &mode : NULL,
			     times ? &mtime : NULL);
	}
	if (rc == 0)
		rc = node_attr(m, n, &st, &timeout);
	/* rc is 0 or -errno: only 0 has attributes to send. */
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}
