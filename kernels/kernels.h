/* kernels.h: the operations a GPT forward and backward pass is made of.
 *
 * Each kernel has a CPU reference here (kernels/NAME.c, OpenMP) and will
 * have a CUDA version beside it (kernels/NAME.cu) with a test comparing the
 * two.  The model (lib/model.c) calls kernels only through a kern_ops
 * table, so a backend is one table of functions over its own memory.
 *
 * Conventions: row-major; B batch, T positions, C channels, NH heads,
 * V vocabulary; a linear layer's weight is [IN, OUT] (Hugging Face GPT-2's
 * Conv1D layout: out = inp @ w + b), or [OUT, IN] in the linear_* kernels
 * (nn.Linear's, the Llama family's: out = inp @ w^T + b).  Backward kernels add (+=) into the
 * gradients of parameters and of their inputs, so gradients accumulate
 * over micro-batches and over the places an activation is used.
 *
 * The element type is `real`: float, or double when SLUICE_REAL_DOUBLE is
 * defined (the gradient check builds the same code in double precision).
 *
 * Reductions over rows (bias and norm-weight gradients, embedding
 * scatters) run in a fixed order whatever the thread count, so a step's
 * result does not depend on OMP_NUM_THREADS beyond what the BLAS does. */
#ifndef SLUICE_KERNELS_H
#define SLUICE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef SLUICE_REAL_DOUBLE
typedef double real;
#else
typedef float real;
#endif

/* out[BT,C] = wte[tok] + wpe[t] (wpe NULL: no position embedding; the
 * backward's dwpe NULL then too). */
void encoder_forward_cpu(real *out, const uint32_t *tok, const real *wte, const real *wpe, int B, int T, int C);
void encoder_backward_cpu(real *dwte, real *dwpe, const real *dout, const uint32_t *tok, int B, int T, int C);

/* out = (inp - mean) * rstd * w + b over each row of C; mean and rstd kept
 * for the backward pass. */
void layernorm_forward_cpu(real *out, real *mean, real *rstd, const real *inp, const real *w, const real *b,
			   int N, int C);
void layernorm_backward_cpu(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w,
			    const real *mean, const real *rstd, int N, int C);

/* RMSNorm as transformers computes it: out = x * rstd * w over each row of
 * C, rstd = 1 / sqrt(mean(x^2) + eps) (kept for the backward pass). */
void rmsnorm_forward_cpu(real *out, real *rstd, const real *inp, const real *w, int N, int C, double eps);
/* dinp += the input gradient; dw += the weight gradient. */
void rmsnorm_backward_cpu(real *dinp, real *dw, const real *dout, const real *inp, const real *w, const real *rstd,
			  int N, int C);

/* out[N,OUT] = inp[N,IN] @ w[IN,OUT] (+ bias, may be NULL). */
void matmul_forward_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT);
/* dinp += dout @ w^T; dw += inp^T @ dout; dbias += column sums of dout
 * (dbias may be NULL). */
void matmul_backward_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			 int N, int IN, int OUT);

/* The linear layer in nn.Linear's layout, w [OUT, IN]:
 * out[N,OUT] = inp[N,IN] @ w^T (+ bias, may be NULL). */
void linear_forward_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT);
/* dinp += dout @ w; dw += dout^T @ inp; dbias += column sums of dout
 * (dbias may be NULL). */
void linear_backward_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			 int N, int IN, int OUT);

/* Rotary position embedding in place over x [N, NH * hs], each head's pairs
 * (i, i + hs/2) turned by the angle of its position and frequency i
 * (transformers' rotate_half convention): row r is at position pos[r], or
 * r % T when pos is NULL; cosv and sinv [positions, hs/2] hold the angles'
 * cosines and sines.  The backward turns a gradient back, in place. */
void rope_forward_cpu(real *x, const real *cosv, const real *sinv, const int *pos, int T, int N, int NH, int hs);
void rope_backward_cpu(real *dx, const real *cosv, const real *sinv, const int *pos, int T, int N, int NH, int hs);

