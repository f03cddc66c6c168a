/* train_bench: training-step speed of the CPU backend, with the time spent
 * in each kernel.
 *
 *   train_bench L C H V T B STEPS [f32|bf16]
 *                                   tokens/s, GFLOP/s of the whole step
 *                                   and of the matrix products alone, the
 *                                   products in float (default) or with
 *                                   bfloat16 factors (kern_cpu_bf16)
 *   train_bench --peak              this CPU's FP32 FMA peak, all threads
 *
 * The model is GPT-2 shaped, randomly initialised, fed random tokens (the
 * speed does not depend on their values); the first step is a warm-up and
 * not counted.  Each kernel call goes through a timing table wrapped
 * around kern_cpu. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "optim.h"
#include "util.h"

enum { K_ENC, K_LN, K_MATMUL, K_ATT, K_GELU, K_RES, K_HEAD, K_CE, K_ADAMW, K_N };
static const char *const kname[K_N] = { "encoder", "layernorm", "matmul", "attention", "gelu", "residual",
					"head", "crossentropy", "adamw+clip" };
static double ktime[K_N], kflops[K_N];
static const kern_ops *base = &kern_cpu; /* whose matrix products run */

#define TIMED(k, flops, call) do { double t0_ = util_now(); call; ktime[k] += util_now() - t0_; kflops[k] += (flops); } while (0)

static void t_enc_f(real *o, const uint32_t *t, const real *a, const real *b, int B, int T, int C) { TIMED(K_ENC, 0, encoder_forward_cpu(o, t, a, b, B, T, C)); }
static void t_enc_b(real *a, real *b, const real *d, const uint32_t *t, int B, int T, int C) { TIMED(K_ENC, 0, encoder_backward_cpu(a, b, d, t, B, T, C)); }
static void t_ln_f(real *o, real *m, real *r, const real *i, const real *w, const real *b, int N, int C) { TIMED(K_LN, 0, layernorm_forward_cpu(o, m, r, i, w, b, N, C)); }
static void t_ln_b(real *di, real *dw, real *db, const real *d, const real *i, const real *w, const real *m, const real *r, int N, int C) { TIMED(K_LN, 0, layernorm_backward_cpu(di, dw, db, d, i, w, m, r, N, C)); }
static void t_mm_f(real *o, const real *i, const real *w, const real *b, int N, int I, int O) { TIMED(K_MATMUL, 2.0 * N * I * O, base->matmul_forward(o, i, w, b, N, I, O)); }
static void t_mm_b(real *di, real *dw, real *db, const real *d, const real *i, const real *w, int N, int I, int O) { TIMED(K_MATMUL, 4.0 * N * I * O, base->matmul_backward(di, dw, db, d, i, w, N, I, O)); }
static void t_att_f(real *o, real *a, const real *q, int B, int T, int C, int NH) { TIMED(K_ATT, 2.0 * B * C * T * (T + 1.0), attention_forward_cpu(o, a, q, B, T, C, NH)); }
static void t_att_b(real *dq, real *da, const real *d, const real *q, const real *a, int B, int T, int C, int NH) { TIMED(K_ATT, 4.0 * B * C * T * (T + 1.0), attention_backward_cpu(dq, da, d, q, a, B, T, C, NH)); }
static void t_gelu_f(real *o, const real *i, size_t n) { TIMED(K_GELU, 0, gelu_forward_cpu(o, i, n)); }
static void t_gelu_b(real *d, const real *i, const real *o, size_t n) { TIMED(K_GELU, 0, gelu_backward_cpu(d, i, o, n)); }
static void t_res(real *o, const real *a, const real *b, size_t n) { TIMED(K_RES, 0, residual_forward_cpu(o, a, b, n)); }
static void t_head_f(real *l, const real *i, const real *w, int N, int C, int V) { TIMED(K_HEAD, 2.0 * N * C * V, base->head_forward(l, i, w, N, C, V)); }
static void t_head_b(real *di, real *dw, const real *dl, const real *i, const real *w, int N, int C, int V) { TIMED(K_HEAD, 4.0 * N * C * V, base->head_backward(di, dw, dl, i, w, N, C, V)); }
static double t_ce_f(real *l, real *ls, const uint32_t *t, const real *w, int N, int V) { double r; TIMED(K_CE, 0, r = crossentropy_forward_cpu(l, ls, t, w, N, V)); return r; }
static void t_ce_b(real *p, const uint32_t *t, const real *w, int N, int V) { TIMED(K_CE, 0, crossentropy_backward_cpu(p, t, w, N, V)); }

/* kern_cpu with the training kernels timed; the others (decoding) as they
 * are, so the table stays whole whatever entries it gains. */
