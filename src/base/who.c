/* who: background readers by process name (see who.h). */
#include "base/who.h"

#include "base/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Programs that read files nobody asked them to, by the name the kernel
 * keeps for them (/proc/PID/comm: at most 15 bytes, so long names are cut
 * and matched by their start).  A file manager's own process is not here: it
 * also copies files when asked to, and that is the user's read. */
static const char *const who_background[] = {
	"tumblerd",        /* Thunar's thumbnail service (poppler plugin in-process) */
	"evince-thumbnai", /* evince-thumbnailer: Nautilus (in bwrap), PCManFM */
	"gnome-thumbnail", /* GNOME's thumbnailer helpers */
	"gdk-pixbuf-thum", /* gdk-pixbuf-thumbnailer */
	"ffmpegthumbnail",
	"totem-video-thu",
	"atril-thumbnail", /* MATE's evince fork */
	"xreader-thumbna", /* Cinnamon's */
	"tracker-extract", /* GNOME's indexer */
	"tracker-miner-f",
	"localsearch-ext",
	"baloo_file_extr", /* KDE's indexer */
	"kioworker",       /* KDE's previews run in these */
};

/* Programs that unlink a file to write it anew (coreutils' mv across file
 * systems unlinks the destination, then creates it with O_EXCL). */
static const char *const who_replacers[] = {
	"mv",
	"install",
	"cp", /* only with --remove-destination, or -f after a failed open */
};

static bool who_in(const char *const *table, size_t n, const char *name, bool prefix)
{
	for (size_t i = 0; i < n; i++)
		if (prefix ? !strncmp(name, table[i], strlen(table[i])) : !strcmp(name, table[i]))
			return true;
	return false;
}

static bool who_name_matches(const char *name)
{
	return who_in(who_background, sizeof(who_background) / sizeof(who_background[0]), name,
		      true);
}

/* /proc/@id/comm into @comm; false when it cannot be read. */
static bool who_comm(long id, char *comm, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/comm", id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, comm, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return true;
}

/* True when /proc/@id/comm names a background reader. */
static bool who_comm_matches(long id)
{
	char comm[32];
	return who_comm(id, comm, sizeof(comm)) && who_name_matches(comm);
}

/* What a program does with the files it stats, by the name the kernel keeps
 * for it (docs/SEMANTICS.md, "PDF sizes").  Names are matched whole, or by
 * their first 15 bytes (what /proc/PID/comm keeps).  A program with
 * subcommands is @sub_kind when it runs one of @subs, else @kind. */
struct who_prog {
	const char *name;
	const char *const *subs;
	enum who_kind kind, sub_kind;
};

/* rclone copies with these; with the rest (ls, lsl, size, mount...) it looks
 * or serves, and is then no copier. */
static const char *const who_rclone_copies[] = {
	"copy", "copyto", "sync", "move", "moveto", "bisync", "check", "cryptcheck", "checksum",
	"md5sum", "sha1sum", "hashsum", NULL,
};
/* rdiff-backup backs up with `backup` or with no subcommand (its older form). */
static const char *const who_rdiff_looks[] = {
	"list", "info", "help", "remove", "regress", "verify", "restore", "server", NULL,
};

static const struct who_prog who_progs[] = {
	/* Look at files and never open a regular file they stat: their
	 * GETATTRs need no look into /proc/PID/fd (who_holds_open), which
	 * `ls -l` would otherwise pay for each PDF whose size is unknown. */
	{"ls", NULL, WHO_LOOKER, 0},
	{"stat", NULL, WHO_LOOKER, 0},
	{"du", NULL, WHO_LOOKER, 0},
	{"find", NULL, WHO_LOOKER, 0},
	{"tree", NULL, WHO_LOOKER, 0},
	{"ncdu", NULL, WHO_LOOKER, 0},
	{"exa", NULL, WHO_LOOKER, 0},
	{"eza", NULL, WHO_LOOKER, 0},
	{"lsd", NULL, WHO_LOOKER, 0},
	/* Take a file's size from a stat by path, before they open it, and
	 * store that many bytes: a placeholder size makes them pad, cut or
	 * refuse the file, several without a word. */
	{"bsdtar", NULL, WHO_COPIER, 0},
	{"bsdcpio", NULL, WHO_COPIER, 0},
	{"pax", NULL, WHO_COPIER, 0},
	{"cpio", NULL, WHO_COPIER, 0},
	{"afio", NULL, WHO_COPIER, 0},
	{"star", NULL, WHO_COPIER, 0},
	{"duplicity", NULL, WHO_COPIER, 0},
	{"rdiff-backup", who_rdiff_looks, WHO_COPIER, WHO_OTHER},
	{"rclone", who_rclone_copies, WHO_OTHER, WHO_COPIER},
	/* Read every file under a directory for a text: in a PDF (compressed
	 * streams) they find none, and each one not fetched yet would cost an
	 * API call. */
	{"grep", NULL, WHO_SEARCHER, 0},
	{"egrep", NULL, WHO_SEARCHER, 0},
	{"fgrep", NULL, WHO_SEARCHER, 0},
	{"rg", NULL, WHO_SEARCHER, 0},
	{"ag", NULL, WHO_SEARCHER, 0},
	{"ack", NULL, WHO_SEARCHER, 0},
	{"ugrep", NULL, WHO_SEARCHER, 0},
	{"pt", NULL, WHO_SEARCHER, 0},
	{"sift", NULL, WHO_SEARCHER, 0},
};