/* Causal multi-head self-attention.  qkv[BT, 3C] holds q, k, v side by
 * side; out[BT, C] the heads' outputs; att[B, NH, T, T] the softmax
 * probabilities (row t holds t+1 of them, the rest 0). */
void attention_forward_cpu(real *out, real *att, const real *qkv, int B, int T, int C, int NH);
/* datt is scratch of the size of att. */
void attention_backward_cpu(real *dqkv, real *datt, const real *dout, const real *qkv, const real *att,
			    int B, int T, int C, int NH);

/* One new position per row against a key/value cache: row i's query
 * (qkv[i, 0:C]) attends over cache slot slot[i], positions 0..pos[i];
 * its key and value (qkv[i, C:3C]) are first stored at pos[i].  The cache
 * is kc, vc [slots, maxlen, C].  scores is the caller's scratch of
 * [n, NH, maxlen]. */
void attention_decode_cpu(real *out, real *scores, real *kc, real *vc, const real *qkv, const int *slot,
			  const int *pos, int n, int C, int NH, int maxlen);

/* Causal attention with grouped query heads: q [BT, NH*hs], k and v
 * [BT, NKV*hs] (NKV divides NH; query head h reads key/value head
 * h / (NH / NKV)), out [BT, NH*hs], att [B, NH, T, T] as above, scale
 * 1 / sqrt(hs). */
void gqa_forward_cpu(real *out, real *att, const real *q, const real *k, const real *v, int B, int T, int NH,
		     int NKV, int hs);
/* dq, dk, dv += the gradients; datt is scratch of the size of att. */
void gqa_backward_cpu(real *dq, real *dk, real *dv, real *datt, const real *dout, const real *q, const real *k,
		      const real *v, const real *att, int B, int T, int NH, int NKV, int hs);
/* One new position per row against a key/value cache kc, vc
 * [slots, maxlen, NKV*hs]: row i's key and value (k, v [n, NKV*hs]) are
 * stored at pos[i] of slot[i], then its query (q [n, NH*hs]) attends over
 * positions 0..pos[i].  scores: scratch of [n, NH, maxlen], as above. */
void gqa_decode_cpu(real *out, real *scores, real *kc, real *vc, const real *q, const real *k, const real *v,
		    const int *slot, const int *pos, int n, int NH, int NKV, int hs, int maxlen);

/* The products of incremental decoding, over a weight matrix [IN, OUT]
 * packed into panels of KERN_PANEL output columns (kernels/panel.c), its
 * values stored as float (KERN_F32), bfloat16 (KERN_BF16) or 8-bit
 * integers with a float scale per column for each KERN_I8_GROUP rows
 * (KERN_I8).  matmul_panel is batch-invariant: row i's result is the same
 * bits whatever N and the thread count, and equals the float product with
 * the unpacked matrix (panel_column) bit for bit. */
enum { KERN_F32, KERN_BF16, KERN_I8 };
#define KERN_PANEL 16
#define KERN_I8_GROUP 64
size_t panel_bytes_cpu(int fmt, int IN, int OUT);
/* w is [IN, OUT], or [OUT, IN] when transposed (the tied head's wte). */
void panel_pack_cpu(void *dst, int fmt, const real *w, int IN, int OUT, int transposed);
/* dst[IN] = column col of the packed matrix, as the product reads it. */
void panel_column_cpu(real *dst, const void *packed, int fmt, int IN, int OUT, int col);
/* out[N,OUT] = inp[N,IN] @ unpacked (+ bias, may be NULL). */
void matmul_panel_cpu(real *out, const real *inp, const void *packed, int fmt, const real *bias, int N, int IN,
		      int OUT);

/* GELU, tanh approximation (GPT-2's gelu_new). */
void gelu_forward_cpu(real *out, const real *inp, size_t n);
void gelu_backward_cpu(real *dinp, const real *inp, const real *dout, size_t n);

/* SwiGLU: out = silu(gate) * up, silu(x) = x / (1 + e^-x); the backward
 * adds into dgate and dup. */
