/* SPDX-License-Identifier: MIT */
/* Levelled logging; one write per line so lines from several processes never interleave. */
#include "pard/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_ident = "pard";
static enum pard_log_level log_max = PARD_LOG_INFO;
static bool log_to_journal;

static const char *const level_names[] = {
	[PARD_LOG_ERROR] = "error", [PARD_LOG_WARNING] = "warning", [PARD_LOG_NOTICE] = "notice",
	[PARD_LOG_INFO] = "info",   [PARD_LOG_DEBUG] = "debug",
};

void pard_log_init(const char *ident, enum pard_log_level max)
{
	log_ident = ident;
	log_max = max;
	/* journald reads <N> prefixes as priorities. */
	log_to_journal = pard_log_stderr_is_journal();
}

bool pard_log_stderr_is_journal(void)
{
	/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the journal; a child
	 * whose stderr was redirected inherits the variable, so it counts only when it names this
	 * stderr. */
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void pard_log_set_level(enum pard_log_level max)
{
	log_max = max;
}

bool pard_log_enabled(enum pard_log_level level)
{
	return level <= log_max;
}

const char *pard_log_ident(void)
{
	return log_ident;
}

int pard_log_level_from_name(const char *name)
{
	for (int i = PARD_LOG_ERROR; i <= PARD_LOG_DEBUG; i++)
		if (strcmp(level_names[i], name) == 0)
			return i;
	return -1;
}

void pard_log(enum pard_log_level level, const char *fmt, ...)
{
	if (level > log_max)
		return;
	char line[2048];
	int n;
	if (log_to_journal)
		n = snprintf(line, sizeof(line), "<%d>", (int)level);
	else
		n = snprintf(line, sizeof(line), "%s[%d]: %s: ", log_ident, (int)getpid(), level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
