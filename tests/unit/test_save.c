/* Unit tests of the save state machine (src/ns/save*.c), with the inode table
 * (ns/inode.h), the store, writeback and the fake service below it: no mount.
 *
 * Every transition of the table in save_state.c is taken here through the public
 * functions, and checked by the state it leaves and the calls the service
 * saw:
 *
 *   CLEAN      --write-->   EDITED      test_edit
 *   EDITED     --write-->   EDITED      test_edit
 *   EDITED     --send-->    SENDING     test_edit, test_write_during_send
 *   SENDING    --write-->   SENDING     test_write_during_send
 *   SENDING    --taken-->   CLEAN       test_edit, test_new_file
 *   SENDING    --refused--> REFUSED     test_refused_here, test_refused_there
 *   SENDING    --lost-->    UNANSWERED  test_lost_post
 *   SENDING    --unsent-->  WAITING     test_template
 *   SENDING    --newer-->   EDITED      test_write_during_send
 *   REFUSED    --write-->   EDITED      test_refused_here
 *   REFUSED    --send-->    SENDING     test_refused_there (fsync)
 *   UNANSWERED --write-->   EDITED      test_lost_post
 *   UNANSWERED --send-->    SENDING     test_lost_post (fsync)
 *   WAITING    --write-->   EDITED      test_template
 *
 * and a commit with nothing to send (CLEAN, WAITING, a refused text closed
 * again without fsync, a blank new file) sends nothing.  Names: create,
 * unlink, rename (with the rollback of a refused rename onto a new name),
 * link; the limits; the effects each operation returns for the kernel; what a
 * save targets (ns/save_target.h): test_targets.
 *
 * The journal (ns/journal.h): an entry written at each transition that
 * leaves a text the service does not have (REFUSED, UNANSWERED, WAITING, and
 * "posting" while a POST is out), removed at each that ends it (taken,
 * dropped by rm, reverted, renamed away), a failed write failing the close;
 * and the texts restored into a fresh save machine and inode table under the
 * same names, in the same states, with the same errors: test_journal_*.
 */
#include "fake_service.h"
#include "fake_transport.h"
#include "unit_stack.h"
#include "unit.h"
#include "unit_thread.h"

#include "base/diskfile.h"
#include "base/events.h"
#include "feat/writeback.h"
#include "model/templates.h"
#include "net/api.h"
#include "ns/dir.h"
#include "ns/inode.h"
#include "ns/journal.h"
#include "ns/save.h"
#include "ns/save_target.h"
#include "store/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1000.0

static struct fake_clock clk;

static double clock_now(void)
{
	return clk.now;
}

static const struct schema_collection *clients, *products, *invoices, *saved, *payments;

struct env {
	struct unit_stack st;
	struct wb wb;
	struct inodes *inodes;
	struct save *save;
	struct save_effects fx;
	char jdir[64];            /* the journal's directory, "" without one */
};

static void env_ns(struct env *e);

static void env_init(struct env *e)
{
	struct cache_config ccfg = {.ttl = 60, .page_size = 100, .now = clock_now};

	memset(e, 0, sizeof(*e));
	unit_stack_init(&e->st, &clk, T0, &ccfg);
	fake_service_seed(e->st.svc);
	e->wb = (struct wb){.api = e->st.api, .cache = e->st.cache};
	env_ns(e);
}

/* The inode table and the save machine (a mount's namespace). */
static void env_ns(struct env *e)
{
	struct inode_fixed fixed[64];
	size_t nfixed = 0;

	/* The fixed nodes the save machine works in: the collection
	 * directories, numbered as the mount numbers them (vfs/root.c). */
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);

		fixed[nfixed] = (struct inode_fixed){
		    .ino = INO_COLL0 + i, .kind = c->single ? N_SINGLE : N_COLL, .c = c};
		snprintf(fixed[nfixed].key, sizeof(fixed[nfixed].key), "/%s", c->name);
		nfixed++;
	}
	struct save_config scfg = {
	    .cache = e->st.cache, .wb = &e->wb, .events = e->st.ev, .now = clock_now};
	if (inodes_new(&e->inodes, fixed, nfixed, save_text_free) != 0 ||
	    (scfg.inodes = e->inodes, save_new(&e->save, &scfg)) != 0) {
		printf("setup failed\n");
		exit(1);
	}
}

/* A journal in a directory of its own. */
static void env_journal(struct env *e)
{
	snprintf(e->jdir, sizeof(e->jdir), "/tmp/test_save.XXXXXX");
	if (!mkdtemp(e->jdir) || save_journal_open(e->save, e->jdir) != 0) {
		printf("setup failed: journal\n");
		exit(1);
	}
}

/* The next mount on the same account and disk: a fresh cache, inode table
 * and save machine, the journal read back.  Returns the entries read. */
static int env_remount(struct env *e)
{
	struct cache_config ccfg = {.ttl = 60, .page_size = 100, .now = clock_now};

	inodes_free(e->inodes);
	save_free(e->save);
	unit_stack_new_cache(&e->st, &ccfg);
	e->wb.cache = e->st.cache;
	env_ns(e);
	return save_journal_open(e->save, e->jdir);
}

static void env_fini(struct env *e)
{
	if (e->jdir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", e->jdir);
		if (system(cmd) != 0)
			printf("could not remove %s\n", e->jdir);
	}
	inodes_free(e->inodes); /* first: the texts it frees count in e->save */
	save_free(e->save);
	unit_stack_fini(&e->st);
}

/* ---- helpers --------------------------------------------------------------------------- */

static struct node *dir_of(struct env *e, const struct schema_collection *c)
{
	return inode_get(e->inodes, inode_coll_ino(c));
}

static struct node *record(struct env *e, const struct schema_collection *c, const char *id)
{
	return inode_record(e->inodes, c, N_JSON, id);
}

static unsigned calls(struct env *e, const char *method, const char *path)
{
	return fake_service_calls(e->st.svc, method, path);
}

/* Replaces @n's text by @text, as `cat > file` does: truncate, write. */
static int set_text(struct env *e, struct node *n, const char *text)
{
	int rc = save_truncate(e->save, n, 0);

	return rc < 0 ? rc : save_write(e->save, n, text, strlen(text), 0);
}

/* @n's own text (a static buffer), or NULL when it has none. */
static const char *text(struct env *e, struct node *n)
{
	static char buf[8192];
	size_t got = 0;

	if (!save_read(e->save, n, buf, sizeof(buf) - 1, 0, &got))
		return NULL;
	buf[got] = '\0';
	return buf;
}

static int commit(struct env *e, struct node *n, bool fsync)
{
	memset(&e->fx, 0, sizeof(e->fx));
	return save_commit(e->save, n, fsync, &e->fx);
}

static bool fx_has(const struct save_effects *fx, fuse_ino_t ino)
{
	for (size_t i = 0; i < fx->nnow; i++)
		if (fx->now[i] == ino)
			return true;
	return false;
}

static bool fx_entry(const struct save_effects *fx, fuse_ino_t parent, const char *name)
{
	for (size_t i = 0; i < fx->nentries; i++)
		if (fx->entries[i].parent == parent && !strcmp(fx->entries[i].name, name))
			return true;
	return false;
}

/* The error (what failed and why) recorded last, as "what: why" (static). */
static const char *last_error(struct env *e)
{
	static char buf[640];
	struct events_entry ent;

	buf[0] = '\0';
	if (events_list(e->st.ev, EVENTS_ERRORS, &ent, 1, NULL) == 1)
		snprintf(buf, sizeof(buf), "%s: %s", ent.what, ent.message);
	return buf;
}

static const char *last_change(struct env *e)
{
	static char buf[640];
	struct events_entry ent;

	buf[0] = '\0';
	if (events_list(e->st.ev, EVENTS_CHANGES, &ent, 1, NULL) == 1)
		snprintf(buf, sizeof(buf), "%s", ent.message);
	return buf;
}

static bool has(const char *s, const char *part)
{
	return s && strstr(s, part) != NULL;
}

/* Record @id's text as the store has it, with @from replaced by @to. */
static char *edited(struct env *e, const struct schema_collection *c, const char *id,
		    const char *from, const char *to)
{
	struct cache_record *r = NULL;
	char *out = NULL, *at;

	if (cache_record_get(e->st.cache, c, id, &r) < 0)
		return NULL;
	at = strstr(r->text, from);
	if (at &&
	    asprintf(&out, "%.*s%s%s", (int)(at - r->text), r->text, to, at + strlen(from)) < 0)
		out = NULL;
	cache_record_unref(r);
	return out;
}

static char *service_record(struct env *e, const char *coll, const char *id)
{
	return fake_service_get(e->st.svc, coll, id);
}

static const char koek[] = "{\"code\": \"KO-1\", \"name\": \"Koek\", \"price\": 3.5}\n";

/* A new file @name in @c's directory, with the kernel's reference taken as
 * a create's reply takes it: the node lives until inode_forget, as an open
 * file's does, whatever happens to its name. */
static struct node *create(struct env *e, const struct schema_collection *c, const char *name)
{
	struct node *n = NULL;
	int rc = save_create(e->save, dir_of(e, c), name, 0644, O_CREAT | O_EXCL | O_WRONLY, &n);

	/* Every test needs the file it creates to go on: stop here, not at a
	 * NULL dereference further on. */
	if (rc < 0 || !n) {
		printf("%s: save_create %s: %d\n", __func__, name, rc);
		exit(1);
	}
	inode_ref(e->inodes, n);
	return n;
}

/* ---- a commit in another thread -------------------------------------------------------- */

struct bg {
	struct env *e;
	struct node *n;
	bool fsync;
	int rc;
	pid_t tid;
	struct save_effects fx;
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;

	pthread_mutex_lock(&b->lock);
	b->tid = unit_tid();
	b->started = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	b->rc = save_commit(b->e->save, b->n, b->fsync, &b->fx);
	return NULL;
}