void swiglu_forward_cpu(real *out, const real *gate, const real *up, size_t n);
void swiglu_backward_cpu(real *dgate, real *dup, const real *dout, const real *gate, const real *up, size_t n);
/* ReLU squared: out = max(0, x)^2. */
void relu2_forward_cpu(real *out, const real *inp, size_t n);
void relu2_backward_cpu(real *dinp, const real *inp, const real *dout, size_t n);

/* out = a + b, element by element. */
void residual_forward_cpu(real *out, const real *a, const real *b, size_t n);

/* logits[N,V] = inp[N,C] @ wte[V,C]^T: the tied output head. */
void head_forward_cpu(real *logits, const real *inp, const real *wte, int N, int C, int V);
/* dinp += dlogits @ wte; dwte += dlogits^T @ inp. */
void head_backward_cpu(real *dinp, real *dwte, const real *dlogits, const real *inp, const real *wte,
		       int N, int C, int V);

#ifndef SLUICE_REAL_DOUBLE
/* Matrix products with bfloat16 factors and float sums (gemm_bf16.c):
 * C[M,N] = op(A) op(B) + beta C, op(X) = X^T where tX, every factor
 * rounded to bfloat16 first, the sums in float in one fixed order (the same
 * bits at any thread count, and from the generic code as from AVX512_BF16).
 * gemm_bf16_native() is 1 where the CPU has the instruction; elsewhere the
 * generic code runs, several times slower than the float BLAS. */
void gemm_bf16_cpu(int ta, int tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
		   float beta, float *c, int ldc);
/* The same element by element from the definition (the tests' reference). */
void gemm_bf16_direct_cpu(int ta, int tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
			  float beta, float *c, int ldc);
int gemm_bf16_native(void);
void gemm_bf16_set_native(int on); /* 0: the generic code even there (tests) */

/* matmul_*, linear_* and head_* with gemm_bf16's products (kern_cpu_bf16). */
void matmul_forward_bf16_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT);
void matmul_backward_bf16_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			      int N, int IN, int OUT);
void linear_forward_bf16_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT);
void linear_backward_bf16_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			      int N, int IN, int OUT);
void head_forward_bf16_cpu(real *logits, const real *inp, const real *wte, int N, int C, int V);
void head_backward_bf16_cpu(real *dinp, real *dwte, const real *dlogits, const real *inp, const real *wte,
			    int N, int C, int V);
#endif

/* In place over logits[N,V]: softmax, then losses[i] = -log p[target[i]].
 * Returns sum_i weight[i] * losses[i] (weight may be NULL: all 1). */
double crossentropy_forward_cpu(real *logits, real *losses, const uint32_t *target, const real *weight,
				int N, int V);
/* The sampler's row of logits z[0..V): *mx its largest value, *arg the
 * first index holding it, e[j] = exp((z[j] - mx) / t); returns the sum of
 * e.  The same exponentials, summed in the same order, as the softmax of
 * crossentropy_forward_cpu at t = 1.  (A host function: the sampler works
 * on logits in host memory.)
 * A NaN in z: *mx and *arg are unspecified. */
double softmax_exp_cpu(real *e, const real *z, int V, double t, real *mx, uint32_t *arg);
/* probs (the softmaxed logits) become dlogits = weight[i] * (p - onehot). */
void crossentropy_backward_cpu(real *probs, const uint32_t *target, const real *weight, int N, int V);

/* AdamW over n parameters (decoupled weight decay as PyTorch's AdamW) on
 * the gradient g * gscale (the clipping factor):
 * p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p).  step counts from 1.
 * Parameters, gradients and moments are float in every build. */
void adamw_cpu(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
	       float eps, float wd, float gscale, int64_t step);

/* Muon's update of one weight matrix p [rows, cols] (row-major, [IN, OUT])
 * from its gradient g * gscale: buf = momentum * buf + g; the update
 * g + momentum * buf (Nesterov) orthogonalised by newton_schulz_cpu (5
 * steps), each of `blocks` column blocks on its own (3 for a fused
 * query/key/value matrix), then p -= lr * sqrt(max(1, fan_out / fan_in)) *
 * update.  scratch holds rows * cols / blocks floats plus
 * newton_schulz_scratch(rows, cols / blocks).  Float in every build. */
