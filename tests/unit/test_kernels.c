/* test_kernels: the float CPU kernels against plain double-precision
 * references written out here (the double build of the same kernels is
 * checked against finite differences in test_gradcheck). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "mathfun.h"
#include "util.h"

static double uniform(double lo, double hi) { return lo + (hi - lo) * (rand() / (RAND_MAX + 1.0)); }

static float *random_floats(size_t n, double lo, double hi)
{
	float *p = xmalloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		p[i] = (float)uniform(lo, hi);
	return p;
}

static void test_expf_tanhf(void)
{
	double worst = 0, worst_tanh = 0;
	for (int i = 0; i <= 200000; i++) {
		float x = (float)(-87.0 + 175.0 * i / 200000);
		double rel = fabs(k_expf(x) - exp((double)x)) / exp((double)x);
		worst = rel > worst ? rel : worst;
		float y = (float)(-10.0 + 20.0 * i / 200000);
		double d = fabs(k_tanhf(y) - tanh((double)y));
		worst_tanh = d > worst_tanh ? d : worst_tanh;
	}
	printf("# k_expf max relative error %.2e; k_tanhf max absolute error %.2e\n", worst, worst_tanh);
	CHECK(worst < 2e-7);
	CHECK(worst_tanh < 3e-7);
	CHECK(k_expf(-200) < 1e-37f && k_expf(-200) >= 0);
	CHECK(k_expf(88.3f) > 1e38f);
	CHECK(isnan(k_expf(NAN)) && isnan(k_tanhf(NAN)));
	CHECK(isfinite(k_expf(200)));
}

static double gelu_ref(double x) { return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

static void test_gelu(void)
{
	enum { N = 100003 };
	float *x = random_floats(N, -8, 8), *y = xmalloc(N * sizeof(float)), *d = xcalloc(N, sizeof(float));
	float *g = random_floats(N, -1, 1);
	gelu_forward_cpu(y, x, N);
	gelu_backward_cpu(d, x, g, N);
	double wf = 0, wb = 0;
	for (int i = 0; i < N; i++) {
		double h = 1e-4, deriv = (gelu_ref(x[i] + h) - gelu_ref(x[i] - h)) / (2 * h);
		wf = fmax(wf, fabs(y[i] - gelu_ref(x[i])));
		wb = fmax(wb, fabs(d[i] - deriv * g[i]));
	}
	printf("# gelu forward max abs error %.2e, backward %.2e\n", wf, wb);
	CHECK(wf < 2e-6);
	CHECK(wb < 5e-6); /* the central difference itself is off by ~1e-6 */
	free(x), free(y), free(d), free(g);
}

static void test_crossentropy(void)
{
	enum { N = 7, V = 50257 };
	float *z = random_floats((size_t)N * V, -12, 12);
	double *zd = xmalloc((size_t)N * V * sizeof(double));
	for (size_t i = 0; i < (size_t)N * V; i++)
		zd[i] = z[i];
	uint32_t tgt[N];
	float w[N], loss[N];
	for (int i = 0; i < N; i++) {
		tgt[i] = (uint32_t)(rand() % V);
		w[i] = (float)(i + 1) / 10;
	}
	z[3 * V + tgt[3]] = -80; /* a target of probability ~e^-92 */
	zd[3 * V + tgt[3]] = -80;
	double total = crossentropy_forward_cpu(z, loss, tgt, w, N, V), want_total = 0, worst = 0, psum_err = 0;
	for (int i = 0; i < N; i++) {
		const double *r = zd + (size_t)i * V;
		double mx = r[0], s = 0;
		for (int j = 1; j < V; j++)
			mx = fmax(mx, r[j]);
		for (int j = 0; j < V; j++)
			s += exp(r[j] - mx);
		double want = log(s) + mx - r[tgt[i]];
		worst = fmax(worst, fabs(loss[i] - want) / want);
		want_total += w[i] * want;
		double ps = 0;
		for (int j = 0; j < V; j++)
			ps += z[(size_t)i * V + j];
		psum_err = fmax(psum_err, fabs(ps - 1));
	}
	printf("# crossentropy max relative loss error %.2e, probabilities sum to 1 within %.1e\n", worst, psum_err);
	CHECK(worst < 1e-6);
	CHECK(fabs(total - want_total) < 1e-5 * want_total);
	CHECK(psum_err < 1e-4);
	CHECK(isfinite(loss[3]) && loss[3] > 80);
	free(z), free(zd);
}

