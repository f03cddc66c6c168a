/* test_sample: generation with the key/value cache against full
 * recomputation, log-probabilities against the full pass, seeds, top-k,
 * stops, the sampler's log-probabilities against a direct computation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "sample.h"
#include "util.h"

static model_config cfg = { .n_layer = 2, .n_embd = 32, .n_head = 4, .n_ctx = 48, .n_vocab = 97 };
static const uint32_t prompts[3][5] = { { 1, 2, 3, 4, 5 }, { 9, 8 }, { 50, 60, 70, 80 } };
static const size_t plen[3] = { 5, 2, 4 };

static model *new_model(void)
{
	model *m = model_new(&cfg, &kern_cpu);
	model_init(m, 77);
	/* Larger weights: peaked distributions, so greedy choices are not
	 * near-ties that rounding could flip. */
	real *p = model_params(m);
	for (size_t i = 0; i < model_nparams(m); i++)
		p[i] *= 4;
	return m;
}

static void jobs_for(sample_job *j, int samples)
{
	memset(j, 0, sizeof(*j) * 3 * (size_t)samples);
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < samples; k++) {
			j[i * samples + k].prompt = prompts[i];
			j[i * samples + k].nprompt = plen[i];
			j[i * samples + k].group = (uint64_t)i;
			j[i * samples + k].index = (uint64_t)k;
		}
}

/* log p of each token of seq[from..n) by one full forward pass. */
static void full_logprobs(model *m, const uint32_t *seq, size_t n, size_t from, double *out)
{
	model_forward(m, seq, NULL, NULL, 1, (int)n - 1);
	const real *z = model_logits(m);
	int V = cfg.n_vocab;
	for (size_t t = from; t < n; t++) {
		const real *row = z + (t - 1) * (size_t)V;
		double mx = row[0], s = 0;
		for (int v = 1; v < V; v++)
			mx = row[v] > mx ? row[v] : mx;
		for (int v = 0; v < V; v++)
			s += exp(row[v] - mx);
		out[t - from] = row[seq[t]] - mx - log(s);
	}
}

static void test_greedy_equals_recomputation(void)
{
	model *m = new_model();
	sample_opts o = { .temperature = 0, .top_p = 1, .max_new = 30, .slots = 2 };
	sample_job j[3];
	jobs_for(j, 1);
	char err[256];
	CHECK(sample_run(m, &o, j, 3, err, sizeof(err)) == 0);
	double worst = 0;
	int same = 1;
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(j[i].nout, 30);
		uint32_t seq[64];
		memcpy(seq, prompts[i], plen[i] * sizeof(*seq));
		size_t n = plen[i];
		/* Recompute from scratch for every new token. */
		for (size_t g = 0; g < j[i].nout; g++) {
			model_forward(m, seq, NULL, NULL, 1, (int)n);
			const real *row = model_logits(m) + (n - 1) * (size_t)cfg.n_vocab;
			uint32_t arg = 0;
			for (int v = 1; v < cfg.n_vocab; v++)
				if (row[v] > row[arg])
					arg = (uint32_t)v;
			same &= arg == j[i].out[g];
			seq[n++] = j[i].out[g];
		}
		double lp[64];
		full_logprobs(m, seq, n, plen[i], lp);
		for (size_t g = 0; g < j[i].nout; g++)
			worst = fmax(worst, fabs(lp[g] - j[i].logprobs[g]));
		sample_job_release(&j[i]);
	}
	printf("# greedy with the cache = recomputation token for token: %s; log-probs vs full pass: max abs "
	       "difference %.2e (tolerance 1e-4)\n", same ? "yes" : "NO", worst);
	CHECK(same);
	CHECK(worst < 1e-4);
	model_free(m);
}