static kern_ops timed_ops(void)
{
	kern_ops k = *base;
	k.name = "cpu-timed";
	k.encoder_forward = t_enc_f;
	k.encoder_backward = t_enc_b;
	k.layernorm_forward = t_ln_f;
	k.layernorm_backward = t_ln_b;
	k.matmul_forward = t_mm_f;
	k.matmul_backward = t_mm_b;
	k.attention_forward = t_att_f;
	k.attention_backward = t_att_b;
	k.gelu_forward = t_gelu_f;
	k.gelu_backward = t_gelu_b;
	k.residual_forward = t_res;
	k.head_forward = t_head_f;
	k.head_backward = t_head_b;
	k.crossentropy_forward = t_ce_f;
	k.crossentropy_backward = t_ce_b;
	return k;
}

/* Twelve independent chains of 16-wide FMAs per thread, held in
 * registers: more than the FMA latency times the ports, so the loop runs
 * at the FMA units' throughput. */
__attribute__((target("avx512f"))) static double fma_loop(long iters)
{
	__m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
	__m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3);
	__m512 a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7);
	__m512 a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
	for (long it = 0; it < iters; it++) {
		a0 = _mm512_fmadd_ps(a0, b, c); a1 = _mm512_fmadd_ps(a1, b, c); a2 = _mm512_fmadd_ps(a2, b, c);
		a3 = _mm512_fmadd_ps(a3, b, c); a4 = _mm512_fmadd_ps(a4, b, c); a5 = _mm512_fmadd_ps(a5, b, c);
		a6 = _mm512_fmadd_ps(a6, b, c); a7 = _mm512_fmadd_ps(a7, b, c); a8 = _mm512_fmadd_ps(a8, b, c);
		a9 = _mm512_fmadd_ps(a9, b, c); a10 = _mm512_fmadd_ps(a10, b, c); a11 = _mm512_fmadd_ps(a11, b, c);
	}
	__m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
				 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
	s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
	return _mm512_reduce_add_ps(s);
}

/* The same with AVX512_BF16 dot products: each takes 32 pairs of bfloat16
 * into 16 float sums, 64 flops. */
__attribute__((target("avx512f,avx512bf16"))) static double dot_loop_bf16(long iters)
{
	__m512bh b = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), c = (__m512bh)_mm512_set1_epi32(0x33d633d6);
	__m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3);
	__m512 a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7);
	__m512 a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
	for (long it = 0; it < iters; it++) {
		a0 = _mm512_dpbf16_ps(a0, b, c); a1 = _mm512_dpbf16_ps(a1, b, c); a2 = _mm512_dpbf16_ps(a2, b, c);
		a3 = _mm512_dpbf16_ps(a3, b, c); a4 = _mm512_dpbf16_ps(a4, b, c); a5 = _mm512_dpbf16_ps(a5, b, c);
		a6 = _mm512_dpbf16_ps(a6, b, c); a7 = _mm512_dpbf16_ps(a7, b, c); a8 = _mm512_dpbf16_ps(a8, b, c);
		a9 = _mm512_dpbf16_ps(a9, b, c); a10 = _mm512_dpbf16_ps(a10, b, c); a11 = _mm512_dpbf16_ps(a11, b, c);
	}
	__m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
				 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
	s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
	return _mm512_reduce_add_ps(s);
}

/* The same with 8-wide AVX2 FMAs, for CPUs without AVX-512. */
__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters)
{
	__m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
	__m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3);
	__m256 a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7);
	__m256 a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
	for (long it = 0; it < iters; it++) {
		a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c); a2 = _mm256_fmadd_ps(a2, b, c);
		a3 = _mm256_fmadd_ps(a3, b, c); a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c);
		a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c); a8 = _mm256_fmadd_ps(a8, b, c);
		a9 = _mm256_fmadd_ps(a9, b, c); a10 = _mm256_fmadd_ps(a10, b, c); a11 = _mm256_fmadd_ps(a11, b, c);
	}
	__m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
				 _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
	s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
	float lane[8];
	_mm256_storeu_ps(lane, s);
	return lane[0] + lane[1] + lane[2] + lane[3] + lane[4] + lane[5] + lane[6] + lane[7];
}

