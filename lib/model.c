/* model.c: the forward and backward passes as a sequence of kernel calls:
 * GPT-2 first, then the Llama family with its options (model.h). */
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

/* The Llama family's per-block tensors (model.h), in buffer order; those
 * the config leaves out are absent. */
enum { L_N1W, L_N1B, L_QW, L_QB, L_KW, L_KB, L_VW, L_VB, L_OW, L_QNW, L_KNW, L_N2W, L_N2B, L_GW, L_UW, L_DW,
       N_LSLOTS };

static const char *const lslot_names[N_LSLOTS] = {
	"input_layernorm.weight", "input_layernorm.bias", "self_attn.q_proj.weight", "self_attn.q_proj.bias",
	"self_attn.k_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.weight", "self_attn.v_proj.bias",
	"self_attn.o_proj.weight", "self_attn.q_norm.weight", "self_attn.k_norm.weight",
	"post_attention_layernorm.weight", "post_attention_layernorm.bias", "mlp.gate_proj.weight",
	"mlp.up_proj.weight", "mlp.down_proj.weight",
};

/* Its activations: q, k after QK-norm (qn, kn) and after the rotation
 * (qr, kr) are the tensors before them when the option is off. */
struct lblock_acts {
	real *ln1, *ln1_mean, *ln1_rstd, *q, *k, *v, *qn, *kn, *qn_rstd, *kn_rstd, *qr, *kr, *att, *atty, *res2, *ln2,
		*ln2_mean, *ln2_rstd, *gate, *up, *h, *res3;
};

struct model {
	model_config c;
	const kern_ops *k;
	model_tensor *tensors;
	size_t ntensors, nparams;
	real *params, *grads;
	/* Indices in tensors of the embeddings, the final norm and the head
	 * (-1: absent), and for the Llama family of each block's tensors. */
	int t_wte, t_wpe, t_nf_w, t_nf_b, t_head;
	int *lslot;                 /* [n_layer][N_LSLOTS] */
	real *rope_cos, *rope_sin;  /* [n_ctx][head_dim / 2] */

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
	real *weight_host;          /* weight_copy as the host last set it (host memory) */
	int have_targets;
	double temperature;          /* of the softmax after a forward pass with targets; 0: 1 */

	/* Backward scratch. */
	real *dacts;
	real *dres, *dln, *datty, *dbig1, *dbig2, *datt;

	/* The Llama family's. */
	struct lblock_acts *lblocks;
	real *dq, *dq2, *dk, *dk2, *dv, *dh, *dgate, *dup;
};

static const char *const family_names[] = { "gpt2", "llama" };
static const char *const norm_names[] = { "layernorm", "rmsnorm" };
static const char *const mlp_names[] = { "gelu", "swiglu", "relu2" };
#define COUNT(a) ((int)(sizeof(a) / sizeof(a[0])))

static int name_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

const char *model_family_name(int v) { return v >= 0 && v < COUNT(family_names) ? family_names[v] : NULL; }
const char *model_norm_name(int v) { return v >= 0 && v < COUNT(norm_names) ? norm_names[v] : NULL; }
const char *model_mlp_name(int v) { return v >= 0 && v < COUNT(mlp_names) ? mlp_names[v] : NULL; }
int model_family_parse(const char *name) { return name_index(family_names, COUNT(family_names), name); }
int model_norm_parse(const char *name) { return name_index(norm_names, COUNT(norm_names), name); }
int model_mlp_parse(const char *name) { return name_index(mlp_names, COUNT(mlp_names), name); }

int model_kv_heads(const model_config *c) { return c->n_kv_head ? c->n_kv_head : c->n_head; }
int model_head_dim(const model_config *c) { return c->head_dim ? c->head_dim : c->n_head ? c->n_embd / c->n_head : 0; }
int model_ff(const model_config *c) { return c->n_ff ? c->n_ff : 4 * c->n_embd; }
static double norm_eps(const model_config *c) { return c->norm_eps > 0 ? c->norm_eps : 1e-5; }
static double rope_theta(const model_config *c) { return c->rope_theta > 0 ? c->rope_theta : 10000; }

/* "PREFIX-dN": N, or -1. */
static long preset_layers(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(name, prefix, n) || name[n] != 'd' || !name[n + 1] || name[n + 1] == '-' || name[n + 1] == '+')
		return -1;
	char *end;
	long l = strtol(name + n + 1, &end, 10);
	return *end || l < 1 || l > MODEL_LAYERS_MAX ? -1 : l;
}

static int modern_preset(const char *name, model_config *c)
{
	long n;
	int kind;
	if ((n = preset_layers(name, "llama-")) > 0)
		kind = 0;
	else if ((n = preset_layers(name, "qwen3-")) > 0)
		kind = 1;
	else if ((n = preset_layers(name, "modern-")) > 0)
		kind = 2;
	else
		return -1;
	model_config d = { 0 };
	int N = (int)n, C = 64 * N;
	d.n_layer = N;
	d.n_embd = C;
	d.n_head = N;
	d.n_ctx = c->n_ctx;
	d.n_vocab = c->n_vocab;
	d.family = MODEL_LLAMA;
	d.norm = MODEL_RMSNORM;
	d.rope = 1;
	d.no_bias = 1;
	if (kind == 0) {
		d.n_kv_head = N % 2 ? N : N / 2;
		d.n_ff = (8 * C / 3 + 63) / 64 * 64;
		d.mlp = MODEL_SWIGLU;
		d.rope_theta = 500000;
		d.untied = 1;
	} else if (kind == 1) {
		d.n_kv_head = N % 2 ? N : N / 2;
		d.head_dim = 128;
		d.n_ff = 3 * C;
		d.mlp = MODEL_SWIGLU;
		d.rope_theta = 1000000;
		d.qk_norm = 1;
		d.norm_eps = 1e-6;
	} else {
		d.mlp = MODEL_RELU2;
		d.qk_norm = 1;
		d.untied = 1;
	}
	*c = d;
	return 0;
}


