/* log: stderr for foreground mounts, syslog for daemons. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Set once by log_init before any worker thread starts; read-only after. */
static bool log_foreground = true;
static bool log_debug;

void log_init(bool foreground, bool debug)
{
	log_foreground = foreground;
	log_debug = debug;
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

	if (log_foreground) {
		/* One stdio call per line: stdio locks the stream, so lines never interleave. */
		fprintf(stderr, "factuurfs: %s%s\n", log_level_word(level), line);
		return;
	}
	syslog(level, "%s", line);
}
