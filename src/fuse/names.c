/* names: CREATE, UNLINK, RENAME, LINK and what the API has no use for
 * (MKDIR, MKNOD, SYMLINK, RMDIR) (see mount.h).  The meaning of each is the
 * save machine's (ns/save.h); here the kernel is told what changed. */
#include "fuse/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <string.h>

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct mount *m = mount_of(req);
	struct node *p = inode_get(m->inodes, parent), *n = NULL;
	struct fuse_entry_param e;
	if (!p || !vfs_takes_names(&m->vfs, p)) {
		fuse_reply_err(req, p ? EPERM : ENOENT);
		return;
	}
	if (mount_offline(m)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	int rc = save_create(m->save, p, name, mode, fi->flags, &n);
	if (rc == 0)
		rc = entry_of(m, n, &e);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = 0;
	if (fuse_reply_create(req, &e, fi) != 0)
		inode_forget(m->inodes, n->ino, 1);
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mount *m = mount_of(req);
	struct node *p = inode_get(m->inodes, parent);
	struct save_effects fx;
	if (!p || !vfs_takes_names(&m->vfs, p)) {
		fuse_reply_err(req, p ? EPERM : ENOENT);
		return;
	}
	if (mount_offline(m)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	memset(&fx, 0, sizeof(fx));
	int rc = save_unlink(m->save, p, name, fuse_req_ctx(req)->pid, &fx);
	kernel_apply(m, &fx);
	fuse_reply_err(req, -rc);
}

void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	struct mount *m = mount_of(req);
	struct node *p = inode_get(m->inodes, parent);
	struct save_effects fx;
	if (!p || !vfs_takes_names(&m->vfs, p) || newparent != parent || (flags & RENAME_EXCHANGE)) {
		/* Moving between collections would turn into a POST and a DELETE
		 * (mv copies and removes on EXDEV): refused outright. */
		fuse_reply_err(req, (flags & RENAME_EXCHANGE) ? EINVAL : EPERM);
		return;
	}
	if (mount_offline(m)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	memset(&fx, 0, sizeof(fx));
	int rc = save_rename(m->save, p, name, newname, flags, &fx);
	kernel_apply(m, &fx);
	fuse_reply_err(req, -rc);
}

void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct mount *m = mount_of(req);
	struct node *src = inode_get(m->inodes, ino), *p = inode_get(m->inodes, parent), *n;
	struct fuse_entry_param e;
	if (!src || !p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (mount_offline(m)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	int rc = save_link(m->save, src, p, name, &n);
	if (rc == 0)
		rc = entry_of(m, n, &e) < 0 ? -EIO : 0;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(m->inodes, n->ino, 1);
}

/* The API has no directories, links or devices. */
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	fuse_reply_err(req, EPERM);
}

void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EPERM);
}

void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}