static void test_attention(void)
{
	enum { B = 2, T = 9, C = 12, NH = 3, HS = C / NH };
	float *qkv = random_floats((size_t)B * T * 3 * C, -1.5, 1.5);
	float *out = xmalloc((size_t)B * T * C * sizeof(float)), *att = xmalloc((size_t)B * NH * T * T * sizeof(float));
	attention_forward_cpu(out, att, qkv, B, T, C, NH);
	double worst = 0, masked = 0;
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				double s[T], mx = -1e300, sum = 0;
				const float *q = qkv + (size_t)(b * T + t) * 3 * C + h * HS;
				for (int u = 0; u <= t; u++) {
					const float *k = qkv + (size_t)(b * T + u) * 3 * C + C + h * HS;
					s[u] = 0;
					for (int i = 0; i < HS; i++)
						s[u] += (double)q[i] * k[i];
					s[u] /= sqrt((double)HS);
					mx = fmax(mx, s[u]);
				}
				for (int u = 0; u <= t; u++)
					sum += (s[u] = exp(s[u] - mx));
				for (int i = 0; i < HS; i++) {
					double o = 0;
					for (int u = 0; u <= t; u++)
						o += s[u] / sum * qkv[(size_t)(b * T + u) * 3 * C + 2 * C + h * HS + i];
					worst = fmax(worst, fabs(out[(size_t)(b * T + t) * C + h * HS + i] - o));
				}
				for (int u = t + 1; u < T; u++)
					masked = fmax(masked, fabs(att[(((size_t)b * NH + h) * T + t) * T + u]));
			}
	printf("# attention max abs error %.2e; future positions weigh %g\n", worst, masked);
	CHECK(worst < 1e-6);
	CHECK(masked == 0);
	free(qkv), free(out), free(att);
}

static void test_layernorm_matmul(void)
{
	enum { N = 5, C = 70, OUT = 33 };
	float *x = random_floats(N * C, -3, 5), *w = random_floats(C, 0.5, 1.5), *b = random_floats(C, -1, 1);
	float y[N * C], mean[N], rstd[N];
	layernorm_forward_cpu(y, mean, rstd, x, w, b, N, C);
	double worst = 0;
	for (int i = 0; i < N; i++) {
		double mu = 0, var = 0;
		for (int c = 0; c < C; c++)
			mu += x[i * C + c] / (double)C;
		for (int c = 0; c < C; c++)
			var += (x[i * C + c] - mu) * (x[i * C + c] - mu) / C;
		for (int c = 0; c < C; c++)
			worst = fmax(worst, fabs(y[i * C + c] - ((x[i * C + c] - mu) / sqrt(var + 1e-5) * w[c] + b[c])));
	}
	printf("# layernorm max abs error %.2e\n", worst);
	CHECK(worst < 1e-5);
	float *wm = random_floats(C * OUT, -1, 1), *bias = random_floats(OUT, -1, 1), out[N * OUT];
	matmul_forward_cpu(out, x, wm, bias, N, C, OUT);
	worst = 0;
	for (int i = 0; i < N; i++)
		for (int o = 0; o < OUT; o++) {
			double s = bias[o];
			for (int c = 0; c < C; c++)
				s += (double)x[i * C + c] * wm[c * OUT + o];
			worst = fmax(worst, fabs(out[i * OUT + o] - s));
		}
	printf("# matmul max abs error %.2e\n", worst);
	CHECK(worst < 1e-4);
	free(x), free(w), free(b), free(wm), free(bias);
}

/* gemm_bf16: the packed code (AVX512_BF16 where the CPU has it, the
 * generic code always) equals the element-by-element definition bit for
 * bit, at 1 and 2 threads, for every transposition and beta, K across
 * blocks and each way of packing; the definition is within bfloat16's rounding of the exact
 * product; the rounding is to nearest even with subnormals to zero. */