/* Starts a commit of @n in a thread; returns once the thread runs. */
static void bg_start(struct bg *b, struct env *e, struct node *n, bool fsync)
{
	memset(b, 0, sizeof(*b));
	b->e = e;
	b->n = n;
	b->fsync = fsync;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	pthread_create(&b->th, NULL, bg_main, b);
	pthread_mutex_lock(&b->lock);
	while (!b->started)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

static int bg_join(struct bg *b)
{
	pthread_join(b->th, NULL);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	return b->rc;
}

/* ---- edits of a record ------------------------------------------------------------------- */

static void test_edit(void)
{
	struct env e;
	struct node *n;
	char *t, *rec;
	off_t size;

	env_init(&e);
	n = record(&e, clients, "1");
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN);
	CHECK(!save_size(e.save, n, &size) && text(&e, n) == NULL);

	/* CLEAN --write--> EDITED: the text starts as the record's own. */
	t = edited(&e, clients, "1", "Bakkerij De Korst", "Bakkerij De Korst BV");
	CHECK(save_truncate(e.save, n, 0) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_EDITED);
	CHECK(save_size(e.save, n, &size) && size == 0);
	/* EDITED --write--> EDITED */
	CHECK(save_write(e.save, n, t, strlen(t), 0) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_EDITED);
	CHECK_STR(text(&e, n), t);
	CHECK(calls(&e, "PUT", NULL) == 0);

	/* EDITED --send--> SENDING --taken--> CLEAN: one PUT, and the text
	 * gives way to the record's. */
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "PUT", "clients/1") == 1);
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN && text(&e, n) == NULL);
	CHECK(save_error(e.save, n) == NULL);
	rec = service_record(&e, "clients", "1");
	CHECK(has(rec, "\"company\":\"Bakkerij De Korst BV\""));
	free(rec);
	CHECK_STR(last_change(&e), "updated clients/1.json");
	/* The kernel drops the file's pages; views may have moved. */
	CHECK(e.fx.nnow == 1 && fx_has(&e.fx, n->ino) && e.fx.views && e.fx.nentries == 0);
	free(t);

	/* A second close: CLEAN has nothing to send. */
	CHECK(commit(&e, n, false) == 0 && commit(&e, n, true) == 0);
	CHECK(calls(&e, "PUT", NULL) == 1 && e.fx.nnow == 0 && !e.fx.views);

	/* A write at an offset edits the record's current text. */
	t = edited(&e, clients, "1", "Utrecht", "UTRECHT");
	CHECK(t && save_write(e.save, n, "UTRECHT", 7, strstr(t, "UTRECHT") - t) == 0);
	CHECK_STR(text(&e, n), t);
	CHECK(commit(&e, n, false) == 0 && calls(&e, "PUT", "clients/1") == 2);
	rec = service_record(&e, "clients", "1");
	CHECK(has(rec, "\"city\":\"UTRECHT\""));
	free(rec);
	free(t);

	/* The same text again (a save without changes): nothing sent. */
	t = edited(&e, clients, "1", "{", "{");
	CHECK(set_text(&e, n, t) == 0 && save_state_of(e.save, n) == SAVE_EDITED);
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "PUT", NULL) == 2 && save_state_of(e.save, n) == SAVE_CLEAN);
	CHECK(text(&e, n) == NULL);
	free(t);

	/* What the API cannot change is not writable at all. */
	struct node *inv = record(&e, invoices, "2026-0001");
	CHECK(save_write(e.save, inv, "{}", 2, 0) == -EPERM);
	CHECK(save_truncate(e.save, inv, 0) == -EPERM);
	struct node *pdf = inode_record(e.inodes, invoices, N_PDF, "2026-0001");
	CHECK(save_write(e.save, pdf, "x", 1, 0) == -EPERM);
	/* A record that is not there. */
	CHECK(save_write(e.save, record(&e, clients, "99"), "{}", 2, 0) == -ENOENT);
	env_fini(&e);
}

/* Refused here, before anything is sent: not JSON. */
static void test_refused_here(void)
{
	struct env e;
	struct node *n;
	char *err, *t;

	env_init(&e);
	n = record(&e, clients, "2");
	CHECK(set_text(&e, n, "{\"company\": \"Bos\",\n") == 0);
	/* SENDING --refused--> REFUSED: the reason kept, the text kept. */
	CHECK(commit(&e, n, false) == -EINVAL);
	CHECK(save_state_of(e.save, n) == SAVE_REFUSED);
	err = save_error(e.save, n);
	CHECK_STR(err, "line 1, column 19: invalid JSON");
	CHECK_STR(last_error(&e), "clients/2.json: line 1, column 19: invalid JSON");
	free(err);
	CHECK_STR(text(&e, n), "{\"company\": \"Bos\",\n");
	CHECK(calls(&e, "PUT", NULL) == 0);
	/* Closed again without fsync: nothing to send, nothing said. */
	CHECK(commit(&e, n, false) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_REFUSED);
	/* fsync tries again: refused again. */
	CHECK(commit(&e, n, true) == -EINVAL && save_state_of(e.save, n) == SAVE_REFUSED);
	/* REFUSED --write--> EDITED: fixed, then one PUT. */
	t = edited(&e, clients, "2", "\"company\": \"\"", "\"company\": \"Bos\"");
	CHECK(set_text(&e, n, t) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_EDITED && save_error(e.save, n) == NULL);
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "PUT", "clients/2") == 1 && save_state_of(e.save, n) == SAVE_CLEAN);
	free(t);
	env_fini(&e);
}

/* Refused by the service: the reason is its words; fsync sends again. */
static void test_refused_there(void)
{
	struct env e;
	struct node *n;
	char *err, *t;

	env_init(&e);
	n = record(&e, clients, "1");
	t = edited(&e, clients, "1", "\"city\": \"Utrecht\"", "\"email\": \"nee\"");
	fake_service_fail(e.st.svc, "PUT", "clients/1",
			  &(struct fake_answer){.status = 400, .body = "Field 'email' is invalid"},
			  false, -1);
	CHECK(set_text(&e, n, t) == 0);
	CHECK(commit(&e, n, false) == -EINVAL);
	CHECK(calls(&e, "PUT", "clients/1") == 1 && save_state_of(e.save, n) == SAVE_REFUSED);
	err = save_error(e.save, n);
	CHECK_STR(err, "PUT clients/1: HTTP 400: Field 'email' is invalid");
	free(err);
	CHECK_STR(last_error(&e),
		  "clients/1.json: PUT clients/1: HTTP 400: Field 'email' is invalid");
	/* A FLUSH (close) without fsync: nothing sent. */
	CHECK(commit(&e, n, false) == 0 && calls(&e, "PUT", NULL) == 1);
	/* REFUSED --send--> SENDING: fsync sends it again. */
	CHECK(commit(&e, n, true) == -EINVAL && calls(&e, "PUT", NULL) == 2);
	CHECK(save_state_of(e.save, n) == SAVE_REFUSED);
	/* The service takes it now. */
	fake_service_clear_faults(e.st.svc);
	CHECK(commit(&e, n, true) == 0 && calls(&e, "PUT", NULL) == 3);
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN && save_error(e.save, n) == NULL);
	free(t);
	env_fini(&e);
}

/* A write while the text is being sent: the send goes on with what it had;
 * the newer text is the next commit's. */
static void test_write_during_send(void)
{
	struct env e;
	struct node *n;
	struct bg b;
	char *t1, *t2, *rec;

	env_init(&e);
	n = record(&e, clients, "1");
	t1 = edited(&e, clients, "1", "Utrecht", "Amersfoort");
	t2 = edited(&e, clients, "1", "Utrecht", "Zwolle");
	CHECK(set_text(&e, n, t1) == 0);
	fake_service_hold(e.st.svc, "PUT", "clients/1");
	bg_start(&b, &e, n, false);
	CHECK(fake_service_wait_held(e.st.svc, 1));
	CHECK(save_state_of(e.save, n) == SAVE_SENDING);
	/* SENDING --write--> SENDING */
	CHECK(set_text(&e, n, t2) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_SENDING);
	fake_service_release(e.st.svc);
	/* SENDING --newer--> EDITED: the first text was taken, the second waits. */
	CHECK(bg_join(&b) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_EDITED);
	CHECK_STR(text(&e, n), t2);
	rec = service_record(&e, "clients", "1");
	CHECK(has(rec, "Amersfoort"));
	free(rec);
	CHECK(calls(&e, "PUT", NULL) == 1);
	CHECK(commit(&e, n, false) == 0 && calls(&e, "PUT", NULL) == 2);
	rec = service_record(&e, "clients", "1");
	CHECK(has(rec, "Zwolle"));
	free(rec);
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN);

	/* The same when the service refuses the older text: the newer one is
	 * not refused (it was never sent). */
	free(t2);
	t2 = edited(&e, clients, "1", "Zwolle", "Kampen");
	CHECK(set_text(&e, n, t1) == 0);
	fake_service_fail(e.st.svc, "PUT", "clients/1",
			  &(struct fake_answer){.status = 422, .body = "nee"}, false, 1);
	fake_service_hold(e.st.svc, "PUT", "clients/1");
	bg_start(&b, &e, n, false);
	CHECK(fake_service_wait_held(e.st.svc, 1));
	CHECK(set_text(&e, n, t2) == 0);
	fake_service_release(e.st.svc);
	CHECK(bg_join(&b) == -EINVAL);
	CHECK(save_state_of(e.save, n) == SAVE_EDITED && save_error(e.save, n) == NULL);
	CHECK(commit(&e, n, false) == 0 && save_state_of(e.save, n) == SAVE_CLEAN);
	CHECK(calls(&e, "PUT", NULL) == 4);
	rec = service_record(&e, "clients", "1");
	CHECK(has(rec, "Kampen"));
	free(rec);
	free(t1);
	free(t2);
	env_fini(&e);
}

/* A second commit (another descriptor's close) waits for the one in flight
 * and reports its outcome, without sending the same text again. */
static void test_commit_waits(void)
{
	struct env e;
	struct node *n;
	struct bg a, b;
	char *t;

	env_init(&e);
	n = record(&e, clients, "1");
	t = edited(&e, clients, "1", "Utrecht", "Delft");
	CHECK(set_text(&e, n, t) == 0);
	fake_service_hold(e.st.svc, "PUT", "clients/1");
	bg_start(&a, &e, n, false);
	CHECK(fake_service_wait_held(e.st.svc, 1));
	bg_start(&b, &e, n, false);
	CHECK(unit_wait_asleep(&b.tid, 1));
	fake_service_release(e.st.svc);
	CHECK(bg_join(&a) == 0 && bg_join(&b) == 0);
	CHECK(calls(&e, "PUT", NULL) == 1 && save_state_of(e.save, n) == SAVE_CLEAN);

	/* Its refusal too; but an fsync waiting on a refused commit sends again. */
	free(t);
	t = edited(&e, clients, "1", "Delft", "Leiden");
	CHECK(set_text(&e, n, t) == 0);
	fake_service_fail(e.st.svc, "PUT", "clients/1",
			  &(struct fake_answer){.status = 400, .body = "nee"}, false, -1);
	fake_service_hold(e.st.svc, "PUT", "clients/1");
	bg_start(&a, &e, n, false);
	CHECK(fake_service_wait_held(e.st.svc, 1));
	bg_start(&b, &e, n, false);
	CHECK(unit_wait_asleep(&b.tid, 1));
	fake_service_release(e.st.svc);
	CHECK(bg_join(&a) == -EINVAL && bg_join(&b) == -EINVAL);
	CHECK(calls(&e, "PUT", NULL) == 2);

	fake_service_hold(e.st.svc, "PUT", "clients/1");
	bg_start(&a, &e, n, true);
	CHECK(fake_service_wait_held(e.st.svc, 1));
	bg_start(&b, &e, n, true);
	CHECK(unit_wait_asleep(&b.tid, 1));
	fake_service_release(e.st.svc);
	CHECK(bg_join(&a) == -EINVAL && bg_join(&b) == -EINVAL);
	CHECK(calls(&e, "PUT", NULL) == 4);
	CHECK(save_state_of(e.save, n) == SAVE_REFUSED);
	free(t);
	env_fini(&e);
}