int model_config_preset(const char *name, model_config *c)
{
	if (modern_preset(name, c) == 0)
		return 0;
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
	else if (c->n_head < 1 || (!c->head_dim && c->n_embd % c->n_head))
		snprintf(err, errlen, "n_head %d does not divide n_embd %d", c->n_head, c->n_embd);
	else if (c->n_ctx < 1 || c->n_ctx > MODEL_CTX_MAX)
		snprintf(err, errlen, "n_ctx %d is not in 1..%d", c->n_ctx, MODEL_CTX_MAX);
	else if (c->n_vocab < 1 || c->n_vocab > MODEL_VOCAB_MAX)
		snprintf(err, errlen, "n_vocab %d is not in 1..%d", c->n_vocab, MODEL_VOCAB_MAX);
	else if (!model_family_name(c->family))
		snprintf(err, errlen, "family %d is not known (0 gpt2, 1 llama)", c->family);
	else if (!model_norm_name(c->norm))
		snprintf(err, errlen, "norm %d is not known (0 layernorm, 1 rmsnorm)", c->norm);
	else if (!model_mlp_name(c->mlp))
		snprintf(err, errlen, "mlp %d is not known (0 gelu, 1 swiglu, 2 relu2)", c->mlp);
	else if (c->n_kv_head < 0 || model_kv_heads(c) > c->n_head || c->n_head % model_kv_heads(c))
		snprintf(err, errlen, "n_kv_head %d does not divide n_head %d", c->n_kv_head, c->n_head);
	else if (c->head_dim < 0 || (int64_t)model_head_dim(c) * c->n_head > MODEL_EMBD_MAX)
		snprintf(err, errlen, "head_dim %d is not in 1..%d / n_head", c->head_dim, MODEL_EMBD_MAX);
	else if (c->n_ff < 0 || model_ff(c) > 4 * MODEL_EMBD_MAX)
		snprintf(err, errlen, "n_ff %d is not in 1..%d", c->n_ff, 4 * MODEL_EMBD_MAX);
	else if (!(c->rope_theta >= 0) || !(c->norm_eps >= 0) || c->norm_eps > 1)
		snprintf(err, errlen, "rope_theta %g and norm_eps %g must be positive (0: the default)", c->rope_theta,
			 c->norm_eps);
	else if ((c->rope != 0 && c->rope != 1) || (c->qk_norm != 0 && c->qk_norm != 1) ||
		 (c->untied != 0 && c->untied != 1) || (c->no_bias != 0 && c->no_bias != 1))
		snprintf(err, errlen, "rope, qk_norm, untied and no_bias are 0 or 1");
	else if (c->rope && model_head_dim(c) % 2)
		snprintf(err, errlen, "rotary positions need an even head_dim, not %d", model_head_dim(c));
	else if (c->norm == MODEL_LAYERNORM && norm_eps(c) != 1e-5)
		snprintf(err, errlen, "LayerNorm's epsilon is 1e-5, not %g", c->norm_eps);
	else if (c->family == MODEL_GPT2 &&
		 (c->norm || c->mlp || c->rope || c->qk_norm || c->untied || c->no_bias || model_kv_heads(c) != c->n_head ||
		  model_head_dim(c) * c->n_head != c->n_embd || model_ff(c) != 4 * c->n_embd || c->rope_theta))
		snprintf(err, errlen, "family gpt2 is GPT-2 exactly (LayerNorm, GELU, learned positions, tied head, "
			 "biases, 4 n_embd MLP): the options need family llama");
	else
		return 0;
	return -1;
}

static model *llama_new(model *m);
static double llama_forward(model *m, const uint32_t *inp, int B, int T);
static void llama_backward(model *m);
static void llama_cache_new(const model *m, model_cache *c);
static const real *llama_decode(model *m, model_cache *c, const int *slot, const uint32_t *tok, const int *pos, int n);
static void llama_round_weights(model *m, int weights);
static double loss_after(model *m, const uint32_t *targets, const real *weight);

