/* fs: the FUSE layer — the low-level operations of one mounted account.
 *
 * Built on fuse_lowlevel.h for the kernel's no-open/no-opendir support and
 * readdirplus (docs/ARCHITECTURE.md has why).  Each operation resolves its
 * node and delegates: to its kind's handlers, to the save machine
 * (ns/save.h), to the stores.  This header is the layer's interface for
 * main.c; fuse/mount.h is what its files share.
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
struct events;
struct mount;
struct pdfstore;
struct who_mount;

extern const struct fuse_lowlevel_ops fs_ops;

/* A new mount with listings fresh for @ttl seconds; @readonly when mounted
 * with -o ro.  NULL on ENOMEM. */
struct mount *fs_new(double ttl, bool readonly);
/* Stops the notifier and frees what the mount made.  The session and the
 * stores are the caller's, freed after. */
void fs_free(struct mount *m);

/* When the mount started: the time of directories until their content changes. */
time_t fs_started(const struct mount *m);

/* Wiring, before the session loop starts: fs_ops' userdata is @m.  Every
 * pointer is borrowed (main.c frees them after fs_free); @status is copied.
 * 0 or -errno. */
int fs_set_stores(struct mount *m, struct cache *cache, struct pdfstore *pdfs, struct api *api,
		  struct events *events, const struct status_sources *status);
/* After fs_set_stores: the journal of unsaved texts in @dir, and the texts it
 * holds back (ns/save.h: save_journal_open).  Entries read, or -errno. */
int fs_journal_open(struct mount *m, const char *dir);
/* After fs_set_stores: deleted records kept in @d (borrowed; may be NULL), shown
 * under .factuurfs/deleted/; a sent invoice deleted only with @allow_invoice_delete. */
struct deleted;
void fs_set_deletes(struct mount *m, struct deleted *d, bool allow_invoice_delete);
/* The session, once mounted and daemonized (the notifier is a thread);
 * @who: the mount, for telling fstat() from stat() (base/who.h); taken over,
 * may be NULL.  0 or -errno. */
int fs_set_session(struct mount *m, struct fuse_session *se, struct who_mount *who);
/* After the session loop, before fuse_session_unmount and _destroy: sends what the
 * notifier holds and stops it, for it writes to the session's /dev/fuse descriptor,
 * which the unmount closes.  Later notices are dropped.  @m may be NULL. */
void fs_end_session(struct mount *m);

/* cache_config.changed: tells the kernel which names and contents changed. */
void fs_listing_changed(void *arg, const struct schema_collection *c,
			const struct cache_listing *old, const struct cache_listing *cur);

/* Drops every cached listing (SIGHUP, a write to .factuurfs/refresh). */
void fs_refresh(struct mount *m);

#endif