static void test_gemm_bf16(void)
{
	static const int shapes[][3] = { { 37, 45, 517 }, { 13, 70, 8 }, { 100, 3, 31 }, { 2, 600, 300 },
					 { 130, 33, 1 }, { 13, 4200, 301 } };
	int bad_bits = 0, bad_value = 0, cases = 0;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
		float *a = random_floats((size_t)M * K, -2, 2), *b = random_floats((size_t)K * N, -2, 2);
		float *c0 = random_floats((size_t)M * N, -1, 1);
		float *want = xmalloc((size_t)M * N * sizeof(float)), *got = xmalloc((size_t)M * N * sizeof(float));
		for (int t = 0; t < 4; t++) {
			int ta = t & 1, tb = t >> 1, lda = ta ? M : K, ldb = tb ? K : N;
			for (int bi = 0; bi < 3; bi++) {
				float beta = bi == 0 ? 0.0f : bi == 1 ? 1.0f : 0.5f;
				for (int i = 0; i < M * N; i++) /* beta 0: C is not read */
					want[i] = beta == 0 ? NAN : c0[i];
				gemm_bf16_direct_cpu(ta, tb, M, N, K, a, lda, b, ldb, beta, want, N);
				for (int i = 0; i < M; i++)
					for (int j = 0; j < N; j++) {
						double exact = beta * (double)(beta == 0 ? 0 : c0[i * N + j]), mag = fabs(exact);
						for (int k = 0; k < K; k++) {
							double x = ta ? a[k * lda + i] : a[i * lda + k];
							double y = tb ? b[j * ldb + k] : b[k * ldb + j];
							exact += x * y, mag += fabs(x * y);
						}
						bad_value += !(fabs(want[i * N + j] - exact) <= mag * (1.0 / 128 + K * 0x1p-23));
					}
				for (int v = 0; v < 4; v++) {
					gemm_bf16_set_native(v < 2);
					kern_cpu_threads(v % 2 ? 2 : 1);
					for (int i = 0; i < M * N; i++)
						got[i] = beta == 0 ? NAN : c0[i];
					gemm_bf16_cpu(ta, tb, M, N, K, a, lda, b, ldb, beta, got, N);
					bad_bits += memcmp(got, want, (size_t)M * N * sizeof(float)) != 0;
					cases++;
				}
			}
		}
		free(a), free(b), free(c0), free(want), free(got);
	}
	gemm_bf16_set_native(1);
	kern_cpu_threads(2);
	printf("# gemm_bf16: %d of %d runs differ from the definition (native: %s); %d values off\n", bad_bits, cases,
	       gemm_bf16_native() ? "AVX512_BF16" : "no", bad_value);
	CHECK(bad_bits == 0);
	CHECK(bad_value == 0);
	/* 1 + 2^-8 and 1 + 3 2^-8 are ties: to 1 and 1 + 2^-6 (even); 1e-40 is
	 * subnormal: to 0. */
	float x[6] = { 1.00390625f, 1, 1.01171875f, 1, 1e-40f, 1e30f }, y[6] = { 1, 0, 1, 0, 1e30f, 0 };
	for (int v = 0; v < 2; v++) {
		gemm_bf16_set_native(v);
		float r[3];
		for (int i = 0; i < 3; i++)
			gemm_bf16_cpu(0, 0, 1, 1, 2, x + 2 * i, 2, y + 2 * i, 1, 0, r + i, 1);
		CHECK(r[0] == 1.0f);
		CHECK(r[1] == 1.015625f);
		CHECK(r[2] == 0.0f);
	}
	gemm_bf16_set_native(1);
}

/* The Llama family's kernels against double references: RMSNorm, the
 * [OUT, IN] linear layer, the rotation (and its inverse undoing it),
 * SwiGLU and ReLU squared, grouped-query attention (its decode against the
 * full pass, row by row). */
