/* credentials: the account a mount or `factuurfs probe` works on (see credentials.h). */
#include "credentials.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

/* Like ssh with a private key: a file holding the API key that group or
 * others may read is refused, with the fix in the message. */
static bool private_enough(const char *path, const struct stat *st)
{
	if (!(st->st_mode & 077))
		return true;
	fprintf(stderr,
		"factuurfs: %s holds the API key but group or others may access it "
		"(mode %04o); refusing to use it. Fix: chmod 600 %s\n",
		path, (unsigned)(st->st_mode & 07777), path);
	return false;
}

struct rc_ctx {
	const char *want;   /* section asked for */
	bool explicit_want; /* -o profile= was given */
	char *username, *apikey;
	bool found;
};

static int rc_handler(void *user, const char *section, const char *name, const char *value)
{
	struct rc_ctx *ctx = user;
	/* Keys outside any section count as the default profile, as in the
	 * original client's files written without a header. */
	bool match = !strcmp(section, ctx->want) || (!*section && !ctx->explicit_want);
	if (!match)
		return 1;
	ctx->found = true;
	char **slot = !strcmp(name, "username") ? &ctx->username
		      : !strcmp(name, "apikey") ? &ctx->apikey
						: NULL;
	if (slot) {
		if (*slot) {
			explicit_bzero(*slot, strlen(*slot));
			free(*slot);
		}
		*slot = strdup(value);
	}
	return 1;
}

/* Reads ./.factuursturen_rc, else ~/.factuursturen_rc.  Returns 0 (nothing
 * found is fine), or -1 after printing why. */
static int read_rc(const struct credentials_opts *o, char **username, char **apikey)
{
	const char *home = getenv("HOME");
	char path[PATH_MAX];
	const char *dirs[] = {".", home};
	for (size_t i = 0; i < 2; i++) {
		if (!dirs[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirs[i], CREDENTIALS_RC);
		if (access(path, F_OK) != 0)
			continue;
		struct rc_ctx ctx = {.want = o->profile ? o->profile : "default",
				     .explicit_want = o->profile != NULL};
		int rc = ini_parse(path, rc_handler, &ctx);
		if (rc != 0) {
			fprintf(stderr, "factuurfs: %s: %s\n", path,
				rc < 0 ? "cannot be read" : "not an INI file");
			goto fail;
		}
		if (!ctx.found && o->profile) {
			fprintf(stderr, "factuurfs: %s: no section [%s]\n", path, o->profile);
			goto fail;
		}
		struct stat st;
		if (ctx.apikey && stat(path, &st) == 0 && !private_enough(path, &st))
			goto fail;
		*username = ctx.username;
		*apikey = ctx.apikey;
		return 0;
	fail:
		free(ctx.username);
		if (ctx.apikey)
			explicit_bzero(ctx.apikey, strlen(ctx.apikey));
		free(ctx.apikey);
		return -1;
	}
	if (o->profile) {
		fprintf(stderr, "factuurfs: -o profile=%s given but no %s found\n", o->profile,
			CREDENTIALS_RC);
		return -1;
	}
	return 0;
}

static char *read_key_file(const char *path)
{
	char buf[512];
	struct stat st;
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "factuurfs: apikey_file %s: %s\n", path, log_strerror(errno));
		return NULL;
	}
	/* A stream we only read: its fclose has nothing to lose. */
	if (fstat(fileno(f), &st) == 0 && !private_enough(path, &st)) {
		(void)fclose(f);
		return NULL;
	}
	char *line = fgets(buf, sizeof(buf), f);
	(void)fclose(f);
	char *key = NULL;
	if (line) {
		line[strcspn(line, "\r\n")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		size_t n = strlen(line);
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (n)
			key = strdup(line);
	}
	explicit_bzero(buf, sizeof(buf));
	if (!key)
		fprintf(stderr, "factuurfs: apikey_file %s holds no key\n", path);
	return key;
}

void credentials_wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Fills *@username and *@apikey (malloc'd) from options, environment and rc
 * file, in that order of preference; -1 after printing why not. */
int credentials_get(const struct credentials_opts *o, char **username, char **apikey)
{
	char *rc_user = NULL, *rc_key = NULL;
	const char *env_user = getenv("FACTUURSTUREN_USERNAME");
	const char *env_key = getenv("FACTUURSTUREN_APIKEY");
	*username = *apikey = NULL;

	if ((!o->username && !(env_user && *env_user)) ||
	    (!(env_key && *env_key) && !o->apikey_file) || o->profile) {
		if (read_rc(o, &rc_user, &rc_key) < 0)
			return -1;
	}
	if (o->username)
		*username = strdup(o->username);
	else if (env_user && *env_user)
		*username = strdup(env_user);
	else if (rc_user)
		*username = strdup(rc_user);

	if (env_key && *env_key)
		*apikey = strdup(env_key);
	else if (o->apikey_file)
		*apikey = read_key_file(o->apikey_file);
	else if (rc_key)
		*apikey = strdup(rc_key);
	/* Nothing we start needs the key, and /proc/PID/environ shows the
	 * original environment block, which unsetenv leaves as it was: wipe the
	 * value where it lies. */
	if (env_key) {
		explicit_bzero((char *)env_key, strlen(env_key));
		unsetenv("FACTUURSTUREN_APIKEY"); /* NOLINT(concurrency-mt-unsafe): no thread yet */
	}
	free(rc_user);
	credentials_wipe(rc_key);

	if (!*username) {
		fprintf(stderr, "factuurfs: no username: use -o username=, $FACTUURSTUREN_USERNAME "
				"or ~/" CREDENTIALS_RC "\n");
		goto fail;
	}
	if (!*apikey) {
		if (!o->apikey_file)
			fprintf(stderr, "factuurfs: no API key: use $FACTUURSTUREN_APIKEY, "
					"-o apikey_file= or ~/" CREDENTIALS_RC "\n");
		goto fail;
	}
	return 0;
fail:
	free(*username);
	credentials_wipe(*apikey);
	*username = *apikey = NULL;
	return -1;
}