void muon_cpu(float *p, const float *g, float *buf, int rows, int cols, int blocks, float lr, float momentum,
	      float gscale, float *scratch);
/* The quintic Newton-Schulz iteration in place on x [rows, cols]: x is
 * divided by its Frobenius norm, then steps times X = a X + (b A + c A^2) X
 * with A = X X^T (on the transpose when rows > cols), a, b, c = 3.4445,
 * -4.7750, 2.0315.  scratch: newton_schulz_scratch(rows, cols) floats. */
void newton_schulz_cpu(float *x, int rows, int cols, int steps, float *scratch);
size_t newton_schulz_scratch(int rows, int cols);

/* The sum of x[i]^2 over x[0..n), in double: chunks of 65536 each summed
 * in order, the chunks' sums added in order (the gradient norm's square;
 * the same bits at every thread count). */
double sum_squares_cpu(const float *x, size_t n);
/* x *= factor, element by element. */
void scale_cpu(real *x, real factor, size_t n);

/* The CPU backend's memory operations (kernels/memory.c): the host's
 * memory, calloc, free, memset and memcpy (copy_cpu for every direction). */
void *mem_alloc_cpu(size_t bytes);
void mem_free_cpu(void *dev);
void mem_zero_cpu(void *dev, size_t bytes);
void copy_cpu(void *dst, const void *src, size_t bytes);

/* The table a backend fills in.
 *
 * Memory: every buffer a kernel reads or writes is the backend's memory
 * ("device memory"): the model's parameters, gradients and activations,
 * its copies of the inputs, targets and weights, the rotary tables, the
 * decode cache (keys, values, packed weights, rows, each call's slots and
 * positions) and the optimizer's moments and scratch.  It is allocated, zeroed, copied and freed only through the
 * table's memory entries, never by malloc, memset or memcpy.  The host
 * dereferences it only where the backend sets host_memory (the CPU's, whose
 * memory is the host's); see doc/architecture.md for the places that do. */
