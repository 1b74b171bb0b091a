/* mount: what the FUSE layer's files share — the mount reached from every
 * request, the kinds of node and their handlers, the kernel notifier.
 *
 * Internal to src/fuse/ (fs.h is the layer's interface).  Each operation
 * resolves its node and delegates: to the node kind's handlers (kinds.c and
 * kind_*.c), to the save machine (ns/save.h) for writes and names, and to
 * the stores for reads.  docs/ARCHITECTURE.md draws the trip of a read and
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
#include "ns/inode.h"
#include "ns/save.h"

struct api;
struct cache;
struct events;
struct exports;
struct kernel;
struct pdfstore;
struct search;
struct views;
struct who_mount;

/* Modes: directories are their owner's; records writable where the API can
 * change them; local files keep what chmod set, within the owner's bits. */
#define FS_DIR_MODE 0700
#define FS_RW_MODE 0600
#define FS_RO_MODE 0400
#define FS_LOCAL_MODE_MASK 0700

/* Timeout for names and attributes that never change during a mount. */
#define FS_FOREVER 86400.0

/* One rendering of the status file, on an inode of its own (control.c). */
struct status_version {
	fuse_ino_t ino;
	char *text;
	size_t len;
	struct timespec mtime;
	unsigned handed;  /* lookups and readdirs given its node and not yet replied */
	bool pinned;      /* holds a reference of its node: while the newest, or handed */
	struct status_version *next;
};

/* The status file's renderings the kernel may still read (control.c), newest first,
 * protected by its lock. */
struct status_file {
	pthread_mutex_t lock;
	struct status_version *versions;
	double at;              /* CLOCK_MONOTONIC of the newest's render */
	unsigned long gen;      /* the events generation it shows */
};

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
	struct views *views;
	struct exports *exports;
	struct search *search;  /* search/ (store/search.h) */
	struct kernel *kernel;  /* owned: the kernel notifier */
	struct deleted *deleted;/* records deleted through the mount (store/deleted.h), or NULL */
	struct wb wb;
	struct status_sources status;
	struct status_file status_file;
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
 * itself (fs.c). */
bool mount_offline(struct mount *m);

/* ---- node kinds (kinds.c) ---------------------------------------------------- */

/* A directory's entries for one READDIR: a snapshot the kind fills and
 * kinds_snap_free releases. */
struct dirsnap {
	size_t count;                /* entries after "." and ".." */
	struct cache_listing *l;     /* a reference, or NULL */
	char **names;                /* malloc'd copies, or NULL */
	size_t nnames;
	/* A collection's listing is read in pieces, one READDIR each (dir.c): @want
	 * is the content version the read began with (0: it begins now), @version
	 * the one the kind answers from (0: a directory without versions), @stale
	 * when that is not the one held now. */
	unsigned long want, version;
	bool stale;
};

struct kind_ops {
	/* Attributes of @n in @st and how long the kernel may keep them. */
	int (*attr)(struct mount *m, struct node *n, struct stat *st, double *timeout);
	/* Directories: the child @name, or NULL in *@out with how long "no such
	 * name" holds in *@neg. */
	int (*lookup)(struct mount *m, struct node *d, const char *name, struct node **out,
		      double *neg);
	/* Directories: the entries of one READDIR (snap), and entry @i of it. */
	int (*snap)(struct mount *m, struct node *d, struct dirsnap *s);
	bool (*entry)(struct mount *m, struct node *d, const struct dirsnap *s, size_t i,
		      char *name, size_t len, struct node **n);
	/* Files: READ of @size bytes at @off; replies itself and returns 0, or
	 * -errno for the caller to reply. */
	int (*read)(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off);
	/* Symlinks: what @n points at (malloc'd), NULL on ENOMEM; called after its attr
	 * said it is still there. */
	char *(*link)(struct mount *m, struct node *n);
};

/* The handlers of @kind (every field may be NULL: the operation does not
 * apply to it). */
const struct kind_ops *kinds_of(enum node_kind kind);
void kinds_snap_free(struct dirsnap *s);
/* The fixed nodes of every mount (for inodes_new), malloc'd; count in *@n. */
struct inode_fixed *kinds_fixed(size_t *n);

/* The handler tables, one per file. */
extern const struct kind_ops kind_root, kind_ctl, kind_status, kind_refresh;
extern const struct kind_ops kind_coll, kind_single, kind_record, kind_pdf, kind_local;
extern const struct kind_ops kind_views, kind_vgroup, kind_vdir, kind_vlink;
extern const struct kind_ops kind_exports, kind_export, kind_templates, kind_template;
extern const struct kind_ops kind_deldir, kind_delcoll, kind_delfile;
extern const struct kind_ops kind_search, kind_sarea, kind_sdir, kind_slink;

/* ---- attributes (attr.c) ---------------------------------------------------------- */

void attr_dir(struct mount *m, struct stat *st, fuse_ino_t ino, time_t mtime);
void attr_file(struct mount *m, struct stat *st, fuse_ino_t ino, mode_t mode, off_t size,
	       time_t mtime);
void attr_link(struct mount *m, struct stat *st, fuse_ino_t ino, size_t len, time_t mtime);
/* Attributes of @n (kinds_of(n->kind)->attr). */
int node_attr(struct mount *m, struct node *n, struct stat *st, double *timeout);
/* Fills @e for @n and takes the lookup reference the reply hands over. */
int entry_of(struct mount *m, struct node *n, struct fuse_entry_param *e);
/* Replies an entry for @n (a negative one for -ENOENT). */
void reply_node(fuse_req_t req, struct mount *m, struct node *n);
void reply_negative(fuse_req_t req, double timeout);
/* Replies @len bytes of @text from @off, at most @size. */
void reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off);

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
/* The node .factuurfs/status names now: the newest rendering, or a new one on an
 * inode of its own (see control.c); NULL on ENOMEM.  The node stays until the caller,
 * having replied with it (the kernel's reference taken), gives it back with
 * control_status_put. */
struct node *control_status_node(struct mount *m);
void control_status_put(struct mount *m, struct node *n);
void control_free(struct status_file *f);

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

/* ---- PDFs (io.c) ------------------------------------------------------------------ */

/* Fetches the PDF of @n for a reader (@pid), unless it is known: a
 * thumbnailer's first read counts against its hourly share (the reserve). */
int pdf_fetch_for(struct mount *m, pid_t pid, struct node *n);

#endif
