/* SPDX-License-Identifier: MIT */
/* pard-mpi: runs one pard job across the ranks of an MPI job (mpirun, or Slurm's srun) with the
 * same kernels, chunk plan and output as pard, so the result is the one pard gives, bit for bit.
 * One rank per core, no workers forked: MPI's own model. Rank 0 resolves the request, collects
 * each finished chunk (and the journal), merges and prints. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "image.h"
#include "journal.h"
#include "output.h"
#include "pard/parse.h"
#include "plan.h"
#include "request.h"

/* Exit codes, as parctl's where they mean the same (pard-mpi(1)). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,  /* the job failed: a rank died, the journal or the image could not be written */
	EXIT_USAGE = 2,   /* bad command line, or a launch the MPI library did not join (wrong --mpi=) */
	EXIT_REFUSED = 4, /* the request is not valid or is over a cap */
};

enum { TAG_DONE = 1, TAG_BAND = 2 };

struct run {
	struct mpi_args args;
	int rank, size;
	const struct pard_kernel *k;
	union pard_params params;
	char request[REQUEST_MAX];
	uint32_t nchunks;
	bool done[PARD_MAX_CHUNKS]; /* rank 0: finished (journal, own, received) */
	uint64_t words[PARD_MAX_CHUNKS];
	int owner[PARD_MAX_CHUNKS];
	uint64_t sent[PARD_MAX_CHUNKS][2]; /* a rank's {chunk, word} messages, alive until sent */
	/* A rank's sends in flight, their statuses (a real array: MPICH's MPI_Testall is declared to
	 * write there, and MPI_STATUSES_IGNORE trips gcc's bounds check) and the band datatypes. */
	MPI_Request reqs[2 * PARD_MAX_CHUNKS];
	MPI_Status statuses[2 * PARD_MAX_CHUNKS];
	MPI_Datatype types[PARD_MAX_CHUNKS];
	void *buf; /* the whole result buffer (each rank touches its bands) */
	uint64_t buf_bytes;
	struct journal journal;
	double t0, init_seconds;
};

