/* cli.c: messages, number parsing, outputs, progress and summaries. */
#include "cli.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLI_STR_(x) #x
#define CLI_STR(x) CLI_STR_(x)

static const char *prog = "sluice";
static int quiet;

/* libgomp reads its settings once, before main, and by default a thread
 * that waits at a barrier spins for a while: on a machine busy with other
 * work the spinning thread takes the core its partner needs, and a tool
 * with many short parallel regions (decoding) ran 8-20 times slower in
 * bench/sample.sh.  Where the user chose neither OMP_WAIT_POLICY nor
 * GOMP_SPINCOUNT, run again at once with the passive policy (waiting
 * threads sleep); if that cannot be done, go on as we are. */
static void omp_passive(void)
{
	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
		return;
	FILE *f = fopen("/proc/self/cmdline", "rb");
	if (!f)
		return;
	static char cmd[1 << 16];
	size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
	int whole = feof(f) && !ferror(f);
	fclose(f);
	if (!whole || !n)
		return;
	cmd[n] = 0;
	static char *argv[4096];
	int argc = 0;
	for (size_t i = 0; i < n && argc < 4095; i += strlen(cmd + i) + 1)
		argv[argc++] = cmd + i;
	if (argc == 4095)
		return;
	argv[argc] = NULL;
	if (setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
		execv("/proc/self/exe", argv);
	unsetenv("OMP_WAIT_POLICY");
}

static void out_of_memory(void)
{
	fflush(stdout);
	fprintf(stderr, "%s: out of memory\n", prog);
	exit(EXIT_DATA);
}

static void library_warning(const char *msg)
{
	cli_warn(NULL, "warning: %s", msg);
}

void cli_init(const char *name)
{
	omp_passive();
	prog = name;
	util_set_oom(out_of_memory);
	util_set_log(library_warning);
	/* A closed pipe downstream ends us quietly, as it does cat(1). */
	signal(SIGPIPE, SIG_DFL);
}

const char *cli_prog(void)
{
	return prog;
}

const char *cli_name(const char *path, int output)
{
	if (!path || strcmp(path, "-") == 0)
		return output ? "(stdout)" : "(stdin)";
	return path;
}

/* "prog: file: message" on stderr, after whatever stdout holds. */
__attribute__((format(printf, 2, 0))) static void message(const char *file, const char *fmt, va_list ap)
{
	fflush(stdout);
	if (file)
		fprintf(stderr, "%s: %s: ", prog, file);
	else
		fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message(file, fmt, ap);
	va_end(ap);
}

void cli_warn(const char *file, const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	message(file, fmt, ap);
	va_end(ap);
}

int cli_try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	return EXIT_USAGE;
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return cli_try_help();
}

void cli_version(void)
{
	printf("%s (sluice) %s\n", prog, SLUICE_VERSION);
}

int cli_close_stdout(void)
{
	/* A write that failed while printing (text longer than the buffer)
	 * leaves the error flag; the close may then succeed. */
	int failed = ferror(stdout);
	errno = 0;
	if (fclose(stdout) != 0 || failed) {
		cli_error("(stdout)", "write error: %s", strerror(errno ? errno : EIO));
		return EXIT_DATA;
	}
	return EXIT_OK;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, int suffixes, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	uint64_t mul = 1;
	if (suffixes && *end) {
		switch (*end) {
		case 'k': case 'K': mul = 1ull << 10; break;
		case 'm': case 'M': mul = 1ull << 20; break;
		case 'g': case 'G': mul = 1ull << 30; break;
		default: return -1;
		}
		end++;
	}
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	v *= mul;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_bad_value(const struct option *opts, int c, const char *arg, const char *expected)
{
	const char *name = NULL;
	for (; opts && opts->name && !name; opts++)
		if (opts->val == c)
			name = opts->name;
	char flag[3] = { (char)c, '\0' };
	return cli_usage_error("invalid value for -%s%s: '%s'%s%s%s", name ? "-" : "", name ? name : flag, arg,
			       expected ? " (expected " : "", expected ? expected : "", expected ? ")" : "");
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	if (argc > 0)
		argv[0] = (char *)prog;
	return getopt_long(argc, argv, shortopts, opts, NULL);
}

int cli_common_option(cli_common *co, int c, const char *arg, const struct option *opts, void (*usage)(FILE *))
{
	switch (c) {
	case 'o': co->output = arg; return 0;
	case 'j':
		if (cli_parse_int(arg, 1, CLI_THREADS_MAX, &co->threads) < 0)
			return cli_bad_value(opts, c, arg, "1 to " CLI_STR(CLI_THREADS_MAX));
		return 0;
	case 'J': co->jsonl = 1; return 0;
	case 'f': co->force = 1; return 0;
	case CLI_OPT_QUIET: co->quiet = quiet = 1; co->progress = -1; return 0;
	case CLI_OPT_PROGRESS: co->progress = 1; return 0;
	case CLI_OPT_STATS: co->stats = arg; return 0;
	case CLI_OPT_INPUT_FORMAT:
		if (input_format_parse(arg, &co->in_fmt) < 0)
			return cli_bad_value(opts, c, arg, "auto, records, jsonl or text");
		return 0;
	case 'h': usage(stdout); exit(cli_close_stdout());
	case 'V': cli_version(); exit(cli_close_stdout());
	case '?': return cli_try_help();
	default: return cli_usage_error("option %d not handled", c);
	}
}

int cli_parse_double(const char *s, double min, double max, double *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= min && v <= max))
		return -1;
	*out = v;
	return 0;
}