/* ---- new files --------------------------------------------------------------------------- */

static void test_new_file(void)
{
	struct env e;
	struct node *n, *d;
	int flags = 0;
	size_t nnames;
	char **names;
	off_t size;

	env_init(&e);
	d = dir_of(&e, products);
	n = create(&e, products, "koek.json");
	CHECK(n && n->kind == N_NEW && save_state_of(e.save, n) == SAVE_CLEAN);
	CHECK(save_size(e.save, n, &size) && size == 0);
	/* The first FLUSH comes before anything is written: nothing to send. */
	CHECK(commit(&e, n, false) == 0 && calls(&e, "POST", NULL) == 0);
	/* Blank is nothing too. */
	CHECK(save_write(e.save, n, "\n  \n", 4, 0) == 0 && commit(&e, n, false) == 0);
	CHECK(calls(&e, "POST", NULL) == 0);
	CHECK(set_text(&e, n, koek) == 0);
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "POST", "products") == 1);
	/* The node is the record now, listed under its id; the name the user
	 * wrote still works but is not listed. */
	CHECK(n->kind == N_JSON && n->c == products);
	CHECK_STR(n->id, "3");
	CHECK(inode_find_record(e.inodes, products, N_JSON, "3") == n);
	CHECK(inode_local(e.inodes, d->ino, "koek.json", &flags, NULL) == n && flags == LE_HIDDEN);
	names = inode_local_names(e.inodes, d->ino, &nnames);
	CHECK(nnames == 0);
	free(names);
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN && text(&e, n) == NULL);
	CHECK_STR(last_change(&e), "created products/3 from products/koek.json");
	CHECK(fx_has(&e.fx, d->ino) && fx_has(&e.fx, n->ino) && e.fx.views);

	/* An invoice saved as a draft: a record of invoices_saved; both
	 * directories change. */
	const char *draft =
	    "{\"clientnr\": 1, \"lines\": [{\"amount\": 1, \"description\": \"Koek\", "
	    "\"tax_rate\": 9, \"price\": 3.5}], \"action\": \"save\", "
	    "\"savename\": \"Concept\"}";
	n = create(&e, invoices, "concept.json");
	CHECK(n && set_text(&e, n, draft) == 0 && commit(&e, n, false) == 0);
	CHECK(n->kind == N_JSON && n->c == saved);
	CHECK_STR(n->id, "1");
	CHECK(fx_has(&e.fx, dir_of(&e, invoices)->ino) && fx_has(&e.fx, dir_of(&e, saved)->ino));

	/* Refused: a new file still, listed, with the reason. */
	fake_service_fail(
	    e.st.svc, "POST", "clients",
	    &(struct fake_answer){.status = 400, .body = "Field 'company' is required"}, false, 1);
	n = create(&e, clients, "nieuw.json");
	CHECK(n && set_text(&e, n, "{\"contact\": \"Piet\"}") == 0);
	CHECK(commit(&e, n, false) == -EINVAL);
	CHECK(n->kind == N_NEW && save_state_of(e.save, n) == SAVE_REFUSED);
	CHECK(inode_local(e.inodes, dir_of(&e, clients)->ino, "nieuw.json", &flags, NULL) == n &&
	      flags == 0);
	CHECK_STR(last_error(&e),
		  "clients/nieuw.json: POST clients: HTTP 400: Field 'company' is required");
	/* Fixed: posted. */
	CHECK(set_text(&e, n, "{\"contact\": \"Piet\", \"company\": \"Piet BV\"}") == 0);
	CHECK(commit(&e, n, false) == 0 && n->kind == N_JSON);
	CHECK_STR(n->id, "3");
	env_fini(&e);
}

/* products.json's template as a user copies it (malloc'd), NULL if none. */
static char *products_template(size_t *len)
{
	int ti = templates_find("products.json");
	return ti >= 0 ? templates_text((size_t)ti, len) : NULL;
}

/* A template copied as it is waits for its edit. */
static void test_template(void)
{
	struct env e;
	struct node *n;
	size_t len = 0;
	char *tpl = products_template(&len);

	env_init(&e);
	CHECK(tpl != NULL);
	n = create(&e, products, "nieuw.json");
	CHECK(n && save_write(e.save, n, tpl, len, 0) == 0);
	/* SENDING --unsent--> WAITING: nothing sent, nothing refused. */
	CHECK(commit(&e, n, false) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_WAITING && save_error(e.save, n) == NULL);
	CHECK(n->kind == N_NEW && calls(&e, "POST", NULL) == 0);
	/* WAITING has nothing to send, fsync or not. */
	CHECK(commit(&e, n, false) == 0 && commit(&e, n, true) == 0);
	CHECK(calls(&e, "POST", NULL) == 0);
	/* WAITING --write--> EDITED: edited, then one POST. */
	CHECK(set_text(&e, n, koek) == 0 && save_state_of(e.save, n) == SAVE_EDITED);
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "POST", "products") == 1 && n->kind == N_JSON);

	/* A POST that got no answer, then the template pasted over it: waiting,
	 * and still carrying the lost POST, which the edit after looks for. */
	n = create(&e, products, "zout.json");
	CHECK(n && set_text(&e, n, "{\"code\": \"ZO\", \"name\": \"Zout\", \"price\": 1}") == 0);
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	CHECK(commit(&e, n, false) == -ECONNRESET && fake_service_count(e.st.svc, "products") == 4);
	CHECK(save_truncate(e.save, n, 0) == 0 && save_write(e.save, n, tpl, len, 0) == 0);
	CHECK(commit(&e, n, false) == 0 && save_state_of(e.save, n) == SAVE_WAITING);
	CHECK(set_text(&e, n, "{\"code\": \"ZO\", \"name\": \"Zeezout\", \"price\": 1}") == 0);
	CHECK(commit(&e, n, false) == 0 && n->kind == N_JSON);
	CHECK(calls(&e, "POST", "products") == 2 && fake_service_count(e.st.svc, "products") == 4);
	CHECK_STR(n->id, "4");
	free(tpl);
	env_fini(&e);
}

/* A POST that got no answer: the next commit looks for what it made. */
static void test_lost_post(void)
{
	struct env e;
	struct node *n;
	char *err;
	int flags;

	env_init(&e);
	/* The directory was listed (ls): the POST knows what was there before. */
	struct cache_listing *l = NULL;
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);
	n = create(&e, products, "koek.json");
	CHECK(n && set_text(&e, n, koek) == 0);
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	/* SENDING --lost--> UNANSWERED */
	CHECK(commit(&e, n, false) == -ECONNRESET);
	CHECK(save_state_of(e.save, n) == SAVE_UNANSWERED && n->kind == N_NEW);
	err = save_error(e.save, n);
	CHECK(has(err, "no answer: Recv failure (the service may have made the record"));
	free(err);
	CHECK(calls(&e, "POST", NULL) == 1 && fake_service_count(e.st.svc, "products") == 3);
	/* A close without fsync sends nothing. */
	CHECK(commit(&e, n, false) == 0 && calls(&e, NULL, NULL) == 2);
	/* UNANSWERED --send--> SENDING --taken--> CLEAN: fsync lists, finds the
	 * record the lost POST made, and adopts it: still one POST. */
	CHECK(commit(&e, n, true) == 0);
	CHECK(calls(&e, "POST", NULL) == 1 && calls(&e, "GET", "products") == 2);
	CHECK(n->kind == N_JSON);
	CHECK_STR(n->id, "3");
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN);
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "koek.json", &flags, NULL) == n &&
	      flags == LE_HIDDEN);

	/* Lost before it arrived, then edited: UNANSWERED --write--> EDITED;
	 * the commit looks first, finds nothing, and posts. */
	n = create(&e, products, "zout.json");
	CHECK(n && set_text(&e, n, "{\"code\": \"ZO\", \"name\": \"Zout\", \"price\": 1}") == 0);
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ETIMEDOUT, .error = "Timeout was reached"},
			  false, 1);
	CHECK(commit(&e, n, false) == -ETIMEDOUT && save_state_of(e.save, n) == SAVE_UNANSWERED);
	CHECK(set_text(&e, n, "{\"code\": \"ZO\", \"name\": \"Zeezout\", \"price\": 1}") == 0);
	CHECK(save_state_of(e.save, n) == SAVE_EDITED && save_error(e.save, n) == NULL);
	unsigned lists = calls(&e, "GET", "products");
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "GET", "products") == lists + 1 && calls(&e, "POST", NULL) == 3);
	CHECK(fake_service_count(e.st.svc, "products") == 4 && n->kind == N_JSON);
	CHECK_STR(n->id, "4");

	/* Lost after it arrived, then edited: the commit finds the record the
	 * lost POST made, and the edit goes to it as a PUT (it was once sent
	 * nowhere and dropped: close() said 0). */
	n = create(&e, products, "peper.json");
	CHECK(n && set_text(&e, n, "{\"code\": \"PE\", \"name\": \"Peper\", \"price\": 2}") == 0);
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	CHECK(commit(&e, n, false) == -ECONNRESET && save_state_of(e.save, n) == SAVE_UNANSWERED);
	CHECK(fake_service_count(e.st.svc, "products") == 5);
	CHECK(set_text(&e, n, "{\"code\": \"PE\", \"name\": \"Zwarte peper\", \"price\": 2}") == 0);
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "POST", NULL) == 4 && calls(&e, "PUT", "products/5") == 1);
	CHECK(fake_service_count(e.st.svc, "products") == 5 && n->kind == N_JSON);
	CHECK_STR(n->id, "5");
	char *rec = fake_service_get(e.st.svc, "products", "5");
	CHECK(has(rec, "Zwarte peper"));
	free(rec);

	/* The same for an invoice, which the API cannot change once made: the
	 * edit is refused with why, the file is that invoice now (its text the
	 * refused edit), and saving again never posts a second one. */
	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0);
	cache_listing_unref(l);
	const char *inv =
	    "{\"clientnr\": 1, \"lines\": [{\"amount\": 1, \"description\": \"Koek\", "
	    "\"tax_rate\": 9, \"price\": 3.5}]}";
	n = create(&e, invoices, "nieuw.json");
	CHECK(n && set_text(&e, n, inv) == 0);
	fake_service_fail(e.st.svc, "POST", "invoices",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	CHECK(commit(&e, n, false) == -ECONNRESET && fake_service_count(e.st.svc, "invoices") == 2);
	CHECK(set_text(&e, n,
		       "{\"clientnr\": 1, \"lines\": [{\"amount\": 2, \"description\": "
		       "\"Koek\", \"tax_rate\": 9, \"price\": 3.5}]}") == 0);
	CHECK(commit(&e, n, false) == -EPERM);
	CHECK(n->kind == N_JSON && n->c == invoices && save_state_of(e.save, n) == SAVE_REFUSED);
	err = save_error(e.save, n);
	CHECK(has(err, "was made from the save before, whose POST got no answer") &&
	      has(err, "cannot change invoices once made"));
	free(err);
	CHECK(commit(&e, n, true) == -EPERM);
	CHECK(calls(&e, "POST", "invoices") == 1 && fake_service_count(e.st.svc, "invoices") == 2);
	env_fini(&e);
}

