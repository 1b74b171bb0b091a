/* persist: the store's listings kept on disk, so a remount (or a mount while
 * the service cannot be reached) starts from what the last mount saw.
 *
 * One file per listing, <account dir>/state/listings/<name> ("invoices", and
 * "invoices.open" for a filtered listing; "invoices=<stem>" for a record kept
 * one by one, removed once a listing of its collection fetched after it is
 * written), written whole or not at all by
 * base/diskfile (kind "listing", version PERSIST_VERSION).  Its payload is
 * JSON lines: a header, then one line per record:
 *
 *   {"listing":"invoices","fetched":1712345678,"fresh":true,"count":2}
 *   {"id":"2024/0001","whole":true,"text":"{\n  \"invoicenr\": ...}\n"}
 *   {"id":"2024/0002","whole":true,"text":"...","wire":"{\"clientnr\":\"7\",...}"}
 *
 * "fetched" is the wall-clock second the listing was fetched; "text" the
 * record's file text as shown; "wire", on records of collections that can be
 * edited, the record as the service sent it (compact JSON text).  A listing is no longer fresh on disk when its
 * header says "fresh": false or the file's mtime was set back before its
 * fetch time (persist_invalidate): a change of ours that the listing misses.
 *
 * Writes are queued and done by a thread of this module (started by
 * persist_start, after the daemon forks), so no FUSE reply waits for one: persist_save takes a snapshot (any object, with the callbacks
 * that render and release it) and returns at once; a newer snapshot of the
 * same name replaces one still queued.  Every other function is cheap: one
 * mutex, at most one utimensat.  With a NULL struct persist (-o nodiskcache)
 * every function does nothing.
 */
#ifndef FACTUURFS_STORE_PERSIST_H
#define FACTUURFS_STORE_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/strbuf.h"

struct persist;

/* What a listing file's header says (persist_read). */
struct persist_meta {
	time_t fetched;  /* wall-clock epoch seconds of the fetch */
	bool fresh;      /* false: invalidated by a change of ours since */
	size_t count;    /* records that follow */
};

/* Renders snapshot @snap into @out with persist_put_header and one
 * persist_put_record per record (called on the writer thread; @fresh as it
 * is when the write starts).  0 or -errno. */
typedef int (*persist_render_fn)(void *snap, time_t fetched, bool fresh, struct strbuf *out);
/* Releases @snap once written (or dropped). */
typedef void (*persist_release_fn)(void *snap);
/* One record of a file being read: @id and @text are NUL-terminated and valid
 * during the call only, as is @wire: the record as the service sent it (compact
 * JSON), or NULL when the line has none.  0, or -EBADMSG (or another -errno) to
 * refuse the file. */
typedef int (*persist_record_fn)(void *ud, const char *id, bool whole, const char *text,
				 size_t len, const char *wire);

/* A writer for directory @dir (made 0700 if missing, opened and checked once:
 * base/safedir.h; @dir is copied), its thread not started yet.  Every file is
 * then opened in it, never through a symlink; a written file's rename is
 * fsynced into it.  With @dir NULL, *@out is NULL and 0 is returned:
 * nothing is kept.  -errno when the directory cannot be made. */
int persist_new(struct persist **out, const char *dir);
/* Starts the writer thread: after daemonizing, since fork keeps only the
 * calling thread (a thread started before it is gone in the daemon: nothing
 * queued was ever written, and persist_free waited for it for good).  What
 * was queued before is written then.  0 (also for NULL) or -errno. */
int persist_start(struct persist *p);
/* Writes what is still queued (on the thread, or here when it never
 * started), stops the thread and frees.  @p may be NULL. */
void persist_free(struct persist *p);

/* The path of listing @name's file (malloc'd), or NULL (no persist, ENOMEM). */
char *persist_path(const struct persist *p, const char *name);

/* Queues @snap to be written as @name's file (fetched at wall time @fetched;
 * @fresh false when a change of ours may be missing from it).  @snap is the
 * module's from here on: @release is called once it is written or replaced,
 * and at once when @p is NULL. */
void persist_save(struct persist *p, const char *name, void *snap, time_t fetched, bool fresh,
		  persist_render_fn render, persist_release_fn release);

/* A change of ours made listing @name out of date: its file (and a queued or
 * running write of it) is no longer fresh.  Synchronous: before this returns,
 * a remount would list @name again. */
void persist_invalidate(struct persist *p, const char *name);

/* A listing @name fetched at @fetched (wall clock) that is not written again (it did
 * not change): the records kept one by one before it go, as after its write. */
void persist_prune(struct persist *p, const char *name, time_t fetched);

/* Removes listing @name's file (one that persist_read refused). */
void persist_remove(const struct persist *p, const char *name);

/* Reads the file at @path as listing @name (callers know the names they
 * keep; the directory is never scanned for them): checked whole
 * (base/diskfile), its header parsed into *@meta, then @each called for every
 * record in order.  Returns 0; -ENOENT when there is no file; -EBADMSG when it
 * is not a whole, well-formed listing file of @name in this version (or @each
 * refused a record), or not a regular file of ours (a symlink, a FIFO: never
 * opened to wait): remove it and list again; another -errno when it cannot be
 * read. */
int persist_read(const char *path, const char *name, struct persist_meta *meta,
		 persist_record_fn each, void *ud);

/* The renderer's two steps: the header line, then each record's line. */
void persist_put_header(struct strbuf *out, const char *name, time_t fetched, bool fresh,
			size_t count);
/* @wire (may be NULL) is the record as the service sent it, kept so that an edit
 * in a later mount goes back under the service's names and forms (@wire_len bytes,
 * not NUL-terminated); it is left out when it is not valid UTF-8. */
void persist_put_record(struct strbuf *out, const char *id, bool whole, const char *text,
			size_t len, const char *wire, size_t wire_len);

#endif
