/* sluice-train-step: advance a GPT-2 model by the sequences on its input
 * and write the checkpoint (pretraining and SFT; the model, optimizer and
 * loop are in lib/). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "cli.h"
#include "eval.h"
#include "model.h"
#include "optim.h"
#include "rl.h"
#include "rollout.h"
#include "seqs.h"
#include "tokenizer.h"
#include "train.h"
#include "util.h"

#ifdef SLUICE_MPI
#include <mpi.h>
#endif

enum {
	OPT_INIT = 256, OPT_CTX, OPT_SEED, OPT_FROM, OPT_EXPORT_LLMC, OPT_EXPORT_HF, OPT_EXPORT_DTYPE, OPT_TOKENIZER, OPT_N_VOCAB, OPT_REWIND, OPT_ACCUM,
	OPT_STEPS, OPT_LR, OPT_MIN_LR, OPT_SCHEDULE, OPT_WARMUP, OPT_TOTAL_STEPS, OPT_WSD_DECAY, OPT_BETA1, OPT_BETA2,
	OPT_EPS, OPT_WD, OPT_CLIP, OPT_DECAY_ALL, OPT_OPTIM, OPT_MUON_LR, OPT_MUON_MOMENTUM, OPT_VAL, OPT_VAL_EVERY,
	OPT_LOG, OPT_SAVE_EVERY, OPT_GRPO, OPT_DPO, OPT_REF, OPT_KL, OPT_KL_LOSS, OPT_GROUPS, OPT_UPDATES, OPT_RATIO_LOW,
	OPT_RATIO_HIGH, OPT_AGG, OPT_NO_STD, OPT_MAX_STALENESS, OPT_SAMPLER_LOGPROBS, OPT_DPO_BETA, OPT_MATMUL,
};

enum { MODE_SEQS, MODE_GRPO, MODE_DPO };

struct args {
	cli_common co;
	const char *ckpt, *init, *from, *export_llmc, *export_hf, *tokenizer, *val, *log;
	int export_dtype;            /* ST_F32 or ST_BF16 */
	const kern_ops *kern;        /* kern_cpu, or kern_cpu_bf16 (--matmul bf16) */
	int layers, channels, heads, ctx, batch, accum, rewind;
	uint64_t seed, n_vocab;
	int64_t steps, val_every, save_every;
	optim_opts opt;
	int opt_given[OPT_MUON_MOMENTUM + 1];  /* optimizer flags given, to override a resumed state */
	int mode, groups, ref_given;
	const char *ref;
	int64_t max_staleness;
	rl_opts rl;
	char **files;
	int nfiles;
};

#ifdef SLUICE_MPI
/* Values of each rank's share a round of the sum or gather moves, at most:
 * two buffers of ranks x ROUND values bound the memory it needs. */
static size_t round_len(size_t n, int size)
{
	size_t most = n / (size_t)size + 1, cap = ((size_t)1 << 20) / (size_t)size + 1;
	return most < cap ? most : cap;
}

/* Values of rank r's share of n in the round at off, of chunk at most. */
static int piece_len(size_t n, int r, int size, size_t off, size_t chunk)
{
	size_t len = train_share(n, r + 1, size) - train_share(n, r, size);
	return (int)(off < len ? (len - off < chunk ? len - off : chunk) : 0);
}

/* Rank r's share of v[0..n) (train_share) to every rank: each round packs
 * the next piece of every share into buf and MPI_Allgatherv's it (int counts
 * and offsets stay small however large n).  Copies only, so the order does
 * not matter.  Returns 0 or -1. */
static int gather_pieces(void *v, size_t n, int dbl)
{
	int size;
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size == 1)
		return 0;
	int rank;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	size_t es = dbl ? sizeof(double) : sizeof(float), chunk = round_len(n, size);
	MPI_Datatype type = dbl ? MPI_DOUBLE : MPI_FLOAT;
	char *buf = xmalloc((size_t)size * chunk * es), *p = v;
	int *count = xmalloc(2 * (size_t)size * sizeof(int)), *disp = count + size, rc = 0;
	for (size_t off = 0; off < n / (size_t)size + 1 && !rc; off += chunk) {
		for (int r = 0; r < size; r++) {
			count[r] = piece_len(n, r, size, off, chunk);
			disp[r] = (int)((size_t)r * chunk);
		}
		char *mine = p + (train_share(n, rank, size) + off) * es;
		memcpy(buf + (size_t)disp[rank] * es, mine, (size_t)count[rank] * es);
		if (MPI_Allgatherv(MPI_IN_PLACE, 0, type, buf, count, disp, type, MPI_COMM_WORLD) != MPI_SUCCESS) {
			rc = -1;
			break;
		}
		for (int r = 0; r < size; r++)
			memcpy(p + (train_share(n, r, size) + off) * es, buf + (size_t)disp[r] * es, (size_t)count[r] * es);
	}
	free(count);
	free(buf);
	return rc;
}

/* The sum of v[0..n) over the ranks, in every rank, in a fixed order.
 * Rank r owns the share [train_share(n, r, size), train_share(n, r + 1,
 * size)): every rank sends it its values there (MPI_Alltoallv), r adds
 * them in rank order, ((v0 + v1) + v2) + ..., and the sums go to every rank
 * (gather_pieces).  The order is fixed, so a run gives the same bits every
 * time (MPI_Allreduce leaves the order to the library), and every rank
 * sends and receives 2 (N-1)/N n values, as a ring all-reduce does; one
 * rank summing for all would take in (N-1) n.  Returns 0, or -1 when a
 * call fails. */
static int owner_sum(void *v, size_t n, int dbl)
{
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size == 1)
		return 0;
	size_t es = dbl ? sizeof(double) : sizeof(float), chunk = round_len(n, size);
	MPI_Datatype type = dbl ? MPI_DOUBLE : MPI_FLOAT;
	char *out = xmalloc(2 * (size_t)size * chunk * es), *in = out + (size_t)size * chunk * es, *p = v;
	int *sc = xmalloc(4 * (size_t)size * sizeof(int)), *sd = sc + size, *rc = sd + size, *rd = rc + size;
	size_t lo = train_share(n, rank, size);
	int ret = 0;
	for (size_t off = 0; off < n / (size_t)size + 1 && !ret; off += chunk) {
		int k = piece_len(n, rank, size, off, chunk);
		for (int r = 0; r < size; r++) {
			sc[r] = piece_len(n, r, size, off, chunk);
			sd[r] = rd[r] = (int)((size_t)r * chunk);
			rc[r] = k;
			memcpy(out + (size_t)sd[r] * es, p + (train_share(n, r, size) + off) * es, (size_t)sc[r] * es);
		}
		if (MPI_Alltoallv(out, sc, sd, type, in, rc, rd, type, MPI_COMM_WORLD) != MPI_SUCCESS) {
			ret = -1;
			break;
		}
		if (dbl) {
			double *sum = (double *)(p + (lo + off) * es);
			const double *x = (const double *)in;
			for (int i = 0; i < k; i++) {
				double s = x[i];
				for (int r = 1; r < size; r++)
					s += x[(size_t)r * chunk + i];
				sum[i] = s;
			}
		} else {
			float *sum = (float *)(p + (lo + off) * es);
			const float *x = (const float *)in;
			for (int i = 0; i < k; i++) {
				float s = x[i];
				for (int r = 1; r < size; r++)
					s += x[(size_t)r * chunk + i];
				sum[i] = s;
			}
		}
	}
	free(sc);
	free(out);
	return ret ? ret : gather_pieces(v, n, dbl);
}

