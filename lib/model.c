/* model.c: GPT-2 forward and backward as a sequence of kernel calls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"
#include "util.h"

/* Per-block tensors, in buffer order. */
enum { LN1_W, LN1_B, QKV_W, QKV_B, PROJ_W, PROJ_B, LN2_W, LN2_B, FC_W, FC_B, FCPROJ_W, FCPROJ_B, N_BLOCK_TENSORS };

static const char *const block_names[N_BLOCK_TENSORS] = {
	"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
	"attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
	"mlp.c_proj.weight", "mlp.c_proj.bias",
};

/* Activations of one block kept for the backward pass. */
struct block_acts {
	real *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *res3;
};

struct model {
	model_config c;
	const kern_ops *k;
	model_tensor *tensors;
	size_t ntensors, nparams;
	real *params, *grads;

	/* Activations for up to B x T tokens. */
	int B, T, cap_bt, cap_b, cap_t;
	real *acts;
	real *encoded;              /* block 0's input */
	struct block_acts *blocks;
	real *lnf, *lnf_mean, *lnf_rstd, *logits, *losses;
	real *scratch;              /* projection outputs before the residual add */
	const uint32_t *inp, *targets;
	uint32_t *inp_copy, *targets_copy;
	real *weight_copy;
	int have_targets;
	double temperature;          /* of the softmax after a forward pass with targets; 0: 1 */

	/* Backward scratch. */
	real *dacts;
	real *dres, *dln, *datty, *dbig1, *dbig2, *datt;
};

int model_config_preset(const char *name, model_config *c)
{
	if (name[0] != 'd' || !name[1])
		return -1;
	char *end;
	long n = strtol(name + 1, &end, 10);
	if (*end || n < 1 || n > MODEL_LAYERS_MAX)
		return -1;
	static const struct { int L, C, H; } gpt2[] = { { 12, 768, 12 }, { 24, 1024, 16 }, { 36, 1280, 20 }, { 48, 1600, 25 } };
	c->n_layer = (int)n;
	c->n_embd = (int)n * 64;
	c->n_head = (int)n;
	for (size_t i = 0; i < sizeof(gpt2) / sizeof(gpt2[0]); i++)
		if (gpt2[i].L == n) {
			c->n_embd = gpt2[i].C;
			c->n_head = gpt2[i].H;
		}
	return 0;
}

int model_config_check(const model_config *c, char *err, size_t errlen)
{
	if (c->n_layer < 1 || c->n_layer > MODEL_LAYERS_MAX)
		snprintf(err, errlen, "n_layer %d is not in 1..%d", c->n_layer, MODEL_LAYERS_MAX);
	else if (c->n_embd < 1 || c->n_embd > MODEL_EMBD_MAX)
		snprintf(err, errlen, "n_embd %d is not in 1..%d", c->n_embd, MODEL_EMBD_MAX);
	else if (c->n_head < 1 || c->n_embd % c->n_head)
		snprintf(err, errlen, "n_head %d does not divide n_embd %d", c->n_head, c->n_embd);
	else if (c->n_ctx < 1 || c->n_ctx > MODEL_CTX_MAX)
		snprintf(err, errlen, "n_ctx %d is not in 1..%d", c->n_ctx, MODEL_CTX_MAX);
	else if (c->n_vocab < 1 || c->n_vocab > MODEL_VOCAB_MAX)
		snprintf(err, errlen, "n_vocab %d is not in 1..%d", c->n_vocab, MODEL_VOCAB_MAX);
	else
		return 0;
	return -1;
}