static void test_llama_kernels(void)
{
	enum { N = 6, C = 40, OUT = 24, B = 2, T = 7, NH = 4, NKV = 2, HS = 6, QD = NH * HS, KD = NKV * HS };
	float *x = random_floats(N * C, -3, 3), *w = random_floats(C, 0.5, 1.5), y[N * C], rstd[N];
	rmsnorm_forward_cpu(y, rstd, x, w, N, C, 1e-6);
	double worst = 0;
	for (int i = 0; i < N; i++) {
		double ss = 0;
		for (int c = 0; c < C; c++)
			ss += (double)x[i * C + c] * x[i * C + c] / C;
		for (int c = 0; c < C; c++)
			worst = fmax(worst, fabs(y[i * C + c] - x[i * C + c] / sqrt(ss + 1e-6) * w[c]));
	}
	printf("# rmsnorm max abs error %.2e\n", worst);
	CHECK(worst < 1e-5);

	float *wl = random_floats(OUT * C, -1, 1), *bl = random_floats(OUT, -1, 1), out[N * OUT];
	linear_forward_cpu(out, x, wl, bl, N, C, OUT);
	worst = 0;
	for (int i = 0; i < N; i++)
		for (int o = 0; o < OUT; o++) {
			double s = bl[o];
			for (int c = 0; c < C; c++)
				s += (double)x[i * C + c] * wl[o * C + c];
			worst = fmax(worst, fabs(out[i * OUT + o] - s));
		}
	printf("# linear [OUT, IN] max abs error %.2e\n", worst);
	CHECK(worst < 1e-4);

	/* The rotation: pairs (i, i + HS/2) of each head turned by pos * f_i. */
	enum { HALF = HS / 2, POS = 16 };
	float cosv[POS * HALF], sinv[POS * HALF];
	for (int p = 0; p < POS; p++)
		for (int i = 0; i < HALF; i++) {
			cosv[p * HALF + i] = (float)cos(p * pow(100.0, -2.0 * i / HS));
			sinv[p * HALF + i] = (float)sin(p * pow(100.0, -2.0 * i / HS));
		}
	float *q = random_floats(N * QD, -1, 1), r[N * QD];
	int pos[N] = { 0, 3, 15, 1, 9, 4 };
	memcpy(r, q, sizeof(r));
	rope_forward_cpu(r, cosv, sinv, pos, 0, N, NH, HS);
	double rot = 0, back = 0;
	for (int n = 0; n < N; n++)
		for (int h = 0; h < NH; h++)
			for (int i = 0; i < HALF; i++) {
				double a = pos[n] * pow(100.0, -2.0 * i / HS);
				const float *u = q + n * QD + h * HS;
				const float *v = r + n * QD + h * HS;
				rot = fmax(rot, fabs(v[i] - (u[i] * cos(a) - u[i + HALF] * sin(a))));
				rot = fmax(rot, fabs(v[i + HALF] - (u[i + HALF] * cos(a) + u[i] * sin(a))));
			}
	rope_backward_cpu(r, cosv, sinv, pos, 0, N, NH, HS);
	for (int i = 0; i < N * QD; i++)
		back = fmax(back, fabs(r[i] - q[i]));
	printf("# rope max abs error %.2e; turned back: %.2e\n", rot, back);
	CHECK(rot < 1e-6);
	CHECK(back < 1e-6);

	float *g = random_floats(N * C, -6, 6), *u = random_floats(N * C, -2, 2), h[N * C], h2[N * C];
	swiglu_forward_cpu(h, g, u, N * C);
	relu2_forward_cpu(h2, g, N * C);
	double sw = 0, r2 = 0;
	for (int i = 0; i < N * C; i++) {
		sw = fmax(sw, fabs(h[i] - g[i] / (1 + exp(-(double)g[i])) * u[i]));
		r2 = fmax(r2, fabs(h2[i] - (g[i] > 0 ? (double)g[i] * g[i] : 0)));
	}
	printf("# swiglu max abs error %.2e, relu2 %.2e\n", sw, r2);
	CHECK(sw < 1e-5);
	CHECK(r2 < 1e-5);

	/* Attention: query head h reads key/value head h / 2. */
	float *aq = random_floats(B * T * QD, -1.5, 1.5), *ak = random_floats(B * T * KD, -1.5, 1.5);
	float *av = random_floats(B * T * KD, -1, 1), ao[B * T * QD], att[B * NH * T * T];
	gqa_forward_cpu(ao, att, aq, ak, av, B, T, NH, NKV, HS);
	worst = 0;
	for (int b = 0; b < B; b++)
		for (int hh = 0; hh < NH; hh++)
			for (int t = 0; t < T; t++) {
				double sc[T], mx = -1e300, sum = 0;
				int kh = hh / (NH / NKV);
				for (int s2 = 0; s2 <= t; s2++) {
					sc[s2] = 0;
					for (int i = 0; i < HS; i++)
						sc[s2] += (double)aq[(b * T + t) * QD + hh * HS + i] * ak[(b * T + s2) * KD + kh * HS + i];
					sc[s2] /= sqrt((double)HS);
					mx = fmax(mx, sc[s2]);
				}
				for (int s2 = 0; s2 <= t; s2++)
					sum += (sc[s2] = exp(sc[s2] - mx));
				for (int i = 0; i < HS; i++) {
					double o = 0;
					for (int s2 = 0; s2 <= t; s2++)
						o += sc[s2] / sum * av[(b * T + s2) * KD + kh * HS + i];
					worst = fmax(worst, fabs(ao[(b * T + t) * QD + hh * HS + i] - o));
				}
			}
	/* Decode: sequence b in slot 1 - b, one position a call. */
	float kc[2 * T * KD], vc[2 * T * KD], dq[2 * QD], dout[2 * QD], scores[2 * NH * T];
	double dec = 0;
	for (int t = 0; t < T; t++) {
		int slot[2] = { 1, 0 }, p2[2] = { t, t };
		float dk[2 * KD], dv[2 * KD];
		for (int b = 0; b < B; b++) {
			memcpy(dq + b * QD, aq + (b * T + t) * QD, QD * sizeof(float));
			memcpy(dk + b * KD, ak + (b * T + t) * KD, KD * sizeof(float));
			memcpy(dv + b * KD, av + (b * T + t) * KD, KD * sizeof(float));
		}
		gqa_decode_cpu(dout, scores, kc, vc, dq, dk, dv, slot, p2, 2, NH, NKV, HS, T);
		for (int b = 0; b < B; b++)
			for (int i = 0; i < QD; i++)
				dec = fmax(dec, fabs(dout[b * QD + i] - ao[(b * T + t) * QD + i]));
	}
	printf("# grouped-query attention max abs error %.2e; decode against the full pass %.2e\n", worst, dec);
	CHECK(worst < 1e-6);
	CHECK(dec < 1e-6);
	free(x), free(w), free(wl), free(bl), free(q), free(g), free(u), free(aq), free(ak), free(av);
}

