/* replay: feeds files to a fuzz target without libFuzzer, so that every build's
 * `meson test` runs the seed corpus and each input the fuzzer once crashed on.
 *
 *   replay_<target> DIR|FILE...   every regular file of each DIR (not recursive)
 *
 * A missing directory counts as empty (an empty regressions/ dir is not kept by git).
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Runs the target on the bytes of @path; -errno when it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL, *p;
	size_t len = 0, cap = 0, n;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			p = realloc(data, cap);
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		goto out;
	}
	/* An exactly sized copy, so ASan sees a read past the input as the fuzzer would. */
	p = malloc(len ? len : 1);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(p, data, len);
	LLVMFuzzerTestOneInput(p, len);
	free(p);
out:
	free(data);
	fclose(f);
	return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file in @dir, in name order; the count in *@n. */
static int replay_dir(const char *dir, unsigned *n)
{
	struct dirent **ents = NULL;
	char path[4096];
	struct stat st;
	int i, count, rc = 0;

	count = scandir(dir, &ents, NULL, by_name);
	if (count < 0)
		return errno == ENOENT ? 0 : -errno;
	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    ents[i]->d_name[0] != '.') {
			rc = replay_file(path);
			if (rc < 0)
				fprintf(stderr, "replay: %s: %s\n", path, strerror(-rc));
			else
				(*n)++;
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned n = 0;
	struct stat st;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
			rc = replay_file(argv[i]);
			n += rc == 0;
		} else {
			rc = replay_dir(argv[i], &n);
		}
		if (rc < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(-rc));
			return 1;
		}
	}
	printf("replayed %u inputs\n", n);
	return 0;
}
