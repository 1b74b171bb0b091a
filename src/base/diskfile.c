/* diskfile: whole-or-nothing state files (see diskfile.h). */
#include "base/diskfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/safedir.h"

/* "factuurfs " + kind + 3 numbers: a header longer than this is not ours. */
#define HEADER_MAX 128

static unsigned long checksum(const void *data, size_t len)
{
	return diskfile_crc(0, data, len);
}

unsigned long diskfile_crc(unsigned long crc, const void *data, size_t len)
{
	/* zlib's crc32 takes uInt lengths: feed it in pieces. */
	const unsigned char *p = data;
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory of @path, opened (the path forms' @dirfd), and its last
 * component in *@name (inside @path).  -errno when it cannot be opened. */
static int parent_of(const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	*name = slash ? slash + 1 : path;
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = errno;
	free(dir);
	if (fd < 0)
		return -err;
	return fd;
}

/* "<name>.tmp<tid>" (malloc'd), NULL on ENOMEM. */
static char *temp_name(const char *name)
{
	char *tmp = NULL;
	return asprintf(&tmp, "%s.tmp%ld", name, (long)gettid()) < 0 ? NULL : tmp;
}

int diskfile_writeat(int dirfd, const char *name, const char *kind, unsigned version,
		     const void *data, size_t len)
{
	char header[HEADER_MAX], *tmp = NULL;
	int fd = -1, rc;
	int hlen = snprintf(header, sizeof(header), "factuurfs %s %u %zu %08lx\n", kind, version,
			    len, checksum(data, len));
	if (hlen < 0 || (size_t)hlen >= sizeof(header) || strchr(kind, ' '))
		return -EINVAL;
	if (!(tmp = temp_name(name)))
		return -ENOMEM;
	fd = safedir_create(dirfd, tmp, 0);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	rc = write_all(fd, header, (size_t)hlen);
	if (rc == 0)
		rc = write_all(fd, data, len);
	/* Durable before the rename: after a crash the name holds either the
	 * old file or this whole one. */
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* And the rename itself durable (the directory fsynced) before this
	 * returns: the caller may have promised the file is kept. */
	if (rc == 0)
		rc = safedir_rename(dirfd, tmp, name, true);
out:
	if (rc < 0 && fd >= 0)
		(void)unlinkat(dirfd, tmp, 0);
	free(tmp);
	return rc;
}

int diskfile_write(const char *path, const char *kind, unsigned version, const void *data,
		   size_t len)
{
	const char *name;
	int dirfd = parent_of(path, &name);
	if (dirfd < 0)
		return dirfd;
	int rc = diskfile_writeat(dirfd, name, kind, version, data, len);
	close(dirfd);
	return rc;
}

struct diskfile_out {
	int fd, dirfd;
	bool own_dirfd; /* opened by diskfile_open (a path): closed with @o */
	char *name, *tmp;
	size_t want, got;
	unsigned long crc, sum;
	int err;
};

int diskfile_openat(struct diskfile_out **out, int dirfd, const char *name, const char *kind,
		    unsigned version, size_t len, unsigned long crc)
{
	char header[HEADER_MAX];
	struct diskfile_out *o;
	int hlen = snprintf(header, sizeof(header), "factuurfs %s %u %zu %08lx\n", kind, version,
			    len, crc);
	*out = NULL;
	if (hlen < 0 || (size_t)hlen >= sizeof(header) || strchr(kind, ' '))
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->fd = -1;
	o->dirfd = dirfd;
	o->want = len;
	o->crc = crc;
	o->name = strdup(name);
	if (!o->name || !(o->tmp = temp_name(name))) {
		diskfile_close(o, true);
		return -ENOMEM;
	}
	o->fd = safedir_create(dirfd, o->tmp, 0);
	int rc = o->fd < 0 ? o->fd : write_all(o->fd, header, (size_t)hlen);
	if (rc < 0) {
		diskfile_close(o, true);
		return rc;
	}
	*out = o;
	return 0;
}

int diskfile_open(struct diskfile_out **out, const char *path, const char *kind,
		  unsigned version, size_t len, unsigned long crc)
{
	const char *name;
	int dirfd = parent_of(path, &name);
	*out = NULL;
	if (dirfd < 0)
		return dirfd;
	int rc = diskfile_openat(out, dirfd, name, kind, version, len, crc);
	if (rc < 0)
		close(dirfd);
	else
		(*out)->own_dirfd = true;
	return rc;
}

int diskfile_put(struct diskfile_out *o, const void *data, size_t len)
{
	if (o->err == 0 && len > 0) {
		o->err = write_all(o->fd, data, len);
		o->sum = diskfile_crc(o->sum, data, len);
		o->got += len;
	}
	return o->err;
}

static void out_free(struct diskfile_out *o)
{
	if (o->own_dirfd)
		close(o->dirfd);
	free(o->tmp);
	free(o->name);
	free(o);
}

int diskfile_ready(struct diskfile_out *o)
{
	int rc = o->err;
	if (rc == 0 && (o->got != o->want || o->sum != o->crc))
		rc = -EIO; /* not the payload the header announced */
	/* Durable before the rename, as diskfile_write. */
	if (rc == 0 && fsync(o->fd) < 0)
		rc = -errno;
	if (rc < 0) {
		close(o->fd);
		(void)unlinkat(o->dirfd, o->tmp, 0);
		out_free(o);
	}
	return rc;
}

int diskfile_commit(struct diskfile_out *o, bool stale, bool durable)
{
	/* mtime at the epoch, atime as it is: the mark persist.h reads as "no
	 * longer fresh", set before the file takes its name. */
	const struct timespec epoch[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 0}};
	int rc = stale && futimens(o->fd, epoch) < 0 ? -errno : 0;
	if (close(o->fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = safedir_rename(o->dirfd, o->tmp, o->name, durable);
	if (rc < 0)
		(void)unlinkat(o->dirfd, o->tmp, 0);
	out_free(o);
	return rc;
}

int diskfile_close(struct diskfile_out *o, bool abort)
{
	if (abort) {
		if (o->fd >= 0) {
			close(o->fd);
			(void)unlinkat(o->dirfd, o->tmp, 0);
		}
		out_free(o);
		return 0;
	}
	int rc = diskfile_ready(o);
	/* The rename durable too, as diskfile_write's. */
	return rc < 0 ? rc : diskfile_commit(o, false, true);
}

/* Parses @header (NUL-terminated, without its newline) against @kind and
 * @version; *@len and *@crc get its numbers.  Returns 0 or -EBADMSG. */
static int parse_header(const char *header, const char *kind, unsigned version, size_t *len,
			unsigned long *crc)
{
	char want[HEADER_MAX];
	int n = snprintf(want, sizeof(want), "factuurfs %s %u ", kind, version);
	if (n < 0 || (size_t)n >= sizeof(want) || strncmp(header, want, (size_t)n) != 0)
		return -EBADMSG;
	const char *p = header + n;
	char *end;
	errno = 0;
	uintmax_t l = strtoumax(p, &end, 10);
	if (errno || end == p || *end != ' ' || l > DISKFILE_MAX)
		return -EBADMSG;
	p = end + 1;
	uintmax_t c = strtoumax(p, &end, 16);
	if (errno || end - p != 8 || *end != '\0')
		return -EBADMSG;
	*len = (size_t)l;
	*crc = (unsigned long)c;
	return 0;
}

int diskfile_readat(int dirfd, const char *dir_path, const char *name, const char *kind,
		    unsigned version, char **data, size_t *len, struct stat *st)
{
	char header[HEADER_MAX + 1];
	char *buf = NULL;
	size_t want = 0;
	unsigned long crc = 0;
	int rc = 0;
	*data = NULL;
	*len = 0;
	int fd = safedir_open_read(dirfd, dir_path, name, st);
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!fgets(header, sizeof(header), f) || !strchr(header, '\n')) {
		rc = ferror(f) ? -EIO : -EBADMSG;
		goto out;
	}
	header[strcspn(header, "\n")] = '\0';
	rc = parse_header(header, kind, version, &want, &crc);
	if (rc < 0)
		goto out;
	buf = malloc(want + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	/* Exactly @want bytes, then the end: shorter is torn, longer is not
	 * what was written. */
	if (fread(buf, 1, want, f) != want || fgetc(f) != EOF) {
		rc = ferror(f) ? -EIO : -EBADMSG;
		goto out;
	}
	if (checksum(buf, want) != crc) {
		rc = -EBADMSG;
		goto out;
	}
	buf[want] = '\0';
	*data = buf;
	*len = want;
	buf = NULL;
out:
	(void)fclose(f); /* only read: its close has nothing to lose */
	free(buf);
	return rc;
}

int diskfile_read(const char *path, const char *kind, unsigned version, char **data,
		  size_t *len)
{
	return diskfile_readat(AT_FDCWD, NULL, path, kind, version, data, len, NULL);
}

int diskfile_lock(int dirfd, const char *name)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return -EBADMSG;
	}
	/* flock, not fcntl: it belongs to the open file, so the daemon keeps it
	 * when it forks into the background and the parent exits. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		return -(err == EAGAIN ? EWOULDBLOCK : err);
	}
	return fd;
}