/* Batch invariance: 1, 16 and 64 slots, 1 and 2 threads, the same bits. */
static void test_batch_and_threads_invariant(void)
{
	enum { SAMPLES = 8, N = 3 * SAMPLES };
	model *m = new_model();
	sample_opts o = { .temperature = 1, .top_p = 1, .max_new = 20, .seed = 11 };
	static const int slots[] = { 1, 16, 64 };
	sample_job ref[N], j[N];
	char err[256];
	int same = 1;
	for (int run = 0; run < 6; run++) {
		kern_cpu_threads(1 + run % 2);
		o.slots = slots[run / 2];
		sample_job *out = run ? j : ref;
		jobs_for(out, SAMPLES);
		CHECK(sample_run(m, &o, out, N, err, sizeof(err)) == 0);
		if (!run)
			continue;
		for (int i = 0; i < N; i++) {
			same &= j[i].nout == ref[i].nout && !memcmp(j[i].out, ref[i].out, j[i].nout * sizeof(uint32_t)) &&
				!memcmp(j[i].logprobs, ref[i].logprobs, j[i].nout * sizeof(float));
			sample_job_release(&j[i]);
		}
	}
	printf("# slots 1, 16, 64 at 1 and 2 threads: the same completions and log-probs: %s\n", same ? "yes" : "NO");
	CHECK(same);
	for (int i = 0; i < N; i++)
		sample_job_release(&ref[i]);
	kern_cpu_threads(2);
	model_free(m);
}

/* A cache kept across sample_run calls (the weights packed once) gives
 * the completions fresh caches give, in every storage, whatever the
 * earlier calls left in its slots; one made for other options is refused. */
static void test_cache_across_calls(void)
{
	enum { SAMPLES = 4, N = 3 * SAMPLES };
	model *m = new_model();
	char err[256];
	int same = 1;
	for (int w = KERN_F32; w <= KERN_I8; w++) {
		sample_opts o = { .temperature = 1, .top_p = 1, .max_new = 12, .seed = 3, .slots = 5, .weights = w };
		sample_job ref[3][N], j[N];
		/* Three calls, each with a cache of its own; the second at another
		 * seed and length, so that the slots hold other keys after it (and
		 * the kept cache, sized by the first call's need, is made again
		 * with more positions). */
		for (int call = 0; call < 3; call++) {
			sample_opts oc = o;
			oc.seed = call == 1 ? 9 : 3;
			oc.max_new = call == 1 ? 30 : 12;
			jobs_for(ref[call], SAMPLES);
			CHECK(sample_run(m, &oc, ref[call], N, err, sizeof(err)) == 0);
		}
		o.cache = sample_cache_new(m, &o);
		for (int call = 0; call < 3; call++) {
			sample_opts oc = o;
			oc.seed = call == 1 ? 9 : 3;
			oc.max_new = call == 1 ? 30 : 12;
			jobs_for(j, SAMPLES);
			CHECK(sample_run(m, &oc, j, N, err, sizeof(err)) == 0);
			for (int i = 0; i < N; i++) {
				same &= j[i].nout == ref[call][i].nout &&
					!memcmp(j[i].out, ref[call][i].out, j[i].nout * sizeof(uint32_t)) &&
					!memcmp(j[i].logprobs, ref[call][i].logprobs, j[i].nout * sizeof(float)) &&
					!memcmp(j[i].sample_logprobs, ref[call][i].sample_logprobs, j[i].nout * sizeof(float));
				sample_job_release(&j[i]);
				sample_job_release(&ref[call][i]);
			}
		}
		/* Another slot count or storage than the cache's: refused. */
		sample_opts bad = o;
		bad.slots = 6;
		jobs_for(j, SAMPLES);
		CHECK(sample_run(m, &bad, j, N, err, sizeof(err)) < 0 && strstr(err, "cache"));
		bad = o;
		bad.weights = (w + 1) % 3;
		CHECK(sample_run(m, &bad, j, N, err, sizeof(err)) < 0 && strstr(err, "cache"));
		sample_cache_free(o.cache);
	}
	printf("# a cache kept across three calls = a fresh cache each call, f32, bf16, int8: %s\n", same ? "yes" : "NO");
	CHECK(same);
	model_free(m);
}