void *model_mem_alloc(const kern_ops *k, size_t bytes)
{
	void *p = k->mem_alloc(bytes);
	if (!p)
		util_oom();
	return p;
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
	m->t_wte = 0;
	m->t_wpe = 1;
	m->t_nf_w = (int)(L * N_BLOCK_TENSORS + 2);
	m->t_nf_b = m->t_nf_w + 1;
	m->t_head = -1;
	if (c->family == MODEL_LLAMA)
		return llama_new(m);
	m->tensors = xcalloc((size_t)(L * N_BLOCK_TENSORS + 4), sizeof(*m->tensors));
	add_tensor(m, "wte.weight", c->n_vocab, C, 0);
	add_tensor(m, "wpe.weight", c->n_ctx, C, 0);
	for (int64_t l = 0; l < L; l++) {
		char name[64];
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
	m->params = model_mem_alloc(m->k, m->nparams * sizeof(real));
	return m;
}

model *model_grow_vocab(model *m, int n_vocab)
{
	model_config c = m->c;
	int old = c.n_vocab, C = c.n_embd;
	c.n_vocab = n_vocab;
	model *g = model_new(&c, m->k);
	/* Every tensor as it was; the embedding and an untied head have
	 * their old rows, then new ones, each the mean of the old rows
	 * (computed on the host). */
	real *mp = KERN_HOST(m->k, m->params), *gp = KERN_HOST(g->k, g->params);
	for (size_t i = 0; i < m->ntensors; i++) {
		const model_tensor *a = &m->tensors[i], *b = &g->tensors[i];
		real *dst = gp + b->offset;
		const real *src = mp + a->offset;
		memcpy(dst, src, a->numel * sizeof(real));
		if ((int)i != m->t_wte && (int)i != m->t_head)
			continue;
		for (int j = 0; j < C; j++) {
			double sum = 0;
			for (int v = 0; v < old; v++)
				sum += src[(size_t)v * C + j];
			for (int v = old; v < n_vocab; v++)
				dst[(size_t)v * C + j] = (real)(sum / old);
		}
	}
	return g;
}

static void free_acts(model *m)
{
	const kern_ops *k = m->k;
	k->mem_free(m->acts);
	free(m->blocks);
	free(m->lblocks);
	m->lblocks = NULL;
	k->mem_free(m->dacts);
	k->mem_free(m->inp_copy);
	k->mem_free(m->targets_copy);
	k->mem_free(m->weight_copy);
	free(m->weight_host);
	m->acts = m->dacts = NULL;
	m->blocks = NULL;
	m->inp_copy = m->targets_copy = NULL;
	m->weight_copy = m->weight_host = NULL;
	m->cap_bt = 0;
}

void model_free(model *m)
{
	if (!m)
		return;
	free_acts(m);
	free(m->tensors);
	free(m->lslot);
	m->k->mem_free(m->rope_cos);
	m->k->mem_free(m->rope_sin);
	m->k->mem_free(m->params);
	m->k->mem_free(m->grads);
	free(m);
}

const model_config *model_cfg(const model *m) { return &m->c; }
const kern_ops *model_kernels(const model *m) { return m->k; }
size_t model_nparams(const model *m) { return m->nparams; }
real *model_params(model *m) { return m->params; }
size_t model_ntensors(const model *m) { return m->ntensors; }
const model_tensor *model_tensor_at(const model *m, size_t i) { return &m->tensors[i]; }
const real *model_logits(const model *m) { return m->logits; }
void model_set_temperature(model *m, double t) { m->temperature = t; }
void model_set_weights(model *m, const real *w)
{
	size_t bytes = (size_t)m->B * (size_t)m->T * sizeof(*w);
	memcpy(m->weight_host, w, bytes);
	m->k->copy_h2d(m->weight_copy, m->weight_host, bytes);
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
		m->grads = model_mem_alloc(m->k, m->nparams * sizeof(real));
	return m->grads;
}

void model_zero_grad(model *m)
{
	m->k->mem_zero(model_grads(m), m->nparams * sizeof(real));
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
	real *params = KERN_HOST(m->k, m->params);
	for (size_t i = 0; i < m->ntensors; i++) {
		const model_tensor *t = &m->tensors[i];
		real *p = params + t->offset;
		const char *dot = strrchr(t->name, '.');
		size_t len = strlen(t->name);
		if (t->ndim == 2) {
			int resid = strstr(t->name, ".c_proj.") || strstr(t->name, ".o_proj.") ||
				    strstr(t->name, ".down_proj.");
			fill_normal(&r, p, t->numel, resid ? resid_std : 0.02);
		} else {
			int norm = (strstr(t->name, "ln_") && !strcmp(dot, ".weight")) ||
				   (len >= 11 && !strcmp(t->name + len - 11, "norm.weight"));
			real v = norm ? 1 : 0;
			for (size_t j = 0; j < t->numel; j++)
				p[j] = v;
		}
	}
}

double model_forward_flops(const model_config *c, int B, int T)
{
	double C = c->n_embd, BT = (double)B * T;
	if (c->family == MODEL_GPT2) {
		double per_token = 2 * (C * 3 * C + C * C + C * 4 * C + 4 * C * C) * c->n_layer + 2 * C * c->n_vocab;
		double attention = 2.0 * 2.0 * B * C * ((double)T * (T + 1) / 2) * c->n_layer;
		return per_token * BT + attention;
	}
	double QD = (double)c->n_head * model_head_dim(c), KD = (double)model_kv_heads(c) * model_head_dim(c);
	double F = model_ff(c), mlp = (c->mlp == MODEL_SWIGLU ? 3 : 2) * C * F;
	double per_token = 2 * (C * QD + 2 * C * KD + QD * C + mlp) * c->n_layer + 2 * C * c->n_vocab;
	double attention = 2.0 * 2.0 * B * QD * ((double)T * (T + 1) / 2) * c->n_layer;
	return per_token * BT + attention;
}

/* The model's copies of a batch's inputs, targets and weights. */
static void copies_new(model *m, size_t BT)
{
	m->inp_copy = model_mem_alloc(m->k, BT * sizeof(uint32_t));
	m->targets_copy = model_mem_alloc(m->k, BT * sizeof(uint32_t));
	m->weight_copy = model_mem_alloc(m->k, BT * sizeof(real));
	m->weight_host = xmalloc(BT * sizeof(real));
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
	m->acts = model_mem_alloc(m->k, total * sizeof(real));
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
	m->dacts = model_mem_alloc(m->k, (BT * C * 3 + BT * 4 * C * 2 + att) * sizeof(real));
	p = m->dacts;
	CARVE(m->dres, BT * C);
	CARVE(m->dln, BT * C);
	CARVE(m->datty, BT * C);
	CARVE(m->dbig1, BT * 4 * C);
	CARVE(m->dbig2, BT * 4 * C);
	CARVE(m->datt, att);
#undef CARVE
	copies_new(m, BT);
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
	if (m->c.family == MODEL_LLAMA) {
		llama_forward(m, inp, B, T);
		return loss_after(m, targets, weight);
	}
	const kern_ops *k = m->k;
	ensure_acts(m, B, T);
	int C = m->c.n_embd, NH = m->c.n_head, V = m->c.n_vocab, BT = B * T;
	const model_tensor *t = m->tensors;
	real *wte = m->params + t[0].offset, *wpe = m->params + t[1].offset;
	k->copy_h2d(m->inp_copy, inp, (size_t)BT * sizeof(*inp));
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
	return loss_after(m, targets, weight);
}

/* The loss of the logits of the forward pass just run. */
static double loss_after(model *m, const uint32_t *targets, const real *weight)
{
	const kern_ops *k = m->k;
	int BT = m->B * m->T, V = m->c.n_vocab;
	m->have_targets = targets != NULL;
	if (!targets)
		return 0;
	if (m->temperature > 0 && m->temperature != 1)
		k->scale(m->logits, (real)(1 / m->temperature), (size_t)BT * V);
	k->copy_h2d(m->targets_copy, targets, (size_t)BT * sizeof(*targets));
	m->targets = m->targets_copy;
	if (weight)
		memcpy(m->weight_host, weight, (size_t)BT * sizeof(*weight));
	else
		for (int i = 0; i < BT; i++)
			m->weight_host[i] = 1;
	k->copy_h2d(m->weight_copy, m->weight_host, (size_t)BT * sizeof(real));
	return k->crossentropy_forward(m->logits, m->losses, m->targets, m->weight_copy, BT, V);
}

/* The weights divided by the temperature, on the host as before, then
 * copied to the model's memory. */
static void divide_weights(model *m, int BT)
{
	for (int i = 0; i < BT; i++)
		m->weight_host[i] = (real)(m->weight_host[i] / m->temperature);
	m->k->copy_h2d(m->weight_copy, m->weight_host, (size_t)BT * sizeof(real));
}

void model_backward(model *m)
{
	if (m->c.family == MODEL_LLAMA) {
		llama_backward(m);
		return;
	}
	const kern_ops *k = m->k;
	int B = m->B, T = m->T, C = m->c.n_embd, NH = m->c.n_head, V = m->c.n_vocab, BT = B * T;
	size_t n = (size_t)BT * C;
	real *g = model_grads(m), *wte = m->params + m->tensors[0].offset;
	real *dwte = g + m->tensors[0].offset, *dwpe = g + m->tensors[1].offset;
	const model_tensor *lnf = &m->tensors[m->ntensors - 2];

	/* With a temperature, the loss is of logits / t: its gradient with
	 * respect to the logits carries 1 / t, folded into the weights. */
	if (m->temperature > 0 && m->temperature != 1)
		divide_weights(m, BT);
	k->crossentropy_backward(m->logits, m->targets, m->weight_copy, BT, V);
	k->mem_zero(m->dln, n * sizeof(real));
	k->head_backward(m->dln, dwte, m->logits, m->lnf, wte, BT, C, V);
	real *x = m->c.n_layer ? m->blocks[m->c.n_layer - 1].res3 : m->encoded;
	k->mem_zero(m->dres, n * sizeof(real));
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

		k->mem_zero(dfch_gelu, n * 4 * sizeof(real));
		k->matmul_backward(dfch_gelu, dw[FCPROJ_W], dw[FCPROJ_B], m->dres, a->fch_gelu, w[FCPROJ_W], BT, 4 * C, C);
		k->mem_zero(dfch, n * 4 * sizeof(real));
		k->gelu_backward(dfch, a->fch, dfch_gelu, n * 4);
		k->mem_zero(m->dln, n * sizeof(real));
		k->matmul_backward(m->dln, dw[FC_W], dw[FC_B], dfch, a->ln2, w[FC_W], BT, C, 4 * C);
		k->layernorm_backward(m->dres, dw[LN2_W], dw[LN2_B], m->dln, a->res2, w[LN2_W], a->ln2_mean,
				      a->ln2_rstd, BT, C);

		k->mem_zero(m->datty, n * sizeof(real));
		k->matmul_backward(m->datty, dw[PROJ_W], dw[PROJ_B], m->dres, a->atty, w[PROJ_W], BT, C, C);
		k->mem_zero(dqkv, n * 3 * sizeof(real));
		k->attention_backward(dqkv, m->datt, m->datty, a->qkv, a->att, B, T, C, NH);
		k->mem_zero(m->dln, n * sizeof(real));
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
	const kern_ops *ops;        /* the table whose memory holds the buffers below (not at) */
	int slots, maxlen, cap;     /* cap: rows the buffers below hold */
	int weights;                /* KERN_F32, KERN_BF16 or KERN_I8 */
	real *k, *v;                /* [n_layer][slots][maxlen][C] */
	real *x, *ln, *mean, *rstd, *qkv, *atty, *tmp, *fch, *fch_gelu, *logits;
	unsigned char *packed;      /* the block products, then the head */
	size_t *at;                 /* [n_layer * N_PANELS + 1] offsets in packed */
	/* The Llama family's rows (k, v: [n_layer][slots][maxlen][NKV*hd]). */
	real *q, *kk, *vv, *qn, *kn, *qn_rstd, *kn_rstd, *gate, *up, *h;
	real *scores;               /* attention's scratch [cap][n_head][maxlen] */
	int *slot, *pos;            /* the copies of a call's slots and positions [cap] */
};

model_cache *model_cache_new(const model *m, int slots, int maxlen, int weights)
{
	const kern_ops *k = m->k;
	int L = m->c.n_layer, C = m->c.n_embd, V = m->c.n_vocab;
	model_cache *c = xcalloc(1, sizeof(*c));
	c->ops = k;
	if (m->c.family == MODEL_LLAMA) {
		c->slots = slots;
		c->maxlen = maxlen;
		c->weights = weights;
		llama_cache_new(m, c);
		return c;
	}
	size_t per = (size_t)slots * maxlen * C * L;
	c->slots = slots;
	c->maxlen = maxlen;
	c->weights = weights;
	c->k = model_mem_alloc(k, per * sizeof(real));
	c->v = model_mem_alloc(k, per * sizeof(real));
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
	c->packed = model_mem_alloc(k, total);
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
	const kern_ops *k = c->ops;
	k->mem_free(c->k);
	k->mem_free(c->v);
	k->mem_free(c->x);
	k->mem_free(c->packed);
	free(c->at);
	k->mem_free(c->scores);
	k->mem_free(c->slot);
	k->mem_free(c->pos);
	free(c);
}

void model_round_weights(model *m, int weights)
{
	const kern_ops *k = m->k;
	int L = m->c.n_layer, C = m->c.n_embd, V = m->c.n_vocab;
	if (weights == KERN_F32)
		return;
	if (m->c.family == MODEL_LLAMA) {
		llama_round_weights(m, weights);
		return;
	}
	size_t most = k->panel_bytes(weights, C, V);
	for (int i = 0; i < N_PANELS; i++) {
		int in, out;
		block_shape(C, i, &in, &out);
		size_t b = k->panel_bytes(weights, in, out);
		most = b > most ? b : most;
	}
	unsigned char *tmp = model_mem_alloc(k, most);
	real *col = model_mem_alloc(k, (size_t)4 * C * sizeof(real));
	/* A column goes back into the [IN, OUT] matrix on the host. */
	const real *hcol = KERN_HOST(k, col);
	for (int l = 0; l < L; l++) {
		real *w[N_BLOCK_TENSORS];
		block_tensors(m, m->params, l, w);
		for (int i = 0; i < N_PANELS; i++) {
			int in, out;
			block_shape(C, i, &in, &out);
			k->panel_pack(tmp, weights, w[block_w[i]], in, out, 0);
			real *hw = KERN_HOST(k, w[block_w[i]]);
			for (int o = 0; o < out; o++) {
				k->panel_column(col, tmp, weights, in, out, o);
				for (int r = 0; r < in; r++)
					hw[(size_t)r * out + o] = hcol[r];
			}
		}
	}
	real *wte = m->params + m->tensors[0].offset;
	k->panel_pack(tmp, weights, wte, C, V, 1);
	for (int v = 0; v < V; v++)
		k->panel_column(wte + (size_t)v * C, tmp, weights, C, V, v);
	k->mem_free(col);
	k->mem_free(tmp);
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

/* Room for n rows' slots and positions; the cache then holds n rows. */
static void cache_indices(model_cache *c, int n)
{
	c->ops->mem_free(c->slot);
	c->ops->mem_free(c->pos);
	c->slot = model_mem_alloc(c->ops, (size_t)n * sizeof(int));
	c->pos = model_mem_alloc(c->ops, (size_t)n * sizeof(int));
	c->cap = n;
}

/* A call's slots and positions copied to the cache's memory, for the
 * kernels. */
static void cache_put(model_cache *c, const int *slot, const int *pos, int n)
{
	c->ops->copy_h2d(c->slot, slot, (size_t)n * sizeof(int));
	c->ops->copy_h2d(c->pos, pos, (size_t)n * sizeof(int));
}

static void cache_rows(model_cache *c, int n, int C, int H, int V)
{
	if (c->cap >= n)
		return;
	const kern_ops *k = c->ops;
	k->mem_free(c->x);
	size_t N = (size_t)n;
	c->x = model_mem_alloc(k, N * ((size_t)C * 15 + 2 + (size_t)V) * sizeof(real));
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
	k->mem_free(c->scores);
	c->scores = model_mem_alloc(k, N * (size_t)H * (size_t)c->maxlen * sizeof(real));
	cache_indices(c, n);
}

const real *model_decode(model *m, model_cache *c, const int *slot, const uint32_t *tok, const int *pos, int n)
{
	if (m->c.family == MODEL_LLAMA)
		return llama_decode(m, c, slot, tok, pos, n);
	const kern_ops *k = m->k;
	int L = m->c.n_layer, C = m->c.n_embd, V = m->c.n_vocab, F = c->weights;
	cache_rows(c, n, C, m->c.n_head, V);
	cache_put(c, slot, pos, n);
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
		k->attention_decode(c->atty, c->scores, c->k + l * layer, c->v + l * layer, c->qkv, c->slot, c->pos, n, C, m->c.n_head,
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

/* ---- The Llama family ---- */

struct dims {
	int L, C, NH, NKV, hd, QD, KD, F, V;
	double eps;
};

static struct dims dims_of(const model_config *c)
{
	struct dims d = { .L = c->n_layer, .C = c->n_embd, .NH = c->n_head, .NKV = model_kv_heads(c),
			  .hd = model_head_dim(c), .F = model_ff(c), .V = c->n_vocab, .eps = norm_eps(c) };
	d.QD = d.NH * d.hd;
	d.KD = d.NKV * d.hd;
	return d;
}

/* Whether the config has block tensor s, and its shape. */
static int lslot_shape(const model_config *c, int s, int64_t *d0, int64_t *d1)
{
	struct dims d = dims_of(c);
	int ln = c->norm == MODEL_LAYERNORM, bias = !c->no_bias;
	*d1 = 0;
	switch (s) {
	case L_N1W: case L_N2W: *d0 = d.C; return 1;
	case L_N1B: case L_N2B: *d0 = d.C; return ln;
	case L_QW: *d0 = d.QD, *d1 = d.C; return 1;
	case L_KW: case L_VW: *d0 = d.KD, *d1 = d.C; return 1;
	case L_QB: *d0 = d.QD; return bias;
	case L_KB: case L_VB: *d0 = d.KD; return bias;
	case L_OW: *d0 = d.C, *d1 = d.QD; return 1;
	case L_QNW: case L_KNW: *d0 = d.hd; return c->qk_norm;
	case L_GW: *d0 = d.F, *d1 = d.C; return c->mlp == MODEL_SWIGLU;
	case L_UW: *d0 = d.F, *d1 = d.C; return 1;
	case L_DW: *d0 = d.C, *d1 = d.F; return 1;
	}
	return 0;
}

static model *llama_new(model *m)
{
	const model_config *c = &m->c;
	struct dims d = dims_of(c);
	m->tensors = xcalloc((size_t)d.L * N_LSLOTS + 5, sizeof(*m->tensors));
	m->lslot = xmalloc((size_t)d.L * N_LSLOTS * sizeof(*m->lslot));
	m->t_wte = (int)m->ntensors;
	add_tensor(m, "model.embed_tokens.weight", d.V, d.C, 0);
	m->t_wpe = -1;
	if (!c->rope) {
		m->t_wpe = (int)m->ntensors;
		add_tensor(m, "model.embed_positions.weight", c->n_ctx, d.C, 0);
	}
	for (int l = 0; l < d.L; l++)
		for (int s = 0; s < N_LSLOTS; s++) {
			int64_t d0, d1;
			m->lslot[l * N_LSLOTS + s] = -1;
			if (!lslot_shape(c, s, &d0, &d1))
				continue;
			char name[64];
			snprintf(name, sizeof(name), "model.layers.%d.%s", l, lslot_names[s]);
			m->lslot[l * N_LSLOTS + s] = (int)m->ntensors;
			add_tensor(m, name, d0, d1, d1 != 0);
			m->tensors[m->ntensors - 1].out_in = d1 != 0;
		}
	m->t_nf_w = (int)m->ntensors;
	add_tensor(m, "model.norm.weight", d.C, 0, 0);
	m->t_nf_b = -1;
	if (c->norm == MODEL_LAYERNORM) {
		m->t_nf_b = (int)m->ntensors;
		add_tensor(m, "model.norm.bias", d.C, 0, 0);
	}
	if (c->untied) {
		/* The head, like the embedding, is left to AdamW (decay 0). */
		m->t_head = (int)m->ntensors;
		add_tensor(m, "lm_head.weight", d.V, d.C, 0);
		m->tensors[m->ntensors - 1].out_in = 1;
	}
	m->params = model_mem_alloc(m->k, m->nparams * sizeof(real));
	if (c->rope) {
		/* The angles in double, rounded once: position p, pair i turns
		 * by p theta^(-2i/hd). */
		int half = d.hd / 2;
		size_t n = (size_t)c->n_ctx * half;
		real *cv = xmalloc(n * sizeof(real)), *sv = xmalloc(n * sizeof(real));
		for (int i = 0; i < half; i++) {
			double f = pow(rope_theta(c), -2.0 * i / d.hd);
			for (int p = 0; p < c->n_ctx; p++) {
				cv[(size_t)p * half + i] = (real)cos(p * f);
				sv[(size_t)p * half + i] = (real)sin(p * f);
			}
		}
		m->rope_cos = model_mem_alloc(m->k, n * sizeof(real));
		m->rope_sin = model_mem_alloc(m->k, n * sizeof(real));
		m->k->copy_h2d(m->rope_cos, cv, n * sizeof(real));
		m->k->copy_h2d(m->rope_sin, sv, n * sizeof(real));
		free(cv);
		free(sv);
	}
	return m;
}

/* Block l's tensor s within base (parameters or gradients); NULL if the
 * config has none. */
static real *lw(const model *m, real *base, int l, int s)
{
	int i = m->lslot[l * N_LSLOTS + s];
	return i < 0 ? NULL : base + m->tensors[i].offset;
}

static real *gt(const model *m, real *base, int i)
{
	return i < 0 ? NULL : base + m->tensors[i].offset;
}

/* Buffers carved one after another: a first pass with base NULL counts. */
struct arena {
	real *base;
	size_t used;
};

static real *take(struct arena *a, size_t n)
{
	real *p = a->base ? a->base + a->used : NULL;
	a->used += n;
	return p;
}

static void llama_carve(model *m, struct arena *a, struct arena *d, int B, int T)
{
	const model_config *c = &m->c;
	struct dims dm = dims_of(c);
	size_t BT = (size_t)B * T, C = (size_t)dm.C, QD = (size_t)dm.QD, KD = (size_t)dm.KD, F = (size_t)dm.F;
	size_t att = (size_t)B * dm.NH * T * T;
	m->encoded = take(a, BT * C);
	for (int l = 0; l < dm.L; l++) {
		struct lblock_acts *b = &m->lblocks[l];
		b->ln1 = take(a, BT * C);
		b->ln1_mean = take(a, BT);
		b->ln1_rstd = take(a, BT);
		b->q = take(a, BT * QD);
		b->k = take(a, BT * KD);
		b->v = take(a, BT * KD);
		b->qn = b->q;
		b->kn = b->k;
		if (c->qk_norm) {
			b->qn = take(a, BT * QD);
			b->kn = take(a, BT * KD);
			b->qn_rstd = take(a, BT * dm.NH);
			b->kn_rstd = take(a, BT * dm.NKV);
		}
		b->qr = b->qn;
		b->kr = b->kn;
		if (c->rope) {
			b->qr = take(a, BT * QD);
			b->kr = take(a, BT * KD);
		}
		b->att = take(a, att);
		b->atty = take(a, BT * QD);
		b->res2 = take(a, BT * C);
		b->ln2 = take(a, BT * C);
		b->ln2_mean = take(a, BT);
		b->ln2_rstd = take(a, BT);
		b->gate = c->mlp == MODEL_SWIGLU ? take(a, BT * F) : NULL;
		b->up = take(a, BT * F);
		b->h = take(a, BT * F);
		b->res3 = take(a, BT * C);
	}
	m->lnf = take(a, BT * C);
	m->lnf_mean = take(a, BT);
	m->lnf_rstd = take(a, BT);
	m->logits = take(a, BT * dm.V);
	m->losses = take(a, BT);
	m->scratch = take(a, BT * C);
	m->dres = take(d, BT * C);
	m->dln = take(d, BT * C);
	m->datty = take(d, BT * QD);
	m->dq = take(d, BT * QD);
	m->dq2 = take(d, BT * QD);
	m->dk = take(d, BT * KD);
	m->dk2 = take(d, BT * KD);
	m->dv = take(d, BT * KD);
	m->dh = take(d, BT * F);
	m->dgate = take(d, BT * F);
	m->dup = take(d, BT * F);
	m->datt = take(d, att);
}

static void llama_ensure_acts(model *m, int B, int T)
{
	if (m->cap_bt >= B * T && m->cap_b >= B && m->cap_t >= T) {
		m->B = B;
		m->T = T;
		return;
	}
	free_acts(m);
	size_t BT = (size_t)B * T;
	m->lblocks = xcalloc((size_t)m->c.n_layer, sizeof(*m->lblocks));
	struct arena a = { 0 }, d = { 0 };
	llama_carve(m, &a, &d, B, T);
	a.base = m->acts = model_mem_alloc(m->k, a.used * sizeof(real));
	d.base = m->dacts = model_mem_alloc(m->k, d.used * sizeof(real));
	a.used = d.used = 0;
	llama_carve(m, &a, &d, B, T);
	copies_new(m, BT);
	m->cap_bt = (int)BT;
	m->cap_b = B;
	m->cap_t = T;
	m->B = B;
	m->T = T;
}

static void norm_forward(const model *m, real *out, real *mean, real *rstd, const real *inp, const real *w,
			 const real *b, int N, int C)
{
	if (m->c.norm == MODEL_RMSNORM)
		m->k->rmsnorm_forward(out, rstd, inp, w, N, C, norm_eps(&m->c));
	else
		m->k->layernorm_forward(out, mean, rstd, inp, w, b, N, C);
}

static void norm_backward(const model *m, real *dinp, real *dw, real *db, const real *dout, const real *inp,
			  const real *w, const real *mean, const real *rstd, int N, int C)
{
	if (m->c.norm == MODEL_RMSNORM)
		m->k->rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C);
	else
		m->k->layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
}

/* The MLP's activation: h from up (and gate). */
static void mlp_act(const model *m, real *h, const real *gate, const real *up, size_t n)
{
	if (m->c.mlp == MODEL_SWIGLU)
		m->k->swiglu_forward(h, gate, up, n);
	else if (m->c.mlp == MODEL_RELU2)
		m->k->relu2_forward(h, up, n);
	else
		m->k->gelu_forward(h, up, n);
}

static double llama_forward(model *m, const uint32_t *inp, int B, int T)
{
	const kern_ops *k = m->k;
	llama_ensure_acts(m, B, T);
	struct dims d = dims_of(&m->c);
	int BT = B * T, C = d.C;
	real *P = m->params;
	k->copy_h2d(m->inp_copy, inp, (size_t)BT * sizeof(*inp));
	m->inp = m->inp_copy;
	k->encoder_forward(m->encoded, m->inp, gt(m, P, m->t_wte), gt(m, P, m->t_wpe), B, T, C);
	real *x = m->encoded;
	for (int l = 0; l < d.L; l++) {
		struct lblock_acts *a = &m->lblocks[l];
		norm_forward(m, a->ln1, a->ln1_mean, a->ln1_rstd, x, lw(m, P, l, L_N1W), lw(m, P, l, L_N1B), BT, C);
		k->linear_forward(a->q, a->ln1, lw(m, P, l, L_QW), lw(m, P, l, L_QB), BT, C, d.QD);
		k->linear_forward(a->k, a->ln1, lw(m, P, l, L_KW), lw(m, P, l, L_KB), BT, C, d.KD);
		k->linear_forward(a->v, a->ln1, lw(m, P, l, L_VW), lw(m, P, l, L_VB), BT, C, d.KD);
		if (m->c.qk_norm) {
			k->rmsnorm_forward(a->qn, a->qn_rstd, a->q, lw(m, P, l, L_QNW), BT * d.NH, d.hd, d.eps);
			k->rmsnorm_forward(a->kn, a->kn_rstd, a->k, lw(m, P, l, L_KNW), BT * d.NKV, d.hd, d.eps);
		}
		if (m->c.rope) {
			k->copy_d2d(a->qr, a->qn, (size_t)BT * d.QD * sizeof(real));
			k->copy_d2d(a->kr, a->kn, (size_t)BT * d.KD * sizeof(real));
			k->rope_forward(a->qr, m->rope_cos, m->rope_sin, NULL, T, BT, d.NH, d.hd);
			k->rope_forward(a->kr, m->rope_cos, m->rope_sin, NULL, T, BT, d.NKV, d.hd);
		}
		k->gqa_forward(a->atty, a->att, a->qr, a->kr, a->v, B, T, d.NH, d.NKV, d.hd);
		k->linear_forward(m->scratch, a->atty, lw(m, P, l, L_OW), NULL, BT, d.QD, C);
		k->residual_forward(a->res2, x, m->scratch, (size_t)BT * C);
		norm_forward(m, a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, lw(m, P, l, L_N2W), lw(m, P, l, L_N2B), BT, C);
		if (a->gate)
			k->linear_forward(a->gate, a->ln2, lw(m, P, l, L_GW), NULL, BT, C, d.F);
		k->linear_forward(a->up, a->ln2, lw(m, P, l, L_UW), NULL, BT, C, d.F);
		mlp_act(m, a->h, a->gate, a->up, (size_t)BT * d.F);
		k->linear_forward(m->scratch, a->h, lw(m, P, l, L_DW), NULL, BT, d.F, C);
		k->residual_forward(a->res3, a->res2, m->scratch, (size_t)BT * C);
		x = a->res3;
	}
	norm_forward(m, m->lnf, m->lnf_mean, m->lnf_rstd, x, gt(m, P, m->t_nf_w), gt(m, P, m->t_nf_b), BT, C);
	k->head_forward(m->logits, m->lnf, gt(m, P, m->t_head >= 0 ? m->t_head : m->t_wte), BT, C, d.V);
	return 0;
}

static void llama_backward(model *m)
{
	const kern_ops *k = m->k;
	struct dims d = dims_of(&m->c);
	int B = m->B, T = m->T, C = d.C, BT = B * T;
	size_t n = (size_t)BT * C, nf = (size_t)BT * d.F, nq = (size_t)BT * d.QD, nk = (size_t)BT * d.KD;
	real *P = m->params, *G = model_grads(m);
	int head = m->t_head >= 0 ? m->t_head : m->t_wte;

	if (m->temperature > 0 && m->temperature != 1)
		divide_weights(m, BT);
	k->crossentropy_backward(m->logits, m->targets, m->weight_copy, BT, d.V);
	k->mem_zero(m->dln, n * sizeof(real));
	k->head_backward(m->dln, gt(m, G, head), m->logits, m->lnf, gt(m, P, head), BT, C, d.V);
	real *x = d.L ? m->lblocks[d.L - 1].res3 : m->encoded;
	k->mem_zero(m->dres, n * sizeof(real));
	norm_backward(m, m->dres, gt(m, G, m->t_nf_w), gt(m, G, m->t_nf_b), m->dln, x, gt(m, P, m->t_nf_w), m->lnf_mean,
		      m->lnf_rstd, BT, C);
	for (int l = d.L - 1; l >= 0; l--) {
		struct lblock_acts *a = &m->lblocks[l];
		real *xin = l ? m->lblocks[l - 1].res3 : m->encoded;

		k->mem_zero(m->dh, nf * sizeof(real));
		k->linear_backward(m->dh, lw(m, G, l, L_DW), NULL, m->dres, a->h, lw(m, P, l, L_DW), BT, d.F, C);
		k->mem_zero(m->dup, nf * sizeof(real));
		k->mem_zero(m->dln, n * sizeof(real));
		if (m->c.mlp == MODEL_SWIGLU) {
			k->mem_zero(m->dgate, nf * sizeof(real));
			k->swiglu_backward(m->dgate, m->dup, m->dh, a->gate, a->up, nf);
			k->linear_backward(m->dln, lw(m, G, l, L_GW), NULL, m->dgate, a->ln2, lw(m, P, l, L_GW), BT, C, d.F);
		} else if (m->c.mlp == MODEL_RELU2) {
			k->relu2_backward(m->dup, a->up, m->dh, nf);
		} else {
			k->gelu_backward(m->dup, a->up, m->dh, nf);
		}
		k->linear_backward(m->dln, lw(m, G, l, L_UW), NULL, m->dup, a->ln2, lw(m, P, l, L_UW), BT, C, d.F);
		norm_backward(m, m->dres, lw(m, G, l, L_N2W), lw(m, G, l, L_N2B), m->dln, a->res2, lw(m, P, l, L_N2W),
			      a->ln2_mean, a->ln2_rstd, BT, C);

		k->mem_zero(m->datty, nq * sizeof(real));
		k->linear_backward(m->datty, lw(m, G, l, L_OW), NULL, m->dres, a->atty, lw(m, P, l, L_OW), BT, d.QD, C);
		k->mem_zero(m->dq, nq * sizeof(real));
		k->mem_zero(m->dk, nk * sizeof(real));
		k->mem_zero(m->dv, nk * sizeof(real));
		k->gqa_backward(m->dq, m->dk, m->dv, m->datt, m->datty, a->qr, a->kr, a->v, a->att, B, T, d.NH, d.NKV,
				d.hd);
		if (m->c.rope) {
			k->rope_backward(m->dq, m->rope_cos, m->rope_sin, NULL, T, BT, d.NH, d.hd);
			k->rope_backward(m->dk, m->rope_cos, m->rope_sin, NULL, T, BT, d.NKV, d.hd);
		}
		real *dq = m->dq, *dk = m->dk;
		if (m->c.qk_norm) {
			k->mem_zero(m->dq2, nq * sizeof(real));
			k->mem_zero(m->dk2, nk * sizeof(real));
			k->rmsnorm_backward(m->dq2, lw(m, G, l, L_QNW), m->dq, a->q, lw(m, P, l, L_QNW), a->qn_rstd,
					    BT * d.NH, d.hd);
			k->rmsnorm_backward(m->dk2, lw(m, G, l, L_KNW), m->dk, a->k, lw(m, P, l, L_KNW), a->kn_rstd,
					    BT * d.NKV, d.hd);
			dq = m->dq2;
			dk = m->dk2;
		}
		k->mem_zero(m->dln, n * sizeof(real));
		k->linear_backward(m->dln, lw(m, G, l, L_QW), lw(m, G, l, L_QB), dq, a->ln1, lw(m, P, l, L_QW), BT, C, d.QD);
		k->linear_backward(m->dln, lw(m, G, l, L_KW), lw(m, G, l, L_KB), dk, a->ln1, lw(m, P, l, L_KW), BT, C, d.KD);
		k->linear_backward(m->dln, lw(m, G, l, L_VW), lw(m, G, l, L_VB), m->dv, a->ln1, lw(m, P, l, L_VW), BT, C,
				   d.KD);
		norm_backward(m, m->dres, lw(m, G, l, L_N1W), lw(m, G, l, L_N1B), m->dln, xin, lw(m, P, l, L_N1W),
			      a->ln1_mean, a->ln1_rstd, BT, C);
	}
	k->encoder_backward(gt(m, G, m->t_wte), gt(m, G, m->t_wpe), m->dres, m->inp, B, T, C);
}

/* The decoding products of a block, in the order of lpanel_w. */
enum { LP_Q, LP_K, LP_V, LP_O, LP_G, LP_U, LP_D, N_LPANELS };
static const int lpanel_w[N_LPANELS] = { L_QW, L_KW, L_VW, L_OW, L_GW, L_UW, L_DW };

static size_t llama_panels(const model *m, model_cache *c, unsigned char *dst)
{
	const kern_ops *k = m->k;
	int L = m->c.n_layer;
	size_t total = 0;
	for (int l = 0; l < L; l++)
		for (int i = 0; i < N_LPANELS; i++) {
			const real *w = lw(m, m->params, l, lpanel_w[i]);
			c->at[l * N_LPANELS + i] = total;
			if (!w)
				continue;
			const model_tensor *t = &m->tensors[m->lslot[l * N_LSLOTS + lpanel_w[i]]];
			int out = (int)t->shape[0], in = (int)t->shape[1];
			if (dst)
				k->panel_pack(dst + total, c->weights, w, in, out, 1);
			total += k->panel_bytes(c->weights, in, out);
		}
	c->at[L * N_LPANELS] = total;
	int head = m->t_head >= 0 ? m->t_head : m->t_wte;
	if (dst)
		k->panel_pack(dst + total, c->weights, m->params + m->tensors[head].offset, m->c.n_embd, m->c.n_vocab, 1);
	return total + k->panel_bytes(c->weights, m->c.n_embd, m->c.n_vocab);
}

static void llama_cache_new(const model *m, model_cache *c)
{
	struct dims d = dims_of(&m->c);
	size_t per = (size_t)c->slots * c->maxlen * d.KD * d.L;
	c->k = model_mem_alloc(m->k, per * sizeof(real));
	c->v = model_mem_alloc(m->k, per * sizeof(real));
	c->at = xmalloc(((size_t)d.L * N_LPANELS + 1) * sizeof(size_t));
	c->packed = model_mem_alloc(m->k, llama_panels(m, c, NULL));
	llama_panels(m, c, c->packed);
}

static void llama_cache_rows(const model *m, model_cache *c, int n)
{
	if (c->cap >= n)
		return;
	const kern_ops *k = c->ops;
	k->mem_free(c->x);
	struct dims d = dims_of(&m->c);
	size_t N = (size_t)n, C = (size_t)d.C, QD = (size_t)d.QD, KD = (size_t)d.KD, F = (size_t)d.F;
	size_t per = 3 * C + 2 + 3 * QD + 4 * KD + (size_t)d.NH + (size_t)d.NKV + 3 * F + (size_t)d.V;
	real *p = c->x = model_mem_alloc(k, N * per * sizeof(real));
	c->ln = (p += N * C);
	c->mean = (p += N * C);
	c->rstd = (p += N);
	c->q = (p += N);
	c->kk = (p += N * QD);
	c->vv = (p += N * KD);
	c->qn = (p += N * KD);
	c->kn = (p += N * QD);
	c->qn_rstd = (p += N * KD);
	c->kn_rstd = (p += N * d.NH);
	c->atty = (p += N * d.NKV);
	c->tmp = (p += N * QD);
	c->gate = (p += N * C);
	c->up = (p += N * F);
	c->h = (p += N * F);
	c->logits = p + N * F;
	k->mem_free(c->scores);
	c->scores = model_mem_alloc(k, N * (size_t)d.NH * (size_t)c->maxlen * sizeof(real));
	cache_indices(c, n);
}

static const real *llama_decode(model *m, model_cache *c, const int *slot, const uint32_t *tok, const int *pos, int n)
{
	const kern_ops *k = m->k;
	struct dims d = dims_of(&m->c);
	int C = d.C, F = c->weights;
	real *P = m->params;
	llama_cache_rows(m, c, n);
	cache_put(c, slot, pos, n);
	const unsigned char *head = c->packed + c->at[d.L * N_LPANELS];
	const real *wpe = gt(m, P, m->t_wpe);
	size_t layer = (size_t)c->slots * c->maxlen * d.KD;
	for (int i = 0; i < n; i++) {
		real *x = c->x + (size_t)i * C;
		/* A tied embedding from the packed head, the matrix the head
		 * multiplies by, narrowed alike; an untied one as it is. */
		if (m->t_head < 0)
			k->panel_column(x, head, F, C, d.V, (int)tok[i]);
		else
			k->copy_d2d(x, P + m->tensors[m->t_wte].offset + (size_t)tok[i] * C, (size_t)C * sizeof(real));
		if (wpe)
			k->residual_forward(x, x, wpe + (size_t)pos[i] * C, (size_t)C);
	}
	for (int l = 0; l < d.L; l++) {
		const unsigned char *p = c->packed;
		const size_t *at = c->at + l * N_LPANELS;
		norm_forward(m, c->ln, c->mean, c->rstd, c->x, lw(m, P, l, L_N1W), lw(m, P, l, L_N1B), n, C);
		k->matmul_panel(c->q, c->ln, p + at[LP_Q], F, lw(m, P, l, L_QB), n, C, d.QD);
		k->matmul_panel(c->kk, c->ln, p + at[LP_K], F, lw(m, P, l, L_KB), n, C, d.KD);
		k->matmul_panel(c->vv, c->ln, p + at[LP_V], F, lw(m, P, l, L_VB), n, C, d.KD);
		real *q = c->q, *kk = c->kk;
		if (m->c.qk_norm) {
			k->rmsnorm_forward(c->qn, c->qn_rstd, c->q, lw(m, P, l, L_QNW), n * d.NH, d.hd, d.eps);
			k->rmsnorm_forward(c->kn, c->kn_rstd, c->kk, lw(m, P, l, L_KNW), n * d.NKV, d.hd, d.eps);
			q = c->qn;
			kk = c->kn;
		}
		if (m->c.rope) {
			k->rope_forward(q, m->rope_cos, m->rope_sin, c->pos, 0, n, d.NH, d.hd);
			k->rope_forward(kk, m->rope_cos, m->rope_sin, c->pos, 0, n, d.NKV, d.hd);
		}
		k->gqa_decode(c->atty, c->scores, c->k + l * layer, c->v + l * layer, q, kk, c->vv, c->slot, c->pos, n, d.NH, d.NKV, d.hd,
			      c->maxlen);
		k->matmul_panel(c->tmp, c->atty, p + at[LP_O], F, NULL, n, d.QD, C);
		k->residual_forward(c->x, c->x, c->tmp, (size_t)n * C);
		norm_forward(m, c->ln, c->mean, c->rstd, c->x, lw(m, P, l, L_N2W), lw(m, P, l, L_N2B), n, C);
		if (m->c.mlp == MODEL_SWIGLU)
			k->matmul_panel(c->gate, c->ln, p + at[LP_G], F, NULL, n, C, d.F);
		k->matmul_panel(c->up, c->ln, p + at[LP_U], F, NULL, n, C, d.F);
		mlp_act(m, c->h, c->gate, c->up, (size_t)n * d.F);
		k->matmul_panel(c->tmp, c->h, p + at[LP_D], F, NULL, n, d.F, C);
		k->residual_forward(c->x, c->x, c->tmp, (size_t)n * C);
	}
	norm_forward(m, c->ln, c->mean, c->rstd, c->x, gt(m, P, m->t_nf_w), gt(m, P, m->t_nf_b), n, C);
	k->matmul_panel(c->logits, c->ln, head, F, NULL, n, C, d.V);
	return c->logits;
}

/* Each product's matrix [OUT, IN] becomes what its packing unpacks to:
 * row o of the matrix is column o of the packed product. */
static void round_matrix(const model *m, real *w, int in, int out, int weights, unsigned char *tmp)
{
	const kern_ops *k = m->k;
	k->panel_pack(tmp, weights, w, in, out, 1);
	for (int o = 0; o < out; o++)
		k->panel_column(w + (size_t)o * in, tmp, weights, in, out, o);
}

static void llama_round_weights(model *m, int weights)
{
	const kern_ops *k = m->k;
	int head = m->t_head >= 0 ? m->t_head : m->t_wte;
	size_t most = 0;
	for (size_t i = 0; i < m->ntensors; i++) {
		const model_tensor *t = &m->tensors[i];
		if (t->out_in || (int)i == head) {
			size_t b = k->panel_bytes(weights, (int)t->shape[1], (int)t->shape[0]);
			most = b > most ? b : most;
		}
	}
	unsigned char *tmp = model_mem_alloc(k, most);
	for (size_t i = 0; i < m->ntensors; i++) {
		const model_tensor *t = &m->tensors[i];
		if (t->out_in || (int)i == head)
			round_matrix(m, m->params + t->offset, (int)t->shape[1], (int)t->shape[0], weights, tmp);
	}
	k->mem_free(tmp);
}