static void add_tensor(model *m, const char *name, int64_t d0, int64_t d1, int decay)
{
	model_tensor *t = &m->tensors[m->ntensors++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->ndim = d1 ? 2 : 1;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
	t->offset = m->nparams;
	t->decay = decay;
	m->nparams += t->numel;
}

model *model_new(const model_config *c, const kern_ops *k)
{
	model *m = xcalloc(1, sizeof(*m));
	m->c = *c;
	m->k = k;
	int64_t C = c->n_embd, L = c->n_layer;
	m->tensors = xcalloc((size_t)(L * N_BLOCK_TENSORS + 4), sizeof(*m->tensors));
	add_tensor(m, "wte.weight", c->n_vocab, C, 0);
	add_tensor(m, "wpe.weight", c->n_ctx, C, 0);
	for (int64_t l = 0; l < L; l++) {
		char name[48];
		static const int64_t shape[N_BLOCK_TENSORS][2] = {
			{ 1, 0 }, { 1, 0 }, { 1, 3 }, { 3, 0 }, { 1, 1 }, { 1, 0 },
			{ 1, 0 }, { 1, 0 }, { 1, 4 }, { 4, 0 }, { 4, 1 }, { 1, 0 },
		};
		for (int i = 0; i < N_BLOCK_TENSORS; i++) {
			snprintf(name, sizeof(name), "h.%d.%s", (int)l, block_names[i]);
			add_tensor(m, name, shape[i][0] * C, shape[i][1] * C, shape[i][1] != 0);
		}
	}
	add_tensor(m, "ln_f.weight", C, 0, 0);
	add_tensor(m, "ln_f.bias", C, 0, 0);
	m->params = xcalloc(m->nparams, sizeof(real));
	return m;
}

model *model_grow_vocab(model *m, int n_vocab)
{
	model_config c = m->c;
	int old = c.n_vocab, C = c.n_embd;
	c.n_vocab = n_vocab;
	model *g = model_new(&c, m->k);
	/* wte comes first: its old rows, then the rest of the parameters as
	 * they lie, one embedding table further on. */
	size_t wte = (size_t)old * C, grown = (size_t)n_vocab * C;
	memcpy(g->params, m->params, wte * sizeof(real));
	memcpy(g->params + grown, m->params + wte, (m->nparams - wte) * sizeof(real));
	for (int j = 0; j < C; j++) {
		double sum = 0;
		for (int v = 0; v < old; v++)
			sum += m->params[(size_t)v * C + j];
		for (int v = old; v < n_vocab; v++)
			g->params[(size_t)v * C + j] = (real)(sum / old);
	}
	return g;
}

static void free_acts(model *m)
{
	free(m->acts);
	free(m->blocks);
	free(m->dacts);
	free(m->inp_copy);
	free(m->targets_copy);
	free(m->weight_copy);
	m->acts = m->dacts = NULL;
	m->blocks = NULL;
	m->inp_copy = m->targets_copy = NULL;
	m->weight_copy = NULL;
	m->cap_bt = 0;
}

void model_free(model *m)
{
	if (!m)
		return;
	free_acts(m);
	free(m->tensors);
	free(m->params);
	free(m->grads);
	free(m);
}

const model_config *model_cfg(const model *m) { return &m->c; }
size_t model_nparams(const model *m) { return m->nparams; }
real *model_params(model *m) { return m->params; }
size_t model_ntensors(const model *m) { return m->ntensors; }
const model_tensor *model_tensor_at(const model *m, size_t i) { return &m->tensors[i]; }
const real *model_logits(const model *m) { return m->logits; }
void model_set_temperature(model *m, double t) { m->temperature = t; }
void model_set_weights(model *m, const real *w)
{
	memcpy(m->weight_copy, w, (size_t)m->B * (size_t)m->T * sizeof(*w));
}
const real *model_losses(const model *m) { return m->losses; }

const model_tensor *model_tensor_find(const model *m, const char *name)
{
	for (size_t i = 0; i < m->ntensors; i++)
		if (!strcmp(m->tensors[i].name, name))
			return &m->tensors[i];
	return NULL;
}

real *model_grads(model *m)
{
	if (!m->grads)
		m->grads = xcalloc(m->nparams, sizeof(real));
	return m->grads;
}

void model_zero_grad(model *m)
{
	memset(model_grads(m), 0, m->nparams * sizeof(real));
}

/* Normal deviates by Box-Muller from a seeded xoshiro256** stream: the
 * same seed gives the same model on every machine. */
static void fill_normal(rng *r, real *p, size_t n, double std)
{
	for (size_t i = 0; i < n; i += 2) {
		/* u1 in (0, 1): never log(0). */
		double u1 = rng_uniform(r) + 0x1p-54, u2 = rng_uniform(r);
		double rad = sqrt(-2 * log(u1)) * std, th = 2 * M_PI * u2;
		p[i] = (real)(rad * cos(th));
		if (i + 1 < n)
			p[i + 1] = (real)(rad * sin(th));
	}
}

void model_init(model *m, uint64_t seed)
{
	rng r;
	rng_seed(&r, seed);
	double resid_std = 0.02 / sqrt(2.0 * m->c.n_layer);
	for (size_t i = 0; i < m->ntensors; i++) {
		const model_tensor *t = &m->tensors[i];
		real *p = m->params + t->offset;
		const char *dot = strrchr(t->name, '.');
		if (t->ndim == 2) {
			int resid = strstr(t->name, ".c_proj.") != NULL;
			fill_normal(&r, p, t->numel, resid ? resid_std : 0.02);
		} else {
			real v = strstr(t->name, "ln_") && !strcmp(dot, ".weight") ? 1 : 0;
			for (size_t j = 0; j < t->numel; j++)
				p[j] = v;
		}
	}
}

double model_forward_flops(const model_config *c, int B, int T)
{
	double C = c->n_embd, BT = (double)B * T;
	double per_token = 2 * (C * 3 * C + C * C + C * 4 * C + 4 * C * C) * c->n_layer + 2 * C * c->n_vocab;
	double attention = 2.0 * 2.0 * B * C * ((double)T * (T + 1) / 2) * c->n_layer;
	return per_token * BT + attention;
}

/* Carve the activation buffers for B x T tokens (kept if big enough). */
static void ensure_acts(model *m, int B, int T)
{
	if (m->cap_bt >= B * T && m->cap_b >= B && m->cap_t >= T) {
		m->B = B;
		m->T = T;
		return;
	}
	free_acts(m);
	size_t BT = (size_t)B * T, C = (size_t)m->c.n_embd, V = (size_t)m->c.n_vocab, L = (size_t)m->c.n_layer;
	size_t att = (size_t)B * m->c.n_head * T * T;
	/* ln1 qkv atty res2 ln2 fch fch_gelu res3: 16 C a token, two means and
	 * two rstds, the attention matrix. */
	size_t per_block = BT * (16 * C + 4) + att;
	size_t total = BT * C + L * per_block + BT * (C + 2) + BT * V + BT + BT * C;
	m->acts = xmalloc(total * sizeof(real));
	m->blocks = xcalloc(L, sizeof(*m->blocks));
	real *p = m->acts;
#define CARVE(dst, n) do { (dst) = p; p += (n); } while (0)
	CARVE(m->encoded, BT * C);
	for (size_t l = 0; l < L; l++) {
		struct block_acts *a = &m->blocks[l];
		CARVE(a->ln1, BT * C);
		CARVE(a->ln1_mean, BT);
		CARVE(a->ln1_rstd, BT);
		CARVE(a->qkv, BT * 3 * C);
		CARVE(a->atty, BT * C);
		CARVE(a->att, att);
		CARVE(a->res2, BT * C);
		CARVE(a->ln2, BT * C);
		CARVE(a->ln2_mean, BT);
		CARVE(a->ln2_rstd, BT);
		CARVE(a->fch, BT * 4 * C);
		CARVE(a->fch_gelu, BT * 4 * C);
		CARVE(a->res3, BT * C);
	}
	CARVE(m->lnf, BT * C);
	CARVE(m->lnf_mean, BT);
	CARVE(m->lnf_rstd, BT);
	CARVE(m->logits, BT * V);
	CARVE(m->losses, BT);
	CARVE(m->scratch, BT * C);
	m->dacts = xmalloc((BT * C * 3 + BT * 4 * C * 2 + att) * sizeof(real));
	p = m->dacts;
	CARVE(m->dres, BT * C);
	CARVE(m->dln, BT * C);
	CARVE(m->datty, BT * C);
	CARVE(m->dbig1, BT * 4 * C);
	CARVE(m->dbig2, BT * 4 * C);
	CARVE(m->datt, att);
#undef CARVE
	m->inp_copy = xmalloc(BT * sizeof(uint32_t));
	m->targets_copy = xmalloc(BT * sizeof(uint32_t));
	m->weight_copy = xmalloc(BT * sizeof(real));
	m->cap_bt = (int)BT;
	m->cap_b = B;
	m->cap_t = T;
	m->B = B;
	m->T = T;
}

/* Pointers to block l's tensors within base (parameters or gradients). */
static void block_tensors(const model *m, real *base, int l, real *out[N_BLOCK_TENSORS])
{
	const model_tensor *t = &m->tensors[2 + (size_t)l * N_BLOCK_TENSORS];
	for (int i = 0; i < N_BLOCK_TENSORS; i++)
		out[i] = base + t[i].offset;
}

double model_forward(model *m, const uint32_t *inp, const uint32_t *targets, const real *weight, int B, int T)
{
	const kern_ops *k = m->k;
	ensure_acts(m, B, T);
	int C = m->c.n_embd, NH = m->c.n_head, V = m->c.n_vocab, BT = B * T;
	const model_tensor *t = m->tensors;
	real *wte = m->params + t[0].offset, *wpe = m->params + t[1].offset;
	memcpy(m->inp_copy, inp, (size_t)BT * sizeof(*inp));
	m->inp = m->inp_copy;

	k->encoder_forward(m->encoded, m->inp, wte, wpe, B, T, C);
	real *x = m->encoded;
	for (int l = 0; l < m->c.n_layer; l++) {
		struct block_acts *a = &m->blocks[l];
		real *w[N_BLOCK_TENSORS];
		block_tensors(m, m->params, l, w);
		k->layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, w[LN1_W], w[LN1_B], BT, C);
		k->matmul_forward(a->qkv, a->ln1, w[QKV_W], w[QKV_B], BT, C, 3 * C);
		k->attention_forward(a->atty, a->att, a->qkv, B, T, C, NH);
		k->matmul_forward(m->scratch, a->atty, w[PROJ_W], w[PROJ_B], BT, C, C);
		k->residual_forward(a->res2, x, m->scratch, (size_t)BT * C);
		k->layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, w[LN2_W], w[LN2_B], BT, C);
		k->matmul_forward(a->fch, a->ln2, w[FC_W], w[FC_B], BT, C, 4 * C);
		k->gelu_forward(a->fch_gelu, a->fch, (size_t)BT * 4 * C);
		k->matmul_forward(m->scratch, a->fch_gelu, w[FCPROJ_W], w[FCPROJ_B], BT, 4 * C, C);
		k->residual_forward(a->res3, a->res2, m->scratch, (size_t)BT * C);
		x = a->res3;
	}
	const model_tensor *lnf = &m->tensors[m->ntensors - 2];
	k->layernorm_forward(m->lnf, m->lnf_mean, m->lnf_rstd, x, m->params + lnf[0].offset, m->params + lnf[1].offset,
			     BT, C);
	k->head_forward(m->logits, m->lnf, wte, BT, C, V);
	m->have_targets = targets != NULL;
	if (!targets)
		return 0;
	if (m->temperature > 0 && m->temperature != 1) {
		real inv = (real)(1 / m->temperature);
#pragma omp parallel for schedule(static)
		for (int64_t i = 0; i < (int64_t)BT * V; i++)
			m->logits[i] *= inv;
	}
	memcpy(m->targets_copy, targets, (size_t)BT * sizeof(*targets));
	m->targets = m->targets_copy;
	if (weight)
		memcpy(m->weight_copy, weight, (size_t)BT * sizeof(*weight));
	else
		for (int i = 0; i < BT; i++)
			m->weight_copy[i] = 1;
	return k->crossentropy_forward(m->logits, m->losses, m->targets, m->weight_copy, BT, V);
}

