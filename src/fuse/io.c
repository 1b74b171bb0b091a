/* io: OPEN, READ, WRITE, FLUSH, FSYNC (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <string.h>

/* Opens need nothing from us: ENOSYS turns on the kernel's no-open mode, after
 * which opens and releases no longer reach the daemon (docs/ARCHITECTURE.md,
 * "no-open"). */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct vfs_read rd = {.pid = fuse_req_ctx(req)->pid};
	int rc = vfs_node_read(&m->vfs, n, size, off, &rd);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, rd.data, rd.len);
	bool stale = rc == 0 && rd.attrs_stale;
	vfs_read_done(&rd); /* after the reply: a PDF read counted till then (vfs/coll.c) */
	/* Queued: this is below a READ of the same inode. */
	if (stale)
		kernel_inval(m->kernel, n->ino, true);
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* A write its kind takes itself (.factuurfs/refresh) changes nothing remote:
	 * taken offline too.  Every other is the save machine's. */
	const struct vfs_ops *k = vfs_ops_of(&m->vfs, n->kind);
	struct vfs_dropped dropped = {0};
	int rc;
	if (k->write) {
		rc = k->write(&m->vfs, n, buf, size, off, &dropped);
		if (rc == 0)
			control_dropped(m, &dropped);
	} else {
		rc = mount_offline(m) ? -EROFS : save_write(m->save, n, buf, size, off);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* A commit, and then the kernel told what it changed before the reply. */
static int commit(struct mount *m, struct node *n, bool fsync)
{
	struct save_effects fx;
	memset(&fx, 0, sizeof(fx));
	int rc = save_commit(m->save, n, fsync, &fx);
	kernel_apply(m, &fx);
	return rc;
}

void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	(void)fi;
	/* FLUSH comes on every close() so that close() can report a refused
	 * save; a read-only mount has none, and ENOSYS stops the kernel sending
	 * it at all (a round trip per file: the read-write row of scripts/bench.py). */
	if (m->readonly) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fuse_reply_err(req, n ? -commit(m, n, false) : 0);
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, n ? -commit(m, n, true) : 0);
}
