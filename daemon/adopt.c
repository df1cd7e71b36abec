/* SPDX-License-Identifier: MIT */
/* Checks a previous daemon's job records and slots before they are trusted, and retires its
 * workers. A record is written by the daemon only, between a store of `updating` and its clear,
 * so a kill -9 in the middle is seen; a slot's chunk words are written by workers with single
 * atomic stores, so each word is one of the known states, or the slot is not to be trusted. */
#include "adopt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "jobs.h"
#include "pard/log.h"
#include "pard/util.h"

static bool chunk_word_valid(uint32_t v, uint32_t max_workers)
{
	switch (PARD_CHUNK_STATE(v)) {
	case PARD_CHUNK_QUEUED:
	case PARD_CHUNK_DONE:
	case PARD_CHUNK_DROPPED:
		return PARD_CHUNK_OWNER(v) == 0;
	case PARD_CHUNK_CLAIMED:
		return PARD_CHUNK_OWNER(v) < max_workers;
	default:
		return false;
	}
}

enum adopt_verdict adopt_check(const struct pard_segment *seg, uint32_t i, char *why, size_t len)
{
	const struct pard_segment_header *h = seg->hdr;
	const struct pard_job_record *r = pard_segment_record(seg, i);
	const struct pard_job_slot *s = pard_segment_job(seg, i);
	uint64_t next_id = atomic_load(&h->next_id);
	why[0] = '\0';
	bool id_known = r->id >= 1 && r->id < next_id;
	if (atomic_load(&r->updating)) {
		snprintf(why, len, "the previous pard died while updating its record");
		return id_known ? ADOPT_FAIL : ADOPT_FREE;
	}
	if (r->state == JOB_FREE) {
		if (atomic_load(&s->state) != PARD_SLOT_FREE)
			snprintf(why, len,
				 "job %llu was being submitted when the previous pard died; its client was "
				 "never given its id",
				 (unsigned long long)s->id);
		return ADOPT_FREE;
	}
	if (!id_known) {
		snprintf(why, len, "its record names job id %llu, which was never given (next id %llu)",
			 (unsigned long long)r->id, (unsigned long long)next_id);
		return ADOPT_FREE;
	}
	if (r->state < JOB_WAITING || r->state > JOB_CANCELLED) {
		snprintf(why, len, "its record has an unknown state %u", r->state);
		return ADOPT_FAIL;
	}
	enum job_state st = (enum job_state)r->state;
	if (st == JOB_ENDING && r->ends_as != JOB_FAILED && r->ends_as != JOB_CANCELLED) {
		snprintf(why, len, "it was ending as an unknown state %u", r->ends_as);
		return ADOPT_FAIL;
	}
	const struct pard_kernel *k = pard_kernel_by_kind(r->kind);
	if (!k) {
		snprintf(why, len, "its record names an unknown kind %u", r->kind);
		return ADOPT_FAIL;
	}
	if (r->priority < PARD_PRIORITY_MIN || r->priority > PARD_PRIORITY_MAX) {
		snprintf(why, len, "its record has a priority %d outside %d..%d", (int)r->priority, PARD_PRIORITY_MIN,
			 PARD_PRIORITY_MAX);
		return ADOPT_FAIL;
	}
	uint32_t n = k->chunk_count(&r->params);
	uint64_t bytes = k->result_bytes(&r->params);
	if (n < 1 || n > PARD_MAX_CHUNKS || bytes > h->arena_size) {
		snprintf(why, len, "its parameters give %u chunks and %llu bytes of result", n,
			 (unsigned long long)bytes);
		return ADOPT_FAIL;
	}
	bool published = r->flags & PARD_RECORD_PUBLISHED, has_buffer = r->flags & PARD_RECORD_HAS_BUFFER;
	bool active = st == JOB_QUEUED || st == JOB_RUNNING || st == JOB_ENDING;
	if (has_buffer && (r->buffer_bytes != bytes || r->buffer_off % ARENA_ALIGN || r->buffer_off > h->arena_size ||
			   bytes > h->arena_size - r->buffer_off)) {
		snprintf(why, len, "its result buffer [%llu, +%llu) does not fit its kind or the arena",
			 (unsigned long long)r->buffer_off, (unsigned long long)r->buffer_bytes);
		return ADOPT_FAIL;
	}
	if (st == JOB_WAITING && (published || has_buffer)) {
		snprintf(why, len, "it was waiting for arena space but its record says it was published");
		return ADOPT_FAIL;
	}
	bool result_in_record = r->flags & PARD_RECORD_RESULT;
	if (result_in_record &&
	    (st != JOB_DONE || published || has_buffer || bytes || !memchr(r->text, '\0', sizeof(r->text)))) {
		snprintf(why, len, "its record says the daemon ran it but it is not a done job without a buffer");
		return ADOPT_FAIL;
	}
	if ((active || (st == JOB_DONE && !result_in_record)) && (!published || (bytes && !has_buffer))) {
		snprintf(why, len, "it was %s but its record says it was never published with its buffer",
			 st == JOB_DONE ? "done" : "running");
		return ADOPT_FAIL;
	}
	if (!published)
		return ADOPT_KEEP;
	/* The slot the workers saw must describe the same job. */
	if (s->id != r->id || s->kind != r->kind || s->nchunks != n || s->priority != r->priority ||
	    memcmp(&s->params, &r->params, sizeof(s->params)) ||
	    (has_buffer && (s->result_off != r->buffer_off || s->result_bytes != r->buffer_bytes))) {
		snprintf(why, len, "its slot describes another job (id %llu, kind %u, %u chunks)",
			 (unsigned long long)s->id, s->kind, s->nchunks);
		return ADOPT_FAIL;
	}
	uint32_t slot_state = atomic_load(&s->state);
	if (active && slot_state != PARD_SLOT_ACTIVE && slot_state != PARD_SLOT_SETTLED) {
		snprintf(why, len, "it was running but its slot is in state %u", slot_state);
		return ADOPT_FAIL;
	}
	for (uint32_t c = 0; c < n; c++) {
		uint32_t v = atomic_load(&s->chunk_state[c]);
		if (!chunk_word_valid(v, h->max_workers)) {
			snprintf(why, len, "chunk %u has an impossible state word 0x%08x", c, v);
			return ADOPT_FAIL;
		}
		if (st == JOB_DONE && v != PARD_CHUNK_DONE) {
			snprintf(why, len, "it was done but chunk %u is not (state word 0x%08x)", c, v);
			return ADOPT_FAIL;
		}
		if (st >= JOB_DONE && PARD_CHUNK_STATE(v) == PARD_CHUNK_CLAIMED) {
			snprintf(why, len, "it had ended but chunk %u is still claimed", c);
			return ADOPT_FAIL;
		}
	}
	return ADOPT_KEEP;
}