static int peak(void)
{
	int wide = __builtin_cpu_supports("avx512f");
	if (!wide && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
		printf("peak: needs AVX-512F or AVX2 with FMA\n");
		return 1;
	}
	long iters = 200000000;
	double sink = 0, t0 = util_now();
	int threads = omp_get_max_threads();
#pragma omp parallel reduction(+ : sink)
	sink += wide ? fma_loop(iters) : fma_loop_avx2(iters);
	double secs = util_now() - t0;
	double flops = (double)threads * iters * 12 * (wide ? 16 : 8) * 2;
	printf("peak: %d threads, %.1f GFLOP/s FP32 (%s FMA)%s\n", threads, flops / secs / 1e9,
	       wide ? "AVX-512" : "AVX2", sink == 1.2345 ? " " : "");
	if (__builtin_cpu_supports("avx512bf16")) {
		t0 = util_now();
#pragma omp parallel reduction(+ : sink)
		sink += dot_loop_bf16(iters);
		secs = util_now() - t0;
		flops = (double)threads * iters * 12 * 64;
		printf("peak: %d threads, %.1f GFLOP/s with bfloat16 factors (AVX512_BF16 dot products)%s\n", threads,
		       flops / secs / 1e9, sink == 1.2345 ? " " : "");
	}
	return 0;
}

int main(int argc, char **argv)
{
	cli_init("train_bench");
	if (argc == 2 && !strcmp(argv[1], "--peak"))
		return peak();
	if (argc != 8 && !(argc == 9 && (!strcmp(argv[8], "f32") || !strcmp(argv[8], "bf16")))) {
		fprintf(stderr, "usage: train_bench L C H V T B STEPS [f32|bf16] | train_bench --peak\n");
		return 2;
	}
	if (argc == 9 && !strcmp(argv[8], "bf16"))
		base = &kern_cpu_bf16;
	model_config c = { .n_layer = atoi(argv[1]), .n_embd = atoi(argv[2]), .n_head = atoi(argv[3]), .n_ctx = 1024,
			   .n_vocab = atoi(argv[4]) };
	int T = atoi(argv[5]), B = atoi(argv[6]), steps = atoi(argv[7]);
	if (T > c.n_ctx)
		c.n_ctx = T;
	static kern_ops timed;
	timed = timed_ops();
	model *m = model_new(&c, &timed);
	model_init(m, 1);
	optim *o = optim_new(model_kernels(m), model_nparams(m));
	optim_opts opts;
	optim_opts_default(&opts);
	uint32_t *tok = xmalloc((size_t)B * (T + 1) * sizeof(*tok));
	srand(1);
	for (int i = 0; i < B * (T + 1); i++)
		tok[i] = (uint32_t)rand() % (uint32_t)c.n_vocab;
	real *w = xmalloc((size_t)B * T * sizeof(*w));
	for (int i = 0; i < B * T; i++)
		w[i] = (real)(1.0 / (B * T));
	uint32_t *inp = xmalloc((size_t)B * T * sizeof(*inp)), *tgt = xmalloc((size_t)B * T * sizeof(*tgt));
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			inp[b * T + t] = tok[b * (T + 1) + t];
			tgt[b * T + t] = tok[b * (T + 1) + t + 1];
		}
	double total = 0, loss = 0;
	for (int s = 0; s <= steps; s++) {
		if (s == 1) {
			memset(ktime, 0, sizeof(ktime));
			memset(kflops, 0, sizeof(kflops));
		}
		double t0 = util_now();
		model_zero_grad(m);
		loss = model_forward(m, inp, tgt, w, B, T);
		model_backward(m);
		double t1 = util_now();
		optim_step(o, m, &opts, 1e-4);
		double t2 = util_now();
		ktime[K_ADAMW] += t2 - t1;
		if (s)
			total += t2 - t0;
	}
	double step_flops = 3 * model_forward_flops(&c, B, T);
	double mm_time = ktime[K_MATMUL] + ktime[K_HEAD], mm_flops = kflops[K_MATMUL] + kflops[K_HEAD];
	printf("shape L=%d C=%d H=%d V=%d params=%zu B=%d T=%d threads=%d steps=%d loss=%.4f products=%s%s\n",
	       c.n_layer, c.n_embd, c.n_head, c.n_vocab, model_nparams(m), B, T, omp_get_max_threads(), steps, loss,
	       base == &kern_cpu ? "f32" : "bf16",
	       base == &kern_cpu || gemm_bf16_native() ? "" : " (no AVX512_BF16: generic code)");
	printf("step %.1f ms, %.1f tokens/s, %.1f GFLOP/s; matrix products %.1f GFLOP/s (%.0f%% of the time)\n",
	       total / steps * 1e3, (double)B * T * steps / total, step_flops * steps / total / 1e9,
	       mm_flops / mm_time / 1e9, 100 * mm_time / total);
	for (int k = 0; k < K_N; k++)
		printf("  %-13s %8.1f ms/step %5.1f%%\n", kname[k], ktime[k] / steps * 1e3, 100 * ktime[k] / total);
	free(tok);
	free(w);
	free(inp);
	free(tgt);
	optim_free(o);
	model_free(m);
	return 0;
}