void model_backward(model *m)
{
	const kern_ops *k = m->k;
	int B = m->B, T = m->T, C = m->c.n_embd, NH = m->c.n_head, V = m->c.n_vocab, BT = B * T;
	size_t n = (size_t)BT * C;
	real *g = model_grads(m), *wte = m->params + m->tensors[0].offset;
	real *dwte = g + m->tensors[0].offset, *dwpe = g + m->tensors[1].offset;
	const model_tensor *lnf = &m->tensors[m->ntensors - 2];

	/* With a temperature, the loss is of logits / t: its gradient with
	 * respect to the logits carries 1 / t, folded into the weights. */
	if (m->temperature > 0 && m->temperature != 1)
		for (int i = 0; i < BT; i++)
			m->weight_copy[i] = (real)(m->weight_copy[i] / m->temperature);
	k->crossentropy_backward(m->logits, m->targets, m->weight_copy, BT, V);
	memset(m->dln, 0, n * sizeof(real));
	k->head_backward(m->dln, dwte, m->logits, m->lnf, wte, BT, C, V);
	real *x = m->c.n_layer ? m->blocks[m->c.n_layer - 1].res3 : m->encoded;
	memset(m->dres, 0, n * sizeof(real));
	k->layernorm_backward(m->dres, g + lnf[0].offset, g + lnf[1].offset, m->dln, x, m->params + lnf[0].offset,
			      m->lnf_mean, m->lnf_rstd, BT, C);
	/* dres holds the gradient of the residual stream, block by block
	 * downwards: each block's norms add their input gradients into it. */
	for (int l = m->c.n_layer - 1; l >= 0; l--) {
		struct block_acts *a = &m->blocks[l];
		real *w[N_BLOCK_TENSORS], *dw[N_BLOCK_TENSORS];
		block_tensors(m, m->params, l, w);
		block_tensors(m, g, l, dw);
		real *xin = l ? m->blocks[l - 1].res3 : m->encoded;
		real *dfch_gelu = m->dbig1, *dfch = m->dbig2, *dqkv = m->dbig1;

		memset(dfch_gelu, 0, n * 4 * sizeof(real));
		k->matmul_backward(dfch_gelu, dw[FCPROJ_W], dw[FCPROJ_B], m->dres, a->fch_gelu, w[FCPROJ_W], BT, 4 * C, C);
		memset(dfch, 0, n * 4 * sizeof(real));
		k->gelu_backward(dfch, a->fch, dfch_gelu, n * 4);
		memset(m->dln, 0, n * sizeof(real));
		k->matmul_backward(m->dln, dw[FC_W], dw[FC_B], dfch, a->ln2, w[FC_W], BT, C, 4 * C);
		k->layernorm_backward(m->dres, dw[LN2_W], dw[LN2_B], m->dln, a->res2, w[LN2_W], a->ln2_mean,
				      a->ln2_rstd, BT, C);

		memset(m->datty, 0, n * sizeof(real));
		k->matmul_backward(m->datty, dw[PROJ_W], dw[PROJ_B], m->dres, a->atty, w[PROJ_W], BT, C, C);
		memset(dqkv, 0, n * 3 * sizeof(real));
		k->attention_backward(dqkv, m->datt, m->datty, a->qkv, a->att, B, T, C, NH);
		memset(m->dln, 0, n * sizeof(real));
		k->matmul_backward(m->dln, dw[QKV_W], dw[QKV_B], dqkv, a->ln1, w[QKV_W], BT, C, 3 * C);
		k->layernorm_backward(m->dres, dw[LN1_W], dw[LN1_B], m->dln, xin, w[LN1_W], a->ln1_mean, a->ln1_rstd,
				      BT, C);
	}
	k->encoder_backward(dwte, dwpe, m->dres, m->inp, B, T, C);
}

