/* fs: the FUSE layer — the low-level operations of one mounted account.
 *
 * Built on fuse_lowlevel.h for the kernel's no-open/no-opendir support and
 * readdirplus (docs/ARCHITECTURE.md has why).  Each operation resolves its
 * node and delegates: to its kind's handlers, to the save machine
 * (ns/save.h), to the stores.  This header is the layer's interface for
 * the daemon (daemon.c); fuse/mount.h is what its files share.
 */
#ifndef FACTUURFS_FUSE_FS_H
#define FACTUURFS_FUSE_FS_H

#include <stdbool.h>
#include <time.h>

#include "ns/inode.h" /* FUSE_USE_VERSION and fuse_lowlevel.h */

#include "feat/status.h"
#include "fuse/ioctl.h"
#include "store/cache.h"

struct api;
struct deleted;
struct events;
struct exports;
struct mount;
struct pdfstore;
struct search;
struct times;
struct views;
struct who_mount;

extern const struct fuse_lowlevel_ops fs_ops;

/* What a mount is made of: the modules below FUSE, made before it by the
 * daemon (daemon.c) and freed after it; every pointer is borrowed.  The mount
 * makes its own: the inode table, the save machine and, once started, the
 * kernel notifier. */
struct mount_parts {
	double ttl;            /* seconds a listing is fresh */
	bool readonly;         /* -o ro */
	time_t started;        /* the time of directories until their content changes */
	struct api *api;
	struct cache *cache;
	struct pdfstore *pdfs;
	struct events *events;
	struct views *views;
	struct exports *exports;
	struct search *search;
	struct deleted *deleted;   /* records deleted through the mount, or NULL */
	bool allow_invoice_delete; /* rm of a sent invoice reaches the service */
	struct times *times;       /* record files' times (store/times.h), or NULL */
	/* The journal of unsaved texts (ns/save.h: save_journal_open), whose texts
	 * show again at once; NULL: kept in memory only. */
	const char *journal_dir;
	struct status_sources status; /* copied */
};

/* The mount of @p: 0 with *@out (fs_ops' userdata), or -errno.  A journal that
 * cannot be read is said in the log, and the texts are kept in memory. */
int fs_new(struct mount **out, const struct mount_parts *p);
/* Once mounted and daemonized, before the session loop: the kernel notifier
 * (a thread) on @se; @who: the mount, for telling fstat() from stat()
 * (base/who.h), taken over, may be NULL.  0 or -errno. */
int fs_start(struct mount *m, struct fuse_session *se, struct who_mount *who);
/* After the session loop, before fuse_session_unmount and _destroy: sends what the
 * notifier holds and stops it, for it writes to the session's /dev/fuse descriptor,
 * which the unmount closes.  Later notices are dropped.  @m may be NULL. */
void fs_stop(struct mount *m);
/* Frees what the mount made (fs_stop first, if it was not).  @m may be NULL. */
void fs_free(struct mount *m);

/* A listing changed (cache_config.changed, passed on by the daemon): tells the
 * kernel which names and contents did. */
void fs_listing_changed(struct mount *m, const struct schema_collection *c,
			const struct cache_listing *old, const struct cache_listing *cur);

/* Drops every cached listing (SIGHUP, a write to .factuurfs/refresh). */
void fs_refresh(struct mount *m);

#endif