typedef struct kern_ops {
	const char *name;
	const char *matmul; /* "f32" or "bf16": the factors of the linear layers' and head's products, for reports */
	void (*encoder_forward)(real *out, const uint32_t *tok, const real *wte, const real *wpe, int B, int T,
				int C);
	void (*encoder_backward)(real *dwte, real *dwpe, const real *dout, const uint32_t *tok, int B, int T, int C);
	void (*layernorm_forward)(real *out, real *mean, real *rstd, const real *inp, const real *w, const real *b,
				  int N, int C);
	void (*layernorm_backward)(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w,
				   const real *mean, const real *rstd, int N, int C);
	void (*matmul_forward)(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT);
	void (*matmul_backward)(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
				int N, int IN, int OUT);
	void (*attention_forward)(real *out, real *att, const real *qkv, int B, int T, int C, int NH);
	void (*attention_backward)(real *dqkv, real *datt, const real *dout, const real *qkv, const real *att, int B,
				   int T, int C, int NH);
	void (*gelu_forward)(real *out, const real *inp, size_t n);
	void (*gelu_backward)(real *dinp, const real *inp, const real *dout, size_t n);
	void (*residual_forward)(real *out, const real *a, const real *b, size_t n);
	void (*head_forward)(real *logits, const real *inp, const real *wte, int N, int C, int V);
	void (*head_backward)(real *dinp, real *dwte, const real *dlogits, const real *inp, const real *wte, int N,
			      int C, int V);
	double (*crossentropy_forward)(real *logits, real *losses, const uint32_t *target, const real *weight, int N,
				       int V);
	void (*crossentropy_backward)(real *probs, const uint32_t *target, const real *weight, int N, int V);
	void (*attention_decode)(real *out, real *scores, real *kc, real *vc, const real *qkv, const int *slot,
				 const int *pos, int n, int C, int NH, int maxlen);
	size_t (*panel_bytes)(int fmt, int IN, int OUT);
	void (*panel_pack)(void *dst, int fmt, const real *w, int IN, int OUT, int transposed);
	void (*panel_column)(real *dst, const void *packed, int fmt, int IN, int OUT, int col);
	void (*matmul_panel)(real *out, const real *inp, const void *packed, int fmt, const real *bias, int N, int IN,
			     int OUT);
	/* The Llama family's operations (model_config.family MODEL_LLAMA). */
	void (*rmsnorm_forward)(real *out, real *rstd, const real *inp, const real *w, int N, int C, double eps);
	void (*rmsnorm_backward)(real *dinp, real *dw, const real *dout, const real *inp, const real *w,
				 const real *rstd, int N, int C);
	void (*linear_forward)(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT);
	void (*linear_backward)(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
				int N, int IN, int OUT);
	void (*rope_forward)(real *x, const real *cosv, const real *sinv, const int *pos, int T, int N, int NH,
			     int hs);
	void (*rope_backward)(real *dx, const real *cosv, const real *sinv, const int *pos, int T, int N, int NH,
			      int hs);
	void (*gqa_forward)(real *out, real *att, const real *q, const real *k, const real *v, int B, int T, int NH,
			    int NKV, int hs);
	void (*gqa_backward)(real *dq, real *dk, real *dv, real *datt, const real *dout, const real *q, const real *k,
			     const real *v, const real *att, int B, int T, int NH, int NKV, int hs);
	void (*gqa_decode)(real *out, real *scores, real *kc, real *vc, const real *q, const real *k, const real *v,
			   const int *slot, const int *pos, int n, int NH, int NKV, int hs, int maxlen);
	void (*swiglu_forward)(real *out, const real *gate, const real *up, size_t n);
	void (*swiglu_backward)(real *dgate, real *dup, const real *dout, const real *gate, const real *up, size_t n);
	void (*relu2_forward)(real *out, const real *inp, size_t n);
	void (*relu2_backward)(real *dinp, const real *inp, const real *dout, size_t n);
	/* The optimizer's updates (float in every build). */
	void (*adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
		      float eps, float wd, float gscale, int64_t step);
	void (*muon)(float *p, const float *g, float *buf, int rows, int cols, int blocks, float lr, float momentum,
		     float gscale, float *scratch);
	/* The gradient norm's square: sum_squares_cpu's result, in the same
	 * order; and scaling in place. */
	double (*sum_squares)(const float *x, size_t n);
	void (*scale)(real *x, real factor, size_t n);
	/* Memory, sizes in bytes.  mem_alloc's memory is zeroed; it returns
	 * NULL when out of memory.  mem_free accepts NULL. */
	void *(*mem_alloc)(size_t bytes);
	void (*mem_free)(void *dev);
	void (*mem_zero)(void *dev, size_t bytes);
	void (*copy_h2d)(void *dst_dev, const void *src_host, size_t bytes);
	void (*copy_d2h)(void *dst_host, const void *src_dev, size_t bytes);
	void (*copy_d2d)(void *dst_dev, const void *src_dev, size_t bytes);
	/* 1 when the host addresses this memory at the pointers the backend
	 * hands out (the CPU's); 0 when only the copies above reach it. */
	int host_memory;
} kern_ops;

/* Host access to the backend's memory in place: p itself on a backend
 * whose memory the host addresses (host_memory: the CPU's), NULL on any
 * other.  The one way host code (initialisation, checkpoints, conversions,
 * reading logits) touches that memory without a copy; a backend without
 * host_memory needs copy_d2h and copy_h2d at those places instead.  p keeps
 * its type. */
#define KERN_HOST(k, p) ((k)->host_memory ? (p) : NULL)

extern const kern_ops kern_cpu;
#ifndef SLUICE_REAL_DOUBLE
/* kern_cpu with the matrix products of the linear layers and the head in
 * bfloat16 (gemm_bf16_cpu); attention's products stay in float. */
extern const kern_ops kern_cpu_bf16;
#endif
/* Threads for the CPU kernels and the BLAS under them. */
void kern_cpu_threads(int n);

#endif
