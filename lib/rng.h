/* rng.h: pseudo-random numbers that are the same on every machine and
 * build: splitmix64 to seed and to derive keys, xoshiro256** for streams
 * (Blackman and Vigna).  A generator is a plain value the caller owns. */
#ifndef SLUICE_RNG_H
#define SLUICE_RNG_H

#include <stdint.h>

/* Advance *state and return the next splitmix64 output. */
uint64_t rng_splitmix64(uint64_t *state);

typedef struct rng {
	uint64_t s[4];
} rng;

/* The stream of a seed: its state is four splitmix64 outputs from it. */
void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1), 53 random bits. */
double rng_uniform(rng *r);

#endif
