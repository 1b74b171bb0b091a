/* safedir: the cache directory, treated as untrusted input (see safedir.h). */
#include "base/safedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

const char *safedir_kind(const struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG: return "a file";
	case S_IFDIR: return "a directory";
	case S_IFLNK: return "a symlink";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	default: return "not a file";
	}
}

/* "@dir/@name" for a message, into @buf. */
static const char *shown(char *buf, size_t size, const char *dir, const char *name)
{
	if (dir && *dir)
		snprintf(buf, size, "%s/%s", dir, name);
	else
		snprintf(buf, size, "%s", name);
	return buf;
}

/* The checks of a directory just opened as @fd (path @path): ours, and
 * writable by nobody else (SAFEDIR_ROOT: see safedir.h).  @fd, or -errno after
 * closing it. */
static int check_dir(int fd, const char *path, unsigned flags)
{
	struct stat st;
	uid_t me = geteuid();
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	bool ours = st.st_uid == me, open = st.st_mode & (S_IWGRP | S_IWOTH);
	if ((flags & SAFEDIR_ROOT) && (ours || st.st_uid == 0)) {
		if (st.st_mode & S_ISVTX)
			return fd; /* /tmp, say: what we make in it stays ours */
		if (!ours && !open)
			return fd; /* root's, and only root's to change */
	}
	if (!ours) {
		/* Someone else's directory may hold anything they like, and
		 * they may change it at any time: nothing in it is used. */
		log_msg(LOG_ERR, "%s: owned by uid %u%s, not by this mount's user (uid %u): not used",
			path, (unsigned)st.st_uid, open ? " and writable by others" : "",
			(unsigned)me);
		close(fd);
		return -EPERM;
	}
	if (open) {
		/* Ours, so only we can have opened it up: closed again.  What
		 * others put in it meanwhile is not followed (O_NOFOLLOW) and,
		 * not being ours, never read. */
		if (fchmod(fd, 0700) < 0) {
			int err = errno;
			log_msg(LOG_ERR, "%s: writable by group or others (mode %04o) and cannot be "
				"made 0700: %s", path, (unsigned)(st.st_mode & 07777), log_strerror(err));
			close(fd);
			return -err;
		}
		log_msg(LOG_WARNING, "%s: was writable by group or others (mode %04o): made 0700",
			path, (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

/* Opens directory @name (one component) in @at, made when missing with
 * SAFEDIR_CREATE, and checks it; @path is its path for messages. */
static int open_one(int at, const char *name, const char *path, unsigned flags)
{
	const int how = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(at, name, how);
	if (fd < 0 && errno == ENOENT && (flags & SAFEDIR_CREATE)) {
		if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(at, name, how);
	}
	if (fd < 0 && errno == ENOTDIR) {
		struct stat st;
		if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			log_msg(LOG_ERR, "%s: %s, not a directory: not used", path,
				safedir_kind(&st));
		return -ENOTDIR;
	}
	return fd < 0 ? -errno : check_dir(fd, path, flags);
}

/* mkdir -p of the directories leading to the last component of @path. */
static void make_parents(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		(void)mkdir(path, 0700); /* an error shows at the open after */
		*s = '/';
	}
}

int safedir_open(int at, const char *at_path, const char *name, unsigned flags)
{
	char buf[PATH_MAX], msg[PATH_MAX + 256];
	int rc;
	if (snprintf(buf, sizeof(buf), "%s", name) >= (int)sizeof(buf) || !*buf)
		return -ENAMETOOLONG;
	/* Trailing slashes name the same directory. */
	for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/'; n--)
		buf[n - 1] = '\0';
	if (at == AT_FDCWD) {
		char *last = strrchr(buf, '/');
		int dirfd;
		if (!last)
			return open_one(AT_FDCWD, buf, buf, flags);
		/* (SAFEDIR_ROOT is for the one component checked here.) */
		if (flags & SAFEDIR_CREATE)
			make_parents(buf);
		*last = '\0';
		dirfd = open(last == buf ? "/" : buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*last = '/';
		if (dirfd < 0)
			return -errno;
		rc = open_one(dirfd, last + 1, buf, flags);
		close(dirfd);
		return rc;
	}
	/* Within the cache: every component checked, each opened in the one
	 * before, so none can be swapped for a symlink on the way. */
	int cur = at;
	char *comp = buf, *next;
	for (;; comp = next) {
		next = strchr(comp, '/');
		if (next)
			*next++ = '\0';
		if (!*comp || !strcmp(comp, ".") || !strcmp(comp, "..")) {
			rc = -EINVAL; /* only names below @at */
			break;
		}
		/* The message's path: @at_path and the components so far. */
		snprintf(msg, sizeof(msg), "%s%s%.*s", at_path ? at_path : "", at_path ? "/" : "",
			 (int)(comp + strlen(comp) - buf), name);
		rc = open_one(cur, comp, msg, flags & ~SAFEDIR_ROOT);
		if (cur != at)
			close(cur);
		if (rc < 0 || !next)
			return rc;
		cur = rc;
	}
	if (cur != at)
		close(cur);
	return rc;
}

int safedir_open_read(int dirfd, const char *dir_path, const char *name, struct stat *st)
{
	char buf[PATH_MAX + 256];
	struct stat own;
	if (!st)
		st = &own;
	int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP) {
		log_msg(LOG_WARNING, "%s: a symlink, not a file: not followed",
			shown(buf, sizeof(buf), dir_path, name));
		return -EBADMSG;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	if (!S_ISREG(st->st_mode)) {
		log_msg(LOG_WARNING, "%s: %s, not a file: not read", shown(buf, sizeof(buf),
			dir_path, name), safedir_kind(st));
		close(fd);
		return -EBADMSG;
	}
	if (st->st_uid != geteuid()) {
		log_msg(LOG_WARNING, "%s: owned by uid %u, not by this mount's user: not read",
			shown(buf, sizeof(buf), dir_path, name), (unsigned)st->st_uid);
		close(fd);
		return -EBADMSG;
	}
	return fd;
}

int safedir_create(int dirfd, const char *name, int oflags)
{
	const int how = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | oflags;
	int fd = openat(dirfd, name, how, 0600);
	/* A name already taken: a temporary file of a writer that died (thread
	 * ids come round again), or something put there.  Removed, never
	 * written through; a directory there stays, and this fails. */
	if (fd < 0 && errno == EEXIST) {
		if (unlinkat(dirfd, name, 0) < 0)
			return -EEXIST;
		fd = openat(dirfd, name, how, 0600);
	}
	if (fd < 0)
		return -errno;
	return fd;
}

DIR *safedir_list(int dirfd)
{
	/* A new open of ".", not a dup: two readers of one directory at once
	 * would share a dup's offset. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0) {
		int err = errno;
		close(fd);
		errno = err;
	}
	return d;
}

int safedir_sync(int dirfd)
{
	int fd = dirfd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : dirfd;
	int rc = fd < 0 || fsync(fd) < 0 ? -errno : 0;
	if (dirfd == AT_FDCWD && fd >= 0)
		close(fd);
	return rc;
}

int safedir_rename(int dirfd, const char *from, const char *to, bool durable)
{
	if (renameat(dirfd, from, dirfd, to) < 0)
		return -errno;
	/* The rename is in the directory: durable once the directory is. */
	return durable ? safedir_sync(dirfd) : 0;
}

int safedir_remove(int dirfd, const char *name, bool durable)
{
	if (unlinkat(dirfd, name, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return durable ? safedir_sync(dirfd) : 0;
}
