/* pdfstore: the PDFs of records (invoices, quotations), fetched once and kept.
 *
 * Each function takes the record's collection @c (one with a pdf_path, schema.h)
 * and its id @nr; the PDF is fetched from c->pdf_path/<id>, or from the first of
 * c->pdf_also that answers with a PDF while none has yet.
 *
 * A PDF is fetched (one call, shared by every reader that asks meanwhile)
 * the first time a program opens it, and kept on disk in the account's cache
 * directory (mode 0600, written to a temporary name and renamed), so a second
 * copy or a remount costs no call; at most `max` bytes, the least recently
 * used removed first, except an archive's (`archive`: invoices' PDFs, kept
 * for good).  Without a usable directory the bytes stay in memory, within
 * the same bound.
 *
 * Only a whole PDF is kept or served: an answer that lacks the header, the %%EOF
 * trailer, or a startxref pointing at its cross-reference section is an error
 * (EIO), never cached, whatever its Content-Type.  Each
 * cached PDF has a digest file beside it (SHA-256 of the invoice it belongs to
 * and its bytes, written before the PDF); a cached file without one, of another
 * size, or whose bytes do not give it at their first read in a mount (or after
 * the file changed) is removed and fetched again, said once.  Files are opened
 * through base/safedir.h: never through a symlink, never blocking.
 *
 * One per mount; safe from every thread; its lock is private and never held
 * across a call or a disk write of a PDF.
 */
#ifndef FACTUURFS_STORE_PDFSTORE_H
#define FACTUURFS_STORE_PDFSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct api;
struct events;
struct pdfstore;
struct schema_collection;

struct pdfstore_config {
	const char *dir;        /* disk cache directory (copied), NULL: memory only */
	off_t max;              /* bytes of PDFs kept, but for the archive's */
	bool archive;           /* invoices' PDFs on disk are never removed: the
				   fiscal archive (feat/prefetch.h fills it) */
	struct api *api;        /* borrowed */
	struct events *events;  /* borrowed: where failed fetches are recorded */
	double (*now)(void);    /* CLOCK_MONOTONIC seconds; NULL: clock_mono */
};

int pdfstore_new(struct pdfstore **out, const struct pdfstore_config *cfg);
void pdfstore_free(struct pdfstore *ps);

/* Size of the PDF of invoice @nr when known without a call (fetched before,
 * or in the disk cache), else -1.  While a fetch of it runs, @wait waits for
 * its end (bounded by the call's timeout); no call either way. */
off_t pdfstore_size(struct pdfstore *ps, const struct schema_collection *c, const char *nr,
		     bool wait);

/* Makes the PDF of invoice @nr known, fetching it (one shared call) when it
 * is not; its size, or -errno. */
off_t pdfstore_fetch(struct pdfstore *ps, const struct schema_collection *c, const char *nr);

/* Reads up to @size bytes at @off of the PDF of invoice @nr into @buf,
 * fetching it first when needed.  Bytes read (0 at the end) or -errno;
 * -EAGAIN when its disk copy vanished (read again: it is fetched anew). */
ssize_t pdfstore_read(struct pdfstore *ps, const struct schema_collection *c, const char *nr,
		      char *buf, size_t size, off_t off);

/* For the prefetch (feat/prefetch.h).  True when the PDF of invoice @nr is
 * here without a call: its bytes known this mount, or a file for it in the
 * disk cache (not checked whole: a read does that).  No call, no entry. */
bool pdfstore_is_local(struct pdfstore *ps, const struct schema_collection *c, const char *nr);

/* Fetches the PDF of invoice @nr as a read would (the same shared call: a
 * read meanwhile waits for it, nothing is fetched twice) unless it is known:
 * 1 when this call fetched it, 0 when it was known, -errno.  Counted as
 * prefetched, not as fetched for a read: the first read of it is a disk hit. */
int pdfstore_prefetch(struct pdfstore *ps, const struct schema_collection *c, const char *nr);

/* Bytes the disk cache may still take for PDFs of @c: for the archive's
 * (invoices', with `archive`) the disk's free space, as they are never
 * removed; for the rest before it evicts (cache_max minus what it holds of
 * them, at least 0); -1 without a disk cache. */
off_t pdfstore_room(struct pdfstore *ps, const struct schema_collection *c);

/* Adds the PDF figures of the status file's "cache" object to @out. */
void pdfstore_describe(struct pdfstore *ps, cJSON *out);

#endif
