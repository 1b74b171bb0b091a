/* who: background readers by process name (see who.h). */
#include "who.h"

#include <fcntl.h>
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

static bool who_name_matches(const char *name)
{
	for (size_t i = 0; i < sizeof(who_background) / sizeof(who_background[0]); i++)
		if (!strncmp(name, who_background[i], strlen(who_background[i])))
			return true;
	return false;
}

/* True when /proc/@id/comm names a background reader. */
static bool who_comm_matches(long id)
{
	char path[64], comm[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/comm", id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return false;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return who_name_matches(comm);
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