static const struct who_prog *who_prog_named(const char *name)
{
	for (size_t i = 0; i < sizeof(who_progs) / sizeof(who_progs[0]); i++) {
		const char *p = who_progs[i].name;
		/* comm keeps 15 bytes: a longer name is known by its start. */
		if (strlen(p) > 15 ? strlen(name) == 15 && !strncmp(name, p, 15) : !strcmp(name, p))
			return &who_progs[i];
	}
	return NULL;
}

static bool who_listed(const char *const *list, const char *word)
{
	for (; list && *list; list++)
		if (!strcmp(*list, word))
			return true;
	return false;
}

/* The kind of program @p as process @id runs it: its first argument after
 * the one naming @p (an interpreter runs a script: "python3
 * /usr/bin/rdiff-backup list ...") that is one of @p's subcommands decides. */
static enum who_kind who_prog_kind(const struct who_prog *p, long id)
{
	char path[64], buf[4096];
	if (!p)
		return WHO_OTHER;
	if (!p->subs)
		return p->kind;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return p->kind;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return p->kind;
	buf[n] = '\0';
	bool after = false;
	for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
		const char *base = strrchr(a, '/');
		base = base ? base + 1 : a;
		if (!after)
			after = !strncmp(base, p->name, 15);
		else if (who_listed(p->subs, a))
			return p->sub_kind;
	}
	return p->kind;
}

static long who_tgid(pid_t tid);

/* who_kind's answers of the last WHO_KIND_TTL seconds: `ls -l` of 10,000 PDFs
 * whose size is unknown asks once per PDF, and reading /proc/PID/comm (an open, a
 * read, a close) was most of each GETATTR's cost.  A pid is not reused within a
 * second (the kernel hands them out in order up to pid_max), and a process that
 * execs another program meanwhile is still answered for up to that second. */
#define WHO_KIND_SLOTS 8
#define WHO_KIND_TTL 1.0

static struct {
	pid_t pid;
	enum who_kind kind;
	double at;
} who_kind_memo[WHO_KIND_SLOTS];
static unsigned who_kind_next;
static pthread_mutex_t who_kind_lock = PTHREAD_MUTEX_INITIALIZER;

/* who_kind without the memo: the thread's name, its process's, then the
 * program's file name (a tar that is bsdtar under another name). */