/* Each completion depends on (seed, group, index) only. */
static void test_seed_independent_of_batching(void)
{
	model *m = new_model();
	sample_opts o = { .temperature = 1, .top_p = 0.9, .top_k = 20, .max_new = 20, .seed = 5, .slots = 1 };
	sample_job a[6], b[6];
	jobs_for(a, 2);
	jobs_for(b, 2);
	char err[256];
	CHECK(sample_run(m, &o, a, 6, err, sizeof(err)) == 0);
	o.slots = 4;
	CHECK(sample_run(m, &o, b, 6, err, sizeof(err)) == 0);
	int same = 1, differ = 0;
	for (int i = 0; i < 6; i++) {
		same &= a[i].nout == b[i].nout && !memcmp(a[i].out, b[i].out, a[i].nout * sizeof(uint32_t)) &&
			!memcmp(a[i].logprobs, b[i].logprobs, a[i].nout * sizeof(float));
		if (i % 2)
			differ |= memcmp(a[i].out, a[i - 1].out, a[i].nout * sizeof(uint32_t)) != 0;
	}
	CHECK(same);   /* 1 slot and 4 slots: the same completions */
	CHECK(differ); /* two samples of a prompt differ */
	o.seed = 6;
	sample_job c[6];
	jobs_for(c, 2);
	CHECK(sample_run(m, &o, c, 6, err, sizeof(err)) == 0);
	CHECK(memcmp(c[0].out, a[0].out, 20 * sizeof(uint32_t)) != 0);
	for (int i = 0; i < 6; i++) {
		sample_job_release(&a[i]);
		sample_job_release(&b[i]);
		sample_job_release(&c[i]);
	}
	/* top-k 1 is greedy whatever the temperature. */
	sample_job g[3], k1[3];
	jobs_for(g, 1);
	jobs_for(k1, 1);
	sample_opts og = { .temperature = 0, .top_p = 1, .max_new = 15, .slots = 3 };
	sample_opts ok1 = { .temperature = 2, .top_k = 1, .top_p = 1, .max_new = 15, .slots = 3, .seed = 9 };
	CHECK(sample_run(m, &og, g, 3, err, sizeof(err)) == 0);
	CHECK(sample_run(m, &ok1, k1, 3, err, sizeof(err)) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(!memcmp(g[i].out, k1[i].out, 15 * sizeof(uint32_t)));
		sample_job_release(&g[i]);
		sample_job_release(&k1[i]);
	}
	model_free(m);
}

/* The sampler's log-prob of token tok after row z: log softmax(z / t) over
 * the kept set (top-k, then top-p of what top-k kept), computed directly. */
static double direct_sample_logprob(const real *z, uint32_t tok, double t, int top_k, double top_p)
{
	int V = cfg.n_vocab, order[128];
	double p[128], mx = z[0];
	for (int v = 1; v < V; v++)
		mx = z[v] > mx ? z[v] : mx;
	for (int v = 0; v < V; v++) {
		p[v] = exp((z[v] - mx) / t);
		order[v] = v;
	}
	/* Insertion sort by probability, ties to the lower id. */
	for (int i = 1; i < V; i++)
		for (int k = i; k > 0 && (p[order[k]] > p[order[k - 1]] ||
					  (p[order[k]] == p[order[k - 1]] && order[k] < order[k - 1])); k--) {
			int x = order[k];
			order[k] = order[k - 1];
			order[k - 1] = x;
		}
	int n = top_k > 0 && top_k < V ? top_k : V;
	double keep = 0;
	for (int i = 0; i < n; i++)
		keep += p[order[i]];
	if (top_p < 1) {
		double mass = 0;
		int m = 0;
		while (m < n && mass < top_p * keep)
			mass += p[order[m++]];
		n = m ? m : 1;
	}
	double sum = 0;
	int kept = 0;
	for (int i = 0; i < n; i++) {
		sum += p[order[i]];
		kept |= order[i] == (int)tok;
	}
	return kept ? log(p[tok] / sum) : -INFINITY;
}

/* The sampler's log-probs: the distribution each token was drawn from,
 * against a direct computation from the full pass's logits. */
