/* fs: the FUSE low-level operations.
 *
 * Built on fuse_lowlevel.h for the kernel's no-open/no-opendir support and
 * readdirplus (DESIGN.md has the measurements); the inode table and local
 * files are inode.c, commits writeback.c.
 */
#ifndef FACTUURFS_FS_H
#define FACTUURFS_FS_H

#include "ns/inode.h" /* FUSE_USE_VERSION and fuse_lowlevel.h */

#include "feat/status.h"
#include "store/cache.h"

struct api;
struct events;
struct pdfstore;
struct who_mount;

struct fs;

extern const struct fuse_lowlevel_ops fs_ops;

/* A new filesystem with listings fresh for @ttl seconds; @readonly when
 * mounted with -o ro. */
struct fs *fs_new(double ttl, bool readonly);
/* Stops the notifier thread and frees everything.  The session and the cache
 * are the caller's. */
void fs_free(struct fs *fs);

/* When the mount started: the time of directories until their content changes. */
time_t fs_started(const struct fs *fs);

/* Wiring, before the session loop starts: fs_ops' userdata is @fs.  Every
 * pointer is borrowed (main.c frees them after fs_free); @status is copied. */
void fs_set_stores(struct fs *fs, struct cache *cache, struct pdfstore *pdfs, struct api *api,
		   struct events *events, const struct status_sources *status);
/* @who: the mount, for telling fstat() from stat() (who.h); taken over, may be NULL. */
void fs_set_session(struct fs *fs, struct fuse_session *se, struct who_mount *who);

/* cache_config.changed: tells the kernel which names and contents changed. */
void fs_listing_changed(void *fs, const struct schema_collection *c,
			const struct cache_listing *old, const struct cache_listing *cur);

/* Drops every cached listing (SIGHUP, a write to .factuurfs/refresh). */
void fs_refresh(struct fs *fs);

#endif