/* A payment file: POST invoices_payment/<nr>, and its name is free again. */
static void test_payment(void)
{
	struct env e;
	struct node *n, *pd, *inv, *pdf;
	char *rec;

	env_init(&e);
	pd = dir_of(&e, payments);
	inv = record(&e, invoices, "2026-0001");
	pdf = inode_record(e.inodes, invoices, N_PDF, "2026-0001");
	n = create(&e, payments, "2026-0001.json");
	CHECK(n && n->kind == N_NEW);
	CHECK_STR(n ? n->id : NULL, "2026-0001");
	CHECK(set_text(&e, n, "{\"amount\": 21, \"date\": \"2026-03-01\"}") == 0);
	CHECK(commit(&e, n, false) == 0);
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 1);
	rec = service_record(&e, "invoices", "2026-0001");
	CHECK(has(rec, "\"open\":\"100.00\""));
	free(rec);
	CHECK(n->kind == N_SCRATCH);
	CHECK(inode_local(e.inodes, pd->ino, "2026-0001.json", NULL, NULL) == NULL);
	/* The invoice changed: its file, its PDF, its directory, the views. */
	CHECK(fx_has(&e.fx, inv->ino) && fx_has(&e.fx, pdf->ino) &&
	      fx_has(&e.fx, dir_of(&e, invoices)->ino) && e.fx.views);
	CHECK_STR(last_change(&e),
		  "registered a payment on invoice 2026-0001 (invoices_payment/2026-0001.json)");
	/* The next payment of the same invoice is a new file of that name. */
	n = create(&e, payments, "2026-0001.json");
	CHECK(n && set_text(&e, n, "{\"amount\": 100, \"date\": \"2026-03-02\"}") == 0 &&
	      commit(&e, n, false) == 0);
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 2);
	/* An invoice the service does not have: refused, kept. */
	n = create(&e, payments, "2026-0404.json");
	CHECK(n && set_text(&e, n, "{\"amount\": 1, \"date\": \"2026-03-02\"}") == 0);
	CHECK(commit(&e, n, false) == -ENOENT && save_state_of(e.save, n) == SAVE_REFUSED);
	CHECK(inode_local(e.inodes, pd->ino, "2026-0404.json", NULL, NULL) == n);
	env_fini(&e);
}

/* ---- names --------------------------------------------------------------------------------- */