/* Packing, against the layout written out element by element: panel p
 * holds columns [16p, 16p + 16), zeros past OUT; float rows of 16, or
 * bfloat16 rounded to nearest even, or for int8 per group of 64 rows 16
 * float scales (the group's largest magnitude / 127) then the rows, each
 * weight times 127 / largest, rounded half away from zero.  Shapes with
 * partial panels and groups, both layouts of w, 1 and 2 threads. */
static size_t ref_panel_size(int fmt, int IN)
{
	int groups = (IN + KERN_I8_GROUP - 1) / KERN_I8_GROUP;
	return fmt == KERN_F32 ? (size_t)IN * KERN_PANEL * 4
	       : fmt == KERN_BF16 ? (size_t)IN * KERN_PANEL * 2
				  : (size_t)groups * KERN_PANEL * 4 + (size_t)IN * KERN_PANEL;
}

static void ref_pack(unsigned char *dst, int fmt, const float *w, int IN, int OUT, int transposed)
{
	size_t psz = ref_panel_size(fmt, IN);
	for (int c = 0; c < (OUT + KERN_PANEL - 1) / KERN_PANEL * KERN_PANEL; c++) {
		unsigned char *base = dst + (size_t)(c / KERN_PANEL) * psz;
		int j = c % KERN_PANEL;
		for (int k = 0; k < IN; k++) {
			float v = c >= OUT ? 0 : transposed ? w[(size_t)c * IN + k] : w[(size_t)k * OUT + c];
			if (fmt == KERN_F32) {
				memcpy(base + ((size_t)k * KERN_PANEL + j) * 4, &v, 4);
			} else if (fmt == KERN_BF16) {
				uint32_t u;
				memcpy(&u, &v, 4);
				uint16_t h = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
				memcpy(base + ((size_t)k * KERN_PANEL + j) * 2, &h, 2);
			} else {
				int g = k / KERN_I8_GROUP, k0 = g * KERN_I8_GROUP;
				int k1 = k0 + KERN_I8_GROUP < IN ? k0 + KERN_I8_GROUP : IN;
				float mx = 0;
				for (int i = k0; i < k1 && c < OUT; i++) {
					float a = fabsf(transposed ? w[(size_t)c * IN + i] : w[(size_t)i * OUT + c]);
					mx = a > mx ? a : mx;
				}
				unsigned char *grp = base + (size_t)g * (KERN_PANEL * 4 + KERN_I8_GROUP * KERN_PANEL);
				float scale = mx / 127;
				memcpy(grp + (size_t)j * 4, &scale, 4);
				float q = v * (mx > 0 ? 127 / mx : 0);
				int8_t b = (int8_t)(q < 0 ? q - 0.5f : q + 0.5f);
				grp[KERN_PANEL * 4 + (size_t)(k - k0) * KERN_PANEL + j] = (unsigned char)b;
			}
		}
	}
}

