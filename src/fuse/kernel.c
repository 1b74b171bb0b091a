/* kernel: telling the kernel what changed behind its caches (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct notify {
	fuse_ino_t parent, ino; /* parent: invalidate the entry @name; else inode @ino */
	char *name;
	bool attrs_only;        /* keep the inode's cached pages */
	struct notify *next;
};

/* Notifications are sent from a thread of their own: sending one from inside
 * an operation on the same inode can deadlock (libfuse's documentation), and
 * an entry notice takes the directory's lock, which a rename holds. */
struct kernel {
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;   /* protects the queue and stop */
	pthread_cond_t cond;
	struct notify *head, *tail;
	bool stop;
};

static void *kernel_main(void *arg)
{
	struct kernel *k = arg;
	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->head && !k->stop)
			pthread_cond_wait(&k->cond, &k->lock);
		if (!k->head)
			break;
		struct notify *q = k->head;
		k->head = q->next;
		if (!k->head)
			k->tail = NULL;
		pthread_mutex_unlock(&k->lock);
		/* -ENOENT just means the kernel had nothing cached. */
		if (q->name)
			fuse_lowlevel_notify_inval_entry(k->se, q->parent, q->name, strlen(q->name));
		else
			fuse_lowlevel_notify_inval_inode(k->se, q->ino, q->attrs_only ? -1 : 0, 0);
		free(q->name);
		free(q);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int kernel_new(struct kernel **out, struct fuse_session *se)
{
	struct kernel *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->se = se;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	int rc = -pthread_create(&k->thread, NULL, kernel_main, k);
	if (rc < 0) {
		pthread_mutex_destroy(&k->lock);
		pthread_cond_destroy(&k->cond);
		free(k);
		return rc;
	}
	*out = k;
	return 0;
}

void kernel_free(struct kernel *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	while (k->head) {
		struct notify *q = k->head;
		k->head = q->next;
		free(q->name);
		free(q);
	}
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
	free(k);
}

static void push(struct kernel *k, fuse_ino_t parent, fuse_ino_t ino, const char *name,
		 bool attrs_only)
{
	if (!k)
		return;
	struct notify *q = calloc(1, sizeof(*q));
	if (!q || (name && !(q->name = strdup(name)))) {
		free(q);
		return; /* the kernel's timeouts will catch up */
	}
	q->parent = parent;
	q->ino = ino;
	q->attrs_only = attrs_only;
	pthread_mutex_lock(&k->lock);
	if (k->tail)
		k->tail->next = q;
	else
		k->head = q;
	k->tail = q;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

void kernel_inval(struct kernel *k, fuse_ino_t ino, bool attrs_only)
{
	push(k, 0, ino, NULL, attrs_only);
}

void kernel_inval_entry(struct kernel *k, fuse_ino_t parent, const char *name)
{
	push(k, parent, 0, name, false);
}

void kernel_inval_now(struct kernel *k, fuse_ino_t ino)
{
	if (k)
		fuse_lowlevel_notify_inval_inode(k->se, ino, 0, 0);
}

void kernel_inval_views(struct mount *m, bool now)
{
	size_t n = 0;
	fuse_ino_t *inos = inode_view_dirs(m->inodes, &n);
	for (size_t i = 0; inos && i < n; i++) {
		if (now)
			kernel_inval_now(m->kernel, inos[i]);
		else
			kernel_inval(m->kernel, inos[i], false);
	}
	free(inos);
}

void kernel_apply(struct mount *m, const struct save_effects *fx)
{
	for (size_t i = 0; i < fx->nnow; i++)
		kernel_inval_now(m->kernel, fx->now[i]);
	for (size_t i = 0; i < fx->nentries; i++)
		kernel_inval_entry(m->kernel, fx->entries[i].parent, fx->entries[i].name);
	if (fx->views)
		kernel_inval_views(m, true);
}