/* The four products of a block, in the order of block_w below. */
enum { P_QKV, P_PROJ, P_FC, P_FCPROJ, N_PANELS };
static const int block_w[N_PANELS] = { QKV_W, PROJ_W, FC_W, FCPROJ_W };

static void block_shape(int C, int i, int *in, int *out)
{
	*in = i == P_FCPROJ ? 4 * C : C;
	*out = i == P_QKV ? 3 * C : i == P_FC ? 4 * C : C;
}

struct model_cache {
	int slots, maxlen, cap;     /* cap: rows the buffers below hold */
	int weights;                /* KERN_F32, KERN_BF16 or KERN_I8 */
	real *k, *v;                /* [n_layer][slots][maxlen][C] */
	real *x, *ln, *mean, *rstd, *qkv, *atty, *tmp, *fch, *fch_gelu, *logits;
	unsigned char *packed;      /* the block products, then the head */
	size_t *at;                 /* [n_layer * N_PANELS + 1] offsets in packed */
};

model_cache *model_cache_new(const model *m, int slots, int maxlen, int weights)
{
	const kern_ops *k = m->k;
	int L = m->c.n_layer, C = m->c.n_embd, V = m->c.n_vocab;
	model_cache *c = xcalloc(1, sizeof(*c));
	size_t per = (size_t)slots * maxlen * C * L;
	c->slots = slots;
	c->maxlen = maxlen;
	c->weights = weights;
	c->k = xmalloc(per * sizeof(real));
	c->v = xmalloc(per * sizeof(real));
	c->at = xmalloc(((size_t)L * N_PANELS + 1) * sizeof(size_t));
	size_t total = 0;
	for (int l = 0; l < L; l++)
		for (int i = 0; i < N_PANELS; i++) {
			int in, out;
			block_shape(C, i, &in, &out);
			c->at[l * N_PANELS + i] = total;
			total += k->panel_bytes(weights, in, out);
		}
	c->at[L * N_PANELS] = total;
	total += k->panel_bytes(weights, C, V);
	c->packed = xmalloc(total);
	for (int l = 0; l < L; l++) {
		real *w[N_BLOCK_TENSORS];
		block_tensors(m, m->params, l, w);
		for (int i = 0; i < N_PANELS; i++) {
			int in, out;
			block_shape(C, i, &in, &out);
			k->panel_pack(c->packed + c->at[l * N_PANELS + i], weights, w[block_w[i]], in, out, 0);
		}
	}
	k->panel_pack(c->packed + c->at[L * N_PANELS], weights, m->params + m->tensors[0].offset, C, V, 1);
	return c;
}

