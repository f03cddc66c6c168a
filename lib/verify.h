/* verify.h: checks on model-written answers.
 *
 * Final answers: the number a solution ends on, found (in this order) in
 * the last \boxed{...}, after the last "####" (GSM8K's convention), after
 * the last "answer is" / "Answer:", or else the last number in the text.
 * Numbers may carry thousands commas, a sign, a decimal part, a currency
 * sign, a percent sign or trailing units ("18 dollars"), or be a fraction
 * ("3/4", \frac{3}{4}).  Two answers agree when they are equal exactly, as
 * rationals of any size; a decimal of k places against a fraction agrees
 * when they differ by less than 10^-k (0.67 or 0.66 for 2/3). */
#ifndef SLUICE_VERIFY_H
#define SLUICE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

/* The final answer of a solution, as the nearest double (for reports; the
 * comparison below is exact).  Returns 1 and sets *out, or 0 if the text
 * holds no number. */
int verify_final_answer(const uint8_t *s, size_t n, double *out);
/* 1 if the solution's final answer equals the reference's (itself read
 * with verify_final_answer, so "#### 72" and "72" both work), else 0. */
int verify_answer_matches(const uint8_t *sol, size_t sn, const uint8_t *ref, size_t rn);
/* Number of refusal and boilerplate phrases typical of model-written text
 * ("as an AI language model", "I'm sorry, but I can't", ...) found in s,
 * case-insensitively. */
size_t verify_refusals(const uint8_t *s, size_t n);

#endif