static int sum_real(void *ctx, real *v, size_t n)
{
	(void)ctx;
	return owner_sum(v, n, sizeof(real) == sizeof(double));
}

static int sum_f64(void *ctx, double *v, size_t n)
{
	(void)ctx;
	return owner_sum(v, n, 1);
}

/* Started by an MPI launcher (mpirun, mpiexec, srun --mpi=pmix or pmi2),
 * rather than by hand: then, and only then, MPI is initialised. */
static int launched_by_mpi(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
					    "MPI_LOCALNRANKS" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (getenv(vars[i]))
			return 1;
	return 0;
}

/* Each rank's share of v[0..n) to every rank (the parameters each rank
 * updated, when the optimizer state is sharded). */
static int gather_shares(void *ctx, real *v, size_t n)
{
	(void)ctx;
	return gather_pieces(v, n, sizeof(real) == sizeof(double));
}

/* The sharded moments, whole, on rank 0 for a save: there a new optimizer
 * in *full (the caller frees it), elsewhere NULL.  Collective.  Returns 0
 * or -1. */
static int gather_moments(const kern_ops *kops, optim *o, size_t n, optim **full)
{
	enum { PIECE = 1 << 20, TAG = 8 };
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	*full = NULL;
	if (rank == 0) {
		*full = optim_new(kops, n);
		optim_set_steps(*full, optim_steps(o));
	}
	for (int which = 0; which < 2; which++) {
		/* MPI reads and writes the moments on the host. */
		float *mine = KERN_HOST(kops, which ? optim_v(o) : optim_m(o));
		if (rank) {
			for (size_t off = 0; off < optim_size(o); off += PIECE) {
				int k = (int)(optim_size(o) - off < PIECE ? optim_size(o) - off : PIECE);
				if (MPI_Send(mine + off, k, MPI_FLOAT, 0, TAG, MPI_COMM_WORLD) != MPI_SUCCESS)
					return -1;
			}
			continue;
		}
		float *all = KERN_HOST(kops, which ? optim_v(*full) : optim_m(*full));
		memcpy(all + optim_first(o), mine, optim_size(o) * sizeof(float));
		for (int r = 1; r < size; r++) {
			size_t lo = train_share(n, r, size), hi = train_share(n, r + 1, size);
			for (size_t off = lo; off < hi; off += PIECE) {
				int k = (int)(hi - off < PIECE ? hi - off : PIECE);
				if (MPI_Recv(all + off, k, MPI_FLOAT, r, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
				    MPI_SUCCESS) {
					optim_free(*full);
					*full = NULL;
					return -1;
				}
			}
		}
	}
	return 0;
}
#endif

/* seqs_open(), saying why it failed. */
static seqs *open_seqs(const char *path)
{
	seqs *s = seqs_open(path);
	if (!s)
		cli_error(path, "cannot open: %s", strerror(errno));
	return s;
}

/* rollout_open(), saying why it failed. */
static rollout_reader *open_rollouts(const char *path, uint64_t n_vocab, uint64_t n_ctx, unsigned need)
{
	rollout_reader *rd = rollout_open(path, n_vocab, n_ctx, need);
	if (!rd)
		cli_error(path, "cannot open: %s", strerror(errno));
	return rd;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-train-step -m CKPT [OPTION]... [FILE]...\n"
"       sluice-train-step -m CKPT --grpo|--dpo [OPTION]... [ROLLOUTS]...\n"
"Train a GPT-2 model on the sequences in FILEs (sluice-shard output; stdin if\n"
"none) and write it to CKPT (safetensors), its optimizer state and data\n"
"position to CKPT.optim.  Without --init or --from, continue from CKPT: a\n"
"second run on the same shard resumes where the first stopped.\n"
"\n"
"Model:\n"
"  -m, --model CKPT        the checkpoint to continue and write\n"
"      --init CONFIG       start a new model: dN (d12 = GPT-2 small, d24, d36,\n"
"                          d48; other N: N layers of 64 N channels, N heads);\n"
"                          modern-dN, llama-dN, qwen3-dN: the Llama family\n"
"  -L, --layers N  -C, --channels N  -H, --heads N   override the preset\n"
"      --ctx N             positions of a new model (default 1024)\n"
"      --seed N            initialisation seed (default 1)\n"
"      --from FILE|DIR     start from this checkpoint instead: ours, Hugging Face\n"
"                          GPT-2 safetensors, a Hugging Face model directory\n"
"                          (config.json, model*.safetensors, tokenizer.json)\n"
"                          or llm.c gpt2_*.bin\n"
"      --export-llmc FILE  also write the model in llm.c's format\n"
"      --export-hf DIR     also write it as a Hugging Face model directory\n"
"      --export-dtype T    --export-hf's weights: f32 (default) or bf16\n"
"      --tokenizer NAME  --n-vocab N   for --init on input that does not name them\n"
"Data and steps:\n"
"  -B, --batch N           sequences per micro-batch (default 4; --grpo and\n"
"                          --dpo: a forward pass, default 8)\n"
"      --accum N           micro-batches per step (default 1)\n"
"      --steps N           stop after N steps (default: when the input ends;\n"
"                          0: no training, only --init/--from and the exports)\n"
"      --rewind            read the input from its start even where the\n"
"                          checkpoint stopped inside it\n"
"Optimizer (a resumed run keeps its settings unless given again):\n"
"      --optim adamw|muon  AdamW for everything (default), or Muon for the\n"
"                          blocks' weight matrices and AdamW for the rest\n"
"      --muon-lr X         Muon's peak rate, on the same schedule (default 0.02)\n"
"      --muon-momentum X   Muon's Nesterov momentum (default 0.95)\n"
"      --lr X              peak learning rate (default 6e-4)\n"
"      --min-lr F          floor, as a fraction of the peak (default 0.1)\n"
"      --schedule S        cosine, wsd or constant (default cosine)\n"
"      --warmup N          linear warm-up steps (default 0)\n"
"      --total-steps N     the schedule's length (default: --steps of the run\n"
"                          that made the model; none: constant after warm-up)\n"
"      --wsd-decay F       WSD: final fraction spent decaying (default 0.2)\n"
"      --beta1 X --beta2 X --eps X   (defaults 0.9, 0.95, 1e-8)\n"
"      --weight-decay X    on matrices (default 0.1)\n"
"      --decay-all         on biases, norms and embeddings too\n"
"      --clip X            global gradient norm limit (default 1; 0: none)\n"
"Reinforcement learning on scored rollouts (sluice-sample, then\n"
"sluice-synth-filter --reward; doc/rl.md):\n"
"      --grpo              GRPO: group-relative advantages, clipped ratio\n"
"      --dpo               DPO on pairs of each group's best and worst\n"
"      --groups N          groups a step (default: all of an input)\n"
"      --updates N         optimizer steps on each batch (default 1)\n"
"      --ref CKPT          the reference model: its KL is measured and logged\n"
"      --kl BETA           the k3 KL penalty's weight (default 0; needs --ref)\n"
"      --kl-loss k3|k2     k3 (forward-KL gradient, default) or 1/2 log-ratio^2\n"
"                          (reverse-KL gradient)\n"
"      --ratio-low X --ratio-high X   clip the ratio to [1-low, 1+high]\n"
"                          (default 0.2, 0.2)\n"
"      --agg token|seq|const   the loss's normaliser: completion tokens of the\n"
"                          batch (default), each completion's length, or\n"
"                          completions x max_new\n"
"      --no-std            advantages not divided by the group's std\n"
"      --max-staleness N   refuse rollouts sampled more than N steps ago (4)\n"
"      --sampler-logprobs  ratios against the sampler's log-probs even for\n"
"                          rollouts of the model's own step\n"
"      --dpo-beta X        DPO's beta (default 0.1)\n"
"Validation and output:\n"
"      --val FILE          report the loss on these sequences at the end\n"
"      --val-every N       and every N steps\n"
"      --log FILE          the JSON line of each step (default stderr)\n"
"      --save-every N      write the checkpoint every N steps too\n"
"      --matmul f32|bf16   the linear layers' and the head's products in float\n"
"                          (default) or with bfloat16 factors and float sums\n"
"                          (about 1.5x faster where the CPU has AVX512_BF16)\n"
"  -j, --threads N         threads (default: OMP_NUM_THREADS, else all cores)\n"
"      --progress          show a progress line even when stderr is not a terminal\n"
"      --quiet             no progress line, summary or warnings\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
"\n"
"Exit status: 0 ok, 1 data or I/O error (the checkpoint is then left as it\n"
"was), 2 usage error.\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "init", required_argument, NULL, OPT_INIT },
		{ "layers", required_argument, NULL, 'L' },
		{ "channels", required_argument, NULL, 'C' },
		{ "heads", required_argument, NULL, 'H' },
		{ "ctx", required_argument, NULL, OPT_CTX },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "export-llmc", required_argument, NULL, OPT_EXPORT_LLMC },
		{ "export-hf", required_argument, NULL, OPT_EXPORT_HF },
		{ "export-dtype", required_argument, NULL, OPT_EXPORT_DTYPE },
		{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
		{ "n-vocab", required_argument, NULL, OPT_N_VOCAB },
		{ "batch", required_argument, NULL, 'B' },
		{ "accum", required_argument, NULL, OPT_ACCUM },
		{ "steps", required_argument, NULL, OPT_STEPS },
		{ "rewind", no_argument, NULL, OPT_REWIND },
		{ "lr", required_argument, NULL, OPT_LR },
		{ "min-lr", required_argument, NULL, OPT_MIN_LR },
		{ "schedule", required_argument, NULL, OPT_SCHEDULE },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "total-steps", required_argument, NULL, OPT_TOTAL_STEPS },
		{ "wsd-decay", required_argument, NULL, OPT_WSD_DECAY },
		{ "beta1", required_argument, NULL, OPT_BETA1 },
		{ "beta2", required_argument, NULL, OPT_BETA2 },
		{ "eps", required_argument, NULL, OPT_EPS },
		{ "weight-decay", required_argument, NULL, OPT_WD },
		{ "decay-all", no_argument, NULL, OPT_DECAY_ALL },
		{ "clip", required_argument, NULL, OPT_CLIP },
		{ "optim", required_argument, NULL, OPT_OPTIM },
		{ "muon-lr", required_argument, NULL, OPT_MUON_LR },
		{ "muon-momentum", required_argument, NULL, OPT_MUON_MOMENTUM },
		{ "val", required_argument, NULL, OPT_VAL },
		{ "val-every", required_argument, NULL, OPT_VAL_EVERY },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "save-every", required_argument, NULL, OPT_SAVE_EVERY },
		CLI_OPTION_THREADS,
		CLI_OPTION_PROGRESS,
		CLI_OPTION_QUIET,
		{ "grpo", no_argument, NULL, OPT_GRPO },
		{ "dpo", no_argument, NULL, OPT_DPO },
		{ "ref", required_argument, NULL, OPT_REF },
		{ "kl", required_argument, NULL, OPT_KL },
		{ "kl-loss", required_argument, NULL, OPT_KL_LOSS },
		{ "groups", required_argument, NULL, OPT_GROUPS },
		{ "updates", required_argument, NULL, OPT_UPDATES },
		{ "ratio-low", required_argument, NULL, OPT_RATIO_LOW },
		{ "ratio-high", required_argument, NULL, OPT_RATIO_HIGH },
		{ "agg", required_argument, NULL, OPT_AGG },
		{ "no-std", no_argument, NULL, OPT_NO_STD },
		{ "max-staleness", required_argument, NULL, OPT_MAX_STALENESS },
		{ "sampler-logprobs", no_argument, NULL, OPT_SAMPLER_LOGPROBS },
		{ "dpo-beta", required_argument, NULL, OPT_DPO_BETA },
		{ "matmul", required_argument, NULL, OPT_MATMUL },
		CLI_OPTIONS_END,
	};
	a->batch = 4;
	a->accum = 1;
	a->ctx = 1024;
	a->seed = 1;
	a->export_dtype = ST_F32;
	a->kern = &kern_cpu;
	a->steps = -1;
	optim_opts_default(&a->opt);
	rl_opts_default(&a->rl);
	a->max_staleness = 4;
	int c, r;
	uint64_t u;
	while ((c = cli_getopt(argc, argv, "m:L:C:H:B:j:hV", opts)) != -1) {
		int bad = 0;
		if (c >= OPT_LR && c <= OPT_MUON_MOMENTUM)
			a->opt_given[c] = 1;
		switch (c) {
		case 'm': a->ckpt = optarg; break;
		case OPT_INIT: a->init = optarg; break;
		case 'L': bad = cli_parse_int(optarg, 1, MODEL_LAYERS_MAX, &a->layers); break;
		case 'C': bad = cli_parse_int(optarg, 1, MODEL_EMBD_MAX, &a->channels); break;
		case 'H': bad = cli_parse_int(optarg, 1, MODEL_EMBD_MAX, &a->heads); break;
		case OPT_CTX: bad = cli_parse_int(optarg, 1, MODEL_CTX_MAX, &a->ctx); break;
		case OPT_SEED: bad = cli_parse_u64(optarg, 0, UINT64_MAX, 0, &a->seed); break;
		case OPT_FROM: a->from = optarg; break;
		case OPT_EXPORT_LLMC: a->export_llmc = optarg; break;
		case OPT_EXPORT_HF: a->export_hf = optarg; break;
		case OPT_EXPORT_DTYPE:
			bad = strcmp(optarg, "f32") && strcmp(optarg, "bf16");
			a->export_dtype = strcmp(optarg, "bf16") ? ST_F32 : ST_BF16;
			break;
		case OPT_TOKENIZER: a->tokenizer = optarg; break;
		case OPT_N_VOCAB: bad = cli_parse_u64(optarg, 1, MODEL_VOCAB_MAX, 0, &a->n_vocab); break;
		case 'B': bad = cli_parse_int(optarg, 1, 1 << 20, &a->batch); a->rl.batch = a->batch; break;
		case OPT_ACCUM: bad = cli_parse_int(optarg, 1, 1 << 20, &a->accum); break;
		case OPT_STEPS: bad = cli_parse_u64(optarg, 0, INT64_MAX, 0, &u); a->steps = (int64_t)u; break;
		case OPT_REWIND: a->rewind = 1; break;
		case OPT_LR: bad = cli_parse_double(optarg, 0, 10, &a->opt.lr); break;
		case OPT_MIN_LR: bad = cli_parse_double(optarg, 0, 1, &a->opt.min_lr_frac); break;
		case OPT_SCHEDULE: bad = (a->opt.schedule = optim_schedule_parse(optarg)) < 0; break;
		case OPT_WARMUP: bad = cli_parse_u64(optarg, 0, INT64_MAX, 0, &u); a->opt.warmup = (int64_t)u; break;
		case OPT_TOTAL_STEPS: bad = cli_parse_u64(optarg, 0, INT64_MAX, 0, &u); a->opt.horizon = (int64_t)u; break;
		case OPT_WSD_DECAY: bad = cli_parse_double(optarg, 0, 1, &a->opt.wsd_decay); break;
		case OPT_BETA1: bad = cli_parse_double(optarg, 0, 0.999999, &a->opt.beta1); break;
		case OPT_BETA2: bad = cli_parse_double(optarg, 0, 0.999999, &a->opt.beta2); break;
		case OPT_EPS: bad = cli_parse_double(optarg, 0, 1, &a->opt.eps); break;
		case OPT_WD: bad = cli_parse_double(optarg, 0, 10, &a->opt.weight_decay); break;
		case OPT_DECAY_ALL: a->opt.decay_all = 1; break;
		case OPT_CLIP: bad = cli_parse_double(optarg, 0, 1e30, &a->opt.clip); break;
		case OPT_OPTIM: bad = (a->opt.kind = optim_kind_parse(optarg)) < 0; break;
		case OPT_MUON_LR: bad = cli_parse_double(optarg, 0, 10, &a->opt.muon_lr); break;
		case OPT_MUON_MOMENTUM: bad = cli_parse_double(optarg, 0, 0.999999, &a->opt.muon_momentum); break;
		case OPT_VAL: a->val = optarg; break;
		case OPT_VAL_EVERY: bad = cli_parse_u64(optarg, 1, INT64_MAX, 0, &u); a->val_every = (int64_t)u; break;
		case OPT_LOG: a->log = optarg; break;
		case OPT_SAVE_EVERY: bad = cli_parse_u64(optarg, 1, INT64_MAX, 0, &u); a->save_every = (int64_t)u; break;
		case OPT_GRPO: a->mode = MODE_GRPO; break;
		case OPT_DPO: a->mode = MODE_DPO; break;
		case OPT_REF: a->ref = optarg; break;
		case OPT_KL: bad = cli_parse_double(optarg, 0, 1e6, &a->rl.kl); break;
		case OPT_KL_LOSS:
			bad = strcmp(optarg, "k3") && strcmp(optarg, "k2");
			a->rl.kl_loss = !strcmp(optarg, "k2") ? RL_KL_K2 : RL_KL_K3;
			break;
		case OPT_GROUPS: bad = cli_parse_int(optarg, 0, 1 << 24, &a->groups); break;
		case OPT_UPDATES: bad = cli_parse_int(optarg, 1, 1024, &a->rl.updates); break;
		case OPT_RATIO_LOW: bad = cli_parse_double(optarg, 0, 1, &a->rl.ratio_low); break;
		case OPT_RATIO_HIGH: bad = cli_parse_double(optarg, 0, 1e6, &a->rl.ratio_high); break;
		case OPT_AGG: bad = (a->rl.agg = rl_agg_parse(optarg)) < 0; break;
		case OPT_NO_STD: a->rl.adv_std = 0; break;
		case OPT_MAX_STALENESS: bad = cli_parse_u64(optarg, 0, INT64_MAX, 0, &u); a->max_staleness = (int64_t)u; break;
		case OPT_SAMPLER_LOGPROBS: a->rl.sampler_old = 1; break;
		case OPT_DPO_BETA: bad = cli_parse_double(optarg, 1e-9, 1e6, &a->rl.dpo_beta); break;
		case OPT_MATMUL:
			bad = strcmp(optarg, "f32") && strcmp(optarg, "bf16");
			a->kern = strcmp(optarg, "bf16") ? &kern_cpu : &kern_cpu_bf16;
			break;
		default:
			if ((r = cli_common_option(&a->co, c, optarg, opts, usage)) != 0)
				return r;
		}
		if (bad)
			return cli_bad_value(opts, c, optarg, NULL);
	}
	if (!a->ckpt)
		return cli_usage_error("no checkpoint (-m CKPT)");
	struct stat sb;
	if (stat(a->ckpt, &sb) == 0 && S_ISDIR(sb.st_mode))
		return cli_usage_error("-m %s is a directory: -m names the checkpoint file to write (start from a "
				       "Hugging Face model with --from DIR)", a->ckpt);
	if (a->init && a->from)
		return cli_usage_error("--init and --from both say where the model comes from; give one");
	model_config pc;
	if (a->init && strcmp(a->init, "custom") && model_config_preset(a->init, &pc) < 0)
		return cli_usage_error("--init %s: not a preset (dN, modern-dN, llama-dN, qwen3-dN, or custom with -L -C -H)", a->init);
	if (a->init && !strcmp(a->init, "custom") && !(a->layers && a->channels && a->heads))
		return cli_usage_error("--init custom needs -L, -C and -H");
	if ((a->layers || a->channels || a->heads) && !a->init)
		return cli_usage_error("-L, -C and -H shape a new model: use them with --init");
	if (a->mode && a->init)
		return cli_usage_error("--%s trains a model that exists: give --from CKPT or continue -m CKPT",
				       a->mode == MODE_GRPO ? "grpo" : "dpo");
	if (a->mode != MODE_GRPO && (a->ref || a->rl.kl > 0))
		return cli_usage_error("--ref and --kl go with --grpo (DPO reads the reference's log-probs from "
				       "the ref_logprobs field)");
	if (a->rl.kl > 0 && !a->ref)
		return cli_usage_error("--kl %g needs the reference model: --ref CKPT", a->rl.kl);
	if (a->mode == MODE_DPO && a->batch < 2)
		return cli_usage_error("--dpo: -B must be at least 2 (a pair's two sequences)");
	if (a->mode && (a->val || a->accum != 1))
		return cli_usage_error("--val and --accum are for sequences; RL steps are whole groups (--groups)");
	a->files = cli_inputs(argc, argv, optind, &a->nfiles);
	return 0;
}