static void test_sample_logprobs(void)
{
	model *m = new_model();
	/* The weights as they are: peaked distributions make every sampled
	 * token's probability near 1 at a low temperature, and the check weak. */
	real *p = model_params(m);
	for (size_t i = 0; i < model_nparams(m); i++)
		p[i] /= 4;
	static const struct {
		double t;
		int k;
		double p;
	} settings[] = { { 1, 0, 1 },      { 0.5, 0, 1 },  { 0.7, 5, 1 },    { 1.3, 0, 0.6 },
			 { 0.8, 10, 0.7 }, { 1.5, 0, 0.95 }, { 1, 50, 1 }, { 2, 90, 0.99 } };
	char err[256];
	for (size_t s = 0; s < sizeof(settings) / sizeof(*settings); s++) {
		sample_opts o = { .temperature = settings[s].t, .top_k = settings[s].k, .top_p = settings[s].p,
				  .max_new = 25, .seed = 3, .slots = 2 };
		sample_job j[6];
		jobs_for(j, 2);
		CHECK(sample_run(m, &o, j, 6, err, sizeof(err)) == 0);
		double worst = 0, vs_model = 0, spread = 0;
		for (int i = 0; i < 6; i++) {
			CHECK(j[i].sample_logprobs != NULL);
			if (!j[i].sample_logprobs)
				continue;
			uint32_t seq[64];
			size_t np = plen[i / 2], n = np + j[i].nout;
			memcpy(seq, prompts[i / 2], np * sizeof(*seq));
			memcpy(seq + np, j[i].out, j[i].nout * sizeof(*seq));
			model_forward(m, seq, NULL, NULL, 1, (int)n - 1);
			const real *z = model_logits(m);
			for (size_t g = 0; g < j[i].nout; g++) {
				double want = direct_sample_logprob(z + (np - 1 + g) * (size_t)cfg.n_vocab, seq[np + g],
								    o.temperature, o.top_k, o.top_p);
				worst = fmax(worst, fabs(want - j[i].sample_logprobs[g]));
				vs_model = fmax(vs_model, fabs((double)j[i].logprobs[g] - j[i].sample_logprobs[g]));
				spread = fmax(spread, -j[i].sample_logprobs[g]);
			}
			sample_job_release(&j[i]);
		}
		printf("# t %g, top-k %d, top-p %g: sampler's log-probs vs direct computation: max abs difference %.2e "
		       "(tolerance 1e-4); vs the model's own: %.2e; largest -logp %.2f\n",
		       o.temperature, o.top_k, o.top_p, worst, vs_model, spread);
		CHECK(worst < 1e-4);
		/* At temperature 1 without truncation they are the model's own;
		 * otherwise they differ, by more than the tolerance above. */
		if (s == 0)
			CHECK(vs_model < 1e-6);
		else
			CHECK(vs_model > 1e-2);
		CHECK(spread > 0.5); /* not every token a near-certainty: the check has teeth */
	}
	/* Top-k 1 draws the likeliest token with probability 1; greedy
	 * decoding keeps no sampler's log-probs. */
	sample_opts k1 = { .temperature = 2, .top_k = 1, .top_p = 1, .max_new = 10, .seed = 4, .slots = 3 };
	sample_opts g = { .temperature = 0, .top_p = 1, .max_new = 10, .slots = 3 };
	sample_job a[3], b[3];
	jobs_for(a, 1);
	jobs_for(b, 1);
	CHECK(sample_run(m, &k1, a, 3, err, sizeof(err)) == 0);
	CHECK(sample_run(m, &g, b, 3, err, sizeof(err)) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(a[i].nout, 10);
		for (size_t t = 0; t < a[i].nout && a[i].sample_logprobs; t++)
			CHECK(a[i].sample_logprobs[t] == 0);
		CHECK(a[i].sample_logprobs != NULL);
		CHECK(b[i].sample_logprobs == NULL);
		CHECK(b[i].logprobs != NULL);
		sample_job_release(&a[i]);
		sample_job_release(&b[i]);
	}
	model_free(m);
}

