/* deleted: records deleted through factuurfs, kept for a while (see deleted.h). */
#include "store/deleted.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/safedir.h"
#include "base/vec.h"

#define KEEP_SECONDS ((time_t)DELETED_KEEP_DAYS * 24 * 3600)

struct deleted {
	char *dir;
	int fd; /* dir, opened and checked (base/safedir.h) */
	/* Orders keeps and expiry: a file is never expired while written. */
	pthread_mutex_t lock;
};

/* A name that is one plain file in one directory: no '/', no "." or "..", no
 * temporary of ours. */
static bool plain_name(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       s[0] != '.' && strlen(s) < 256;
}

/* @coll's directory, opened and checked (made with @create): its descriptor,
 * or -errno (-ENOENT: none kept yet). */
static int coll_dir(const struct deleted *d, const char *coll, bool create)
{
	if (!plain_name(coll))
		return -ENOENT;
	return safedir_open(d->fd, d->dir, coll, create ? SAFEDIR_CREATE : 0);
}

static bool expired(const struct stat *st, time_t now)
{
	return st->st_mtime + KEEP_SECONDS <= now;
}

/* A kept file as deleted_names lists it: a regular file of ours, never a
 * symlink followed. */
static bool kept_file(int dirfd, const char *name, struct stat *st)
{
	return plain_name(name) && fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st->st_mode) && st->st_uid == geteuid();
}

int deleted_open(struct deleted **out, const char *dir)
{
	*out = NULL;
	if (!dir)
		return 0;
	int fd = safedir_open(AT_FDCWD, NULL, dir, SAFEDIR_CREATE);
	if (fd < 0)
		return fd;
	struct deleted *d = calloc(1, sizeof(*d));
	if (!d || !(d->dir = strdup(dir))) {
		close(fd);
		free(d);
		return -ENOMEM;
	}
	d->fd = fd;
	pthread_mutex_init(&d->lock, NULL);
	size_t gone = deleted_expire(d, time(NULL));
	if (gone)
		log_msg(LOG_INFO, "deleted: %zu records kept more than %d days removed", gone,
			DELETED_KEEP_DAYS);
	*out = d;
	return 0;
}

void deleted_free(struct deleted *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	close(d->fd);
	free(d->dir);
	free(d);
}

/* With d->lock held. */
static size_t expire_locked(struct deleted *d, time_t now)
{
	size_t gone = 0;
	DIR *top = safedir_list(d->fd);
	struct dirent *c;
	if (!top)
		return 0;
	while ((c = readdir(top))) {
		/* (Not a directory there: nothing kept, and nothing to say each time.) */
		bool maybe_dir = c->d_type == DT_DIR || c->d_type == DT_UNKNOWN;
		int sub = maybe_dir && plain_name(c->d_name) ? coll_dir(d, c->d_name, false) : -ENOENT;
		DIR *in = sub >= 0 ? fdopendir(sub) : NULL;
		struct dirent *e;
		if (sub >= 0 && !in)
			close(sub);
		while (in && (e = readdir(in))) {
			struct stat st;
			if (kept_file(dirfd(in), e->d_name, &st) && expired(&st, now) &&
			    unlinkat(dirfd(in), e->d_name, 0) == 0)
				gone++;
		}
		if (in)
			closedir(in);
	}
	closedir(top);
	return gone;
}

size_t deleted_expire(struct deleted *d, time_t now)
{
	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	size_t gone = expire_locked(d, now);
	pthread_mutex_unlock(&d->lock);
	return gone;
}

