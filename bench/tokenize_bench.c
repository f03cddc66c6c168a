/* tokenize_bench: encoding throughput of the tokenizer library on the text
 * fields of a JSONL file, on 1..N threads, best of R runs.
 *
 *   tokenize_bench ENCODING FILE.jsonl THREADS [RUNS]
 *
 * Prints "ENCODING threads T: X MB/s (N tokens)".  Documents go to threads
 * round-robin; each thread has its own tok_state, as in sluice-tokenize. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "record.h"
#include "tokenizer.h"
#include "util.h"

struct docs {
	buf mem;
	size_t *off, *len, n, cap;
};

struct worker {
	const tok_vocab *v;
	const struct docs *d;
	int id, threads;
	size_t tokens;
};

static void *run(void *arg)
{
	struct worker *w = arg;
	tok_state *s = tok_state_new(w->v);
	char err[256];
	size_t replaced, n;
	w->tokens = 0;
	for (size_t i = (size_t)w->id; i < w->d->n; i += (size_t)w->threads) {
		if (tok_encode(s, w->d->mem.data + w->d->off[i], w->d->len[i], &replaced, err, sizeof(err)) < 0) {
			fprintf(stderr, "document %zu: %s\n", i, err);
			exit(1);
		}
		tok_ids(s, &n);
		w->tokens += n;
	}
	tok_state_free(s);
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: tokenize_bench ENCODING FILE.jsonl THREADS [RUNS]\n");
		return 2;
	}
	int threads = atoi(argv[3]), runs = argc > 4 ? atoi(argv[4]) : 3;
	char err[512];
	tok_vocab *v = tok_load(argv[1], NULL, err, sizeof(err));
	if (!v) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	FILE *f = fopen(argv[2], "r");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	struct docs d = { 0 };
	rec *r = rec_new();
	char *line = NULL;
	size_t cap = 0;
	ssize_t k;
	while ((k = getline(&line, &cap, f)) > 0) {
		if (json_parse_line(r, line, (size_t)k - (line[k - 1] == '\n'), err, sizeof(err)) < 0)
			continue;
		const rec_field *t = rec_get(r, "text");
		if (!t || t->type != REC_STR)
			continue;
		if (d.n == d.cap) {
			d.cap = d.cap ? 2 * d.cap : 1024;
			d.off = xrealloc(d.off, d.cap * sizeof(*d.off));
			d.len = xrealloc(d.len, d.cap * sizeof(*d.len));
		}
		d.off[d.n] = d.mem.len;
		d.len[d.n++] = t->len;
		buf_add(&d.mem, t->val, t->len);
	}
	free(line);
	fclose(f);
	rec_free(r);
	double best = 0;
	size_t tokens = 0;
	struct worker *w = xcalloc((size_t)threads, sizeof(*w));
	pthread_t *tid = xcalloc((size_t)threads, sizeof(*tid));
	for (int run_i = 0; run_i < runs; run_i++) {
		double t0 = now();
		for (int i = 0; i < threads; i++) {
			w[i] = (struct worker){ v, &d, i, threads, 0 };
			pthread_create(&tid[i], NULL, run, &w[i]);
		}
		tokens = 0;
		for (int i = 0; i < threads; i++) {
			pthread_join(tid[i], NULL);
			tokens += w[i].tokens;
		}
		double mbs = (double)d.mem.len / (now() - t0) / 1e6;
		if (mbs > best)
			best = mbs;
	}
	printf("%s threads %d: %.2f MB/s (%zu tokens, %zu bytes of text)\n", argv[1], threads, best, tokens,
	       d.mem.len);
	free(w);
	free(tid);
	buf_release(&d.mem);
	free(d.off);
	free(d.len);
	tok_free(v);
	return 0;
}