static void test_panel_pack(void)
{
	static const int ins[] = { 1, 63, 64, 130, 600 }, outs[] = { 1, 16, 37, 100 };
	int same = 1, cases = 0;
	for (size_t a = 0; a < sizeof(ins) / sizeof(ins[0]); a++)
		for (size_t b = 0; b < sizeof(outs) / sizeof(outs[0]); b++) {
			int IN = ins[a], OUT = outs[b];
			float *w = random_floats((size_t)IN * OUT, -3, 3);
			for (int fmt = KERN_F32; fmt <= KERN_I8; fmt++) {
				size_t n = panel_bytes_cpu(fmt, IN, OUT);
				same &= n == (size_t)(OUT + KERN_PANEL - 1) / KERN_PANEL * ref_panel_size(fmt, IN);
				unsigned char *got = xmalloc(n), *want = xcalloc(1, n);
				for (int tr = 0; tr <= 1; tr++) {
					ref_pack(want, fmt, w, IN, OUT, tr);
					for (int threads = 1; threads <= 2; threads++) {
						kern_cpu_threads(threads);
						memset(got, 0xa5, n);
						panel_pack_cpu(got, fmt, w, IN, OUT, tr);
						same &= !memcmp(got, want, n);
						cases++;
					}
				}
				free(got), free(want);
			}
			free(w);
		}
	printf("# %d packings (f32, bf16, int8; [IN, OUT] and [OUT, IN]; 1 and 2 threads) = the layout written out: "
	       "%s\n", cases, same ? "yes" : "NO");
	CHECK(same);
}

/* The decoding products over packed weights, in each storage: each row's
 * bits are the same whatever the batch around it and the thread count;
 * they equal the float product with the unpacked matrix summed in k order
 * (bit for bit), and the exact product within float rounding plus what
 * the storage rounds the weights by. */
/* Shapes that take the blocked path: more rows than one register tile
 * (whole tiles and a partial one), more weight rows than one chunk (the
 * partial sums kept in the output between chunks, and a partial last
 * chunk), a partial last panel.  Every row alone, every batch size and
 * both thread counts give the unpacked float product, bit for bit. */
static void test_decode_products_blocked(void)
{
	enum { N = 23, IN = 600, OUT = 37 };
	float *x = random_floats(N * IN, -2, 2), *w = random_floats(IN * OUT, -1, 1), *b = random_floats(OUT, -1, 1);
	float *uw = xmalloc(IN * OUT * sizeof(float)), *all = xmalloc(N * OUT * sizeof(float)), col[IN];
	int exact = 1;
	for (int fmt = KERN_F32; fmt <= KERN_I8; fmt++) {
		void *pw = xmalloc(panel_bytes_cpu(fmt, IN, OUT));
		panel_pack_cpu(pw, fmt, w, IN, OUT, 0);
		for (int o = 0; o < OUT; o++) {
			panel_column_cpu(col, pw, fmt, IN, OUT, o);
			for (int k = 0; k < IN; k++)
				uw[k * OUT + o] = col[k];
		}
		static const int rows[] = { 1, 5, 6, 7, 12, 13, 23 };
		for (int threads = 1; threads <= 2; threads++) {
			kern_cpu_threads(threads);
			for (size_t t = 0; t < sizeof(rows) / sizeof(rows[0]); t++) {
				int n = rows[t];
				for (int r0 = 0; r0 + n <= N; r0 += n) {
					matmul_panel_cpu(all, x + r0 * IN, pw, fmt, fmt == KERN_BF16 ? NULL : b, n, IN, OUT);
					for (int i = 0; i < n; i++)
						for (int o = 0; o < OUT; o++) {
							float f = fmt == KERN_BF16 ? 0 : b[o];
							for (int k = 0; k < IN; k++) {
								float p = x[(r0 + i) * IN + k] * uw[k * OUT + o];
								f = f + p;
							}
							exact &= f == all[i * OUT + o];
						}
				}
			}
		}
		free(pw);
	}
	printf("# decode products of %d rows over %d weight rows, f32, bf16, int8, 1 to %d rows at once, 1 and 2 "
	       "threads: = the unpacked float product: %s\n", N, IN, N, exact ? "yes" : "NO");
	CHECK(exact);
	free(x), free(w), free(b), free(uw), free(all);
}

