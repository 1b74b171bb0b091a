/* mount: what the FUSE layer's files share — the mount reached from every
 * request, the collections' handlers, the kernel notifier.
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

/* The modes and timeouts of vfs/vfs.h, by the names the collections' handlers use. */
#define FS_DIR_MODE VFS_DIR_MODE
#define FS_RW_MODE VFS_RW_MODE
#define FS_RO_MODE VFS_RO_MODE
#define FS_LOCAL_MODE_MASK VFS_LOCAL_MODE_MASK
#define FS_FOREVER VFS_FOREVER

/* One mounted account: reached from every request (fuse_req_userdata). */
struct mount {
	struct fuse_session *se;
	/* The modules below, each with its own lock; borrowed from the daemon
	 * (fs.h: struct mount_parts) except those marked owned. */
	struct api *api;
	struct cache *cache;
	struct pdfstore *pdfs;
	struct events *events;
	struct who_mount *who;  /* owned */
	struct inodes *inodes;  /* owned */
	struct save *save;      /* owned */
	struct kernel *kernel;  /* owned: the kernel notifier */
	struct times *times;    /* record files' times (store/times.h), or NULL */
	struct wb wb;
	struct status_sources status;
	/* The node operations and the modules they read: views, exports, search
	 * and deleted, which only they read, set by fs_new from the mount's parts;
	 * the rest from the fields above (kinds_bind). */
	struct vfs vfs;
	/* Fixed for the mount's life. */
	double ttl;
	bool readonly;          /* -o ro: nothing to commit, ever */
	uid_t uid;
	gid_t gid;
	time_t started;
	/* PDF reads (io.c): every node's `reads`, and woken when one ends; also
	 * the reads of PDFs not fetched yet refused to text searchers
	 * (kind_coll.c), and when the log last said so. */
	pthread_mutex_t read_lock;
	pthread_cond_t read_done;
	unsigned long searches_refused;
	double searches_logged;
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

/* ---- the collections' handlers (kind_coll.c) -------------------------------------- */

/* Collection directories, balance.json, records, PDFs and local files: their
 * operations still take the mount and answer a READ themselves.  kinds.c puts
 * them in the mount's node-operations table (vfs/vfs.h) until they move to vfs/. */
struct kind_ops {
	int (*attr)(struct mount *m, struct node *n, struct stat *st, double *timeout);
	int (*lookup)(struct mount *m, struct node *d, const char *name, struct node **out,
		      double *neg);
	int (*snap)(struct mount *m, struct node *d, struct vfs_list *s);
	bool (*entry)(struct mount *m, struct node *d, const struct vfs_list *s, size_t i,
		      char *name, size_t len, struct node **n);
	/* Replies itself and returns 0, or -errno for the caller to reply. */
	int (*read)(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off);
};

extern const struct kind_ops kind_coll, kind_single, kind_record, kind_pdf, kind_local;

/* Fills m->vfs with the mount's modules above and puts the collections' kinds in its
 * table: once, when every module is the mount's (fs_new), before the session
 * serves. */
void kinds_bind(struct mount *m);

/* ---- what the kinds answer with (reply.c; the attributes are vfs/attr.c's) ----------- */

static inline void attr_dir(struct mount *m, struct stat *st, fuse_ino_t ino, time_t mtime)
{
	vfs_attr_dir(&m->vfs, st, ino, mtime);
}
static inline void attr_file(struct mount *m, struct stat *st, fuse_ino_t ino, mode_t mode,
			     off_t size, time_t mtime)
{
	vfs_attr_file(&m->vfs, st, ino, mode, size, mtime);
}
static inline void attr_link(struct mount *m, struct stat *st, fuse_ino_t ino, size_t len,
			     time_t mtime)
{
	vfs_attr_link(&m->vfs, st, ino, len, mtime);
}
/* A cached "no such name" for @timeout seconds. */
void reply_negative(fuse_req_t req, double timeout);
/* Replies @len bytes of @text from @off, at most @size. */
void reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off);

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

/* ---- PDFs (kind_coll.c) ------------------------------------------------------------ */

/* Fetches the PDF of @n for a reader (@pid), unless it is known: a
 * thumbnailer's first read counts against its hourly share (the reserve). */
int pdf_fetch_for(struct mount *m, pid_t pid, struct node *n);

#endif