void model_cache_free(model_cache *c)
{
	if (!c)
		return;
	free(c->k);
	free(c->v);
	free(c->x);
	free(c->packed);
	free(c->at);
	free(c);
}

void model_round_weights(model *m, int weights)
{
	const kern_ops *k = m->k;
	int L = m->c.n_layer, C = m->c.n_embd, V = m->c.n_vocab;
	if (weights == KERN_F32)
		return;
	size_t most = k->panel_bytes(weights, C, V);
	for (int i = 0; i < N_PANELS; i++) {
		int in, out;
		block_shape(C, i, &in, &out);
		size_t b = k->panel_bytes(weights, in, out);
		most = b > most ? b : most;
	}
	unsigned char *tmp = xmalloc(most);
	real *col = xmalloc((size_t)4 * C * sizeof(real));
	for (int l = 0; l < L; l++) {
		real *w[N_BLOCK_TENSORS];
		block_tensors(m, m->params, l, w);
		for (int i = 0; i < N_PANELS; i++) {
			int in, out;
			block_shape(C, i, &in, &out);
			k->panel_pack(tmp, weights, w[block_w[i]], in, out, 0);
			for (int o = 0; o < out; o++) {
				k->panel_column(col, tmp, weights, in, out, o);
				for (int r = 0; r < in; r++)
					w[block_w[i]][(size_t)r * out + o] = col[r];
			}
		}
	}
	real *wte = m->params + m->tensors[0].offset;
	k->panel_pack(tmp, weights, wte, C, V, 1);
	for (int v = 0; v < V; v++)
		k->panel_column(wte + (size_t)v * C, tmp, weights, C, V, v);
	free(col);
	free(tmp);
}