static void test_decode_products(void)
{
	enum { N = 11, IN = 150, OUT = 37, C = 45, V = 29 };
	float *x = random_floats(N * IN, -2, 2), *w = random_floats(IN * OUT, -1, 1), *b = random_floats(OUT, -1, 1);
	float *h = random_floats(N * C, -2, 2), *wte = random_floats(V * C, -1, 1);
	static const char *const names[] = { "f32", "bf16", "int8" };
	/* Weight rounding allowed: none; 2^-8 relative (8 significant bits); half a step of
	 * 1/127 of the largest |w| in a column's group (|w| <= 1 here). */
	static const double wtol[] = { 0, 1.0 / 256, 0.5 / 127 };
	for (int fmt = KERN_F32; fmt <= KERN_I8; fmt++) {
		void *pw = xmalloc(panel_bytes_cpu(fmt, IN, OUT)), *ph = xmalloc(panel_bytes_cpu(fmt, C, V));
		panel_pack_cpu(pw, fmt, w, IN, OUT, 0);
		panel_pack_cpu(ph, fmt, wte, C, V, 1);
		float *uw = xmalloc(IN * OUT * sizeof(float)), *uh = xmalloc(V * C * sizeof(float)), col[IN];
		double wworst = 0;
		for (int o = 0; o < OUT; o++) {
			panel_column_cpu(col, pw, fmt, IN, OUT, o);
			for (int k = 0; k < IN; k++) {
				uw[k * OUT + o] = col[k];
				wworst = fmax(wworst, fabs(col[k] - w[k * OUT + o]) / (fmt == KERN_BF16 ? fabs(w[k * OUT + o]) : 1));
			}
		}
		for (int v = 0; v < V; v++)
			panel_column_cpu(uh + v * C, ph, fmt, C, V, v);
		float all[N * OUT], one[OUT], hall[N * V], hone[V];
		int same = 1, exact = 1;
		double worst = 0;
		for (int threads = 1; threads <= 2; threads++) {
			kern_cpu_threads(threads);
			matmul_panel_cpu(all, x, pw, fmt, b, N, IN, OUT);
			matmul_panel_cpu(hall, h, ph, fmt, NULL, N, C, V);
			for (int i = 0; i < N; i++) {
				matmul_panel_cpu(one, x + i * IN, pw, fmt, b, 1, IN, OUT);
				matmul_panel_cpu(hone, h + i * C, ph, fmt, NULL, 1, C, V);
				same &= !memcmp(one, all + i * OUT, sizeof(one)) && !memcmp(hone, hall + i * V, sizeof(hone));
				/* Rows 3..5 as a batch of three: other row blocks. */
				if (i >= 3 && i < 6) {
					float three[3 * OUT];
					matmul_panel_cpu(three, x + 3 * IN, pw, fmt, b, 3, IN, OUT);
					same &= !memcmp(three + (i - 3) * OUT, all + i * OUT, sizeof(one));
				}
				for (int o = 0; o < OUT; o++) {
					float f = b[o];
					double d = b[o];
					for (int k = 0; k < IN; k++) {
						float p = x[i * IN + k] * uw[k * OUT + o];
						f = f + p;
						d += (double)x[i * IN + k] * w[k * OUT + o];
					}
					exact &= f == all[i * OUT + o];
					worst = fmax(worst, fabs(all[i * OUT + o] - d));
				}
				for (int v = 0; v < V; v++) {
					float f = 0;
					double d = 0;
					for (int c = 0; c < C; c++) {
						float p = h[i * C + c] * uh[v * C + c];
						f = f + p;
						d += (double)h[i * C + c] * wte[v * C + c];
					}
					exact &= f == hall[i * V + v];
					worst = fmax(worst, fabs(hall[i * V + v] - d));
				}
			}
		}
		/* Each of IN terms |x w| <= 2 off by at most 2 * wtol. */
		double bound = 1e-4 + 2.0 * IN * wtol[fmt];
		printf("# decode products, %s: rows alone = rows in a batch of %d, 1 and 2 threads: %s; = the unpacked "
		       "float product: %s; weights off by %.2e (allowed %.2e); max abs error %.2e (allowed %.2e)\n",
		       names[fmt], N, same ? "yes" : "NO", exact ? "yes" : "NO", wworst, wtol[fmt], worst, bound);
		CHECK(same);
		CHECK(exact);
		CHECK(wworst <= wtol[fmt] * 1.0001 && (fmt == KERN_F32) == (wworst == 0));
		CHECK(worst < bound);
		free(pw), free(ph), free(uw), free(uh);
	}
	free(x), free(w), free(b), free(h), free(wte);
}