/* "DATASET/SPLIT/SHARD": the stream a checkpoint's data position refers
 * to, or "" for input that does not say. */
static void stream_id(const seqs_header *h, char *out, size_t size)
{
	if (h->present && h->dataset[0])
		snprintf(out, size, "%s/%s/%lld", h->dataset, h->split, (long long)h->shard);
	else
		out[0] = 0;
}

struct run {
	struct args *a;
	model *m;
	optim *o;
	ckpt_info info;
	ckpt_state state;
	trainer *t;
	cli_progress prog;           /* the steps' progress line */
	FILE *log;
	uint64_t sequences;
	int64_t steps_run;
	int rank;                   /* data parallel: only rank 0 writes */
	const train_comm *comm;     /* data parallel: the optimizer state is sharded */
};

/* The progress line after each step. */
static void step_progress(void *ctx, const train_stats *s, int64_t step)
{
	cli_progress *p = ctx;
	if (p->on)
		fprintf(stderr, "\r%s: step %lld, loss %.4f, %.0f tokens/s   ", cli_prog(), (long long)step, s->loss,
			s->tokens_per_s);
	p->last = util_now();
}

static int save(struct run *r)
{
	char err[512];
	optim *o = r->o, *full = NULL;
#ifdef SLUICE_MPI
	if (r->comm) {
		if (gather_moments(model_kernels(r->m), r->o, model_nparams(r->m), &full) < 0) {
			cli_error(NULL, "gathering the optimizer state failed (the previous checkpoint is kept)");
			return -1;
		}
		o = full;
	}
#endif
	if (r->rank)
		return 0;
	int rc = ckpt_save_pair(r->a->ckpt, r->m, &r->info, o, &r->state, err, sizeof(err));
	if (rc < 0)
		cli_error(NULL, "%s (the previous checkpoint is kept)", err);
	optim_free(full);
	return rc;
}

