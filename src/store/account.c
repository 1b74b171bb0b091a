/* account: the account's directories and its state's lock (see account.h). */
#include "store/account.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diskfile.h"
#include "base/log.h"
#include "base/safedir.h"

struct account {
	char *dir;  /* <root>/<user>@<host> */
	int lock;   /* state/lock's descriptor, held; -1: none (no state on disk) */
};

/* The places, relative to the account's directory, a directory above the
 * ones in it. */
static const struct {
	const char *path;
	bool made;   /* a directory account_open makes and checks */
	bool locked; /* only the lock's holder uses it */
} places[] = {
	[ACCOUNT_PDFS] = {"", false, false},
	[ACCOUNT_RESERVE] = {"background-calls", false, false},
	[ACCOUNT_STATE] = {"state", true, false},
	[ACCOUNT_LISTINGS] = {"state/listings", true, true},
	[ACCOUNT_JOURNAL] = {"state/journal", true, true},
	[ACCOUNT_DELETED] = {"state/deleted", true, false},
	[ACCOUNT_TIMES] = {"state/times", true, true},
};
#define NPLACES (sizeof(places) / sizeof(places[0]))

/* The root the account's directory is in (the way to it is the user's choice and
 * is followed as it is), into @buf; false without one. */
static bool root_of(const struct account_config *cfg, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (cfg->root)
		snprintf(buf, len, "%s", cfg->root);
	else if (xdg && *xdg == '/')
		snprintf(buf, len, "%s/factuurfs", xdg);
	else if (home)
		snprintf(buf, len, "%s/.cache/factuurfs", home);
	else
		return false;
	return true;
}

/* "<user>@<host>" into @buf, as a file name. */
static void name_of(const struct account_config *cfg, char *buf, size_t len)
{
	const char *host = strstr(cfg->url, "://");
	host = host ? host + 3 : cfg->url;
	snprintf(buf, len, "%s@%s", cfg->username, host);
	for (char *p = buf; *p; p++)
		if (*p == '/' || *p == ':' || *p == ' ')
			*p = '_';
}

/* Opens and checks @root, @dir (@name in it) and state/'s directories, each
 * in the one above it: checked all the way down.  0, or -errno with the path
 * that failed in @failed. */
static int open_dirs(const char *root, const char *dir, const char *name, char *failed,
		     size_t len)
{
	int rootfd = -1, acct = -1, rc;
	snprintf(failed, len, "%s", root);
	rc = rootfd = safedir_open(AT_FDCWD, NULL, root, SAFEDIR_CREATE | SAFEDIR_ROOT);
	if (rc >= 0) {
		snprintf(failed, len, "%s", dir);
		rc = acct = safedir_open(rootfd, root, name, SAFEDIR_CREATE);
	}
	for (size_t i = 0; rc >= 0 && i < NPLACES; i++) {
		if (!places[i].made)
			continue;
		snprintf(failed, len, "%s/%s", dir, places[i].path);
		rc = safedir_open(acct, dir, places[i].path, SAFEDIR_CREATE);
		if (rc >= 0)
			close(rc);
	}
	if (acct >= 0)
		close(acct);
	if (rootfd >= 0)
		close(rootfd);
	return rc < 0 ? rc : 0;
}

/* state/ (listings, unsaved texts) is one mount's at a time: a second mount of
 * the account would restore the first one's unsaved texts and race its writes.
 * The lock's descriptor, or -1 (said). */
static int lock_state(const char *dir)
{
	char *state = NULL;
	if (asprintf(&state, "%s/state", dir) < 0)
		return -1;
	int dirfd = safedir_open(AT_FDCWD, NULL, state, 0);
	int rc = dirfd < 0 ? dirfd : diskfile_lock(dirfd, "lock");
	if (dirfd >= 0)
		close(dirfd);
	if (rc == -EWOULDBLOCK)
		log_msg(LOG_WARNING, "%s: another mount of this account holds it; this one keeps "
			"its listings and unsaved texts in memory only", state);
	else if (rc < 0)
		log_msg(LOG_WARNING, "%s/lock: %s; listings and unsaved texts are kept in memory "
			"only", state, rc == -EBADMSG ? "not a file of ours" : log_strerror(-rc));
	free(state);
	return rc < 0 ? -1 : rc;
}

int account_open(struct account **out, const struct account_config *cfg, char **refused)
{
	char root[PATH_MAX], name[256], failed[PATH_MAX + 300];
	struct account *a = NULL;
	*out = NULL;
	*refused = NULL;
	if (!root_of(cfg, root, sizeof(root)))
		return 0;
	name_of(cfg, name, sizeof(name));
	if (!(a = calloc(1, sizeof(*a))) || asprintf(&a->dir, "%s/%s", root, name) < 0) {
		free(a);
		return 0;
	}
	a->lock = -1;
	int rc = open_dirs(root, a->dir, name, failed, sizeof(failed));
	if (rc == -EPERM || rc == -ENOTDIR) {
		*refused = strdup(failed);
		account_free(a);
		return rc;
	}
	if (rc < 0) {
		log_msg(LOG_WARNING, "PDF cache %s: %s; keeping PDFs in memory", failed,
			log_strerror(-rc));
		account_free(a);
		return 0;
	}
	a->lock = lock_state(a->dir);
	*out = a;
	return 0;
}

char *account_path(const struct account *a, enum account_place p)
{
	char *path = NULL;
	if (!a || (places[p].locked && a->lock < 0))
		return NULL;
	if (!*places[p].path)
		return strdup(a->dir);
	return asprintf(&path, "%s/%s", a->dir, places[p].path) < 0 ? NULL : path;
}

void account_free(struct account *a)
{
	if (!a)
		return;
	if (a->lock >= 0)
		close(a->lock);
	free(a->dir);
	free(a);
}
