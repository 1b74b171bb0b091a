/* deleted: records deleted through factuurfs, kept for a while (see deleted.h). */
#include "store/deleted.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define KEEP_SECONDS ((time_t)DELETED_KEEP_DAYS * 24 * 3600)

struct deleted {
	char *dir;
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

static char *path_of(const struct deleted *d, const char *coll, const char *name)
{
	char *p = NULL;
	if (!plain_name(coll) || (name && !plain_name(name)))
		return NULL;
	if ((name ? asprintf(&p, "%s/%s/%s", d->dir, coll, name)
		  : asprintf(&p, "%s/%s", d->dir, coll)) < 0)
		p = NULL;
	return p;
}

static bool expired(const struct stat *st, time_t now)
{
	return st->st_mtime + KEEP_SECONDS <= now;
}

int deleted_open(struct deleted **out, const char *dir)
{
	*out = NULL;
	if (!dir)
		return 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	struct deleted *d = calloc(1, sizeof(*d));
	if (!d || !(d->dir = strdup(dir))) {
		free(d);
		return -ENOMEM;
	}
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
	free(d->dir);
	free(d);
}

/* With d->lock held. */
static size_t expire_locked(struct deleted *d, time_t now)
{
	size_t gone = 0;
	DIR *top = opendir(d->dir);
	struct dirent *c;
	if (!top)
		return 0;
	while ((c = readdir(top))) {
		char *sub = path_of(d, c->d_name, NULL);
		DIR *in = sub ? opendir(sub) : NULL;
		struct dirent *e;
		while (in && (e = readdir(in))) {
			struct stat st;
			if (e->d_name[0] == '.' || fstatat(dirfd(in), e->d_name, &st, 0) < 0)
				continue;
			if (S_ISREG(st.st_mode) && expired(&st, now) &&
			    unlinkat(dirfd(in), e->d_name, 0) == 0)
				gone++;
		}
		if (in)
			closedir(in);
		free(sub);
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
	char *sub, *path = NULL, *tmp = NULL;
	int fd = -1, rc = 0;
	if (!d)
		return 0;
	sub = path_of(d, coll, NULL);
	path = path_of(d, coll, name);
	if (!sub || !path || asprintf(&tmp, "%s/.%s.tmp", sub, name) < 0) {
		tmp = NULL;
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&d->lock);
	(void)expire_locked(d, time(NULL));
	if (mkdir(sub, 0700) < 0 && errno != EEXIST)
		rc = -errno;
	if (rc == 0 && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		rc = -errno;
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
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0 && fd >= 0)
		(void)unlink(tmp);
	pthread_mutex_unlock(&d->lock);
out:
	free(sub);
	free(path);
	free(tmp);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int deleted_names(struct deleted *d, const char *coll, char ***names, size_t *n)
{
	char *sub = d ? path_of(d, coll, NULL) : NULL;
	DIR *in = sub ? opendir(sub) : NULL;
	struct dirent *e;
	time_t now = time(NULL);
	size_t cap = 0;
	int rc = 0;
	*names = NULL;
	*n = 0;
	while (in && (e = readdir(in))) {
		struct stat st;
		if (!plain_name(e->d_name) || fstatat(dirfd(in), e->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode) || expired(&st, now))
			continue;
		if (*n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			char **v = realloc(*names, ncap * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			*names = v;
			cap = ncap;
		}
		if (!((*names)[*n] = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (in)
		closedir(in);
	free(sub);
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
	char *path = d ? path_of(d, coll, name) : NULL;
	int rc = path ? 0 : -ENOENT;
	if (rc == 0 && stat(path, st) < 0)
		rc = -errno;
	if (rc == 0 && (!S_ISREG(st->st_mode) || expired(st, time(NULL))))
		rc = -ENOENT;
	free(path);
	return rc;
}

int deleted_changed(struct deleted *d, const char *coll, struct timespec *when)
{
	char *sub = d ? path_of(d, coll, NULL) : NULL;
	struct stat st;
	int rc = sub ? 0 : -ENOENT;
	if (rc == 0 && stat(sub, &st) < 0)
		rc = -errno;
	if (rc == 0)
		*when = st.st_mtim;
	free(sub);
	return rc;
}

int deleted_read(struct deleted *d, const char *coll, const char *name, char **text,
		 size_t *len)
{
	char *path = d ? path_of(d, coll, name) : NULL;
	struct stat st;
	int rc, fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	*text = NULL;
	*len = 0;
	if (fd < 0) {
		rc = path ? -errno : -ENOENT;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
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
	free(path);
	return rc;
}