/* The gradient norm's sum of squares: the same bits as summing each chunk
 * of 65536 in order and then the chunks' sums in order (the optimizer's
 * host loop it replaced), at 1 and 2 threads, across the kernel's groups
 * of chunks. */
static void test_sum_squares(void)
{
	enum { CHUNK = 65536 };
	size_t sizes[] = { 0, 1, 1000, CHUNK, CHUNK + 1, 70 * (size_t)CHUNK + 77 };
	size_t most = sizes[sizeof(sizes) / sizeof(sizes[0]) - 1];
	float *x = random_floats(most, -3, 3);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		double want = 0;
		for (size_t lo = 0; lo < n; lo += CHUNK) {
			double part = 0;
			for (size_t i = lo; i < n && i < lo + CHUNK; i++)
				part += (double)x[i] * x[i];
			want += part;
		}
		for (int threads = 1; threads <= 2; threads++) {
			kern_cpu_threads(threads);
			double got = kern_cpu.sum_squares(x, n);
			CHECK(!memcmp(&got, &want, sizeof(got)));
		}
	}
	free(x);
}

/* The CPU table's memory: zeroed allocation, zeroing, and the copies in
 * each direction; its memory is the host's. */
static void test_memory(void)
{
	const kern_ops *k = &kern_cpu;
	enum { N = 1000 };
	float host[N], back[N];
	for (int i = 0; i < N; i++)
		host[i] = (float)i + 0.5f;
	float *a = k->mem_alloc(N * sizeof(float)), *b = k->mem_alloc(N * sizeof(float));
	CHECK(a && b);
	int zero = 1;
	for (int i = 0; i < N; i++)
		zero &= a[i] == 0 && b[i] == 0;
	CHECK(zero);
	k->copy_h2d(a, host, N * sizeof(float));
	k->copy_d2d(b, a, N * sizeof(float));
	k->mem_zero(a, N / 2 * sizeof(float));
	k->copy_d2h(back, b, N * sizeof(float));
	CHECK(!memcmp(back, host, sizeof(host)));
	k->copy_d2h(back, a, N * sizeof(float));
	CHECK(back[N / 2 - 1] == 0 && back[N / 2] == host[N / 2]);
	CHECK(k->host_memory && KERN_HOST(k, a) == a);
	kern_ops dev = kern_cpu;
	dev.host_memory = 0;
	CHECK(KERN_HOST(&dev, a) == NULL);
	k->mem_free(a);
	k->mem_free(b);
	k->mem_free(NULL);
	float *v = random_floats(5, -1, 1), w[5];
	memcpy(w, v, sizeof(w));
	k->scale(v, 0.25f, 5);
	int scaled = 1;
	for (int i = 0; i < 5; i++)
		scaled &= v[i] == w[i] * 0.25f;
	CHECK(scaled);
	free(v);
}

int main(void)
{
	srand(3);
	RUN(test_expf_tanhf);
	RUN(test_gelu);
	RUN(test_crossentropy);
	RUN(test_attention);
	RUN(test_layernorm_matmul);
	RUN(test_gemm_bf16);
	RUN(test_llama_kernels);
	RUN(test_panel_pack);
	RUN(test_decode_products);
	RUN(test_decode_products_blocked);
	RUN(test_sum_squares);
	RUN(test_memory);
	CHECK_EXIT();
}
