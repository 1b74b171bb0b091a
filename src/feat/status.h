/* status: the text of .factuurfs/status, rendered from what the mount's
 * modules know: the service as the API layer sees it, the store's listings
 * and PDFs, and the recent errors and changes (base/events.h).
 *
 * Holds no state of its own: vfs/control.c decides when to render again.
 */
#ifndef FACTUURFS_FEAT_STATUS_H
#define FACTUURFS_FEAT_STATUS_H

#include <stddef.h>
#include <time.h>

struct api;
struct cache;
struct events;
struct pdfstore;
struct prefetch;

/* What the status file reports; every pointer borrowed, may be NULL. */
struct status_sources {
	const char *url, *username;
	time_t mounted;
	struct api *api;
	struct cache *cache;
	struct pdfstore *pdfs;
	struct events *events;
	struct prefetch *prefetch; /* NULL: -o prefetch not given */
	const char *journal_dir;   /* unsaved texts kept on disk (ns/journal.h); NULL: none */
};

/* The status file: a malloc'd JSON text with a trailing newline (length in
 * *@len), or NULL on ENOMEM. */
char *status_render(const struct status_sources *src, size_t *len);

#endif