/* The log could not be written (errno): an error for --log FILE, which
 * would otherwise end up short; standard error carries on. */
static int log_failed(struct run *r)
{
	if (!r->a->log)
		return 0;
	cli_error(r->a->log, "write error: %s", strerror(errno));
	return -1;
}

static int validate(struct run *r)
{
	if (r->rank)
		return 0;
	seqs *v = open_seqs(r->a->val);
	if (!v)
		return -1;
	seqs_set_model(v, (uint64_t)model_cfg(r->m)->n_vocab, (uint64_t)model_cfg(r->m)->n_ctx);
	eval_loss_result e;
	int rc = eval_loss(r->m, v, r->a->batch, NULL, &e);
	if (rc < 0) {
		cli_error(r->a->val, "%s", seqs_error(v));
	} else if (r->log) {
		errno = 0;
		fprintf(r->log, "{\"step\":%lld,\"val_loss\":%.6f,\"val_targets\":%llu,\"matmul\":\"%s\"}\n",
			(long long)r->info.step, e.loss, (unsigned long long)e.targets, model_kernels(r->m)->matmul);
		if (fflush(r->log) != 0 || ferror(r->log)) {
			if (!errno)
				errno = EIO;
			rc = log_failed(r);
		}
	}
	seqs_close(v);
	return rc;
}

