/* Unit tests of base/diskfile: what is written reads back; nothing torn,
 * corrupted, of another kind or version is ever handed out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diskfile.h"
#include "unit.h"

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
	CHECK(diskfile_mkdirs(at("a/b/c")) == 0);
	CHECK(diskfile_mkdirs(at("a/b/c")) == 0);
	CHECK(stat(at("a/b"), &st) == 0 && (st.st_mode & 0777) == 0700);

	/* Written, read back byte for byte, mode 0600, no temporary left. */
	const char payload[] = "{\"clients\": [1, 2]}\n\0binary";
	char *p = strdup(at("a/l"));
	CHECK(diskfile_write(p, "listing", 1, payload, sizeof(payload)) == 0);
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
		CHECK(diskfile_close(o, false) == 0);
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

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	free(p);
	return unit_report();
}