static enum who_kind who_kind_read(pid_t pid)
{
	char comm[32], path[64], exe[4096];
	long tgid = -1;
	if (who_comm((long)pid, comm, sizeof(comm)) && who_prog_named(comm))
		return who_prog_kind(who_prog_named(comm), (long)pid);
	tgid = who_tgid(pid);
	if (tgid > 0 && tgid != (long)pid && who_comm(tgid, comm, sizeof(comm)) &&
	    who_prog_named(comm))
		return who_prog_kind(who_prog_named(comm), tgid);
	snprintf(path, sizeof(path), "/proc/%ld/exe", tgid > 0 ? tgid : (long)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return WHO_OTHER;
	exe[n] = '\0';
	const char *base = strrchr(exe, '/');
	return who_prog_kind(who_prog_named(base ? base + 1 : exe), tgid > 0 ? tgid : (long)pid);
}

enum who_kind who_kind(pid_t pid)
{
	double now = clock_mono();
	enum who_kind kind;
	if (pid <= 0)
		return WHO_OTHER;
	pthread_mutex_lock(&who_kind_lock);
	for (unsigned i = 0; i < WHO_KIND_SLOTS; i++) {
		if (who_kind_memo[i].pid == pid && now - who_kind_memo[i].at < WHO_KIND_TTL) {
			kind = who_kind_memo[i].kind;
			pthread_mutex_unlock(&who_kind_lock);
			return kind;
		}
	}
	pthread_mutex_unlock(&who_kind_lock);
	kind = who_kind_read(pid);
	pthread_mutex_lock(&who_kind_lock);
	unsigned i = who_kind_next++ % WHO_KIND_SLOTS;
	who_kind_memo[i].pid = pid;
	who_kind_memo[i].kind = kind;
	who_kind_memo[i].at = now;
	pthread_mutex_unlock(&who_kind_lock);
	return kind;
}

bool who_replaces(pid_t pid)
{
	char comm[32];
	return pid > 0 && who_comm((long)pid, comm, sizeof(comm)) &&
	       who_in(who_replacers, sizeof(who_replacers) / sizeof(who_replacers[0]), comm,
		      false);
}

/* True when the program process @id runs is a background reader: its name
 * can differ from the program's (PCManFM's thumbnailer children are still
 * called "loader" when they read). */
static bool who_exe_matches(long id)
{
	char path[64], exe[4096];
	snprintf(path, sizeof(path), "/proc/%ld/exe", id);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	const char *base = strrchr(exe, '/');
	return who_name_matches(base ? base + 1 : exe);
}

/* The process (thread group) thread @tid belongs to, or -1. */
static long who_tgid(pid_t tid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *t = strstr(buf, "\nTgid:");
	return t ? strtol(t + 6, NULL, 10) : -1;
}

bool who_is_background(pid_t pid)
{
	if (pid <= 0)
		return false;
	/* FUSE names the reading thread, and threads have names of their own
	 * (tumblerd reads PDFs in its "pool-tumblerd" thread): the process's
	 * name decides when the thread's does not. */
	if (who_comm_matches((long)pid))
		return true;
	long tgid = who_tgid(pid);
	if (tgid > 0 && tgid != (long)pid && who_comm_matches(tgid))
		return true;
	return who_exe_matches(tgid > 0 ? tgid : (long)pid);
}

/* ---- open files (who_holds_open) ------------------------------------------ */

/* The mount ids one mount namespace gives our filesystem (a bind mount is
 * another id on the same device). */
struct who_ns {
	unsigned long ns;   /* the namespace's inode (/proc/PID/ns/mnt) */
	int ids[8];
	size_t n;
};

struct who_mount {
	unsigned major, minor; /* the filesystem's device, as mountinfo shows it */
	pthread_mutex_t lock;  /* protects ns[] and next */
	struct who_ns ns[8];   /* namespaces seen, reused round robin */
	size_t next;
};

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void who_unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* The decimal number at @s up to @stop, at most @max; false when there is none or it is
 * bigger (strtoul, not sscanf, whose overflow is undefined). */
static bool who_number(const char *s, char stop, unsigned long max, unsigned long *out,
		       char **end)
{
	errno = 0;
	*out = strtoul(s, end, 10);
	return *end != s && **end == stop && errno == 0 && *out <= max && *s != '-';
}

/* One line of a mountinfo file: "36 35 0:45 / /mnt rw,... - fuse.x ...". */
static bool who_mountinfo_line(char *line, int *id, unsigned *major, unsigned *minor,
			       char **point)
{
	char *save = NULL, *f[5], *end;
	unsigned long v, maj, min;
	for (int i = 0; i < 5; i++) {
		f[i] = strtok_r(i ? NULL : line, " ", &save);
		if (!f[i])
			return false;
	}
	if (!who_number(f[0], '\0', INT_MAX, &v, &end) ||
	    !who_number(f[2], ':', UINT_MAX, &maj, &end) ||
	    !who_number(end + 1, '\0', UINT_MAX, &min, &end))
		return false;
	*id = (int)v;
	*major = (unsigned)maj;
	*minor = (unsigned)min;
	who_unescape(f[4]);
	*point = f[4];
	return true;
}

static unsigned long who_ns_of(const char *proc)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%s/ns/mnt", proc);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	const char *b = strchr(link, '[');
	return b ? strtoul(b + 1, NULL, 10) : 0;
}