int deleted_keep(struct deleted *d, const char *coll, const char *name, const char *text,
		 size_t len)
{
	char *tmp = NULL;
	int fd = -1, sub = -1, rc = 0;
	if (!d)
		return 0;
	if (!plain_name(coll) || !plain_name(name))
		return -EINVAL;
	if (asprintf(&tmp, ".%s.tmp", name) < 0)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	(void)expire_locked(d, time(NULL));
	sub = coll_dir(d, coll, true);
	if (sub < 0)
		rc = sub;
	/* O_EXCL: what held the temporary name (a copy a crash left, anything
	 * put there) is removed, never written through. */
	if (rc == 0 && (fd = safedir_create(sub, tmp, 0)) < 0)
		rc = fd;
	for (size_t done = 0; rc == 0 && done < len;) {
		ssize_t w = write(fd, text + done, len - done);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			done += (size_t)w;
	}
	if (fd >= 0 && rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	/* Durable before the DELETE it allows is sent: the copy is the undo. */
	if (rc == 0)
		rc = safedir_rename(sub, tmp, name, true);
	if (rc < 0 && fd >= 0)
		(void)unlinkat(sub, tmp, 0);
	pthread_mutex_unlock(&d->lock);
	if (sub >= 0)
		close(sub);
	free(tmp);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int deleted_names(struct deleted *d, const char *coll, char ***names, size_t *n)
{
	int sub = d ? coll_dir(d, coll, false) : -ENOENT;
	DIR *in = sub >= 0 ? fdopendir(sub) : NULL;
	struct dirent *e;
	time_t now = time(NULL);
	size_t cap = 0;
	int rc = 0;
	*names = NULL;
	*n = 0;
	if (sub >= 0 && !in)
		close(sub);
	while (in && (e = readdir(in))) {
		struct stat st;
		if (!kept_file(dirfd(in), e->d_name, &st) || expired(&st, now))
			continue;
		if (*n == cap && vec_grow(names, &cap, *n + 1, sizeof(**names)) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (!((*names)[*n] = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (in)
		closedir(in);
	if (rc < 0) {
		for (size_t i = 0; i < *n; i++)
			free((*names)[i]);
		free(*names);
		*names = NULL;
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_name);
	return 0;
}

int deleted_stat(struct deleted *d, const char *coll, const char *name, struct stat *st)
{
	int sub = d ? coll_dir(d, coll, false) : -ENOENT;
	int rc = sub < 0 ? sub : kept_file(sub, name, st) ? 0 : -ENOENT;
	if (rc == 0 && expired(st, time(NULL)))
		rc = -ENOENT;
	if (sub >= 0)
		close(sub);
	return rc;
}

int deleted_changed(struct deleted *d, const char *coll, struct timespec *when)
{
	int sub = d ? coll_dir(d, coll, false) : -ENOENT;
	struct stat st;
	int rc = sub < 0 ? sub : fstat(sub, &st) < 0 ? -errno : 0;
	if (rc == 0)
		*when = st.st_mtim;
	if (sub >= 0)
		close(sub);
	return rc;
}

int deleted_read(struct deleted *d, const char *coll, const char *name, char **text,
		 size_t *len)
{
	struct stat st;
	char shown[600];
	int sub = d ? coll_dir(d, coll, false) : -ENOENT;
	int rc = 0, fd = -1;
	*text = NULL;
	*len = 0;
	if (sub < 0 || !plain_name(name)) {
		rc = sub < 0 ? sub : -ENOENT;
		goto out;
	}
	snprintf(shown, sizeof(shown), "%s/%s", d->dir, coll);
	fd = safedir_open_read(sub, shown, name, &st);
	if (fd < 0) {
		/* Not a file of ours: as good as none. */
		rc = fd == -EBADMSG ? -ENOENT : fd;
		goto out;
	}
	/* Records are small: one read of the whole file (a 1 MiB text at most). */
	if (st.st_size > (off_t)(4 << 20) || !(*text = malloc((size_t)st.st_size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	ssize_t got = pread(fd, *text, (size_t)st.st_size, 0);
	if (got < 0) {
		rc = -errno;
		free(*text);
		*text = NULL;
		goto out;
	}
	(*text)[got] = '\0';
	*len = (size_t)got;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (sub >= 0)
		close(sub);
	return rc;
}
