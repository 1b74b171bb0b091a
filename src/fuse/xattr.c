/* xattr: GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR (see mount.h).  Which
 * attributes a node has, and their values, are vfs/xattr.c's.
 */
#include "fuse/mount.h"

#include <errno.h>
#include <string.h>

/* Replies @data (@len bytes) to a get/listxattr of @size: its length when
 * @size is 0, ERANGE when it does not fit. */
static void reply_xattr_data(fuse_req_t req, const char *data, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
}

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	struct vfs_xattr x[VFS_XATTR_MAX];
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Only user.* attributes exist here.  ENOTSUP for the rest (ls -l asks
	 * every file for security.selinux and system.posix_acl_access): ls and
	 * gnulib then stop asking for the whole filesystem, instead of a round
	 * trip per file and name. */
	if (strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (strncmp(name, VFS_XATTR_PREFIX, strlen(VFS_XATTR_PREFIX)) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	size_t nx = vfs_xattrs(&m->vfs, n, x);
	for (size_t i = 0; i < nx; i++) {
		if (!strcmp(name, x[i].name)) {
			reply_xattr_data(req, x[i].value, strlen(x[i].value), size);
			return;
		}
	}
	fuse_reply_err(req, ENODATA);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	struct vfs_xattr x[VFS_XATTR_MAX];
	char list[VFS_XATTR_MAX * 32];
	size_t len = 0;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	size_t nx = vfs_xattrs(&m->vfs, n, x);
	for (size_t i = 0; i < nx; i++) {
		size_t l = strlen(x[i].name) + 1;
		memcpy(list + len, x[i].name, l);
		len += l;
	}
	reply_xattr_data(req, list, len, size);
}

/* The attributes are what the service says: ours cannot be set (EPERM), and
 * nothing else can be stored (ENOTSUP, which cp -a and rsync -X pass over). */
static int xattr_refusal(const char *name)
{
	return strncmp(name, VFS_XATTR_PREFIX, strlen(VFS_XATTR_PREFIX)) ? ENOTSUP : EPERM;
}

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	(void)ino;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, xattr_refusal(name));
}

void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	fuse_reply_err(req, xattr_refusal(name));
}
