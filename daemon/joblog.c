/* SPDX-License-Identifier: MIT */
/* Job lifecycle lines: journal fields under journald, plain text otherwise. */
#include "joblog.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

void joblog(enum pard_log_level level, uint64_t id, const char *kind, uid_t uid, const char *fmt, ...)
{
	if (!pard_log_enabled(level))
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
#ifdef HAVE_SYSTEMD
	static int journal = -1; /* decided once: stderr does not change */
	if (journal < 0)
		journal = pard_log_stderr_is_journal();
	if (journal &&
	    sd_journal_send("MESSAGE=job %llu %s %s", (unsigned long long)id, kind, text, "PRIORITY=%d", (int)level,
			    "PARD_JOB=%llu", (unsigned long long)id, "PARD_KIND=%s", kind, "PARD_UID=%u", (unsigned)uid,
			    "SYSLOG_IDENTIFIER=%s", pard_log_ident(), NULL) >= 0)
		return;
#endif
	(void)uid;
	pard_log(level, "job %llu %s %s", (unsigned long long)id, kind, text);
}

enum pard_log_level joblog_submit_level(int min_duration_ms)
{
	return min_duration_ms == 0 ? PARD_LOG_INFO : PARD_LOG_DEBUG;
}

enum pard_log_level joblog_end_level(int min_duration_ms, bool done, uint64_t took_ns)
{
	if (!done)
		return PARD_LOG_INFO;
	if (min_duration_ms < 0)
		return PARD_LOG_DEBUG;
	return took_ns >= (uint64_t)min_duration_ms * 1000000u ? PARD_LOG_INFO : PARD_LOG_DEBUG;
}