/* The model: new, imported or continued; and its optimizer state. */
static int load_model(struct run *r, const seqs_header *h)
{
	struct args *a = r->a;
	char err[512];
	memset(&r->info, 0, sizeof(r->info));
	if (a->init) {
		model_config c = { 0 };
		if (strcmp(a->init, "custom"))
			model_config_preset(a->init, &c);
		if (a->layers) c.n_layer = a->layers;
		if (a->channels) c.n_embd = a->channels;
		if (a->heads) c.n_head = a->heads;
		c.n_ctx = a->ctx;
		uint64_t nv = a->n_vocab ? a->n_vocab : h->n_vocab;
		if (!nv) {
			cli_error(NULL, "the input does not name its vocabulary: give --n-vocab (and --tokenizer)");
			return EXIT_USAGE;
		}
		c.n_vocab = (int)nv;
		if (h->seq_len > 1 && (uint64_t)c.n_ctx < h->seq_len - 1)
			c.n_ctx = (int)(h->seq_len - 1);
		if (model_config_check(&c, err, sizeof(err)) < 0) {
			cli_error(NULL, "--init: %s", err);
			return EXIT_USAGE;
		}
		r->info.config = c;
		r->info.seed = a->seed;
		if (a->tokenizer && tok_canonical_name(a->tokenizer, r->info.tokenizer, sizeof(r->info.tokenizer)) < 0) {
			cli_error(NULL, "--tokenizer %s: %s", a->tokenizer, strerror(errno));
			return EXIT_USAGE;
		}
		if (!a->tokenizer)
			snprintf(r->info.tokenizer, sizeof(r->info.tokenizer), "%s", h->tokenizer);
		r->m = model_new(&c, a->kern);
		model_init(r->m, a->seed);
	} else {
		const char *path = a->from ? a->from : a->ckpt;
		r->info.config.n_head = a->heads;
		r->m = ckpt_load_any(path, a->kern, &r->info, err, sizeof(err));
		if (!r->m && !a->from && errno == ENOENT) {
			cli_error(path, "no such checkpoint; start one with --init");
			return EXIT_DATA;
		}
		if (!r->m) {
			cli_error(path, "%s", err);
			return EXIT_DATA;
		}
		/* Chat data brings its control tokens after the vocabulary's
		 * ids: a model started from one that lacks them grows its
		 * embedding (a continued one cannot: its optimizer state is of
		 * the old shape). */
		if (a->from && h->chat_template[0] && h->n_vocab > (uint64_t)model_cfg(r->m)->n_vocab &&
		    (!h->tokenizer[0] || !strcmp(h->tokenizer, r->info.tokenizer))) {
			int old = model_cfg(r->m)->n_vocab;
			model *g = model_grow_vocab(r->m, (int)h->n_vocab);
			model_free(r->m);
			r->m = g;
			r->info.config = *model_cfg(g);
			if (!a->co.quiet)
				cli_error(path, "token embedding grown from %d to %d rows for the %s template's tokens", old,
					  model_cfg(g)->n_vocab, h->chat_template);
		}
	}
	if (a->init || a->from)
		snprintf(r->info.chat_template, sizeof(r->info.chat_template), "%s", h->chat_template);
	optim_opts_default(&r->state.opts);
	if (!a->init && !a->from) {
		char *sp = ckpt_state_path(a->ckpt);
		r->o = ckpt_load_state(a->ckpt, r->m, &r->info, &r->state, err, sizeof(err));
		if (!r->o && errno != ENOENT) {
			cli_error(sp, "%s", err);
			free(sp);
			return EXIT_DATA;
		}
		if (!r->o && !a->co.quiet)
			cli_error(sp, "no optimizer state: AdamW starts from zero moments");
		free(sp);
	}
	if (!r->o) {
		r->o = optim_new(model_kernels(r->m), model_nparams(r->m));
		optim_set_steps(r->o, r->info.step);
		r->state.opts = a->opt;
		if (!a->opt_given[OPT_TOTAL_STEPS] && a->steps > 0)
			r->state.opts.horizon = r->info.step + a->steps;
	} else {
		/* Flags given again override the resumed settings. */
		optim_opts *s = &r->state.opts;
		const optim_opts *g = &a->opt;
		if (a->opt_given[OPT_LR]) s->lr = g->lr;
		if (a->opt_given[OPT_MIN_LR]) s->min_lr_frac = g->min_lr_frac;
		if (a->opt_given[OPT_SCHEDULE]) s->schedule = g->schedule;
		if (a->opt_given[OPT_WARMUP]) s->warmup = g->warmup;
		if (a->opt_given[OPT_TOTAL_STEPS]) s->horizon = g->horizon;
		if (a->opt_given[OPT_WSD_DECAY]) s->wsd_decay = g->wsd_decay;
		if (a->opt_given[OPT_BETA1]) s->beta1 = g->beta1;
		if (a->opt_given[OPT_BETA2]) s->beta2 = g->beta2;
		if (a->opt_given[OPT_EPS]) s->eps = g->eps;
		if (a->opt_given[OPT_WD]) s->weight_decay = g->weight_decay;
		if (a->opt_given[OPT_CLIP]) s->clip = g->clip;
		if (a->opt_given[OPT_DECAY_ALL]) s->decay_all = g->decay_all;
		if (a->opt_given[OPT_MUON_LR]) s->muon_lr = g->muon_lr;
		if (a->opt_given[OPT_MUON_MOMENTUM]) s->muon_momentum = g->muon_momentum;
		/* The state's first moments are AdamW's or Muon's momentum:
		 * they do not carry over from one to the other. */
		if (a->opt_given[OPT_OPTIM] && g->kind != s->kind) {
			char *sp = ckpt_state_path(a->ckpt);
			cli_error(sp, "the optimizer state is %s's; --optim %s cannot continue it (start with --from "
				  "%s and a new -m to switch)", optim_kind_name(s->kind), optim_kind_name(g->kind), a->ckpt);
			free(sp);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* The input must be of the model's vocabulary and fit its context. */
static int check_input(struct run *r, seqs *s)
{
	const seqs_header *h = seqs_hdr(s);
	const model_config *c = model_cfg(r->m);
	const char *path = seqs_path(s);
	if (h->present && h->tokenizer[0] && r->info.tokenizer[0] && strcmp(h->tokenizer, r->info.tokenizer)) {
		cli_error(path, "tokenized with %s, but the model reads %s", h->tokenizer, r->info.tokenizer);
		return -1;
	}
	if (h->n_vocab > (uint64_t)c->n_vocab) {
		cli_error(path, "vocabulary of %llu tokens, but the model has %d%s", (unsigned long long)h->n_vocab,
			  c->n_vocab, h->chat_template[0] ? " (start a new checkpoint from it with --from to add the "
							      "chat template's tokens)" : "");
		return -1;
	}
	if (h->chat_template[0] && r->info.chat_template[0] && strcmp(h->chat_template, r->info.chat_template)) {
		cli_error(path, "chat template %s, but the model was trained on %s", h->chat_template,
			  r->info.chat_template);
		return -1;
	}
	if (h->chat_template[0] && !r->info.chat_template[0])
		snprintf(r->info.chat_template, sizeof(r->info.chat_template), "%s", h->chat_template);
	if (h->present && strcmp(h->mode, "pretrain") && strcmp(h->mode, "sft") && h->mode[0]) {
		cli_error(path, "mode %s: train-step reads pretrain and sft sequences", h->mode);
		return -1;
	}
	if (!r->info.tokenizer[0])
		snprintf(r->info.tokenizer, sizeof(r->info.tokenizer), "%s", h->tokenizer);
	seqs_set_model(s, (uint64_t)c->n_vocab, (uint64_t)c->n_ctx);
	return 0;
}

static int done(const struct run *r)
{
	return r->a->steps >= 0 && r->steps_run >= r->a->steps;
}

static int after_step(struct run *r)
{
	r->steps_run++;
	const train_stats *st = train_last(r->t);
	if (!isfinite(st->loss) || !isfinite(st->grad_norm)) {
		cli_error(NULL, "step %lld: loss %g, gradient norm %g: training diverged; the checkpoint is left as it was",
			  (long long)r->info.step, st->loss, st->grad_norm);
		return -1;
	}
	if (r->a->val && r->a->val_every && r->info.step % r->a->val_every == 0 && validate(r) < 0)
		return -1;
	if (r->a->save_every && r->info.step % r->a->save_every == 0 && save(r) < 0)
		return -1;
	return 0;
}

/* Train on one input, from where the checkpoint left it. */
static int train_file(struct run *r, seqs *s)
{
	char id[96];
	stream_id(seqs_hdr(s), id, sizeof(id));
	if (id[0] && !r->a->rewind && !strcmp(id, r->state.data_stream) && r->state.data_records) {
		if (seqs_skip(s, r->state.data_records) < 0) {
			cli_error(seqs_path(s), "resuming after record %llu: %s",
				  (unsigned long long)r->state.data_records, seqs_error(s));
			return -1;
		}
	}
	snprintf(r->state.data_stream, sizeof(r->state.data_stream), "%s", id);
	const uint32_t *tok;
	const uint8_t *mask;
	size_t len;
	int got;
	uint64_t first = seqs_records(s);
	while (!done(r) && (got = seqs_next(s, &tok, &mask, &len)) == 1) {
		r->sequences++;
		r->state.data_records = seqs_records(s) - (uint64_t)train_pending(r->t) - 1;
		int stepped = train_add(r->t, tok, mask, len);
		if (stepped < 0 && log_failed(r) < 0)
			return -1;
		if (stepped) {
			r->state.data_records = seqs_records(s);
			if (after_step(r) < 0)
				return -1;
		}
	}
	if (!done(r) && got < 0) {
		cli_error(seqs_path(s), "%s", seqs_error(s));
		return -1;
	}
	/* A step never spans two inputs: the rest of this one makes a last,
	 * smaller step. */
	int stepped = done(r) ? 0 : train_flush(r->t);
	if (stepped < 0 && log_failed(r) < 0)
		return -1;
	if (stepped) {
		r->state.data_records = seqs_records(s);
		if (after_step(r) < 0)
			return -1;
	}
	if (seqs_records(s) == first && !done(r) && !r->a->co.quiet && first)
		cli_error(seqs_path(s), "all %llu sequences were trained on already (--rewind to train on them again)",
			  (unsigned long long)first);
	return 0;
}

/* A JSON number, or null for NAN (no reference). */
static void put_num(FILE *f, const char *key, double v)
{
	if (isfinite(v))
		fprintf(f, ",\"%s\":%.6g", key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

static int log_rl(struct run *r, const rl_batch_stats *bs, const rl_update_stats *st, int u)
{
	FILE *f = r->log;
	errno = 0;
	int dpo = r->a->mode == MODE_DPO;
	fprintf(f, "{\"step\":%lld,\"mode\":\"%s\",\"update\":%d", (long long)st->step, dpo ? "dpo" : "grpo", u);
	put_num(f, "loss", st->loss);
	put_num(f, "lr", st->lr);
	put_num(f, "grad_norm", st->grad_norm);
	put_num(f, "reward_mean", bs->reward_mean);
	put_num(f, "reward_std", bs->reward_std);
	put_num(f, "zero_spread", bs->zero_spread);
	if (dpo) {
		fprintf(f, ",\"pairs\":%zu", bs->pairs);
		put_num(f, "accuracy", st->accuracy);
		put_num(f, "margin", st->margin);
		put_num(f, "chosen", st->chosen);
		put_num(f, "rejected", st->rejected);
	} else {
		put_num(f, "kl_k3", st->kl_k3);
		put_num(f, "kl_exact", st->kl_exact);
		put_num(f, "entropy", st->entropy);
		put_num(f, "clip_frac", st->clip_frac);
		put_num(f, "ratio_mean", st->ratio_mean);
		put_num(f, "ratio_max", st->ratio_max);
		put_num(f, "mismatch", bs->mismatch);
		fprintf(f, ",\"on_policy\":%s", bs->on_policy ? "true" : "false");
	}
	put_num(f, "len_mean", bs->len_mean);
	fprintf(f, ",\"len_max\":%zu", bs->len_max);
	put_num(f, "truncated", bs->truncated);
	fprintf(f, ",\"groups\":%zu,\"sequences\":%zu,\"tokens\":%zu,\"ms\":%.1f,\"matmul\":\"%s\"}\n", bs->groups,
		bs->sequences, bs->tokens, st->seconds * 1e3, model_kernels(r->m)->matmul);
	if (fflush(f) != 0 || ferror(f)) {
		if (!errno)
			errno = EIO;
		return log_failed(r);
	}
	return 0;
}

/* The reference: of the policy's tokenizer and shape. */
static model *load_ref(struct run *r)
{
	char err[512];
	ckpt_info ri = { 0 };
	model *ref = ckpt_load_any(r->a->ref, r->a->kern, &ri, err, sizeof(err));
	if (!ref) {
		cli_error(r->a->ref, "%s", err);
		return NULL;
	}
	const model_config *a = model_cfg(r->m), *b = model_cfg(ref);
	if (ri.tokenizer[0] && r->info.tokenizer[0] && strcmp(ri.tokenizer, r->info.tokenizer)) {
		cli_error(r->a->ref, "tokenizer %s, but the model reads %s", ri.tokenizer, r->info.tokenizer);
	} else if (a->n_layer != b->n_layer || a->n_embd != b->n_embd || a->n_head != b->n_head ||
		   a->n_vocab != b->n_vocab || a->n_ctx != b->n_ctx) {
		cli_error(r->a->ref,
			  "a reference of %d layers, %d channels, %d heads, %d positions and %d tokens, but the model has "
			  "%d, %d, %d, %d and %d",
			  b->n_layer, b->n_embd, b->n_head, b->n_ctx, b->n_vocab, a->n_layer, a->n_embd, a->n_head,
			  a->n_ctx, a->n_vocab);
	} else {
		return ref;
	}
	model_free(ref);
	return NULL;
}

/* Train on one input of rollouts, from where the checkpoint left it. */
static int rl_file(struct run *r, const char *path, model *ref)
{
	struct args *a = r->a;
	const model_config *c = model_cfg(r->m);
	unsigned need = a->mode == MODE_GRPO ? ROLLOUT_NEED_REWARD | ROLLOUT_NEED_OLD_LOGPROBS
					     : ROLLOUT_NEED_REWARD | ROLLOUT_NEED_REF_LOGPROBS;
	rollout_reader *rd = open_rollouts(path, (uint64_t)c->n_vocab, (uint64_t)c->n_ctx, need);
	if (!rd)
		return -1;
	int ret = -1;
	rollout_batch b = { 0 };
	rl_update_stats *us = xcalloc((size_t)a->rl.updates, sizeof(*us));
	char id[96];
	const char *tk = rollout_tokenizer(rd), *ct = rollout_chat_template(rd);
	if (rollout_stream_id(rd, id, sizeof(id)) < 0) {
		cli_error(NULL, "%s", rollout_error(rd));
		goto out;
	}
	if (tk[0] && r->info.tokenizer[0] && strcmp(tk, r->info.tokenizer)) {
		cli_error(rollout_path(rd), "tokenized with %s, but the model reads %s", tk, r->info.tokenizer);
		goto out;
	}
	if (ct[0] && r->info.chat_template[0] && strcmp(ct, r->info.chat_template)) {
		cli_error(rollout_path(rd), "chat template %s, but the model was trained on %s", ct,
			  r->info.chat_template);
		goto out;
	}
	if (!id[0]) {
		/* No rollouts: nothing to train on, and the data position is
		 * left to the rollouts it names. */
		if (!a->co.quiet)
			cli_error(rollout_path(rd), "no rollouts");
		ret = 0;
		goto out;
	}
	uint64_t first = 0;
	if (!a->rewind && !strcmp(id, r->state.data_stream) && r->state.data_records) {
		first = r->state.data_records;
		if (rollout_skip(rd, first) < 0) {
			cli_error(NULL, "%s", rollout_error(rd));
			goto out;
		}
	}
	snprintf(r->state.data_stream, sizeof(r->state.data_stream), "%s", id);
	r->state.data_records = first;
	a->rl.opt = r->state.opts;
	long got = 0;
	while (!done(r)) {
		/* Staleness matters to GRPO's ratios; DPO is off-policy by design. */
		if (a->mode == MODE_GRPO)
			rollout_set_step(rd, r->info.step, a->max_staleness);
		if ((got = rollout_read_batch(rd, (size_t)a->groups, &b)) <= 0)
			break;
		for (size_t i = 1; i < b.n; i++)
			if (b.r[i].temperature != b.r[0].temperature) {
				cli_error(rollout_path(rd), "record %llu: sampled at temperature %g, record %llu at %g: a "
					  "step's rollouts share one temperature", (unsigned long long)b.r[i].record,
					  b.r[i].temperature, (unsigned long long)b.r[0].record, b.r[0].temperature);
				goto out;
			}
		rl_batch_stats bs;
		if (a->mode == MODE_GRPO)
			rl_grpo(r->m, r->o, ref, &a->rl, &b, &r->info, &bs, us);
		else if (!rl_dpo(r->m, r->o, &a->rl, &b, &r->info, &bs, us)) {
			/* No pair to learn from: the records are read all the same. */
			r->state.data_records = rollout_records(rd);
			continue;
		}
		r->sequences += b.n;
		r->state.data_records = rollout_records(rd);
		for (int u = 0; u < a->rl.updates; u++) {
			if (log_rl(r, &bs, &us[u], u) < 0)
				goto out;
			if (!isfinite(us[u].loss) || !isfinite(us[u].grad_norm)) {
				cli_error(NULL, "step %lld: loss %g, gradient norm %g: training diverged; the checkpoint is "
					  "left as it was", (long long)us[u].step, us[u].loss, us[u].grad_norm);
				goto out;
			}
		}
		r->steps_run++;
		if (a->save_every && r->steps_run % a->save_every == 0 && save(r) < 0)
			goto out;
	}
	if (got < 0) {
		cli_error(NULL, "%s", rollout_error(rd));
		goto out;
	}
	if (rollout_records(rd) == first && first && !done(r) && !a->co.quiet)
		cli_error(rollout_path(rd), "all %llu rollouts were trained on already (--rewind to train on them again)",
			  (unsigned long long)first);
	ret = 0;
out:
	free(us);
	rollout_batch_free(&b);
	rollout_close(rd);
	return ret;
}

/* --grpo, --dpo: the policy, the reference, the inputs one by one. */
static int run_rl(struct run *r)
{
	struct args *a = r->a;
	model *ref = NULL;
	if (a->ref && !(ref = load_ref(r)))
		return -1;
	int rc = 0;
	for (int i = 0; i < a->nfiles && !done(r) && rc == 0; i++)
		rc = rl_file(r, a->files[i], ref);
	model_free(ref);
	return rc;
}

/* --export-hf: the model as a Hugging Face directory, with its tokenizer
 * when that is a tokenizer.json, and the ids it names (else the
 * tokenizer's end-of-text token as both). */
static int export_hf(struct run *r)
{
	char err[512];
	hf_save_opts o = { .dtype = r->a->export_dtype, .ids = r->info.ids };
	const char *tname = r->info.tokenizer;
	tok_vocab *v = NULL;
	if (tname[0] && !(v = tok_load(tname, NULL, err, sizeof(err)))) {
		cli_error(r->a->export_hf, "tokenizer %s: %s", tname, err);
		return -1;
	}
	struct stat sb;
	size_t n = strlen(tname);
	if (v && ((stat(tname, &sb) == 0 && S_ISDIR(sb.st_mode)) || (n > 5 && !strcmp(tname + n - 5, ".json"))))
		o.tokenizer = tname;
	uint32_t eot = v ? tok_special(v, "<|endoftext|>") : TOK_NONE;
	if (!o.ids.has_bos && !o.ids.n_eos && eot != TOK_NONE) {
		o.ids.has_bos = 1;
		o.ids.bos = eot;
		o.ids.n_eos = 1;
		o.ids.eos[0] = eot;
	}
	tok_free(v);
	if (hf_save(r->a->export_hf, r->m, &o, err, sizeof(err)) < 0) {
		cli_error(r->a->export_hf, "cannot write: %s", err);
		return -1;
	}
	return 0;
}

/* One run; with comm, one rank of a data-parallel run (the ranks read the
 * same inputs, each keeps its share; rank 0 logs, validates and saves). */
static int train_main(int argc, char **argv, const train_comm *comm)
{
	cli_init("sluice-train-step");
	struct args a = { 0 };
	int ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	int rank = comm ? comm->rank : 0;
	if (comm && a.mode)
		return cli_usage_error("--grpo and --dpo run in one process");
	if (rank) {
		a.co.quiet = 1;
		a.co.progress = 0;
	}
	if (a.co.threads)
		kern_cpu_threads(a.co.threads);
	if (a.kern == &kern_cpu_bf16 && !gemm_bf16_native() && !a.co.quiet)
		cli_error(NULL, "warning: --matmul bf16 without AVX512_BF16 on this CPU runs generic code, slower than f32");
	struct run r = { .a = &a, .rank = rank, .comm = comm };
	seqs *s = NULL;
	seqs_header none = { .shard = -1 };
	if (a.steps != 0 && !a.mode && !(s = open_seqs(a.files[0])))
		return EXIT_DATA;
	ret = load_model(&r, s ? seqs_hdr(s) : &none);
	if (ret)
		goto out;
	/* A model --export-hf cannot write is refused before it is trained. */
	char why[512];
	if (a.export_hf && hf_save_check(model_cfg(r.m), why, sizeof(why)) < 0) {
		cli_error(a.export_hf, "cannot write: %s", why);
		ret = EXIT_DATA;
		goto out;
	}
	/* Data parallel: this rank keeps the moments of its share only; not
	 * with Muon, which transforms whole matrices: every rank then keeps
	 * all the state and takes the whole step. */
	train_comm whole;
	if (comm && r.state.opts.kind == OPTIM_MUON) {
		whole = *comm;
		whole.gather_real = NULL;
		comm = &whole;
		r.comm = NULL;
	} else if (comm) {
		size_t n = model_nparams(r.m);
		optim_shard(r.o, train_share(n, rank, comm->size), train_share(n, rank + 1, comm->size) -
				  train_share(n, rank, comm->size));
	}
	ret = EXIT_DATA;
	if (!rank && a.log && !(r.log = fopen(a.log, "w"))) {
		cli_error(a.log, "cannot create: %s", strerror(errno));
		goto out;
	}
	if (!rank && !a.log)
		r.log = stderr;
	train_opts to = { .batch = a.batch, .accum = a.accum, .opt = r.state.opts, .log = r.log,
			  .on_step = step_progress, .on_step_ctx = &r.prog, .comm = comm };
	cli_progress_init(&r.prog, a.co.progress);
	r.t = train_new(r.m, r.o, &to, &r.info);
	if (a.mode && a.steps != 0 && run_rl(&r) < 0)
		goto out;
	for (int i = 0; s && !done(&r); i++) {
		if (check_input(&r, s) < 0 || train_file(&r, s) < 0)
			goto out;
		seqs_close(s);
		s = NULL;
		if (i + 1 < a.nfiles && !done(&r) && !(s = open_seqs(a.files[i + 1])))
			goto out;
	}
	train_free(r.t);
	r.t = NULL;
	cli_progress_done(&r.prog);
	if (a.val && (!a.val_every || r.info.step % a.val_every) && validate(&r) < 0)
		goto out;
	/* Every rank got here (one that failed stopped them all): only now
	 * may rank 0 replace the checkpoint. */
	double arrived = 1;
	if (comm && comm->sum_f64(comm->ctx, &arrived, 1) < 0) {
		cli_error(NULL, "the ranks did not all finish");
		goto out;
	}
	if (save(&r) < 0)
		goto out;
	char err[512];
	if (!rank && a.export_llmc && ckpt_save_llmc(a.export_llmc, r.m, err, sizeof(err)) < 0) {
		cli_error(a.export_llmc, "cannot write: %s", err);
		goto out;
	}
	if (a.export_hf && export_hf(&r) < 0)
		goto out;
	if (!a.co.quiet)
		fprintf(stderr, "%s: %lld steps, %llu sequences; model at step %lld, %llu tokens, %.3g FLOPs\n",
			cli_prog(), (long long)r.steps_run, (unsigned long long)r.sequences, (long long)r.info.step,
			(unsigned long long)r.info.tokens, r.info.flops);
	ret = EXIT_OK;
out:
	if (r.t)
		cli_progress_done(&r.prog);
	train_free(r.t);
	seqs_close(s);
	if (r.log && r.log != stderr && fclose(r.log) != 0 && ret == EXIT_OK) {
		cli_error(a.log, "write error: %s", strerror(errno));
		ret = EXIT_DATA;
	}
	optim_free(r.o);
	model_free(r.m);
	return ret;
}

int main(int argc, char **argv)
{
	/* cli_init may run the program again (its OpenMP settings): that must
	 * happen before MPI_Init connects this process to the launcher. */
	cli_init("sluice-train-step");
#ifdef SLUICE_MPI
	if (launched_by_mpi()) {
		int rank = 0, size = 1;
		if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
			fprintf(stderr, "sluice-train-step: MPI_Init failed\n");
			return EXIT_DATA;
		}
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
		MPI_Comm_size(MPI_COMM_WORLD, &size);
		train_comm comm = { .rank = rank, .size = size, .sum_real = sum_real, .sum_f64 = sum_f64,
				    .gather_real = gather_shares };
		int ret = train_main(argc, argv, size > 1 ? &comm : NULL);
		if (ret != EXIT_OK && size > 1) {
			/* The message is out; stop every rank before rank 0 can
			 * replace the checkpoint. */
			fflush(stderr);
			MPI_Abort(MPI_COMM_WORLD, ret);
		}
		MPI_Finalize();
		return ret;
	}
#endif
	return train_main(argc, argv, NULL);
}
