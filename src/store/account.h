/* account: where a mount keeps an account's things on disk, and the lock that
 * makes its state one mount's at a time.
 *
 *   <root>/<user>@<host>/   the PDFs (store/pdfstore.h); one directory per
 *                           account, since invoice numbers are unique only
 *                           within one
 *     background-calls      the thumbnailers' share of the budget (net/api.h)
 *     state/lock            held for the mount's life
 *     state/listings/       listings kept across mounts (store/persist.h)
 *     state/journal/        unsaved texts (ns/journal.h)
 *     state/deleted/        records deleted through the mount (store/deleted.h)
 *     state/times/          record files' times (store/times.h)
 *
 * <root> is -o cache_dir, else $XDG_CACHE_HOME/factuurfs, else
 * ~/.cache/factuurfs.  Every directory of it is opened and checked
 * (base/safedir.h) at every mount, before anything in it is read.
 */
#ifndef FACTUURFS_STORE_ACCOUNT_H
#define FACTUURFS_STORE_ACCOUNT_H

#include <stdbool.h>

enum account_place {
	ACCOUNT_PDFS,
	ACCOUNT_RESERVE,
	ACCOUNT_STATE,    /* holds the lock */
	ACCOUNT_LISTINGS, /* only under the lock */
	ACCOUNT_JOURNAL,  /* only under the lock */
	ACCOUNT_DELETED,
	ACCOUNT_TIMES,    /* only under the lock */
};

struct account_config {
	const char *root;     /* -o cache_dir; NULL: the XDG default */
	const char *url;      /* the service's: its host names the account */
	const char *username;
};

struct account;

/* Opens (makes what is missing) the account's directories and takes its state's
 * lock.  0 with *@out; 0 with *@out NULL when they cannot be made (said in the
 * log: the mount keeps everything in memory); -EPERM or -ENOTDIR when a
 * directory of it is another user's, or a symlink or a file where a directory
 * belongs, with that directory's path in *@refused (malloc'd: the mount fails
 * rather than read what someone else could have put there).  When another
 * mount holds the lock, or it cannot be taken, *@out holds no state (said):
 * listings and unsaved texts are kept in memory, the PDFs still shared (each is
 * written whole under its own name). */
int account_open(struct account **out, const struct account_config *cfg, char **refused);

/* The path of @p (malloc'd), or NULL: no account (@a NULL), a state place
 * without the lock, or ENOMEM. */
char *account_path(const struct account *a, enum account_place p);

/* Lets go of the lock.  @a may be NULL. */
void account_free(struct account *a);

#endif