static void test_create(void)
{
	struct env e;
	struct node *d, *n = NULL, *nw = NULL, *r;
	mode_t mode;
	off_t size;
	char longname[300];

	env_init(&e);
	d = dir_of(&e, clients);
	r = record(&e, clients, "1");
	/* Over a record: O_EXCL says it exists; O_TRUNC empties its text (an
	 * edit to be); neither opens it as it is. */
	CHECK(save_create(e.save, d, "1.json", 0644, O_CREAT | O_EXCL, &n) == -EEXIST && !n);
	CHECK(save_create(e.save, d, "1.json", 0644, O_CREAT, &n) == 0 && n == r);
	CHECK(save_state_of(e.save, r) == SAVE_CLEAN);
	CHECK(save_create(e.save, d, "1.json", 0644, O_CREAT | O_TRUNC, &n) == 0 && n == r);
	CHECK(save_state_of(e.save, r) == SAVE_EDITED && save_size(e.save, r, &size) && size == 0);
	/* Local files: a scratch name keeps the owner's bits, a new *.json is
	 * the owner's to edit whatever the create asks (cp of a 0400 file). */
	CHECK(save_create(e.save, d, "notes.txt", 0644, O_CREAT, &n) == 0 && n->kind == N_SCRATCH);
	inode_times(e.inodes, n, &mode, NULL);
	CHECK(mode == 0600);
	CHECK(save_create(e.save, d, "nieuw.json", 0400, O_CREAT, &nw) == 0 && nw->kind == N_NEW);
	inode_times(e.inodes, nw, &mode, NULL);
	CHECK(mode == 0600);
	CHECK(save_create(e.save, d, "nieuw.json", 0644, O_CREAT | O_EXCL, &n) == -EEXIST && !n);
	CHECK(save_write(e.save, nw, "abc", 3, 0) == 0);
	CHECK(save_create(e.save, d, "nieuw.json", 0644, O_CREAT | O_TRUNC, &n) == 0 && n == nw);
	CHECK(save_size(e.save, nw, &size) && size == 0);
	/* Names that cannot be: control bytes, a '%' that is no escape, too long,
	 * *.json where the API cannot create. */
	CHECK(save_create(e.save, d, "a\x01.json", 0644, O_CREAT, &n) == -EINVAL);
	CHECK(save_create(e.save, d, "%zz.json", 0644, O_CREAT, &n) == -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(save_create(e.save, d, longname, 0644, O_CREAT, &n) == -ENAMETOOLONG);
	CHECK(save_create(e.save, dir_of(&e, schema_find("invoices_repeated")), "x.json", 0644,
			  O_CREAT, &n) == -EPERM);
	/* A draft is made through invoices' POST: a new file. */
	CHECK(save_create(e.save, dir_of(&e, saved), "x.json", 0644, O_CREAT, &n) == 0);
	CHECK(n->kind == N_NEW && !n->id);
	/* A payment file is named after its invoice. */
	CHECK(save_create(e.save, dir_of(&e, payments), "2026%2F0042.json", 0644, O_CREAT, &n) ==
	      0);
	CHECK(n->kind == N_NEW);
	CHECK_STR(n->id, "2026/0042");
	CHECK(calls(&e, NULL, NULL) == 1); /* the clients listing, once */
	env_fini(&e);
}

static void test_unlink(void)
{
	struct env e;
	struct node *d, *n;
	char *t;

	env_init(&e);
	d = dir_of(&e, clients);
	/* A local name: gone, nothing sent. */
	n = create(&e, clients, "notes.txt");
	CHECK(n && save_unlink(e.save, d, "notes.txt", 0, &e.fx) == 0);
	CHECK(inode_local(e.inodes, d->ino, "notes.txt", NULL, NULL) == NULL);
	/* A record with a refused text: the text goes, the record stays. */
	n = record(&e, clients, "1");
	CHECK(set_text(&e, n, "{nope") == 0 && commit(&e, n, false) == -EINVAL);
	memset(&e.fx, 0, sizeof(e.fx));
	CHECK(save_unlink(e.save, d, "1.json", 0, &e.fx) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN && text(&e, n) == NULL);
	CHECK(fx_has(&e.fx, n->ino) && !e.fx.views);
	CHECK_STR(last_change(&e), "dropped the unsaved text of clients/1.json");
	/* So does one edited and not committed. */
	t = edited(&e, clients, "1", "Utrecht", "Delft");
	CHECK(set_text(&e, n, t) == 0);
	CHECK(save_unlink(e.save, d, "1.json", 0, &e.fx) == 0 && text(&e, n) == NULL);
	free(t);
	CHECK(calls(&e, "DELETE", NULL) == 0);
	/* The record itself: one DELETE. */
	memset(&e.fx, 0, sizeof(e.fx));
	CHECK(save_unlink(e.save, d, "1.json", 0, &e.fx) == 0);
	CHECK(calls(&e, "DELETE", "clients/1") == 1 && fake_service_count(e.st.svc, "clients") == 1);
	CHECK(fx_has(&e.fx, d->ino) && e.fx.views);
	CHECK_STR(last_change(&e), "deleted clients/1.json");
	/* The service refusing: the reason recorded. */
	fake_service_fail(e.st.svc, "DELETE", "clients/2",
			  &(struct fake_answer){.status = 400, .body = "Client has invoices"},
			  false, 1);
	CHECK(save_unlink(e.save, d, "2.json", 0, &e.fx) == -EINVAL);
	CHECK_STR(last_error(&e),
		  "clients/2.json: DELETE clients/2: HTTP 400: Client has invoices");
	/* No such name; a PDF; a collection the API cannot delete from. */
	CHECK(save_unlink(e.save, d, "9.json", 0, &e.fx) == -ENOENT);
	CHECK(save_unlink(e.save, dir_of(&e, invoices), "2026-0001.pdf", 0, &e.fx) == -EPERM);
	fake_service_put(e.st.svc, "profiles", "{'id':'1','name':'Standaard'}");
	CHECK(save_unlink(e.save, dir_of(&e, schema_find("profiles")), "1.json", 0, &e.fx) ==
	      -EPERM);
	CHECK(calls(&e, "DELETE", NULL) == 2);
	env_fini(&e);
}

/* mv across file systems unlinks the record and creates it anew: an edit,
 * not a DELETE and a POST.  who_replaces() knows mv by its name in
 * /proc/PID/comm, which this thread takes on for the unlink. */
static void test_unlink_by_mv(void)
{
	struct env e;
	struct node *d, *r, *n = NULL, *found = NULL;
	char was[16] = "", *t;
	int flags = 0;
	double neg = -1;

	env_init(&e);
	d = dir_of(&e, clients);
	r = record(&e, clients, "1");
	prctl(PR_GET_NAME, was);
	prctl(PR_SET_NAME, "mv");
	CHECK(save_unlink(e.save, d, "1.json", getpid(), &e.fx) == 0);
	prctl(PR_SET_NAME, was);
	CHECK(calls(&e, "DELETE", NULL) == 0);
	CHECK(inode_local(e.inodes, d->ino, "1.json", &flags, NULL) == r &&
	      flags == (LE_HIDDEN | LE_REPLACING));
	/* "No such file" meanwhile (not cached: the create follows). */
	CHECK(dir_lookup(e.inodes, e.st.cache, d, "1.json", clk.now, &found, &neg) == 0 && !found &&
	      neg == 0);
	/* mv's create (O_EXCL) is the record, emptied for its new text. */
	CHECK(save_create(e.save, d, "1.json", 0644, O_CREAT | O_EXCL | O_WRONLY, &n) == 0);
	CHECK(n == r && save_state_of(e.save, r) == SAVE_EDITED);
	t = edited(&e, clients, "1", "Utrecht", "Breda");
	CHECK(save_write(e.save, r, t, strlen(t), 0) == 0 && commit(&e, r, false) == 0);
	CHECK(calls(&e, "PUT", "clients/1") == 1 && calls(&e, "POST", NULL) == 0);
	free(t);

	/* Nothing comes within the hold: the record shows again, untouched. */
	prctl(PR_SET_NAME, "mv");
	CHECK(save_unlink(e.save, d, "1.json", getpid(), &e.fx) == 0);
	prctl(PR_SET_NAME, was);
	clk.now += SAVE_REPLACE_HOLD + 0.1;
	CHECK(dir_lookup(e.inodes, e.st.cache, d, "1.json", clk.now, &found, &neg) == 0 && found == r);
	CHECK(inode_local(e.inodes, d->ino, "1.json", NULL, NULL) == NULL);
	CHECK(calls(&e, "DELETE", NULL) == 0);
	env_fini(&e);
}

/* rename: saving over a record or a new name is a commit; a refusal leaves
 * the user's text where they will look for it, the source as it was. */
static void test_rename(void)
{
	struct env e;
	struct node *d, *src, *zsrc, *r, *copy;
	char *t, *err;
	int flags;

	env_init(&e);
	d = dir_of(&e, clients);
	r = record(&e, clients, "1");
	/* A scratch file onto a record (sed -i, gio): one PUT. */
	t = edited(&e, clients, "1", "Utrecht", "Gouda");
	src = create(&e, clients, "1.json.tmp");
	CHECK(src && src->kind == N_SCRATCH && set_text(&e, src, t) == 0);
	CHECK(commit(&e, src, false) == 0 && calls(&e, "PUT", NULL) == 0); /* scratch: never */
	memset(&e.fx, 0, sizeof(e.fx));
	CHECK(save_rename(e.save, d, "1.json.tmp", "1.json", 0, &e.fx) == 0);
	CHECK(calls(&e, "PUT", "clients/1") == 1);
	/* The source's inode is now (a second node of) the record. */
	CHECK(src->kind == N_JSON && !strcmp(src->id, "1") && text(&e, src) == NULL);
	CHECK(inode_local(e.inodes, d->ino, "1.json.tmp", NULL, NULL) == NULL);
	CHECK(save_state_of(e.save, r) == SAVE_CLEAN && text(&e, r) == NULL);
	CHECK(fx_has(&e.fx, r->ino) && fx_has(&e.fx, src->ino) && fx_has(&e.fx, d->ino));
	free(t);

	/* Refused: the record's node holds the refused text (as after a refused
	 * save in place), and the scratch file stays for the program to remove. */
	fake_service_fail(e.st.svc, "PUT", "clients/1",
			  &(struct fake_answer){.status = 400, .body = "Field 'email' is invalid"},
			  false, 1);
	t = edited(&e, clients, "1", "Gouda", "Gouda\", \"email\": \"nee");
	src = create(&e, clients, "1.json.tmp");
	CHECK(src && set_text(&e, src, t) == 0);
	CHECK(save_rename(e.save, d, "1.json.tmp", "1.json", 0, &e.fx) == -EINVAL);
	CHECK(calls(&e, "PUT", NULL) == 2);
	CHECK(save_state_of(e.save, r) == SAVE_REFUSED);
	CHECK_STR(text(&e, r), t);
	err = save_error(e.save, r);
	CHECK_STR(err, "PUT clients/1: HTTP 400: Field 'email' is invalid");
	free(err);
	CHECK(inode_local(e.inodes, d->ino, "1.json.tmp", NULL, NULL) == src);
	CHECK(src->kind == N_SCRATCH);
	CHECK_STR(text(&e, src), t);
	free(t);
	/* RENAME_NOREPLACE onto a record: EEXIST, nothing sent. */
	CHECK(save_rename(e.save, d, "1.json.tmp", "1.json", RENAME_NOREPLACE, &e.fx) == -EEXIST);
	CHECK(calls(&e, "PUT", NULL) == 2);

	/* A scratch file onto a new name: one POST; the node is the record. */
	src = create(&e, products, "tmp.koek");
	CHECK(src && set_text(&e, src, koek) == 0);
	CHECK(save_rename(e.save, dir_of(&e, products), "tmp.koek", "koek.json", 0, &e.fx) == 0);
	CHECK(calls(&e, "POST", "products") == 1 && src->kind == N_JSON);
	CHECK_STR(src->id, "3");
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "koek.json", &flags, NULL) == src &&
	      flags == LE_HIDDEN);
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "tmp.koek", NULL, NULL) == NULL);

	/* Refused: the rollback.  The source is back under its old name as it
	 * was (a scratch file with its text); the new name holds a copy of the
	 * refused text, a new file with the reason, and the kernel is told
	 * about that name. */
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.status = 400, .body = "Field 'price' is invalid"},
			  false, 1);
	const char *bad = "{\"code\": \"X\", \"name\": \"X\", \"price\": -1}";
	src = create(&e, products, "tmp.x");
	CHECK(src && set_text(&e, src, bad) == 0);
	memset(&e.fx, 0, sizeof(e.fx));
	CHECK(save_rename(e.save, dir_of(&e, products), "tmp.x", "x.json", 0, &e.fx) == -EINVAL);
	CHECK(calls(&e, "POST", "products") == 2);
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "tmp.x", NULL, NULL) == src);
	CHECK(src->kind == N_SCRATCH && save_error(e.save, src) == NULL);
	CHECK(save_state_of(e.save, src) == SAVE_EDITED);
	CHECK_STR(text(&e, src), bad);
	copy = inode_local(e.inodes, dir_of(&e, products)->ino, "x.json", &flags, NULL);
	CHECK(copy && copy != src && copy->kind == N_NEW && flags == 0);
	CHECK(copy && save_state_of(e.save, copy) == SAVE_REFUSED);
	CHECK_STR(copy ? text(&e, copy) : NULL, bad);
	err = copy ? save_error(e.save, copy) : NULL;
	CHECK_STR(err, "POST products: HTTP 400: Field 'price' is invalid");
	free(err);
	CHECK(fx_entry(&e.fx, dir_of(&e, products)->ino, "x.json") && copy &&
	      fx_has(&e.fx, copy->ino));
	/* The copy fixed and saved: posted, a record. */
	CHECK(copy && set_text(&e, copy, "{\"code\": \"X\", \"name\": \"X\", \"price\": 1}") == 0);
	CHECK(copy && commit(&e, copy, false) == 0 && copy->kind == N_JSON);
	CHECK(calls(&e, "POST", "products") == 3);

	/* A rename whose POST got no answer: the new name holds the text as a
	 * save in place would (UNANSWERED), so that saving it again looks for
	 * the record the lost POST made instead of posting twice. */
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	zsrc = create(&e, products, "tmp.z");
	CHECK(zsrc && set_text(&e, zsrc, "{\"code\": \"Z\", \"name\": \"Z\", \"price\": 5}") == 0);
	CHECK(save_rename(e.save, dir_of(&e, products), "tmp.z", "z.json", 0, &e.fx) ==
	      -ECONNRESET);
	CHECK(calls(&e, "POST", "products") == 4 && fake_service_count(e.st.svc, "products") == 5);
	copy = inode_local(e.inodes, dir_of(&e, products)->ino, "z.json", NULL, NULL);
	CHECK(copy && save_state_of(e.save, copy) == SAVE_UNANSWERED);
	CHECK(copy && commit(&e, copy, true) == 0 && copy->kind == N_JSON);
	CHECK(calls(&e, "POST", "products") == 4 && fake_service_count(e.st.svc, "products") == 5);
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "tmp.z", NULL, NULL) == zsrc);
	/* The same saved again the way it was first (gio save: a new temporary
	 * file renamed over the name): that text looks first too. */
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	CHECK(set_text(&e, zsrc, "{\"code\": \"V\", \"name\": \"V\", \"price\": 5}") == 0);
	CHECK(save_rename(e.save, dir_of(&e, products), "tmp.z", "v.json", 0, &e.fx) ==
	      -ECONNRESET);
	CHECK(calls(&e, "POST", "products") == 5 && fake_service_count(e.st.svc, "products") == 6);
	zsrc = create(&e, products, "tmp.v2");
	CHECK(zsrc && set_text(&e, zsrc, "{\"code\": \"V\", \"name\": \"V\", \"price\": 5}") == 0);
	CHECK(save_rename(e.save, dir_of(&e, products), "tmp.v2", "v.json", 0, &e.fx) == 0);
	CHECK(calls(&e, "POST", "products") == 5 && fake_service_count(e.st.svc, "products") == 6);
	CHECK(zsrc && zsrc->kind == N_JSON);
	CHECK_STR(zsrc ? zsrc->id : NULL, "6");

	/* Scratch to scratch: a local rename, nothing sent. */
	CHECK(save_rename(e.save, dir_of(&e, products), "tmp.x", "tmp.y", 0, &e.fx) == 0);
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "tmp.y", NULL, NULL) == src);
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "tmp.x", NULL, NULL) == NULL);

	/* A record to a backup name (vim, emacs): the record's node goes with
	 * the name, as the kernel moved it, holding the record's text; nothing
	 * sent, no entry notice; the record stays, with a new node. */
	memset(&e.fx, 0, sizeof(e.fx));
	unsigned before = calls(&e, NULL, NULL);
	struct node *r2 = record(&e, clients, "2");
	CHECK(save_rename(e.save, d, "2.json", "2.json~", 0, &e.fx) == 0);
	copy = inode_local(e.inodes, d->ino, "2.json~", NULL, NULL);
	CHECK(copy && copy == r2 && copy->kind == N_SCRATCH &&
	      has(text(&e, copy), "\"contact\": \"Els Bos\""));
	CHECK(e.fx.nentries == 0);
	struct node *r2new = record(&e, clients, "2");
	CHECK(r2new && r2new != r2 && r2new->kind == N_JSON && r2new->ino != r2->ino);
	CHECK(text(&e, r2new) == NULL); /* the record's own text */
	CHECK(calls(&e, NULL, NULL) == before);
	CHECK(save_rename(e.save, d, "2.json", "2.json~", RENAME_NOREPLACE, &e.fx) == -EEXIST);
	/* Anything else the API cannot do. */
	CHECK(save_rename(e.save, d, "2.json", "5.json", 0, &e.fx) == -EPERM);
	CHECK(save_rename(e.save, dir_of(&e, invoices), "2026-0001.pdf", "x~", 0, &e.fx) == -EPERM);
	CHECK(save_rename(e.save, d, "9.json", "9.json~", 0, &e.fx) == -ENOENT);
	CHECK(calls(&e, NULL, NULL) == before + 1); /* the invoices listing */
	env_fini(&e);
}

