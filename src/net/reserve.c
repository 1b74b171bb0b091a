/* reserve: the hourly window and the background budget (see reserve.h). */
#include "net/reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/safedir.h"

/* Calls per minute over the last hour: slot m % 60 counts minute m (since
 * the epoch) when minute_of says it is that minute, else it is stale. */
struct reserve_window {
	unsigned long count[60];
	long minute_of[60];
};

struct reserve {
	/* Read-only after reserve_new. */
	long background_per_hour;
	time_t (*now)(void *arg);
	void *now_arg;

	pthread_mutex_t lock;
	struct reserve_window calls;	  /* protected by lock */
	struct reserve_window background; /* protected by lock */
	unsigned long background_refused; /* protected by lock */
	int fd; /* reserve_persist's file, -1 without; set before the mount
		 * serves, appended to under lock */
};

static time_t reserve_now(const struct reserve *r)
{
	return r->now ? r->now(r->now_arg) : time(NULL);
}

/* Adds one at epoch second @t; lock held. */
static void reserve_window_add(struct reserve_window *w, time_t t)
{
	long minute = (long)(t / 60);
	int slot = (int)(minute % 60);

	if (w->minute_of[slot] != minute) {
		w->minute_of[slot] = minute;
		w->count[slot] = 0;
	}
	w->count[slot]++;
}

/* The sum over the 60 minutes up to epoch second @now; lock held. */
static unsigned long reserve_window_sum(const struct reserve_window *w, time_t now)
{
	long minute = (long)(now / 60);
	unsigned long sum = 0;

	for (int i = 0; i < 60; i++)
		if (minute - w->minute_of[i] < 60)
			sum += w->count[i];
	return sum;
}

int reserve_new(struct reserve **out, const struct reserve_config *cfg)
{
	struct reserve *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->background_per_hour = cfg ? cfg->background_per_hour : -1;
	r->now = cfg ? cfg->now : NULL;
	r->now_arg = cfg ? cfg->now_arg : NULL;
	/* The zeroed windows count nothing: minute 0 of the epoch is long past. */
	r->fd = -1;
	*out = r;
	return 0;
}

void reserve_free(struct reserve *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void reserve_note_call(struct reserve *r)
{
	pthread_mutex_lock(&r->lock);
	reserve_window_add(&r->calls, reserve_now(r));
	pthread_mutex_unlock(&r->lock);
}

bool reserve_background_take(struct reserve *r)
{
	time_t now = reserve_now(r);
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = r->background_per_hour < 0 ||
	     reserve_window_sum(&r->background, now) < (unsigned long)r->background_per_hour;
	if (ok) {
		reserve_window_add(&r->background, now);
		if (r->fd >= 0)
			dprintf(r->fd, "%lld\n", (long long)now);
	} else {
		r->background_refused++;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/* Adds the times of the last hour that @in holds (NULL: none) to the background
 * window and writes them to @out, which it closes: 0 or -errno. */
static int reserve_keep_hour(struct reserve *r, FILE *in, FILE *out, time_t now)
{
	char line[32];
	pthread_mutex_lock(&r->lock);
	while (in && fgets(line, sizeof(line), in)) {
		long long t = strtoll(line, NULL, 10);

		if (t > now - 3600 && t <= now) {
			reserve_window_add(&r->background, (time_t)t);
			fprintf(out, "%lld\n", t);
		}
	}
	pthread_mutex_unlock(&r->lock);
	/* A write that failed while the buffer was flushed on the way leaves only
	 * the stream's error flag: fclose may still succeed. */
	if (ferror(out)) {
		(void)fclose(out);
		return -EIO;
	}
	return fclose(out) != 0 ? -errno : 0;
}

int reserve_persist(struct reserve *r, const char *path)
{
	char *dir = NULL, *tmp = NULL;
	const char *name;
	FILE *in = NULL, *out = NULL;
	time_t now = reserve_now(r);
	int dirfd = -1, fd = -1, rc = 0;

	/* The account's directory, checked (base/safedir.h), and the file in it. */
	const char *slash = strrchr(path, '/');
	name = slash ? slash + 1 : path;
	dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (!dir || asprintf(&tmp, "%s.tmp%ld", name, (long)getpid()) < 0) {
		tmp = NULL;
		rc = -ENOMEM;
		goto out;
	}
	dirfd = safedir_open(AT_FDCWD, NULL, *dir ? dir : "/", 0);
	if (dirfd < 0) {
		rc = dirfd;
		goto out;
	}
	/* Keep what the last hour holds, in a fresh file, and go on from it.  What
	 * is not a file of ours (a FIFO, a symlink) is not read: the count starts
	 * empty, and the rename replaces it. */
	int infd = safedir_open_read(dirfd, dir, name, NULL);
	in = infd >= 0 ? fdopen(infd, "r") : NULL;
	if (infd >= 0 && !in)
		close(infd);
	/* 0600 like the PDFs beside it: when the user's thumbnailers ran is
	 * nobody else's business.  Appended to from now on: this descriptor is
	 * the file once it is renamed. */
	fd = safedir_create(dirfd, tmp, O_APPEND);
	int outfd = fd >= 0 ? dup(fd) : -1;
	out = outfd >= 0 ? fdopen(outfd, "w") : NULL;
	if (!out) {
		rc = fd < 0 ? fd : -errno;
		if (outfd >= 0)
			close(outfd);
		goto out;
	}
	rc = reserve_keep_hour(r, in, out, now);
	out = NULL;
	if (rc == 0)
		rc = safedir_rename(dirfd, tmp, name, false);
	if (rc < 0) {
		(void)unlinkat(dirfd, tmp, 0);
		goto out;
	}
	pthread_mutex_lock(&r->lock);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	fd = -1;
	pthread_mutex_unlock(&r->lock);
out:
	if (in)
		(void)fclose(in); /* read only */
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	free(tmp);
	free(dir);
	return rc;
}

void reserve_get_stats(struct reserve *r, struct reserve_stats *out)
{
	time_t now = reserve_now(r);

	pthread_mutex_lock(&r->lock);
	out->last_hour = reserve_window_sum(&r->calls, now);
	out->background_last_hour = reserve_window_sum(&r->background, now);
	out->background_refused = r->background_refused;
	out->background_per_hour = r->background_per_hour;
	pthread_mutex_unlock(&r->lock);
}
