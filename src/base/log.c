/* log: stderr for foreground mounts (the journal when stderr is it), syslog
 * for daemons. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

/* Set once by log_init before any worker thread starts; read-only after. */
static bool log_foreground = true;
static bool log_debug;
static bool log_journal; /* stderr is the journal: native entries instead */

/* systemd's test (sd_journal_stream_fd(3), systemd.exec(5)): $JOURNAL_STREAM
 * is "<device>:<inode>" of the stream it connected stderr to; a stderr
 * redirected since then is another file. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char *end;
	struct stat st;
	if (!e || fstat(STDERR_FILENO, &st) < 0)
		return false;
	/* strtoull, not sscanf: a number out of range is ERANGE, not undefined. */
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (end == e || *end != ':')
		return false;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (end == e || *end || errno)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

const char *log_strerror(int err)
{
	static _Thread_local char buf[64];
	return strerror_r(err, buf, sizeof(buf)); /* the GNU one: _GNU_SOURCE */
}

void log_init(bool foreground, bool debug)
{
	log_foreground = foreground;
	log_debug = debug;
	log_journal = foreground && stderr_is_journal();
	if (!foreground)
		openlog("factuurfs", LOG_PID, LOG_DAEMON);
}

static const char *log_level_word(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

void log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t n;

	if (level == LOG_DEBUG && !log_debug)
		return;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	/* A message ending in a newline would leave an empty line behind. */
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';

	/* A journal that cannot be written to (no socket): stderr, as before. */
	if (log_journal && sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", level,
					   "SYSLOG_IDENTIFIER=factuurfs", NULL) == 0)
		return;
	if (log_foreground) {
		/* One stdio call per line: stdio locks the stream, so lines never interleave. */
		fprintf(stderr, "factuurfs: %s%s\n", log_level_word(level), line);
		return;
	}
	syslog(level, "%s", line);
}

void log_refusal(const char *file, const char *reason)
{
	if (log_journal &&
	    sd_journal_send("MESSAGE=%s: %s", file, reason, "PRIORITY=%d", LOG_ERR,
			    "SYSLOG_IDENTIFIER=factuurfs", "FACTUURFS_FILE=%s", file,
			    "FACTUURFS_REASON=%s", reason, NULL) == 0)
		return;
	log_msg(LOG_ERR, "%s: %s", file, reason);
}