static const char *const weights_names[] = { "f32", "bf16", "int8" };

int model_weights_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, weights_names[i]))
			return i;
	return -1;
}

const char *model_weights_name(int weights)
{
	return weights >= 0 && weights < 3 ? weights_names[weights] : "?";
}

static void cache_rows(model_cache *c, int n, int C, int V)
{
	if (c->cap >= n)
		return;
	free(c->x);
	size_t N = (size_t)n;
	c->x = xmalloc(N * ((size_t)C * 15 + 2 + (size_t)V) * sizeof(real));
	real *p = c->x;
	c->ln = (p += N * C);
	c->mean = (p += N * C);
	c->rstd = (p += N);
	c->qkv = (p += N);
	c->atty = (p += N * 3 * C);
	c->tmp = (p += N * C);
	c->fch = (p += N * C);
	c->fch_gelu = (p += N * 4 * C);
	c->logits = p + N * 4 * C;
	c->cap = n;
}

const real *model_decode(model *m, model_cache *c, const int *slot, const uint32_t *tok, const int *pos, int n)
{
	const kern_ops *k = m->k;
	int L = m->c.n_layer, C = m->c.n_embd, V = m->c.n_vocab, F = c->weights;
	cache_rows(c, n, C, V);
	const real *wpe = m->params + m->tensors[1].offset;
	const unsigned char *head = c->packed + c->at[L * N_PANELS];
	size_t layer = (size_t)c->slots * c->maxlen * C;
	/* The token embedding from the packed head, so that it is the
	 * tied matrix the head multiplies by, narrowed alike. */
	for (int i = 0; i < n; i++) {
		real *x = c->x + (size_t)i * C;
		k->panel_column(x, head, F, C, V, (int)tok[i]);
		k->residual_forward(x, x, wpe + (size_t)pos[i] * C, (size_t)C);
	}
	for (int l = 0; l < L; l++) {
		real *w[N_BLOCK_TENSORS];
		const unsigned char *p = c->packed;
		const size_t *at = c->at + l * N_PANELS;
		block_tensors(m, m->params, l, w);
		k->layernorm_forward(c->ln, c->mean, c->rstd, c->x, w[LN1_W], w[LN1_B], n, C);
		k->matmul_panel(c->qkv, c->ln, p + at[P_QKV], F, w[QKV_B], n, C, 3 * C);
		k->attention_decode(c->atty, c->k + l * layer, c->v + l * layer, c->qkv, slot, pos, n, C, m->c.n_head,
				    c->maxlen);
		k->matmul_panel(c->tmp, c->atty, p + at[P_PROJ], F, w[PROJ_B], n, C, C);
		k->residual_forward(c->x, c->x, c->tmp, (size_t)n * C);
		k->layernorm_forward(c->ln, c->mean, c->rstd, c->x, w[LN2_W], w[LN2_B], n, C);
		k->matmul_panel(c->fch, c->ln, p + at[P_FC], F, w[FC_B], n, C, 4 * C);
		k->gelu_forward(c->fch_gelu, c->fch, (size_t)n * 4 * C);
		k->matmul_panel(c->tmp, c->fch_gelu, p + at[P_FCPROJ], F, w[FCPROJ_B], n, 4 * C, C);
		k->residual_forward(c->x, c->x, c->tmp, (size_t)n * C);
	}
	const model_tensor *lnf = &m->tensors[m->ntensors - 2];
	k->layernorm_forward(c->ln, c->mean, c->rstd, c->x, m->params + lnf[0].offset, m->params + lnf[1].offset, n, C);
	k->matmul_panel(c->logits, c->ln, head, F, NULL, n, C, V);
	return c->logits;
}
