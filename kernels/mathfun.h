/* mathfun.h: float exp and tanh the compiler can vectorize, and the
 * attribute that builds a hot loop for several instruction sets.
 *
 * libm's expf and tanhf are calls the loops cannot vectorize.  k_expf is
 * the classic Cody-Waite reduction x = n ln2 + r with a degree-6 minimax
 * polynomial for e^r (the Cephes coefficients): relative error below 2e-7
 * over the float range, held at e^-87.3 below and e^88.3 above. */
#ifndef SLUICE_KERNELS_MATHFUN_H
#define SLUICE_KERNELS_MATHFUN_H

#include <stdint.h>
#include <string.h>

/* Pick the widest vector unit at load time (GCC and clang, x86-64 with
 * ifunc); elsewhere one generic build.  On static functions only: clang
 * emits no resolver under the name of an exported one, so a kernel the
 * rest calls is a plain function over a static clone. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define KERN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERN_CLONES
#endif

static inline float k_expf(float x)
{
	/* The exponent from a value that is never NaN (a NaN fails both
	 * comparisons), the rest from x itself, so that NaN comes out NaN. */
	float xn = x > -87.3f ? x : -87.3f;
	xn = xn < 88.3f ? xn : 88.3f; /* 2^127 at most: finite */
	x = x < -87.3f ? -87.3f : x;
	x = x > 88.3f ? 88.3f : x;
	/* n = round(x / ln2) by the 1.5 * 2^23 trick (exact in ISO C:
	 * neither -ffast-math nor FMA contraction is in use). */
	float n = (xn * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof(scale));
	return p * scale;
}

/* tanh(x) = 1 - 2 / (e^2x + 1): absolute error below 3e-7. */
static inline float k_tanhf(float x)
{
	return 1.0f - 2.0f / (k_expf(2.0f * x) + 1.0f);
}

#endif
