/* SPDX-License-Identifier: MIT */
/* The journal file: a header line naming the request, then one record per finished chunk,
 * "chunk C word W bytes N\n" followed by the chunk's N result bytes. Append-only, so a crash can
 * only tear the last record. */
#include "journal.h"

#include "pard/protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOURNAL_HEADER "pard-mpi journal 1 "

/* Reads one line (newline included) into line. Returns its length, 0 at a clean end of file,
 * or -1 for a line cut short or too long. */
static int read_line(FILE *f, char *line, size_t len)
{
	if (!fgets(line, (int)len, f))
		return 0;
	size_t n = strlen(line);
	return n && line[n - 1] == '\n' ? (int)n : -1;
}

int journal_open(struct journal *j, const char *path, const char *request, const struct pard_kernel *k,
		 const union pard_params *p, bool *done, uint64_t *words, void *buf, char *err, size_t errlen)
{
	j->path = path;
	j->f = fopen(path, "a+b");
	if (!j->f) {
		int e = errno;
		snprintf(err, errlen, "cannot open the journal %s: %s", path, strerror(e));
		return -e;
	}
	rewind(j->f);
	char want[PARD_MAX_LINE + 64], line[PARD_MAX_LINE + 64];
	snprintf(want, sizeof(want), "%s%s\n", JOURNAL_HEADER, request);
	int n = read_line(j->f, line, sizeof(line));
	long good = 0; /* where the last whole record ends */
	int count = 0;
	if (n > 0 && strcmp(line, want) != 0) {
		const char *shown =
			strncmp(line, JOURNAL_HEADER, strlen(JOURNAL_HEADER)) ? line : line + strlen(JOURNAL_HEADER);
		snprintf(err, errlen, "%s is the journal of another request (%.*s); give this run its own journal",
			 path, (int)strcspn(shown, "\n"), shown);
		journal_close(j);
		return -EINVAL;
	}
	if (n > 0) {
		good = ftell(j->f);
		uint32_t nchunks = k->chunk_count(p);
		for (;;) {
			unsigned long long c, w, len;
			char tail;
			n = read_line(j->f, line, sizeof(line));
			if (n <= 0)
				break;
			if (sscanf(line, "chunk %llu word %llu bytes %llu%c", &c, &w, &len, &tail) != 4 ||
			    tail != '\n' || c >= nchunks) {
				snprintf(err, errlen, "%s is damaged at byte %ld: not a record of this job", path,
					 good);
				journal_close(j);
				return -EINVAL;
			}
			uint64_t off = 0, want_len = 0;
			if (k->chunk_span && buf)
				k->chunk_span(p, (uint32_t)c, &off, &want_len);
			if (len != want_len) {
				snprintf(err, errlen,
					 "%s is damaged at byte %ld: chunk %llu has %llu bytes, not %" PRIu64, path,
					 good, c, len, want_len);
				journal_close(j);
				return -EINVAL;
			}
			if (len && fread((char *)buf + off, 1, len, j->f) != len)
				break; /* torn: its bytes never made it */
			if (!done[c])
				count++;
			done[c] = true;
			words[c] = w;
			good = ftell(j->f);
		}
	}
	/* Cut what follows the last whole record (a torn record, or a header never finished), so the
	 * records appended next follow a whole one. */
	fflush(j->f);
	if (ftruncate(fileno(j->f), good) < 0 || fseek(j->f, 0, SEEK_END) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot repair the journal %s: %s", path, strerror(e));
		journal_close(j);
		return -e;
	}
	if (good == 0 && (fputs(want, j->f) == EOF || fflush(j->f) == EOF || fdatasync(fileno(j->f)) < 0)) {
		int e = errno;
		snprintf(err, errlen, "cannot write the journal %s: %s", path, strerror(e));
		journal_close(j);
		return -e;
	}
	return count;
}

int journal_request(const char *path, char *request, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		if (e == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot open the journal %s: %s", path, strerror(e));
		return -e;
	}
	char line[PARD_MAX_LINE + 64];
	int n = read_line(f, line, sizeof(line));
	fclose(f);
	if (n <= 0)
		return 0;
	if (strncmp(line, JOURNAL_HEADER, strlen(JOURNAL_HEADER)) != 0) {
		snprintf(err, errlen, "%s is not a pard-mpi journal", path);
		return -EINVAL;
	}
	line[n - 1] = '\0';
	snprintf(request, len, "%s", line + strlen(JOURNAL_HEADER));
	return 1;
}

int journal_record(struct journal *j, uint32_t chunk, uint64_t word, const void *data, uint64_t len)
{
	if (fprintf(j->f, "chunk %" PRIu32 " word %" PRIu64 " bytes %" PRIu64 "\n", chunk, word, len) < 0 ||
	    (len && fwrite(data, 1, len, j->f) != len) || fflush(j->f) == EOF || fdatasync(fileno(j->f)) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

void journal_close(struct journal *j)
{
	if (j->f)
		fclose(j->f);
	j->f = NULL;
}