static void test_link(void)
{
	struct env e;
	struct node *d, *r, *n = NULL, *s;

	env_init(&e);
	d = dir_of(&e, clients);
	r = record(&e, clients, "1");
	/* gio save -b links file to file~: a copy. */
	CHECK(save_link(e.save, r, d, "1.json~", &n) == 0);
	CHECK(n && n != r && n->kind == N_SCRATCH && has(text(&e, n), "Bakkerij De Korst"));
	CHECK(inode_local(e.inodes, d->ino, "1.json~", NULL, NULL) == n);
	CHECK(save_link(e.save, r, d, "1.json~", &n) == -EEXIST);
	/* Of a local file's text, as it is now. */
	s = create(&e, clients, "notes.txt");
	CHECK(s && save_write(e.save, s, "eerst", 5, 0) == 0);
	CHECK(save_link(e.save, s, d, "notes.txt~", &n) == 0);
	CHECK_STR(text(&e, n), "eerst");
	/* Only to a scratch name, and only of files. */
	CHECK(save_link(e.save, r, d, "2.json", &n) == -EPERM);
	CHECK(save_link(e.save, inode_record(e.inodes, invoices, N_PDF, "2026-0001"),
			dir_of(&e, invoices), "x~", &n) == -EPERM);
	CHECK(calls(&e, "PUT", NULL) + calls(&e, "POST", NULL) == 0);
	env_fini(&e);
}

/* ---- limits ---------------------------------------------------------------------------------- */

static void test_limits(void)
{
	struct env e;
	struct node *n, *files[80];
	char name[32];
	size_t k;
	int rc = 0;

	env_init(&e);
	n = create(&e, clients, "big.txt");
	CHECK(save_write(e.save, n, "x", 1, (off_t)SAVE_TEXT_MAX) == -EFBIG);
	CHECK(save_truncate(e.save, n, (off_t)SAVE_TEXT_MAX + 1) == -EFBIG);
	CHECK(save_truncate(e.save, n, (off_t)SAVE_TEXT_MAX) == 0);
	CHECK(save_write(e.save, n, "x", 1, (off_t)SAVE_TEXT_MAX - 1) == 0);
	CHECK(save_write(e.save, n, "xy", 2, (off_t)SAVE_TEXT_MAX - 1) == -EFBIG);
	CHECK(save_truncate(e.save, n, 0) == 0);
	/* All texts together: SAVE_TEXTS_MAX (64 of the largest), then ENOSPC. */
	for (k = 0; k < 80; k++) {
		snprintf(name, sizeof(name), "big%zu.txt", k);
		files[k] = create(&e, clients, name);
		rc = files[k] ? save_truncate(e.save, files[k], (off_t)SAVE_TEXT_MAX) : -ENOMEM;
		if (rc < 0)
			break;
	}
	CHECK(rc == -ENOSPC);
	if (!CHECK(k >= 60 && k < 64)) {
		env_fini(&e); /* files[k] is not one of them */
		return;
	}
	/* Freed when the file is gone, its name and the kernel's last
	 * reference: room again. */
	CHECK(save_unlink(e.save, dir_of(&e, clients), "big0.txt", 0, &e.fx) == 0);
	CHECK(save_truncate(e.save, files[k], (off_t)SAVE_TEXT_MAX) == -ENOSPC);
	inode_forget(e.inodes, files[0]->ino, 1);
	CHECK(save_truncate(e.save, files[k], (off_t)SAVE_TEXT_MAX) == 0);
	n = create(&e, clients, "one-more.txt");
	CHECK(n && save_truncate(e.save, n, (off_t)SAVE_TEXT_MAX) == -ENOSPC);
	env_fini(&e);

	/* The table freed every text: the whole room is there again. */
	env_init(&e);
	n = create(&e, clients, "big.txt");
	CHECK(save_truncate(e.save, n, (off_t)SAVE_TEXT_MAX) == 0);
	env_fini(&e);
}

/* ---- the journal ------------------------------------------------------------------------ */

/* The entries in @e's journal, sorted, as "file state" lines (static). */
static const char *journal(struct env *e)
{
	static char buf[2048];
	char *names[32];
	size_t n = 0, used = 0;
	DIR *d = opendir(e->jdir);
	const struct dirent *de;

	while (d && (de = readdir(d)) && n < 32)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (strcmp(names[k], names[i]) < 0) {
				char *x = names[i];
				names[i] = names[k];
				names[k] = x;
			}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char path[512], *data = NULL;
		size_t len = 0;
		struct journal_entry je;
		char st[300] = "?";
		snprintf(path, sizeof(path), "%s/%s", e->jdir, names[i]);
		if (diskfile_read(path, JOURNAL_KIND, JOURNAL_VERSION, &data, &len) == 0 &&
		    journal_decode(data, len, &je) == 0) {
			static const char *const states[] = {"refused", "unanswered", "waiting",
							     "posting", "created"};
			if (je.state == JOURNAL_CREATED)
				snprintf(st, sizeof(st), "created %s/%s", je.made_in, je.made_id);
			else
				snprintf(st, sizeof(st), "%s", states[je.state]);
			journal_entry_clear(&je);
		}
		free(data);
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s %s", used ? "\n" : "",
					 names[i], st);
		free(names[i]);
		if (used >= sizeof(buf))
			break;
	}
	return buf;
}

/* The text of entry @file (static), or NULL. */
static const char *journal_text(struct env *e, const char *file, char **error)
{
	static char buf[4096];
	char path[512], *data = NULL;
	size_t len = 0;
	struct journal_entry je;

	snprintf(path, sizeof(path), "%s/%s", e->jdir, file);
	if (diskfile_read(path, JOURNAL_KIND, JOURNAL_VERSION, &data, &len) < 0 ||
	    journal_decode(data, len, &je) < 0) {
		free(data);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)je.len, je.text);
	if (error)
		*error = je.error ? strdup(je.error) : NULL;
	journal_entry_clear(&je);
	free(data);
	return buf;
}

/* Written at each transition that leaves unsent text, removed at each that
 * ends it. */
static void test_journal_transitions(void)
{
	struct env e;
	struct node *n, *d;
	char *err = NULL, *t;
	struct stat st;
	size_t len = 0;
	char *tpl = products_template(&len);

	env_init(&e);
	env_journal(&e);
	CHECK(stat(e.jdir, &st) == 0 && (st.st_mode & 0777) == 0700);
	/* A record: SENDING --refused--> REFUSED writes it, with its reason. */
	n = record(&e, clients, "2");
	CHECK(set_text(&e, n, "{\"company\": \"Bos\",\n") == 0);
	CHECK(commit(&e, n, false) == -EINVAL);
	CHECK_STR(journal(&e), "clients=2.json.entry refused");
	CHECK_STR(journal_text(&e, "clients=2.json.entry", &err), "{\"company\": \"Bos\",\n");
	CHECK_STR(err, "line 1, column 19: invalid JSON");
	free(err);
	char path[512];
	snprintf(path, sizeof(path), "%s/clients=2.json.entry", e.jdir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* REFUSED --write--> EDITED: the entry keeps the refused text until the
	 * commit settles the new one. */
	CHECK(set_text(&e, n, "{\"company\": \"Bos\"") == 0);
	CHECK_STR(journal_text(&e, "clients=2.json.entry", NULL), "{\"company\": \"Bos\",\n");
	CHECK(commit(&e, n, false) == -EINVAL);
	CHECK_STR(journal_text(&e, "clients=2.json.entry", NULL), "{\"company\": \"Bos\"");
	/* Fixed: SENDING --taken--> CLEAN removes it. */
	t = edited(&e, clients, "2", "\"company\": \"\"", "\"company\": \"Bos\"");
	CHECK(set_text(&e, n, t) == 0 && commit(&e, n, false) == 0);
	CHECK(calls(&e, "PUT", "clients/2") == 1);
	CHECK_STR(journal(&e), "");
	free(t);
	/* Reverted to the record's own text: nothing sent, and it goes. */
	CHECK(set_text(&e, n, "nee") == 0 && commit(&e, n, false) == -EINVAL);
	CHECK_STR(journal(&e), "clients=2.json.entry refused");
	t = edited(&e, clients, "2", "{", "{");
	CHECK(set_text(&e, n, t) == 0 && commit(&e, n, false) == 0);
	CHECK(calls(&e, "PUT", NULL) == 1);
	CHECK_STR(journal(&e), "");
	free(t);
	/* Dropped by rm: it goes. */
	CHECK(set_text(&e, n, "nee") == 0 && commit(&e, n, false) == -EINVAL);
	CHECK(save_unlink(e.save, dir_of(&e, clients), "2.json", 0, &e.fx) == 0);
	CHECK(save_state_of(e.save, n) == SAVE_CLEAN);
	CHECK_STR(journal(&e), "");

	/* A new file refused, renamed, removed. */
	d = dir_of(&e, clients);
	fake_service_fail(
	    e.st.svc, "POST", "clients",
	    &(struct fake_answer){.status = 400, .body = "Field 'company' is required"}, false, 1);
	n = create(&e, clients, "nieuw.json");
	CHECK(set_text(&e, n, "{\"contact\": \"Piet\"}") == 0);
	CHECK(commit(&e, n, false) == -EINVAL);
	CHECK_STR(journal(&e), "clients=nieuw.json.entry refused");
	CHECK(save_rename(e.save, d, "nieuw.json", "piet.json", 0, &e.fx) == 0);
	CHECK_STR(journal(&e), "clients=piet.json.entry refused");
	/* Renamed to a scratch name: no entry (scratch files are never kept). */
	CHECK(save_rename(e.save, d, "piet.json", "piet.json~", 0, &e.fx) == 0);
	CHECK_STR(journal(&e), "");
	/* Renamed back: a commit (POST), refused, which leaves a refused copy
	 * at the new name (and the scratch file as it was): the copy's entry. */
	fake_service_fail(
	    e.st.svc, "POST", "clients",
	    &(struct fake_answer){.status = 400, .body = "Field 'company' is required"}, false, 1);
	CHECK(save_rename(e.save, d, "piet.json~", "piet.json", 0, &e.fx) == -EINVAL);
	CHECK_STR(journal(&e), "clients=piet.json.entry refused");
	CHECK(save_unlink(e.save, d, "piet.json", 0, &e.fx) == 0);
	CHECK_STR(journal(&e), "");
	CHECK(calls(&e, "POST", "clients") == 2);

	/* SENDING --unsent--> WAITING: a template as it is. */
	CHECK(tpl != NULL);
	n = create(&e, products, "sjabloon.json");
	CHECK(save_write(e.save, n, tpl, len, 0) == 0 && commit(&e, n, false) == 0);
	CHECK_STR(journal(&e), "products=sjabloon.json.entry waiting");
	/* WAITING --write--> EDITED --send--> SENDING --taken--> CLEAN: made; the
	 * entry goes, none is left under the record's name, and the name it was
	 * made under is kept as that record's (a created name, not a text). */
	CHECK(set_text(&e, n, koek) == 0 && commit(&e, n, false) == 0 && n->kind == N_JSON);
	CHECK_STR(journal(&e), "products=sjabloon.json.made created products/3");

	/* SENDING --lost--> UNANSWERED: written with what to look for;
	 * UNANSWERED --send--> adopted: gone. */
	struct cache_listing *l = NULL;
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);
	n = create(&e, products, "peper.json");
	CHECK(set_text(&e, n, "{\"code\": \"PE\", \"name\": \"Peper\", \"price\": 2}") == 0);
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	CHECK(commit(&e, n, false) == -ECONNRESET);
	CHECK_STR(journal(&e), "products=peper.json.entry unanswered\n"
			       "products=sjabloon.json.made created products/3");
	CHECK(commit(&e, n, true) == 0 && n->kind == N_JSON);
	CHECK(calls(&e, "POST", "products") == 2);
	CHECK_STR(journal(&e), "products=peper.json.made created products/4\n"
			       "products=sjabloon.json.made created products/3");
	/* The mount ends cleanly: the created names go. */
	save_end(e.save);
	CHECK_STR(journal(&e), "");
	free(tpl);
	env_fini(&e);
}

