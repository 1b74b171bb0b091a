/* mount: what the FUSE layer's files share — the mount reached from every
 * request, the replies, the kernel notifier.
 *
 * Internal to src/fuse/ (fs.h is the layer's interface).  Each operation
 * resolves its node and delegates: to its kind's node operations (vfs/vfs.h),
 * to the save machine (ns/save.h) for writes and names, and marshals the
 * answer.  docs/ARCHITECTURE.md draws the trip of a read and
 * of a save.
 */
#ifndef FACTUURFS_FUSE_MOUNT_H
#define FACTUURFS_FUSE_MOUNT_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "feat/status.h"
#include "feat/writeback.h"
#include "net/api.h"
#include "ns/inode.h"
#include "ns/save.h"
#include "vfs/vfs.h"

struct api;
struct cache;
struct events;
struct kernel;
struct pdfstore;
struct who_mount;

/* One mounted account: reached from every request (fuse_req_userdata). */
struct mount {
	struct fuse_session *se;
	/* The modules below, each with its own lock; borrowed from the daemon
	 * (fs.h: struct mount_parts) except those marked owned. */
	struct api *api;
	struct cache *cache;
	struct events *events;
	struct who_mount *who;  /* owned */
	struct inodes *inodes;  /* owned */
	struct save *save;      /* owned */
	struct kernel *kernel;  /* owned: the kernel notifier */
	struct wb wb;
	struct status_sources status;
	/* The node operations and the modules they read: the PDFs, the record
	 * files' times, views, exports, search and deleted, which only they read,
	 * set by fs_new from the mount's parts; the rest from the fields above. */
	struct vfs vfs;
	/* Fixed for the mount's life. */
	double ttl;
	bool readonly;          /* -o ro: nothing to commit, ever */
	uid_t uid;
	gid_t gid;
	time_t started;
};

static inline struct mount *mount_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Offline (net/api.h, api_set_offline): the mount serves what is kept on disk
 * and refuses every change with EROFS, until the service answers again.
 * Refused here rather than by mounting read-only: the kernel's ro flag is
 * lifted only by a remount, and the mount is to take changes again by
 * itself. */
static inline bool mount_offline(struct mount *m)
{
	return api_offline(m->api);
}

/* ---- replies (reply.c) ------------------------------------------------------------ */

/* A cached "no such name" for @timeout seconds. */
void reply_negative(fuse_req_t req, double timeout);

/* ---- attributes by kind (attr.c) --------------------------------------------------- */

/* Attributes of @n (vfs_node_attr). */
int node_attr(struct mount *m, struct node *n, struct stat *st, double *timeout);
/* Fills @e for @n and takes the lookup reference the reply hands over. */
int entry_of(struct mount *m, struct node *n, struct fuse_entry_param *e);
/* Replies an entry for @n (a negative one for -ENOENT). */
void reply_node(fuse_req_t req, struct mount *m, struct node *n);

/* ---- the kernel notifier (kernel.c) --------------------------------------------- */

int kernel_new(struct kernel **out, struct fuse_session *se);
void kernel_free(struct kernel *k);
/* Queued, sent by the notifier's thread (safe anywhere, even below a READ of
 * the same inode): drop the attributes and pages of @ino (@attrs_only: keep
 * the pages), or the name @name of @parent. */
void kernel_inval(struct kernel *k, fuse_ino_t ino, bool attrs_only);
void kernel_inval_entry(struct kernel *k, fuse_ino_t parent, const char *name);
/* Now, before the caller replies, so the caller's next read sees its own
 * change (a reply computed before it, that the kernel still waited for, is
 * dropped: its attr_version is older).  Without writeback caching this waits
 * at most for page locks: safe in FLUSH, FSYNC, RENAME, UNLINK and WRITE of
 * another inode, never below a READ of @ino (it holds a page lock). */
void kernel_inval_now(struct kernel *k, fuse_ino_t ino);
/* Every view directory and export the kernel was shown: queued or now. */
void kernel_inval_views(struct mount *m, bool now);
/* What a save did (ns/save.h), before the operation replies. */
void kernel_apply(struct mount *m, const struct save_effects *fx);

/* ---- the control files (control.c) ------------------------------------------------ */

/* A write to .factuurfs/refresh (or the same by ioctl on .factuurfs/). */
void control_refresh(struct mount *m, const char *text, size_t len);
/* Drops every cached listing and tells the kernel (fs_refresh, fs.h). */
void control_refresh_all(struct mount *m);
/* Tells the kernel what a refresh dropped (vfs_refresh_path), before the reply. */
void control_dropped(struct mount *m, const struct vfs_dropped *d);

/* ---- the operations, by file (fs.c's table lists them) ----------------------------- */

/* attr.c */
void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);
/* dir.c */
void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_readlink(fuse_req_t req, fuse_ino_t ino);
/* io.c */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
/* names.c */
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);
void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
/* xattr.c */
void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
/* control.c */
void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	      struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
	      size_t out_bufsz);

#endif
