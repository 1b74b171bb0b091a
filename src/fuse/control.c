/* control: what a refresh drops told to the kernel, and the ioctls on .factuurfs/
 * (see mount.h).  The status and refresh files themselves are vfs/control.c's. */
#include "fuse/mount.h"

#include <errno.h>
#include <string.h>

#include "feat/prefetch.h"
#include "fuse/ioctl.h"

void control_dropped(struct mount *m, const struct vfs_dropped *d)
{
	if (d->all) {
		for (size_t i = 0; i < schema_ncollections(); i++)
			kernel_inval_now(m->kernel, INO_COLL0 + i);
		kernel_inval_views(m, true);
	} else if (d->c) {
		kernel_inval_now(m->kernel, inode_coll_ino(d->c));
	}
}

void control_refresh_all(struct mount *m)
{
	vfs_refresh_all(&m->vfs);
	control_dropped(m, &(struct vfs_dropped){.all = true});
}

void control_refresh(struct mount *m, const char *text, size_t len)
{
	struct vfs_dropped d;
	vfs_refresh_path(&m->vfs, text, len, &d);
	control_dropped(m, &d);
}

/* `factuurfs refresh` on a read-only mount, where the kernel refuses the
 * write to .factuurfs/refresh: the same text by ioctl on .factuurfs/
 * (ioctl.h); and `factuurfs fetch` asking the archive to hurry.  Every other
 * ioctl, anywhere, is not ours. */
void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	      struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
	      size_t out_bufsz)
{
	(void)arg;
	(void)fi;
	if (ino == INO_CTL && cmd == FS_IOC_FETCH && !(flags & FUSE_IOCTL_UNRESTRICTED) && in_buf &&
	    in_bufsz >= sizeof(struct fs_fetch_ioctl) && out_bufsz >= sizeof(struct fs_fetch_ioctl)) {
		struct fs_fetch_ioctl f;
		unsigned long session = 0;
		memcpy(&f, in_buf, sizeof(f));
		int rc = prefetch_hurry(mount_of(req)->status.prefetch, f.seconds, &session);
		f.session = (unsigned int)session;
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_ioctl(req, 0, &f, sizeof(f));
		return;
	}
	if (ino != INO_CTL || cmd != FS_IOC_REFRESH || (flags & FUSE_IOCTL_UNRESTRICTED) ||
	    !in_buf) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	control_refresh(mount_of(req), in_buf, strnlen(in_buf, in_bufsz));
	fuse_reply_ioctl(req, 0, NULL, 0);
}