/* The entry of a new file is on disk before its POST leaves. */
static void test_journal_posting(void)
{
	struct env e;
	struct node *n;
	struct bg b;

	env_init(&e);
	env_journal(&e);
	n = create(&e, products, "koek.json");
	CHECK(set_text(&e, n, koek) == 0);
	fake_service_hold(e.st.svc, "POST", "products");
	bg_start(&b, &e, n, false);
	CHECK(fake_service_wait_held(e.st.svc, 1));
	CHECK_STR(journal(&e), "products=koek.json.entry posting");
	fake_service_release(e.st.svc);
	CHECK(bg_join(&b) == 0 && n->kind == N_JSON);
	CHECK_STR(journal(&e), "products=koek.json.made created products/3");
	env_fini(&e);
}

/* Once a POST's record is known, the name it was made under leads there, on
 * disk too: a daemon killed at any moment after (before close() returned, or
 * just after) comes back with the name leading to the record, and the same
 * save again is a save of that record, never a second POST. */
static void test_journal_created(void)
{
	struct env e;
	struct node *n, *dir;
	int flags = 0;
	size_t nnames = 0;

	env_init(&e);
	env_journal(&e);
	n = create(&e, products, "koek.json");
	CHECK(set_text(&e, n, koek) == 0 && commit(&e, n, false) == 0 && n->kind == N_JSON);
	CHECK(calls(&e, "POST", "products") == 1);
	CHECK_STR(journal(&e), "products=koek.json.made created products/3");
	CHECK(journal_text(&e, "products=koek.json.made", NULL) &&
	      !strcmp(journal_text(&e, "products=koek.json.made", NULL), koek));

	/* Killed: the next mount has the name, leading to the record, unlisted. */
	CHECK(env_remount(&e) == 1);
	dir = dir_of(&e, products);
	n = inode_local(e.inodes, dir->ino, "koek.json", &flags, NULL);
	CHECK(n && n->kind == N_JSON && flags == LE_HIDDEN && n->c == products);
	CHECK_STR(n ? n->id : NULL, "3");
	char **names = inode_local_names(e.inodes, dir->ino, &nnames);
	CHECK(nnames == 0);
	free(names);
	/* `cp` again: O_TRUNC, the same text, close: a save of record 3, never a
	 * POST (nothing to change on it: its GET, no PUT); an edit is one PUT. */
	n = NULL;
	CHECK(save_create(e.save, dir, "koek.json", 0644, O_CREAT | O_TRUNC | O_WRONLY, &n) == 0);
	CHECK(n && n->kind == N_JSON && !strcmp(n->id, "3"));
	if (n) {
		inode_ref(e.inodes, n);
		CHECK(save_write(e.save, n, koek, strlen(koek), 0) == 0 && commit(&e, n, false) == 0);
		CHECK(calls(&e, "POST", NULL) == 1 && calls(&e, "PUT", "products/3") == 0);
		CHECK(calls(&e, "GET", "products/3") == 1);
		CHECK(set_text(&e, n, "{\"code\": \"KO-1\", \"name\": \"Koek\", \"price\": 4, "
				      "\"taxes\": 9}") == 0);
		CHECK(commit(&e, n, false) == 0);
		CHECK(calls(&e, "POST", NULL) == 1 && calls(&e, "PUT", "products/3") == 1);
		}
	CHECK(fake_service_count(e.st.svc, "products") == 3);
	/* Killed again: still there.  rm of the name frees it (the record stays);
	 * a new file of that name is a new record. */
	CHECK(env_remount(&e) == 1);
	dir = dir_of(&e, products);
	CHECK(save_unlink(e.save, dir, "koek.json", 0, &e.fx) == 0);
	CHECK_STR(journal(&e), "");
	CHECK(calls(&e, "DELETE", NULL) == 0 && fake_service_count(e.st.svc, "products") == 3);
	CHECK(inode_local(e.inodes, dir->ino, "koek.json", NULL, NULL) == NULL);

	/* Killed between the two writes: the created name is on disk and the
	 * POST's own entry still is.  The created name wins; the entry goes. */
	n = create(&e, products, "brood.json");
	CHECK(set_text(&e, n, "{\"code\": \"BR\", \"name\": \"Brood\", \"price\": 2}") == 0);
	fake_service_hold(e.st.svc, "POST", "products");
	struct bg b;
	bg_start(&b, &e, n, false);
	CHECK(fake_service_wait_held(e.st.svc, 1));
	CHECK_STR(journal(&e), "products=brood.json.entry posting");
	char src[600], dst[600];
	snprintf(src, sizeof(src), "%s/products=brood.json.entry", e.jdir);
	snprintf(dst, sizeof(dst), "%s/posting.copy", e.jdir);
	CHECK(link(src, dst) == 0);
	fake_service_release(e.st.svc);
	CHECK(bg_join(&b) == 0 && n->kind == N_JSON);
	CHECK_STR(n->id, "4");
	CHECK(rename(dst, src) == 0);
	CHECK_STR(journal(&e), "products=brood.json.entry posting\n"
			       "products=brood.json.made created products/4");
	CHECK(env_remount(&e) == 2);
	CHECK_STR(journal(&e), "products=brood.json.made created products/4");
	dir = dir_of(&e, products);
	n = inode_local(e.inodes, dir->ino, "brood.json", &flags, NULL);
	CHECK(n && n->kind == N_JSON && flags == LE_HIDDEN);
	CHECK_STR(n ? n->id : NULL, "4");
	CHECK(calls(&e, "POST", NULL) == 2);
	/* A clean end: the created names go; the next mount has none. */
	save_end(e.save);
	CHECK_STR(journal(&e), "");
	CHECK(env_remount(&e) == 0);
	CHECK(inode_local(e.inodes, dir_of(&e, products)->ino, "brood.json", NULL, NULL) == NULL);
	env_fini(&e);
}

