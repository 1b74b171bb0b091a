/* Unit tests of base/diskfile and base/safedir: what is written reads back;
 * nothing torn, corrupted, of another kind or version is ever handed out; nothing
 * planted in the directory (a symlink, a FIFO, another user's directory) is
 * followed, blocks or is used; a rename is durable (its directory fsynced). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diskfile.h"
#include "base/safedir.h"
#include "unit.h"

/* Every fsync of this process, recorded: this definition takes the place of
 * libc's for the whole test program (diskfile's and safedir's calls included). */
static struct stat synced[64];
static size_t nsynced;

int fsync(int fd)
{
	if (nsynced < sizeof(synced) / sizeof(synced[0]) && fstat(fd, &synced[nsynced]) == 0)
		nsynced++;
	return fdatasync(fd);
}

/* Whether directory @path was fsynced since the record was last cleared. */
static bool dir_synced(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	for (size_t i = 0; i < nsynced; i++)
		if (S_ISDIR(synced[i].st_mode) && synced[i].st_ino == st.st_ino &&
		    synced[i].st_dev == st.st_dev)
			return true;
	return false;
}

static char dir[] = "/tmp/test_diskfile.XXXXXX";

static char *at(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void put_raw(const char *path, const char *bytes, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(bytes, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static char *get_raw(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static char buf[4096];
	*len = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	return buf;
}

static int read_back(const char *path, char **data, size_t *len)
{
	return diskfile_read(path, "listing", 1, data, len);
}

/* diskfile_read's answer for @path, whatever it read freed. */
static int read_rc(const char *path)
{
	char *data;
	size_t len;
	int rc = read_back(path, &data, &len);
	free(data);
	return rc;
}

/* The directory as untrusted input: base/safedir.h. */
static void test_untrusted(void)
{
	char *data = NULL;
	size_t len;
	struct stat st;
	int d = safedir_open(AT_FDCWD, NULL, at("u"), SAFEDIR_CREATE);
	CHECK(d >= 0);
	char *victim = strdup(at("victim")), *u = strdup(at("u"));
	put_raw(victim, "secret", 6);

	/* A symlink is never followed: not read, not written through. */
	CHECK(symlink(victim, at("u/listing")) == 0);
	CHECK(diskfile_readat(d, u, "listing", "listing", 1, &data, &len, NULL) == -EBADMSG && !data);
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "u/file.tmp%ld", (long)gettid());
	CHECK(symlink(victim, at(tmp)) == 0);
	CHECK(diskfile_writeat(d, "file", "listing", 1, "new", 3) == 0);
	CHECK(diskfile_readat(d, u, "file", "listing", 1, &data, &len, &st) == 0 &&
	      !strcmp(data, "new") && S_ISREG(st.st_mode));
	free(data);
	data = get_raw(victim, &len);
	CHECK(len == 6 && !memcmp(data, "secret", 6));
	CHECK(lstat(at(tmp), &st) < 0);
	/* A FIFO: refused at once, never waited on. */
	CHECK(mkfifo(at("u/fifo"), 0600) == 0);
	data = NULL;
	CHECK(diskfile_readat(d, u, "fifo", "listing", 1, &data, &len, NULL) == -EBADMSG && !data);
	CHECK(safedir_open_read(d, at("u"), "fifo", NULL) == -EBADMSG);
	CHECK(diskfile_lock(d, "fifo") == -EBADMSG);
	/* The lock: a file of ours, taken once. */
	int lk = diskfile_lock(d, "lock");
	CHECK(lk >= 0);
	int lk2 = open(at("u/lock"), O_RDWR);
	CHECK(lk2 >= 0 && flock(lk2, LOCK_EX | LOCK_NB) < 0);
	close(lk2);
	close(lk);
	/* A directory where a file was made: a temporary there fails, nothing else. */
	CHECK(mkdir(at("u/dir.tmp"), 0700) == 0);
	CHECK(safedir_create(d, "dir.tmp", 0) == -EEXIST);

	/* Directories: a symlink is refused, even to a directory of ours. */
	CHECK(symlink(u, at("u/link")) == 0);
	CHECK(safedir_open(d, at("u"), "link", 0) == -ENOTDIR);
	CHECK(safedir_open(d, at("u"), "link/x", SAFEDIR_CREATE) == -ENOTDIR);
	CHECK(safedir_open(d, at("u"), "fifo", 0) == -ENOTDIR);
	CHECK(safedir_open(d, at("u"), "../u", 0) == -EINVAL);
	/* Ours but open to others: made 0700. */
	CHECK(mkdir(at("u/open"), 0700) == 0 && chmod(at("u/open"), 0777) == 0);
	int o = safedir_open(d, at("u"), "open/in", SAFEDIR_CREATE);
	CHECK(o >= 0);
	close(o);
	CHECK(stat(at("u/open"), &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(stat(at("u/open/in"), &st) == 0 && (st.st_mode & 07777) == 0700);
	/* Another user's (as root only: nobody else can make one): refused, and a
	 * file of another user's is never read. */
	if (geteuid() == 0) {
		CHECK(mkdir(at("u/theirs"), 0700) == 0 && chmod(at("u/theirs"), 0777) == 0 &&
		      chown(at("u/theirs"), 65534, 65534) == 0);
		CHECK(safedir_open(d, at("u"), "theirs", 0) == -EPERM);
		CHECK(safedir_open(AT_FDCWD, NULL, at("u/theirs"), 0) == -EPERM);
		CHECK(stat(at("u/theirs"), &st) == 0 && (st.st_mode & 07777) == 0777);
		CHECK(diskfile_writeat(d, "given", "listing", 1, "x", 1) == 0);
		CHECK(chown(at("u/given"), 65534, 65534) == 0);
		CHECK(diskfile_readat(d, u, "given", "listing", 1, &data, &len, NULL) == -EBADMSG);
	}
	/* The root of the cache may be a sticky directory open to all (/tmp): used as
	 * it is, never chmodded; as anything else but the root it is made 0700. */
	CHECK(mkdir(at("u/sticky"), 0700) == 0 && chmod(at("u/sticky"), 01777) == 0);
	char *sticky = strdup(at("u/sticky"));
	o = safedir_open(AT_FDCWD, NULL, sticky, SAFEDIR_ROOT);
	CHECK(o >= 0);
	close(o);
	CHECK(stat(sticky, &st) == 0 && (st.st_mode & 07777) == 01777);
	o = safedir_open(AT_FDCWD, NULL, sticky, 0);
	CHECK(o >= 0);
	close(o);
	CHECK(stat(sticky, &st) == 0 && (st.st_mode & 07777) == 0700);
	free(sticky);
	/* A removal made durable. */
	nsynced = 0;
	CHECK(safedir_remove(d, "file", true) == 0 && dir_synced(at("u")));
	CHECK(safedir_remove(d, "file", true) == 0);
	close(d);
	free(victim);
	free(u);
}

int main(void)
{
	char *data;
	size_t len, rawlen;
	struct stat st;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* Made 0700 all the way down; an existing directory is fine. */
	int fd = safedir_open(AT_FDCWD, NULL, at("a/b/c"), SAFEDIR_CREATE);
	CHECK(fd >= 0);
	close(fd);
	fd = safedir_open(AT_FDCWD, NULL, at("a/b/c"), SAFEDIR_CREATE);
	CHECK(fd >= 0);
	close(fd);
	CHECK(stat(at("a/b"), &st) == 0 && (st.st_mode & 0777) == 0700);

	/* Written, read back byte for byte, mode 0600, no temporary left, and the
	 * directory fsynced after the rename. */
	const char payload[] = "{\"clients\": [1, 2]}\n\0binary";
	char *p = strdup(at("a/l"));
	nsynced = 0;
	CHECK(diskfile_write(p, "listing", 1, payload, sizeof(payload)) == 0);
	CHECK(dir_synced(at("a")));
	CHECK(read_back(p, &data, &len) == 0 && len == sizeof(payload) &&
	      memcmp(data, payload, len) == 0 && data[len] == '\0');
	free(data);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(access(at("a/l.tmp"), F_OK) < 0);
	/* Empty payloads too. */
	CHECK(diskfile_write(p, "listing", 1, "", 0) == 0);
	CHECK(read_back(p, &data, &len) == 0 && len == 0 && data && data[0] == '\0');
	free(data);

	/* Written in pieces (diskfile_open): the same file as diskfile_write's. */
	{
		struct diskfile_out *o = NULL;
		size_t wl;
		char whole1[4096], *q = strdup(at("a/pieces"));
		unsigned long crc = diskfile_crc(diskfile_crc(0, payload, 10), payload + 10,
						 sizeof(payload) - 10);
		CHECK(diskfile_open(&o, q, "listing", 1, sizeof(payload), crc) == 0 && o);
		CHECK(diskfile_put(o, payload, 10) == 0);
		CHECK(diskfile_put(o, payload + 10, sizeof(payload) - 10) == 0);
		nsynced = 0;
		CHECK(diskfile_close(o, false) == 0);
		CHECK(dir_synced(at("a")));
		CHECK(read_back(q, &data, &len) == 0 && len == sizeof(payload) &&
		      memcmp(data, payload, len) == 0);
		free(data);
		CHECK(diskfile_write(p, "listing", 1, payload, sizeof(payload)) == 0);
		char *a = get_raw(p, &wl);
		memcpy(whole1, a, wl);
		size_t ql;
		char *b = get_raw(q, &ql);
		CHECK(ql == wl && memcmp(whole1, b, wl) == 0);
		/* Other bytes than announced (length or CRC): no file, the old one stays. */
		CHECK(diskfile_open(&o, q, "listing", 1, sizeof(payload), crc) == 0);
		CHECK(diskfile_put(o, "x", 1) == 0);
		CHECK(diskfile_close(o, false) == -EIO);
		CHECK(read_rc(q) == 0);
		CHECK(diskfile_open(&o, q, "listing", 1, sizeof(payload), crc ^ 1) == 0);
		CHECK(diskfile_put(o, payload, sizeof(payload)) == 0);
		CHECK(diskfile_close(o, false) == -EIO);
		/* In two steps, marked stale (mtime at the epoch) before it takes its name. */
		CHECK(diskfile_open(&o, q, "listing", 1, sizeof(payload), crc) == 0);
		CHECK(diskfile_put(o, payload, sizeof(payload)) == 0);
		CHECK(diskfile_ready(o) == 0);
		CHECK(diskfile_commit(o, true, false) == 0);
		CHECK(stat(q, &st) == 0 && st.st_mtime == 0 && read_rc(q) == 0);
		/* Abandoned: nothing renamed, no temporary left. */
		CHECK(diskfile_open(&o, at("a/never"), "listing", 1, 3, 0) == 0);
		CHECK(diskfile_close(o, true) == 0);
		CHECK(access(at("a/never"), F_OK) < 0);
		char tmpname[64];
		snprintf(tmpname, sizeof(tmpname), "a/never.tmp%ld", (long)gettid());
		CHECK(access(at(tmpname), F_OK) < 0);
		free(q);
	}

	/* Missing: ENOENT, and *data NULL. */
	data = (char *)1;
	CHECK(read_back(at("none"), &data, &len) == -ENOENT && data == NULL);
	free(data);

	/* Another kind or version: refused. */
	CHECK(diskfile_write(p, "listing", 1, payload, sizeof(payload)) == 0);
	CHECK(diskfile_read(p, "journal", 1, &data, &len) == -EBADMSG && !data);
	free(data);
	CHECK(diskfile_read(p, "listing", 2, &data, &len) == -EBADMSG && !data);
	free(data);
	CHECK(diskfile_read(p, "list", 1, &data, &len) == -EBADMSG && !data);
	free(data);

	/* Every truncation of the file is refused (a torn write). */
	char whole[4096];
	char *raw = get_raw(p, &rawlen);
	memcpy(whole, raw, rawlen);
	size_t wlen = rawlen, refused = 0;
	for (size_t cut = 0; cut < wlen; cut++) {
		put_raw(p, whole, cut);
		refused += read_back(p, &data, &len) == -EBADMSG && !data;
		free(data);
	}
	CHECK(refused == wlen);
	/* Every single flipped bit is refused (corruption), header or payload. */
	refused = 0;
	for (size_t i = 0; i < wlen; i++) {
		for (int bit = 0; bit < 8; bit++) {
			whole[i] ^= (char)(1 << bit);
			put_raw(p, whole, wlen);
			int rc = read_back(p, &data, &len);
			/* A flip of a hex digit's case ('a' <-> 'A') names the same
			 * checksum: that file is still whole. */
			refused += rc == -EBADMSG || (rc == 0 && len == sizeof(payload) &&
						      memcmp(data, payload, len) == 0);
			free(data);
			whole[i] ^= (char)(1 << bit);
		}
	}
	CHECK(refused == wlen * 8);
	/* Bytes after the payload: not what was written. */
	memcpy(whole + wlen, "x", 1);
	put_raw(p, whole, wlen + 1);
	CHECK(read_rc(p) == -EBADMSG);
	/* Not ours at all, a header with no end, an absurd length. */
	put_raw(p, "%PDF-1.4\n", 9);
	CHECK(read_rc(p) == -EBADMSG);
	put_raw(p, "factuurfs listing 1 5", 21);
	CHECK(read_rc(p) == -EBADMSG);
	put_raw(p, "factuurfs listing 1 999999999999 00000000\n", 42);
	CHECK(read_rc(p) == -EBADMSG);
	put_raw(p, "factuurfs listing 1 -1 00000000\n", 32);
	CHECK(read_rc(p) == -EBADMSG);

	/* A kind with a space cannot be written (it could not be read). */
	CHECK(diskfile_write(p, "a b", 1, "x", 1) == -EINVAL);
	/* A failed write leaves the old file as it was. */
	CHECK(diskfile_write(p, "listing", 1, "old", 3) == 0);
	CHECK(diskfile_write(at("nodir/x"), "listing", 1, "new", 3) == -ENOENT);
	CHECK(chmod(at("a"), 0500) == 0);
	int rc = diskfile_write(p, "listing", 1, "new", 3);
	CHECK(chmod(at("a"), 0700) == 0);
	/* (root ignores the directory's mode: the write may succeed then) */
	CHECK(read_back(p, &data, &len) == 0 &&
	      (rc == 0 ? !strcmp(data, "new") : !strcmp(data, "old")));
	free(data);

	test_untrusted();

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	free(p);
	return unit_report();
}