static void say(const struct mpi_args *a, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prints a problem as parctl does: "pard-mpi: MESSAGE" on stderr, or with --json one
 * {"error": CODE, "message": MESSAGE} object on stdout. */
static void say(const struct mpi_args *a, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (a && a->json) {
		fputs("{\"error\": ", stdout);
		output_json_value(stdout, code);
		fputs(", \"message\": ", stdout);
		output_json_value(stdout, msg);
		fputs("}\n", stdout);
		fflush(stdout);
	} else {
		fprintf(stderr, "pard-mpi: %s\n", msg);
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	char names[256];
	pard_kernel_names(names, sizeof(names), ", ");
	fprintf(f,
		"usage: mpirun -n N pard-mpi [OPTIONS] KIND ARGS... [--NAME VALUE]...\n"
		"       srun --mpi=pmix pard-mpi [OPTIONS] KIND ARGS...\n"
		"       pard-mpi --plan [-n N] KIND ARGS...\n"
		"Runs one pard job over the ranks of an MPI job; the result is the one pard gives.\n"
		"Kinds: %s (parctl help submit lists their options).\n"
		"Options:\n"
		"  --json            the result (or an error) as one JSON object\n"
		"  -o, --output FILE write an image result to FILE (- for stdout)\n"
		"  --format F        npy, png, pgm or raw (default: FILE's extension)\n"
		"  --colormap C      PNG colours: grey, fire, viridis\n"
		"  --journal FILE    record finished chunks; a rerun with FILE skips them\n"
		"  --timeout S       fail the job when it is unfinished after S seconds\n"
		"  --plan            print chunks, chunks per rank and idle ranks; run nothing\n"
		"  -n N              with --plan: ranks (default: $SLURM_NTASKS, else 1)\n",
		names);
}

/* pard's built-in caps, except that the trial cap grows with the ranks (each brings a core) and an
 * image may use half of rank 0's memory (it holds the whole image). */
static struct pard_limits mpi_limits(int ranks)
{
	struct pard_config c;
	config_defaults(&c);
	struct pard_limits lim = c.limits;
	lim.max_trials = lim.max_trials > UINT64_MAX / (uint64_t)ranks ? UINT64_MAX : lim.max_trials * (uint64_t)ranks;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t half = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 2 : UINT64_C(1) << 32;
	lim.max_pixels = half / sizeof(int32_t);
	lim.arena_size = half;
	return lim;
}

/* Prints key=value pairs (one line, "OK ..." stripped) the way parctl prints a reply. */
static int print_pairs(const struct mpi_args *a, FILE *f, const char *pairs)
{
	char line[PARD_MAX_LINE + 512];
	snprintf(line, sizeof(line), "OK %s", pairs);
	struct pard_reply r;
	if (pard_reply_parse(line, &r) < 0) {
		say(a, "internal", "cannot print the result: %s", pairs);
		return EXIT_FAILED;
	}
	output_pairs(f, a->json, &r);
	fflush(f);
	return EXIT_OK;
}

/* The ranks --plan assumes: -n, else the Slurm allocation's tasks, else 1. */
static int plan_ranks(const struct mpi_args *a)
{
	if (a->plan_ranks)
		return a->plan_ranks;
	uint64_t n;
	const char *env = getenv("SLURM_NTASKS");
	if (env && pard_parse_u64(env, 1, INT_MAX, &n) == 0)
		return (int)n;
	return 1;
}

static int show_plan(struct run *r)
{
	int ranks = plan_ranks(&r->args);
	struct pard_limits lim = mpi_limits(ranks);
	char err[512];
	int rc = request_resolve(&r->args, &lim, &r->params, r->request, sizeof(r->request), err, sizeof(err));
	if (rc < 0) {
		say(&r->args, rc == -ERANGE ? "toolarge" : "badarg", "%s", err);
		return EXIT_REFUSED;
	}
	uint32_t n = r->args.kernel->chunk_count(&r->params);
	int *owner = malloc(sizeof(int) * n);
	if (!owner) {
		say(&r->args, "nomem", "out of memory");
		return EXIT_FAILED;
	}
	plan_assign(n, ranks, NULL, owner);
	struct plan_summary s;
	plan_summarize(n, ranks, owner, &s);
	free(owner);
	char pairs[512];
	snprintf(pairs, sizeof(pairs),
		 "kind=%s chunks=%" PRIu32 " ranks=%d chunks_per_rank=%" PRIu32 "-%" PRIu32 " idle_ranks=%" PRIu32
		 " result_bytes=%" PRIu64,
		 r->args.kernel->name, n, ranks, s.min_per_rank, s.max_per_rank, s.idle_ranks,
		 r->args.kernel->result_bytes(&r->params));
	return print_pairs(&r->args, stdout, pairs);
}

/* The tasks of this Slurm step, or 0 when srun did not start this process. */
static long slurm_tasks(void)
{
	uint64_t n;
	const char *env = getenv("SLURM_STEP_NUM_TASKS");
	return env && pard_parse_u64(env, 1, INT_MAX, &n) == 0 ? (long)n : 0;
}

/* True when the MPI library is Open MPI (else MPICH or another): it decides which --mpi= srun needs. */
static bool open_mpi(void)
{
	char lib[MPI_MAX_LIBRARY_VERSION_STRING];
	int len;
	MPI_Get_library_version(lib, &len);
	return strstr(lib, "Open MPI") != NULL;
}

/* The Slurm traps: srun starts tasks that the MPI library cannot join into one job. Open MPI needs
 * srun --mpi=pmix (under pmi2 or none MPI_Init fails); MPICH needs --mpi=pmi2 (under pmix each
 * task becomes a silent singleton that runs the whole job alone and exits 0). Checked before
 * MPI_Init, from what the launcher put in the environment: mpirun's own variables, or those of
 * the PMI server srun started. Returns true after saying so (Slurm's task 0 only). */
static bool wrong_launch(const struct mpi_args *a, int size)
{
	long tasks = slurm_tasks();
	if (tasks <= 1 && size <= 0)
		return false;
	bool ompi = open_mpi();
	bool joined;
	if (size > 0) /* after MPI_Init: the world must hold the step's tasks */
		joined = tasks == 0 || tasks == size || (getenv("OMPI_COMM_WORLD_SIZE") && size > 1);
	else if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("HYDRA_CONTROL_FD") || getenv("PMI_SIZE"))
		joined = !ompi || getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK"); /* mpirun, mpiexec */
	else
		joined = ompi ? getenv("PMIX_RANK") != NULL : getenv("PMI_FD") || getenv("PMI_RANK");
	if (joined)
		return false;
	const char *procid = getenv("SLURM_PROCID");
	if (!procid || !strcmp(procid, "0"))
		say(a, "launch",
		    "Slurm started %ld tasks that %s cannot join into one MPI job%s: each would run the whole "
		    "job alone. Launch with srun --mpi=%s (srun --mpi=list shows what this Slurm offers)",
		    tasks, ompi ? "Open MPI" : "this MPI library", size > 0 ? " (it sees a world of 1)" : "",
		    ompi ? "pmix" : "pmi2");
	return true;
}

static void timed_out(int sig)
{
	(void)sig;
	static const char msg[] = "pard-mpi: the job is unfinished after --timeout seconds\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	/* Exiting without MPI_Finalize makes the launcher end every rank. */
	_exit(EXIT_FAILED);
}

/* A datatype of len bytes: 1 MiB blocks plus the rest, so a band over 2 GiB never needs an int
 * count above INT_MAX. */
static MPI_Datatype band_type(uint64_t len)
{
	MPI_Datatype block, band;
	MPI_Type_contiguous(1 << 20, MPI_BYTE, &block);
	int counts[2] = {(int)(len >> 20), (int)(len & ((1u << 20) - 1))};
	MPI_Aint displs[2] = {0, (MPI_Aint)(len >> 20 << 20)};
	MPI_Datatype types[2] = {block, MPI_BYTE};
	MPI_Type_create_struct(2, counts, displs, types, &band);
	MPI_Type_commit(&band);
	MPI_Type_free(&block);
	return band;
}

static void chunk_span(const struct run *r, uint32_t c, uint64_t *off, uint64_t *len)
{
	*off = *len = 0;
	if (r->buf && r->k->chunk_span)
		r->k->chunk_span(&r->params, c, off, len);
}

/* Rank 0: a chunk is finished (here or received): journal it. */
static int finish(struct run *r, uint32_t c)
{
	r->done[c] = true;
	if (!r->args.journal)
		return 0;
	uint64_t off, len;
	chunk_span(r, c, &off, &len);
	int rc = journal_record(&r->journal, c, r->words[c], (char *)r->buf + off, len);
	if (rc < 0)
		say(&r->args, "journal", "cannot write the journal %s: %s", r->args.journal, strerror(-rc));
	return rc;
}

/* Rank 0: receives finished chunks from the other ranks; with wait, until *left is 0, sleeping
 * between polls (a rank blocked in MPI_Recv would busy-poll a core away from the ranks working). */
static int collect(struct run *r, uint32_t *left, bool wait)
{
	while (*left > 0) {
		int ready = 0;
		MPI_Status st;
		MPI_Iprobe(MPI_ANY_SOURCE, TAG_DONE, MPI_COMM_WORLD, &ready, &st);
		if (!ready) {
			if (!wait)
				return 0;
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		uint64_t msg[2];
		MPI_Recv(msg, 2, MPI_UINT64_T, st.MPI_SOURCE, TAG_DONE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		if (!plan_accept(r->nchunks, r->owner, r->done, st.MPI_SOURCE, msg[0])) {
			say(&r->args, "internal", "rank %d reported chunk %" PRIu64 " it does not own", st.MPI_SOURCE,
			    msg[0]);
			return -EPROTO;
		}
		uint32_t c = (uint32_t)msg[0];
		r->words[c] = msg[1];
		uint64_t off, len;
		chunk_span(r, c, &off, &len);
		if (len) {
			/* Straight into the final image at the band's offset. */
			MPI_Datatype band = band_type(len);
			MPI_Recv((char *)r->buf + off, 1, band, st.MPI_SOURCE, TAG_BAND, MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
			MPI_Type_free(&band);
		}
		(*left)--;
		if (finish(r, c) < 0)
			return -EIO;
	}
	return 0;
}

/* Runs this rank's chunks; rank 0 also collects everyone else's. Returns 0 or -errno. */
static int run_chunks(struct run *r)
{
	uint32_t left = 0; /* rank 0: chunks other ranks still owe */
	for (uint32_t c = 0; c < r->nchunks; c++)
		left += r->owner[c] != PLAN_NOBODY && r->owner[c] != 0;
	MPI_Request *reqs = r->reqs;
	MPI_Datatype *types = r->types;
	int nreqs = 0, ntypes = 0;
	for (uint32_t c = 0; c < r->nchunks; c++) {
		if (r->owner[c] != r->rank)
			continue;
		r->k->run_chunk(&r->params, c, r->buf, &r->words[c], NULL);
		if (r->rank == 0) {
			if (finish(r, c) < 0 || collect(r, &left, false) < 0)
				return -EIO;
			continue;
		}
		r->sent[c][0] = c;
		r->sent[c][1] = r->words[c];
		MPI_Isend(r->sent[c], 2, MPI_UINT64_T, 0, TAG_DONE, MPI_COMM_WORLD, &reqs[nreqs++]);
		uint64_t off, len;
		chunk_span(r, c, &off, &len);
		if (len) {
			types[ntypes] = band_type(len);
			MPI_Isend((char *)r->buf + off, 1, types[ntypes++], 0, TAG_BAND, MPI_COMM_WORLD,
				  &reqs[nreqs++]);
		}
		/* Lets the sends progress while the next chunk runs. */
		int all;
		MPI_Testall(nreqs, reqs, &all, r->statuses);
	}
	if (r->rank == 0)
		return collect(r, &left, true);
	for (int all = 0;;) {
		MPI_Testall(nreqs, reqs, &all, r->statuses);
		if (all)
			break;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < ntypes; i++)
		MPI_Type_free(&types[i]);
	return 0;
}

/* Rank 0: resolves the request (adopting its journal's, for a rerun without --seed), reads the
 * journal. Returns an exit code. */
static int prepare(struct run *r)
{
	struct pard_limits lim = mpi_limits(r->size);
	char err[1024];
	int rc = request_resolve(&r->args, &lim, &r->params, r->request, sizeof(r->request), err, sizeof(err));
	if (rc < 0) {
		say(&r->args, rc == -ERANGE ? "toolarge" : "badarg", "%s", err);
		return EXIT_REFUSED;
	}
	if (!r->args.journal)
		return EXIT_OK;
	char old[REQUEST_MAX];
	rc = journal_request(r->args.journal, old, sizeof(old), err, sizeof(err));
	if (rc < 0) {
		say(&r->args, "journal", "%s", err);
		return EXIT_FAILED;
	}
	if (rc == 1 && strcmp(old, r->request) != 0 && request_extends(&r->args, old)) {
		const struct pard_kernel *k;
		if (request_parse(old, &lim, &k, &r->params, err, sizeof(err)) < 0) {
			say(&r->args, "journal", "%s: %s", r->args.journal, err);
			return EXIT_FAILED;
		}
		snprintf(r->request, sizeof(r->request), "%s", old);
	}
	return EXIT_OK;
}

static int open_journal(struct run *r)
{
	char err[1024];
	int n = journal_open(&r->journal, r->args.journal, r->request, r->k, &r->params, r->done, r->words, r->buf, err,
			     sizeof(err));
	if (n < 0) {
		say(&r->args, "journal", "%s", err);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* Rank 0: the result line and the image. Returns an exit code. */
static int report(struct run *r, int nodes)
{
	char result[PARD_MAX_LINE], pairs[PARD_MAX_LINE + 256];
	int n = r->k->format_result(&r->params, r->words, r->nchunks, result, sizeof(result));
	if (n < 0) {
		say(&r->args, "internal", "the result does not fit a line");
		return EXIT_FAILED;
	}
	snprintf(pairs, sizeof(pairs), "kind=%s state=done %s ranks=%d nodes=%d elapsed=%.6f mpi_init=%.6f", r->k->name,
		 result, r->size, nodes, now() - r->t0, r->init_seconds);
	const struct mpi_args *a = &r->args;
	if (r->buf && a->output) {
		char line[PARD_MAX_LINE + 512];
		snprintf(line, sizeof(line), "OK %s", pairs);
		struct pard_reply rep;
		uint64_t w = 0, h = 0, it = 0;
		enum image_format fmt;
		if (pard_reply_parse(line, &rep) < 0 ||
		    pard_parse_u64(pard_reply_get_or(&rep, "width", ""), 1, UINT32_MAX, &w) < 0 ||
		    pard_parse_u64(pard_reply_get_or(&rep, "height", ""), 1, UINT32_MAX, &h) < 0 ||
		    pard_parse_u64(pard_reply_get_or(&rep, "iterations", "0"), 0, INT32_MAX, &it) < 0 ||
		    w * h * sizeof(int32_t) != r->buf_bytes) {
			say(a, "internal", "the %s result is not an int32 image", r->k->name);
			return EXIT_FAILED;
		}
		image_format_pick(a->format, a->output, &fmt); /* checked when the options were read */
		char err[256] = "";
		int wr = image_save(a->output, fmt, r->buf, (uint32_t)w, (uint32_t)h, (int32_t)it, a->colormap, err,
				    sizeof(err));
		if (wr < 0) {
			say(a, "output", "cannot write %s: %s", a->output, err[0] ? err : strerror(-wr));
			return EXIT_FAILED;
		}
	}
	/* With the image on stdout (-o -), the result's text goes to stderr. */
	return print_pairs(a, a->output && !strcmp(a->output, "-") ? stderr : stdout, pairs);
}

/* Every rank: everything after MPI_Init. Returns an exit code; rank 0 has printed why. */
static int run_job(struct run *r)
{
	int status = EXIT_OK;
	if (wrong_launch(&r->args, r->size))
		return EXIT_USAGE;
	if (r->rank == 0)
		status = prepare(r);
	/* Rank 0's word: the status, then the canonical request every rank parses. */
	MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
	if (status != EXIT_OK)
		return status;
	MPI_Bcast(r->request, sizeof(r->request), MPI_CHAR, 0, MPI_COMM_WORLD);
	char err[1024];
	int rc = request_parse(r->request, NULL, &r->k, &r->params, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "pard-mpi: rank %d: %s\n", r->rank, err);
		MPI_Abort(MPI_COMM_WORLD, EXIT_FAILED);
	}
	r->nchunks = r->k->chunk_count(&r->params);
	r->buf_bytes = r->k->result_bytes(&r->params);
	if (r->buf_bytes) {
		/* Untouched pages cost nothing: a rank other than 0 only faults in its own bands. */
		r->buf = calloc(1, r->buf_bytes);
		if (!r->buf) {
			fprintf(stderr, "pard-mpi: rank %d: out of memory for a %" PRIu64 "-byte result\n", r->rank,
				r->buf_bytes);
			MPI_Abort(MPI_COMM_WORLD, EXIT_FAILED);
		}
	}
	if (r->rank == 0 && r->args.journal)
		status = open_journal(r);
	MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
	if (status != EXIT_OK)
		return status;
	/* Chunks the journal holds are nobody's: every rank plans from the same done[]. */
	MPI_Bcast(r->done, (int)r->nchunks, MPI_C_BOOL, 0, MPI_COMM_WORLD);
	plan_assign(r->nchunks, r->size, r->done, r->owner);

	if (run_chunks(r) < 0)
		MPI_Abort(MPI_COMM_WORLD, EXIT_FAILED);

	MPI_Comm node;
	int node_rank, leaders = 0;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &node_rank);
	int leader = node_rank == 0;
	MPI_Reduce(&leader, &leaders, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Comm_free(&node);
	if (r->rank == 0)
		status = report(r, leaders);
	MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
	return status;
}

int main(int argc, char **argv)
{
	static struct run r;
	char err[1024];
	int rc = request_args(argc - 1, argv + 1, &r.args, err, sizeof(err));
	bool quiet = false;
	if (rc == 0 && r.args.help) {
		usage(stdout);
		return EXIT_OK;
	}
	if (rc == 0 && r.args.version) {
		char lib[MPI_MAX_LIBRARY_VERSION_STRING];
		int len;
		MPI_Get_library_version(lib, &len);
		/* The library's first line: "Open MPI v4.1.4, ...", "MPICH Version: 4.0.2". */
		printf("pard-mpi %s (%.*s)\n", PARD_VERSION, (int)strcspn(lib, "\n"), lib);
		return EXIT_OK;
	}
	enum image_format fmt;
	if (rc == 0 && (r.args.output || r.args.format) &&
	    image_format_pick(r.args.format, r.args.output ? r.args.output : "-", &fmt) < 0) {
		snprintf(err, sizeof(err), "cannot tell the image format of %s: use --format npy, png, pgm or raw",
			 r.args.format ? r.args.format : r.args.output);
		rc = -EINVAL;
	}
	if (rc == 0 && r.args.colormap && !image_colormap_valid(r.args.colormap)) {
		snprintf(err, sizeof(err), "unknown colormap %s (grey, fire, viridis)", r.args.colormap);
		rc = -EINVAL;
	}
	if (rc == 0 && r.args.plan)
		return show_plan(&r);
	/* Every rank reads the same command line, so all agree on a usage error; only one says it. */
	if (rc < 0) {
		const char *procid = getenv("SLURM_PROCID"), *ompi = getenv("OMPI_COMM_WORLD_RANK");
		quiet = (procid && strcmp(procid, "0")) || (ompi && strcmp(ompi, "0"));
		if (!quiet) {
			say(&r.args, "usage", "%s", err);
			if (!r.args.json)
				fprintf(stderr, "pard-mpi --help shows the usage\n");
		}
		return EXIT_USAGE;
	}

	if (wrong_launch(&r.args, 0))
		return EXIT_USAGE;
	double before = now();
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &r.size);
	r.t0 = now();
	r.init_seconds = r.t0 - before;
	if (r.args.timeout > 0 && r.rank == 0) { /* rank 0 ending ends the job */
		signal(SIGALRM, timed_out);
		struct itimerval it = {
			.it_value = {.tv_sec = (time_t)r.args.timeout,
				     .tv_usec =
					     (suseconds_t)((r.args.timeout - (double)(time_t)r.args.timeout) * 1e6)}};
		setitimer(ITIMER_REAL, &it, NULL);
	}
	int status = run_job(&r);
	if (r.journal.f)
		journal_close(&r.journal);
	free(r.buf);
	MPI_Finalize();
	return status;
}