int who_mount_new(struct who_mount **out, const char *mountpoint)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	int rc = -ENOENT;
	*out = NULL;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	struct who_mount *m = calloc(1, sizeof(*m));
	if (!m) {
		(void)fclose(f); /* read only */
		return -ENOMEM;
	}
	/* The last line for the mount point is the mount on top. */
	while (getline(&line, &cap, f) > 0) {
		int id;
		unsigned major, minor;
		char *point;
		if (who_mountinfo_line(line, &id, &major, &minor, &point) &&
		    !strcmp(point, mountpoint)) {
			m->major = major;
			m->minor = minor;
			found = true;
		}
	}
	free(line);
	(void)fclose(f); /* read only */
	if (found) {
		pthread_mutex_init(&m->lock, NULL);
		*out = m;
		rc = 0;
	} else {
		free(m);
	}
	return rc;
}

void who_mount_free(struct who_mount *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Reads the mount ids of our device in the namespace of @proc into @s. */
static void who_ns_load(const struct who_mount *m, const char *proc, struct who_ns *s)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	snprintf(path, sizeof(path), "/proc/%s/mountinfo", proc);
	s->n = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0 && s->n < sizeof(s->ids) / sizeof(s->ids[0])) {
		int id;
		unsigned major, minor;
		char *point;
		if (who_mountinfo_line(line, &id, &major, &minor, &point) && major == m->major &&
		    minor == m->minor)
			s->ids[s->n++] = id;
	}
	free(line);
	(void)fclose(f); /* read only */
}

/* True when mount id @id is our filesystem in the namespace of @proc. */
static bool who_is_our_mount(struct who_mount *m, const char *proc, int id)
{
	unsigned long ns = who_ns_of(proc);
	bool hit = false;
	if (!ns)
		return false;
	pthread_mutex_lock(&m->lock);
	struct who_ns *s = NULL;
	for (size_t i = 0; i < sizeof(m->ns) / sizeof(m->ns[0]) && !s; i++)
		if (m->ns[i].ns == ns)
			s = &m->ns[i];
	for (int pass = 0; pass < 2 && !hit; pass++) {
		if (!s || pass == 1) {
			/* Unknown namespace, or a mount made there since. */
			if (!s) {
				s = &m->ns[m->next];
				m->next = (m->next + 1) % (sizeof(m->ns) / sizeof(m->ns[0]));
				s->ns = ns;
			}
			who_ns_load(m, proc, s);
		}
		for (size_t i = 0; i < s->n && !hit; i++)
			hit = s->ids[i] == id;
	}
	pthread_mutex_unlock(&m->lock);
	return hit;
}

/* The "mnt_id:" and "ino:" lines of /proc/@proc/fdinfo/@fd. */
static bool who_fdinfo(const char *proc, const char *fd, int *mnt_id, unsigned long long *ino)
{
	char path[320], buf[512];
	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", proc, fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *a = strstr(buf, "mnt_id:"), *b = strstr(buf, "ino:");
	if (!a || !b)
		return false;
	*mnt_id = (int)strtol(a + 7, NULL, 10);
	*ino = strtoull(b + 4, NULL, 10);
	return true;
}

bool who_holds_open(struct who_mount *m, pid_t pid, unsigned long long ino, const char *suffix)
{
	char proc[32], dir[64], link[PATH_MAX];
	struct dirent *de;
	bool hit = false;
	if (!m || pid <= 0)
		return false;
	snprintf(proc, sizeof(proc), "%ld", (long)pid);
	snprintf(dir, sizeof(dir), "/proc/%s/fd", proc);
	DIR *d = opendir(dir);
	if (!d)
		return false; /* gone, or not ours to look at (another user, not dumpable) */
	size_t slen = suffix ? strlen(suffix) : 0;
	while (!hit && (de = readdir(d))) {
		int mnt_id;
		unsigned long long fino;
		if (de->d_name[0] == '.')
			continue;
		/* The link's text first: one call (relative to the directory, so
		 * no /proc path is walked again), and it rules out nearly every
		 * descriptor without opening anything.  `ls -l` pays this for
		 * each file whose size is unknown. */
		if (slen) {
			ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
			if (n < (ssize_t)slen || memcmp(link + n - slen, suffix, slen) != 0)
				continue;
		}
		if (who_fdinfo(proc, de->d_name, &mnt_id, &fino) && fino == ino)
			hit = who_is_our_mount(m, proc, mnt_id);
	}
	closedir(d);
	return hit;
}