static void test_stops_and_limits(void)
{
	model *m = new_model();
	sample_job j[3];
	jobs_for(j, 1);
	char err[256];
	/* Stop at the first token greedy decoding of prompt 0 produces. */
	sample_opts o = { .temperature = 0, .top_p = 1, .max_new = 10, .slots = 2 };
	CHECK(sample_run(m, &o, j, 1, err, sizeof(err)) == 0);
	uint32_t second = j[0].out[1];
	sample_job_release(&j[0]);
	o.stop_tokens = &second;
	o.n_stop_tokens = 1;
	CHECK(sample_run(m, &o, j, 1, err, sizeof(err)) == 0);
	CHECK_EQ_INT(j[0].nout, 2);
	CHECK_EQ_INT(j[0].finish, SAMPLE_STOP_TOKEN);
	sample_job_release(&j[0]);
	/* The context bounds the completion: 48 positions, prompt of 5. */
	sample_opts l = { .temperature = 0, .top_p = 1, .max_new = 1000, .slots = 2 };
	CHECK(sample_run(m, &l, j, 1, err, sizeof(err)) == 0);
	CHECK_EQ_INT(j[0].nout, 43);
	CHECK_EQ_INT(j[0].finish, SAMPLE_LENGTH);
	sample_job_release(&j[0]);
	sample_job bad = { .prompt = prompts[0], .nprompt = 0 };
	CHECK(sample_run(m, &l, &bad, 1, err, sizeof(err)) < 0 && strstr(err, "prompt of 0 tokens"));
	model_free(m);
}

/* The draw at temperature 1 over a vocabulary of several blocks of the
 * sampler's walk: the first tokens of 20,000 samples from one prompt
 * against the full pass's probabilities, by Pearson's chi-square (999
 * degrees of freedom: mean 999, standard deviation 45; a draw off by a
 * block or a weight gives thousands).  The seed is fixed, so the check is
 * deterministic. */
static void test_draw_frequencies(void)
{
	model_config c = cfg;
	c.n_vocab = 1000;
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 5);
	enum { N = 20000 };
	static const uint32_t prompt[1] = { 7 };
	sample_job *j = xcalloc(N, sizeof(*j));
	for (int i = 0; i < N; i++)
		j[i] = (sample_job){ .prompt = prompt, .nprompt = 1, .index = (uint64_t)i };
	sample_opts o = { .temperature = 1, .top_p = 1, .max_new = 1, .seed = 11, .slots = 64 };
	char err[256];
	CHECK(sample_run(m, &o, j, N, err, sizeof(err)) == 0);
	int *count = xcalloc((size_t)c.n_vocab, sizeof(*count));
	for (int i = 0; i < N; i++) {
		count[j[i].out[0]]++;
		sample_job_release(&j[i]);
	}
	uint32_t seq[2] = { 7, 0 };
	model_forward(m, seq, NULL, NULL, 1, 1);
	const real *z = model_logits(m);
	double mx = z[0], s = 0, chi2 = 0, pmin = 1;
	for (int v = 1; v < c.n_vocab; v++)
		mx = z[v] > mx ? z[v] : mx;
	for (int v = 0; v < c.n_vocab; v++)
		s += exp(z[v] - mx);
	for (int v = 0; v < c.n_vocab; v++) {
		double p = exp(z[v] - mx) / s, want = p * N;
		chi2 += (count[v] - want) * (count[v] - want) / want;
		pmin = p < pmin ? p : pmin;
	}
	printf("# 20000 draws over 1000 tokens (4 blocks), t 1: chi-square %.1f (999 degrees of freedom; smallest "
	       "expected count %.1f)\n", chi2, pmin * N);
	CHECK(chi2 < 999 + 6 * 45);
	free(count);
	free(j);
	model_free(m);
}

int main(void)
{
	RUN(test_greedy_equals_recomputation);
	RUN(test_seed_independent_of_batching);
	RUN(test_batch_and_threads_invariant);
	RUN(test_cache_across_calls);
	RUN(test_stops_and_limits);
	RUN(test_sample_logprobs);
	RUN(test_draw_frequencies);
	CHECK_EXIT();
}
