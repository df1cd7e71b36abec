/* SPDX-License-Identifier: MIT */
/* A job's lifecycle in the log (submitted, done, failed, cancelled), with structured fields when
 * journald reads pard's stderr, so `journalctl PARD_JOB=42` finds every line about job 42. */
#ifndef PARD_JOBLOG_H
#define PARD_JOBLOG_H

#include <stdint.h>
#include <sys/types.h>

#include "pard/log.h"

/* Logs "job ID KIND <text>" at level: through sd_journal_send with PARD_JOB=, PARD_KIND= and
 * PARD_UID= when stderr is the journal ($JOURNAL_STREAM names it), else as a plain line. */
void joblog(enum pard_log_level level, uint64_t id, const char *kind, uid_t uid, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
