/* optim.c: AdamW and Muon, schedules, clipping. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct optim {
	const kern_ops *k;          /* whose memory the moments and scratch are */
	size_t n, first;            /* moments held, of parameters [first, first + n) */
	int64_t steps;
	float *m, *v;
	float *scratch;             /* Muon's work space */
	size_t scratch_n;
};

void optim_opts_default(optim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->lr = 6e-4;
	o->min_lr_frac = 0.1;
	o->schedule = OPTIM_COSINE;
	o->wsd_decay = 0.2;
	o->beta1 = 0.9;
	o->beta2 = 0.95;
	o->eps = 1e-8;
	o->weight_decay = 0.1;
	o->clip = 1.0;
	o->kind = OPTIM_ADAMW;
	o->muon_lr = 0.02;
	o->muon_momentum = 0.95;
}

static const char *const kind_names[] = { "adamw", "muon" };

int optim_kind_parse(const char *s)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(s, kind_names[i]))
			return i;
	return -1;
}

const char *optim_kind_name(int kind) { return kind_names[kind]; }

int optim_muon_tensor(const model_tensor *t)
{
	return t->decay && t->ndim == 2 && t->shape[0] > 1 && t->shape[1] > 1;
}

/* Column blocks orthogonalised apart: the fused query/key/value matrix
 * [C, 3C] as its three parts. */
static int muon_blocks(const model_tensor *t)
{
	size_t n = strlen(t->name);
	return n >= 18 && !strcmp(t->name + n - 18, "attn.c_attn.weight") && t->shape[1] == 3 * t->shape[0] ? 3 : 1;
}

double optim_step_flops(const model *m, const optim_opts *opts)
{
	if (opts->kind != OPTIM_MUON)
		return 0;
	double f = 0;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		if (!optim_muon_tensor(t))
			continue;
		int b = muon_blocks(t);
		double r = (double)t->shape[0], c = (double)t->shape[1] / b;
		if (r > c) {
			double x = r;
			r = c;
			c = x;
		}
		/* each step: X X^T (symmetric, r r c), A A (2 r^3), B X (2 r r c) */
		f += b * 5 * (3 * r * r * c + 2 * r * r * r);
	}
	return f;
}

static const char *const schedule_names[] = { "cosine", "wsd", "constant" };

int optim_schedule_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, schedule_names[i]))
			return i;
	return -1;
}

const char *optim_schedule_name(int schedule) { return schedule_names[schedule]; }

double optim_lr(const optim_opts *o, int64_t step)
{
	double lr_min = o->lr * o->min_lr_frac;
	if (step < o->warmup)
		return o->lr * (double)(step + 1) / (double)o->warmup;
	if (o->schedule == OPTIM_CONSTANT || o->horizon <= 0)
		return o->lr;
	if (step >= o->horizon)
		return lr_min;
	if (o->schedule == OPTIM_COSINE) {
		double span = (double)(o->horizon - o->warmup);
		double x = span > 0 ? (double)(step - o->warmup) / span : 1;
		return lr_min + 0.5 * (o->lr - lr_min) * (1 + cos(M_PI * x));
	}
	/* Warm-up, stable, then a linear decay over the last wsd_decay of the
	 * horizon. */
	double decay_start = (double)o->horizon * (1 - o->wsd_decay);
	if ((double)step < decay_start)
		return o->lr;
	double x = ((double)step - decay_start) / ((double)o->horizon - decay_start);
	return o->lr + (lr_min - o->lr) * x;
}

optim *optim_new(const kern_ops *k, size_t nparams)
{
	optim *o = xcalloc(1, sizeof(*o));
	o->k = k;
	o->n = nparams;
	o->m = model_mem_alloc(k, (nparams ? nparams : 1) * sizeof(float));
	o->v = model_mem_alloc(k, (nparams ? nparams : 1) * sizeof(float));
	return o;
}

void optim_free(optim *o)
{
	if (!o)
		return;
	o->k->mem_free(o->m);
	o->k->mem_free(o->v);
	o->k->mem_free(o->scratch);
	free(o);
}

size_t optim_size(const optim *o) { return o->n; }
size_t optim_first(const optim *o) { return o->first; }

void optim_shard(optim *o, size_t first, size_t n)
{
	size_t skip = first > o->first ? first - o->first : 0;
	if (skip > o->n)
		skip = o->n;
	if (n > o->n - skip)
		n = o->n - skip;
	float *m = model_mem_alloc(o->k, (n ? n : 1) * sizeof(float));
	float *v = model_mem_alloc(o->k, (n ? n : 1) * sizeof(float));
	o->k->copy_d2d(m, o->m + skip, n * sizeof(float));
	o->k->copy_d2d(v, o->v + skip, n * sizeof(float));
	o->k->mem_free(o->m);
	o->k->mem_free(o->v);
	o->m = m;
	o->v = v;
	o->first += skip;
	o->n = n;
}
float *optim_m(optim *o) { return o->m; }
float *optim_v(optim *o) { return o->v; }
int64_t optim_steps(const optim *o) { return o->steps; }
void optim_set_steps(optim *o, int64_t steps) { o->steps = steps; }

double optim_step(optim *o, model *m, const optim_opts *opts, double lr)
{
	const float *g = model_grads(m);
	float *p = model_params(m);
	size_t n = model_nparams(m);
	const kern_ops *k = model_kernels(m);
	double norm = sqrt(k->sum_squares(g, n));
	float scale = opts->clip > 0 && norm > opts->clip ? (float)(opts->clip / norm) : 1.0f;
	o->steps++;
	size_t lo = o->first, hi = o->first + o->n;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		if (opts->kind == OPTIM_MUON && optim_muon_tensor(t)) {
			int rows = (int)t->shape[0], cols = (int)t->shape[1], b = muon_blocks(t);
			size_t need = (size_t)rows * (size_t)(cols / b) + newton_schulz_scratch(rows, cols / b);
			if (need > o->scratch_n) {
				o->k->mem_free(o->scratch);
				o->scratch = model_mem_alloc(o->k, need * sizeof(float));
				o->scratch_n = need;
			}
			double mlr = opts->lr > 0 ? opts->muon_lr * lr / opts->lr : 0;
			/* muon_cpu scales by sqrt(max(1, cols / rows)), fan-out over
			 * fan-in of an [IN, OUT] matrix; an [OUT, IN] one's is rows
			 * over cols. */
			if (t->out_in)
				mlr *= sqrt(rows > cols ? (double)rows / cols : 1) / sqrt(cols > rows ? (double)cols / rows : 1);
			k->muon(p + t->offset, g + t->offset, o->m + t->offset, rows, cols, b, (float)mlr,
				(float)opts->muon_momentum, scale, o->scratch);
			continue;
		}
		size_t a = t->offset > lo ? t->offset : lo, b = t->offset + t->numel < hi ? t->offset + t->numel : hi;
		if (a >= b)
			continue;
		float wd = t->decay || opts->decay_all ? (float)opts->weight_decay : 0;
		k->adamw(p + a, g + a, o->m + (a - lo), o->v + (a - lo), b - a, (float)lr, (float)opts->beta1,
			 (float)opts->beta2, (float)opts->eps, wd, scale, o->steps);
	}
	return norm;
}
