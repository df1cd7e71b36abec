/* SPDX-License-Identifier: MIT */
/* A job's lifecycle in the log (submitted, done, failed, cancelled), with structured fields when
 * journald reads pard's stderr, so `journalctl PARD_JOB=42` finds every line about job 42. */
#ifndef PARD_JOBLOG_H
#define PARD_JOBLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pard/log.h"

/* Logs "job ID KIND <text>" at level: through sd_journal_send with PARD_JOB=, PARD_KIND= and
 * PARD_UID= when stderr is the journal ($JOURNAL_STREAM names it), else as a plain line. */
void joblog(enum pard_log_level level, uint64_t id, const char *kind, uid_t uid, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Which lines of a job go out at info, after the setting log_job_min_duration (milliseconds), as
 * PostgreSQL's log_min_duration_statement: a job that ends done is logged at info when it took at
 * least that long from submission, and at debug otherwise; 0 logs every job at info, its submission
 * too; -1 logs no done job at info. Failures and cancellations are always logged at info. A line
 * per job of a stream of tiny ones would cost the daemon more than the jobs (and journald's rate
 * limit would drop most of them). */
enum pard_log_level joblog_submit_level(int min_duration_ms);
enum pard_log_level joblog_end_level(int min_duration_ms, bool done, uint64_t took_ns);

#endif