/* Whether process pid maps the file dev:ino (its /proc/PID/maps names device and inode). */
static bool maps_file(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long inode;
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3 &&
		    inode == (unsigned long long)ino && makedev(maj, min) == dev)
			found = true;
		/* A line longer than the buffer: skip its rest. */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
	return found;
}

unsigned adopt_retire_workers(struct pard_segment *seg)
{
	struct pard_segment_header *h = seg->hdr;
	struct stat st;
	unsigned found = 0;
	uint32_t rows = atomic_load(&h->worker_rows);
	if (rows > h->max_workers)
		rows = h->max_workers;
	if (fstat(seg->fd, &st) == 0) {
		/* Ten seconds at most: a process that cannot die (stuck in the kernel) is reported. */
		for (int round = 0; round < 1000; round++) {
			unsigned alive = 0;
			for (uint32_t w = 0; w < rows; w++) {
				pid_t pid = atomic_load(&pard_segment_worker(seg, w)->pid);
				/* Only a process mapping this very file is one of the old workers: a pid
				 * alone may have been reused by anything. */
				if (pid <= 0 || pid == getpid() || !maps_file(pid, st.st_dev, st.st_ino))
					continue;
				if (round == 0)
					found++;
				alive++;
				kill(pid, SIGKILL);
			}
			if (!alive)
				break;
			if (round == 999)
				log_error("%u workers of the previous pard still map segment %s after 10 s", alive,
					  seg->name);
			nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
		}
	}
	for (uint32_t w = 0; w < h->max_workers; w++) {
		struct pard_worker_row *row = pard_segment_worker(seg, w);
		atomic_store(&row->pid, 0);
		atomic_store(&row->state, PARD_WORKER_EMPTY);
		atomic_store(&row->exit_requested, 0);
	}
	atomic_store(&h->worker_rows, 0);
	atomic_store(&h->recycling, 0);
	atomic_store(&h->shutdown, 0);
	if (found)
		log_notice("%u workers of the previous pard were still alive; killed", found);
	return found;
}