int cli_parse_int(const char *s, int min, int max, int *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

int cli_open_input(const char *path)
{
	if (!path || strcmp(path, "-") == 0)
		return STDIN_FILENO;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		cli_error(path, "cannot open: %s", strerror(errno));
	return fd;
}

input *cli_input_open(const char *path, input_format fmt)
{
	input *in = input_open(path, fmt);
	if (!in)
		cli_error(path, "cannot open: %s", strerror(errno));
	return in;
}

int cli_open_output(const char *path)
{
	if (!path || strcmp(path, "-") == 0)
		return STDOUT_FILENO;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		cli_error(path, "cannot create: %s", strerror(errno));
	return fd;
}

int cli_refuse_tty(int fd, int force)
{
	if (!force && isatty(fd)) {
		cli_error(NULL, "refusing to write binary records to a terminal (use -o FILE, a pipe, or -f)");
		return -1;
	}
	return 0;
}

void cli_progress_init(cli_progress *p, int mode)
{
	memset(p, 0, sizeof(*p));
	p->on = mode > 0 || (mode == 0 && isatty(STDERR_FILENO));
	p->start = p->last = util_now();
}

void cli_progress_update(cli_progress *p, uint64_t records, uint64_t bytes)
{
	/* Read the clock once every 4096 calls; redraw at most 4 times a second. */
	if (!p->on || (++p->calls & 4095))
		return;
	double now = util_now();
	if (now - p->last < 0.25)
		return;
	p->last = now;
	double secs = now - p->start;
	fprintf(stderr, "\r%s: %llu records, %.1f MB, %.1f MB/s   ", prog, (unsigned long long)records,
		(double)bytes / 1e6, secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
}

void cli_progress_hook(void *p, uint64_t n)
{
	cli_progress_update(p, n, 0);
}

void cli_progress_done(cli_progress *p)
{
	if (p->on && p->last > p->start)
		fputs("\r\033[K", stderr);
}

struct cli_counts {
	char **names;
	uint64_t *vals;
	size_t n, cap;
};

cli_counts *cli_counts_new(void)
{
	return xcalloc(1, sizeof(cli_counts));
}

void cli_counts_free(cli_counts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	free(c->vals);
	free(c);
}

void cli_counts_add(cli_counts *c, const char *name, uint64_t n)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0) {
			c->vals[i] += n;
			return;
		}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 8;
		c->names = xrealloc(c->names, c->cap * sizeof(*c->names));
		c->vals = xrealloc(c->vals, c->cap * sizeof(*c->vals));
	}
	c->names[c->n] = xstrdup(name);
	c->vals[c->n++] = n;
}

void cli_counts_hook(void *c, const char *name, uint64_t n)
{
	cli_counts_add(c, name, n);
}

uint64_t cli_counts_get(const cli_counts *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return c->vals[i];
	return 0;
}

void cli_counts_print(const cli_counts *c, FILE *f)
{
	fprintf(f, "%s:", prog);
	for (size_t i = 0; i < c->n; i++)
		fprintf(f, "%s %s %llu", i ? "," : "", c->names[i], (unsigned long long)c->vals[i]);
	fputc('\n', f);
}

int cli_counts_write_json(const cli_counts *c, const char *path)
{
	int to_stdout = strcmp(path, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(path, "w");
	if (!f) {
		cli_error(path, "cannot create: %s", strerror(errno));
		return -1;
	}
	/* Count names are the tools' own identifiers: no escaping needed. */
	fputc('{', f);
	for (size_t i = 0; i < c->n; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", c->names[i], (unsigned long long)c->vals[i]);
	fputs("}\n", f);
	if (to_stdout ? fflush(f) != 0 : fclose(f) != 0) {
		cli_error(path, "write error: %s", strerror(errno));
		return -1;
	}
	return 0;
}

char **cli_inputs(int argc, char **argv, int optind, int *n)
{
	static char *dash[] = { "-", NULL };
	if (optind >= argc) {
		*n = 1;
		return dash;
	}
	*n = argc - optind;
	return argv + optind;
}