/* A journal that cannot be written: never passed off as safe. */
static void test_journal_failure(void)
{
	struct env e;
	struct node *n;
	size_t len = 0;
	char *tpl = products_template(&len);

	env_init(&e);
	env_journal(&e);
	/* The directory replaced by a file: every write fails (ENOTDIR). */
	CHECK(rmdir(e.jdir) == 0);
	FILE *f = fopen(e.jdir, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	/* A POST is not sent when its entry cannot be written first. */
	n = create(&e, products, "koek.json");
	CHECK(set_text(&e, n, koek) == 0);
	CHECK(commit(&e, n, false) == -ENOTDIR);
	CHECK(calls(&e, "POST", NULL) == 0 && save_state_of(e.save, n) == SAVE_REFUSED);
	char *err = save_error(e.save, n);
	CHECK(has(err, "not sent: it could not be journaled first"));
	free(err);
	/* A template kept, not sent: close() fails rather than pass it off as safe. */
	n = create(&e, products, "sjabloon.json");
	CHECK(tpl && save_write(e.save, n, tpl, len, 0) == 0);
	CHECK(commit(&e, n, false) == -ENOTDIR && save_state_of(e.save, n) == SAVE_WAITING);
	CHECK(has(last_error(&e), "could not be journaled"));
	/* Once it can be written again, the next commit writes it. */
	CHECK(unlink(e.jdir) == 0 && mkdir(e.jdir, 0700) == 0);
	CHECK(commit(&e, n, true) == 0);
	CHECK_STR(journal(&e), "products=sjabloon.json.entry waiting");
	free(tpl);
	env_fini(&e);
}

/* A fresh save machine and inode table read the texts back: the same names,
 * states and errors; saving them sends what one mount would have sent. */
static void test_journal_restore(void)
{
	struct env e;
	struct node *n, *r;
	int flags = 0;
	size_t len = 0, nnames = 0;
	char *tpl = products_template(&len);
	char *err, *t;

	env_init(&e);
	env_journal(&e);
	/* A refused record, a refused new file, a lost POST, a template. */
	r = record(&e, clients, "1");
	CHECK(set_text(&e, r, "{ oops") == 0 && commit(&e, r, false) == -EINVAL);
	fake_service_fail(
	    e.st.svc, "POST", "clients",
	    &(struct fake_answer){.status = 400, .body = "Field 'company' is required"}, false, 1);
	n = create(&e, clients, "nieuw.json");
	CHECK(set_text(&e, n, "{\"contact\": \"Piet\"}") == 0 && commit(&e, n, false) == -EINVAL);
	struct cache_listing *l = NULL;
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);
	n = create(&e, products, "peper.json");
	CHECK(set_text(&e, n, "{\"code\": \"PE\", \"name\": \"Peper\", \"price\": 2}") == 0);
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	CHECK(commit(&e, n, false) == -ECONNRESET);
	CHECK(fake_service_count(e.st.svc, "products") == 3);
	n = create(&e, products, "sjabloon.json");
	CHECK(tpl && save_write(e.save, n, tpl, len, 0) == 0 && commit(&e, n, false) == 0);
	/* A payment refused: named after its invoice. */
	fake_service_fail(e.st.svc, "POST", "invoices_payment/2026-0001",
			  &(struct fake_answer){.status = 400, .body = "Amount too high"}, false, 1);
	n = create(&e, payments, "2026-0001.json");
	CHECK(set_text(&e, n, "{\"amount\": 1000000, \"date\": \"2026-01-02\"}") == 0);
	CHECK(commit(&e, n, false) == -EINVAL);
	/* And a scratch file: never kept. */
	n = create(&e, clients, "notes.txt");
	CHECK(set_text(&e, n, "mine") == 0 && commit(&e, n, false) == 0);
	CHECK_STR(journal(&e), "clients=1.json.entry refused\n"
			       "clients=nieuw.json.entry refused\n"
			       "invoices_payment=2026-0001.json.entry refused\n"
			       "products=peper.json.entry unanswered\n"
			       "products=sjabloon.json.entry waiting");
	unsigned posts = calls(&e, "POST", NULL), puts = calls(&e, "PUT", NULL);

	CHECK(env_remount(&e) == 5);
	/* The record: its node holds the text, refused, with the reason. */
	r = record(&e, clients, "1");
	CHECK_STR(text(&e, r), "{ oops");
	CHECK(save_state_of(e.save, r) == SAVE_REFUSED);
	err = save_error(e.save, r);
	CHECK(has(err, "invalid JSON"));
	free(err);
	CHECK(has(last_error(&e), ": "));
	/* Closed again without fsync: nothing sent (as before the remount). */
	CHECK(commit(&e, r, false) == 0 && calls(&e, "PUT", NULL) == puts);
	/* New files under their names, listed. */
	char **names = inode_local_names(e.inodes, dir_of(&e, clients)->ino, &nnames);
	CHECK(nnames == 1 && !strcmp(names[0], "nieuw.json"));
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	n = inode_local(e.inodes, dir_of(&e, clients)->ino, "nieuw.json", &flags, NULL);
	CHECK(n && n->kind == N_NEW && flags == 0 && save_state_of(e.save, n) == SAVE_REFUSED);
	err = n ? save_error(e.save, n) : NULL;
	CHECK_STR(err, "POST clients: HTTP 400: Field 'company' is required");
	free(err);
	CHECK_STR(n ? text(&e, n) : NULL, "{\"contact\": \"Piet\"}");
	n = inode_local(e.inodes, dir_of(&e, products)->ino, "sjabloon.json", NULL, NULL);
	CHECK(n && save_state_of(e.save, n) == SAVE_WAITING && save_error(e.save, n) == NULL);
	n = inode_local(e.inodes, dir_of(&e, payments)->ino, "2026-0001.json", NULL, NULL);
	CHECK(n && n->kind == N_NEW && save_state_of(e.save, n) == SAVE_REFUSED);
	CHECK_STR(n ? n->id : NULL, "2026-0001");
	/* The lost POST: looked for first, adopted, never posted again. */
	n = inode_local(e.inodes, dir_of(&e, products)->ino, "peper.json", NULL, NULL);
	CHECK(n && save_state_of(e.save, n) == SAVE_UNANSWERED);
	err = n ? save_error(e.save, n) : NULL;
	CHECK(has(err, "may have made the record"));
	free(err);
	CHECK(n && commit(&e, n, true) == 0 && n->kind == N_JSON);
	CHECK_STR(n ? n->id : NULL, "3");
	CHECK(calls(&e, "POST", NULL) == posts && fake_service_count(e.st.svc, "products") == 3);
	/* The record fixed: exactly one PUT. */
	t = edited(&e, clients, "1", "{", "{");
	char *fixed = t ? edited(&e, clients, "1", "Bakkerij De Korst", "De Korst") : NULL;
	CHECK(fixed && set_text(&e, r, fixed) == 0 && commit(&e, r, false) == 0);
	CHECK(calls(&e, "PUT", NULL) == puts + 1 && calls(&e, "PUT", "clients/1") == 1);
	free(fixed);
	free(t);
	/* rm of the new file drops it for good: not there after the next mount. */
	CHECK(save_unlink(e.save, dir_of(&e, clients), "nieuw.json", 0, &e.fx) == 0);
	CHECK_STR(journal(&e), "invoices_payment=2026-0001.json.entry refused\n"
			       "products=peper.json.made created products/3\n"
			       "products=sjabloon.json.entry waiting");
	CHECK(env_remount(&e) == 3);
	CHECK(inode_local(e.inodes, dir_of(&e, clients)->ino, "nieuw.json", NULL, NULL) == NULL);
	CHECK(save_state_of(e.save, record(&e, clients, "1")) == SAVE_CLEAN);
	free(tpl);
	env_fini(&e);
}

/* A save merges: only what the text changed from the version it started from goes,
 * on the record read just before the PUT; a field changed on both sides is a
 * conflict (EBUSY, nothing sent, the text kept); the base a conflict leaves is
 * journaled, so after a remount the same text saved again keeps the user's value
 * and what the service changed meanwhile. */
static void test_merge_with_the_service(void)
{
	struct env e;
	struct node *n;
	char *t, *rec;

	env_init(&e);
	env_journal(&e);
	n = record(&e, clients, "1");
	/* Read (served), then changed on the service behind the mount's back. */
	t = edited(&e, clients, "1", "\"contact\": \"Jan de Vries\"", "\"contact\": \"Jan Vries\"");
	CHECK(t != NULL);
	fake_service_put(e.st.svc, "clients",
			 "{'clientnr':'1','contact':'Jan de Vries','company':'Bakkerij De Korst',"
			 "'city':'Amersfoort','country':'146','top':'14','reference':[],"
			 "'active':'1','timestamp':'2026-03-01 09:00:00','lastinvoice':'2026-02-01'}");
	CHECK(set_text(&e, n, t) == 0 && commit(&e, n, false) == 0);
	CHECK(calls(&e, "GET", "clients/1") == 1 && calls(&e, "PUT", "clients/1") == 1);
	rec = service_record(&e, "clients", "1");
	CHECK(has(rec, "\"city\":\"Amersfoort\"") && has(rec, "\"contact\":\"Jan Vries\""));
	free(rec);
	free(t);

	/* The same field on both sides: EBUSY after the GET alone, the reason names it
	 * and its three values, the text stays. */
	t = edited(&e, clients, "1", "\"city\": \"Amersfoort\"", "\"city\": \"Kampen\"");
	CHECK(t != NULL);
	fake_service_put(e.st.svc, "clients",
			 "{'clientnr':'1','contact':'Jan Vries','company':'Bakkerij De Korst',"
			 "'city':'Zwolle','country':'146','top':'14','reference':[],"
			 "'active':'1','timestamp':'2026-03-02 09:00:00','lastinvoice':'2026-02-01'}");
	CHECK(set_text(&e, n, t) == 0 && commit(&e, n, false) == -EBUSY);
	CHECK(calls(&e, "GET", "clients/1") == 2 && calls(&e, "PUT", "clients/1") == 1);
	CHECK(save_state_of(e.save, n) == SAVE_REFUSED);
	CHECK_STR(text(&e, n), t);
	char *err = save_error(e.save, n);
	CHECK(has(err, "'city' was changed on the service meanwhile to \"Zwolle\", and here to "
		       "\"Kampen\" (both from \"Amersfoort\")"));
	free(err);

	/* Meanwhile the service changes another field; the daemon stops and comes
	 * back: the text, with its base from the journal. */
	fake_service_put(e.st.svc, "clients",
			 "{'clientnr':'1','contact':'Els de Vries','company':'Bakkerij De Korst',"
			 "'city':'Zwolle','country':'146','top':'14','reference':[],"
			 "'active':'1','timestamp':'2026-03-03 09:00:00','lastinvoice':'2026-02-01'}");
	CHECK(env_remount(&e) == 1);
	n = record(&e, clients, "1");
	CHECK_STR(text(&e, n), t);
	CHECK(commit(&e, n, true) == 0 && calls(&e, "PUT", "clients/1") == 2);
	rec = service_record(&e, "clients", "1");
	CHECK(has(rec, "\"city\":\"Kampen\"") && has(rec, "\"contact\":\"Els de Vries\""));
	free(rec);
	free(t);
	env_fini(&e);
}

/* What a save targets, decided in one place (ns/save_target.h): each kind of
 * node in each sort of collection, and the row of the table the steps read. */
static void test_targets(void)
{
	const struct schema_collection *rem = schema_find("invoices_reminder");
	const struct schema_collection *send = schema_find("invoices_saved_send");
	const struct schema_collection *profiles = schema_find("profiles");
	CHECK(save_target_kind(N_JSON, clients) == SAVE_T_RECORD);
	CHECK(save_target_kind(N_JSON, invoices) == SAVE_T_FIXED); /* the API changes none */
	CHECK(save_target_kind(N_JSON, profiles) == SAVE_T_FIXED);
	CHECK(save_target_kind(N_PDF, invoices) == SAVE_T_NONE);
	CHECK(save_target_kind(N_COLL, clients) == SAVE_T_NONE);
	CHECK(save_target_kind(-EPERM, clients) == SAVE_T_NONE); /* (dir_new_kind's refusal) */
	CHECK(save_target_kind(N_SCRATCH, clients) == SAVE_T_SCRATCH);
	CHECK(save_target_kind(N_NEW, clients) == SAVE_T_NEW);
	CHECK(save_target_kind(N_NEW, invoices) == SAVE_T_NEW);
	CHECK(save_target_kind(N_NEW, saved) == SAVE_T_THROUGH); /* a draft, through invoices/ */
	CHECK(save_target_kind(N_NEW, payments) == SAVE_T_ACT);
	CHECK(save_target_kind(N_NEW, rem) == SAVE_T_ACT);
	CHECK(save_target_kind(N_NEW, send) == SAVE_T_ACT);

	const struct save_target_rule *r = save_target_rule(SAVE_T_RECORD);
	CHECK(r->record && !r->local && !r->newfile && r->send == SAVE_SEND_EDIT);
	r = save_target_rule(SAVE_T_SCRATCH);
	CHECK(r->local && !r->newfile && !r->record && r->send == SAVE_SEND_NONE);
	r = save_target_rule(SAVE_T_NEW);
	CHECK(r->local && r->newfile && !r->through && r->send == SAVE_SEND_CREATE);
	r = save_target_rule(SAVE_T_THROUGH);
	CHECK(r->local && r->newfile && r->through && r->send == SAVE_SEND_CREATE);
	r = save_target_rule(SAVE_T_ACT);
	CHECK(r->local && r->newfile && r->named_by_record && r->send == SAVE_SEND_ACT);
	r = save_target_rule(SAVE_T_NONE);
	CHECK(!r->local && !r->record && r->send == SAVE_SEND_NONE);
}

int main(void)
{
	clients = schema_find("clients");
	products = schema_find("products");
	invoices = schema_find("invoices");
	saved = schema_find("invoices_saved");
	payments = schema_find("invoices_payment");
	test_edit();
	test_refused_here();
	test_refused_there();
	test_write_during_send();
	test_commit_waits();
	test_new_file();
	test_template();
	test_lost_post();
	test_payment();
	test_create();
	test_unlink();
	test_unlink_by_mv();
	test_rename();
	test_link();
	test_limits();
	test_journal_transitions();
	test_journal_posting();
	test_journal_created();
	test_journal_failure();
	test_journal_restore();
	test_merge_with_the_service();
	test_targets();
	return unit_report();
}
