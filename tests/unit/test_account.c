/* Unit tests of store/account.c, the account's place on disk: one directory per
 * user and host under the root, state/'s directories made 0700, the lock held by
 * one account at a time (the second keeps no state: no listings, no journal,
 * still the PDFs and the deleted records), a symlink where a directory belongs
 * refused with its path, and no place at all without a root.
 */
#include "unit.h"

#include "store/account.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_account.XXXXXX";

/* @name under the test's directory (one of eight buffers, used in turn). */
static char *at(const char *name)
{
	static char path[8][512];
	static unsigned next;
	char *p = path[next++ % 8];
	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

static bool private_dir(const char *name)
{
	struct stat st;
	return lstat(at(name), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700;
}

static void test_layout_and_lock(void)
{
	char root[512];
	snprintf(root, sizeof(root), "%s", at("root"));
	struct account_config cfg = {
		.root = root, .url = "https://api.example:8443/v1/", .username = "me",
	};
	struct account *a = NULL, *b = NULL;
	char *refused = NULL;
	CHECK(account_open(&a, &cfg, &refused) == 0 && a && !refused);
	/* The host names the account, as a file name. */
	char *pdfs = account_path(a, ACCOUNT_PDFS);
	CHECK_STR(pdfs, at("root/me@api.example_8443_v1_"));
	for (const char *s = "state\0state/listings\0state/journal\0state/deleted\0"; *s;
	     s += strlen(s) + 1) {
		char name[128];
		snprintf(name, sizeof(name), "root/me@api.example_8443_v1_/%s", s);
		CHECK(private_dir(name));
	}
	char *journal = account_path(a, ACCOUNT_JOURNAL);
	CHECK_STR(journal, at("root/me@api.example_8443_v1_/state/journal"));

	/* A second mount of the account: the lock is the first one's. */
	CHECK(account_open(&b, &cfg, &refused) == 0 && b);
	char *listings = account_path(b, ACCOUNT_LISTINGS), *j2 = account_path(b, ACCOUNT_JOURNAL);
	char *deleted = account_path(b, ACCOUNT_DELETED), *p2 = account_path(b, ACCOUNT_PDFS);
	CHECK(!listings && !j2);
	CHECK_STR(deleted, at("root/me@api.example_8443_v1_/state/deleted"));
	CHECK_STR(p2, pdfs);
	account_free(b);
	free(deleted);
	free(p2);

	/* Let go, the lock is free for the next. */
	account_free(a);
	CHECK(account_open(&b, &cfg, &refused) == 0 && b);
	listings = account_path(b, ACCOUNT_LISTINGS);
	CHECK_STR(listings, at("root/me@api.example_8443_v1_/state/listings"));
	account_free(b);
	free(listings);
	free(journal);
	free(pdfs);
}

static void test_symlink_refused(void)
{
	char root[512];
	snprintf(root, sizeof(root), "%s", at("root2"));
	struct account_config cfg = {.root = root, .url = "http://h/", .username = "u"};
	struct account *a = NULL;
	char *refused = NULL;
	CHECK(mkdir(at("root2"), 0700) == 0 && mkdir(at("root2/u@h_"), 0700) == 0);
	CHECK(mkdir(at("elsewhere"), 0700) == 0);
	CHECK(symlink(at("elsewhere"), at("root2/u@h_/state")) == 0);
	CHECK(account_open(&a, &cfg, &refused) == -ENOTDIR && !a);
	CHECK_STR(refused, at("root2/u@h_/state"));
	free(refused);
	/* Nothing was made through it. */
	struct stat st;
	CHECK(lstat(at("elsewhere/listings"), &st) < 0 && errno == ENOENT);
}

static void test_no_root(void)
{
	struct account_config cfg = {.root = NULL, .url = "http://h/", .username = "u"};
	struct account *a = NULL;
	char *refused = NULL;
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	CHECK(account_open(&a, &cfg, &refused) == 0 && !a && !refused);
	CHECK(!account_path(a, ACCOUNT_PDFS) && !account_path(a, ACCOUNT_DELETED));
	account_free(a);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_layout_and_lock();
	test_symlink_refused();
	test_no_root();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", dir);
	return unit_report();
}
