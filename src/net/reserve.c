/* reserve: the hourly window and the background budget (see reserve.h). */
#include "net/reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

int reserve_persist(struct reserve *r, const char *path)
{
	char *tmp = NULL, line[32];
	FILE *in = NULL, *out = NULL;
	time_t now = reserve_now(r);
	int fd, rc = 0;

	/* Keep what the last hour holds, in a fresh file, and go on from it. */
	if (asprintf(&tmp, "%s.tmp%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		rc = -ENOMEM;
		goto out;
	}
	in = fopen(path, "re");
	/* 0600 like the PDFs beside it: when the user's thumbnailers ran is
	 * nobody else's business. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!out) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
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
		rc = -EIO;
	} else {
		rc = fclose(out) != 0 ? -errno : 0;
	}
	out = NULL;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		goto out;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	pthread_mutex_lock(&r->lock);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	pthread_mutex_unlock(&r->lock);
out:
	if (in)
		(void)fclose(in); /* read only */
	free(tmp);
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
