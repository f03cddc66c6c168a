#!/usr/bin/env python3
"""grpo_trl.py: one GRPO iteration (rollouts, rewards, one optimizer step)
with TRL's GRPOTrainer on the CPU, for bench/grpo.sh to set beside
sluice-sample | sluice-synth-filter --reward | sluice-train-step --grpo.

The model is a transformers GPT-2 of the sluice checkpoint's shape (read from
its safetensors header) and, unless --random-init, with its weights: the
checkpoint's tensors carry Hugging Face GPT-2 names, so both sides sample
from the same policy.  The prompts are token ids (a JSONL file of
{"tokens": [...], "answer": "..."}, the prompts exactly as sluice-sample
renders them), so no tokenizer has to agree with sluice's: a character-level
tokenizer of the model's vocabulary size stands between TRL and the ids
(id i is the character U+4E00+i).  The reward decodes the completion's ids
with the sluice vocabulary (a tiktoken rank file) and checks the answer after
the last "####", as sluice-synth-filter's answer rule does.

--forced: every completion is exactly --max-new tokens (the end tokens are
suppressed by min_new_tokens), for comparison with sluice-sample
--no-stop-eot without --chat.  Otherwise a completion ends at <|im_end|> or
<|endoftext|>, as sluice-sample --chat's do.

Prints one line per timed step and a summary line:
  trl: S s/iter (median of N), T completion tokens/iter, ...
"""
import argparse
import base64
import json
import os
import re
import statistics
import struct
import sys
import time


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def read_vocab(path):
    """id -> bytes from a tiktoken rank file (base64 token, rank per line)."""
    dec = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                dec[int(parts[1])] = base64.b64decode(parts[0])
    return dec


NUM = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?")


def final_answer(text):
    at = text.rfind("####")
    if at < 0:
        return None
    m = NUM.search(text, at + 4)
    return m.group(0).replace(",", "") if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True, help="sluice safetensors checkpoint (shape, and weights)")
    ap.add_argument("--vocab", required=True, help="the checkpoint's tiktoken rank file, for the reward")
    ap.add_argument("--prompts", required=True, help="JSONL: tokens (prompt ids), answer")
    ap.add_argument("-P", "--num-prompts", type=int, default=16)
    ap.add_argument("-G", "--num-generations", type=int, default=8)
    ap.add_argument("-N", "--max-new", type=int, default=48)
    ap.add_argument("-B", "--micro-batch", type=int, default=32, help="sequences a forward/backward pass")
    ap.add_argument("--steps", type=int, default=3, help="timed iterations, after one warm-up")
    ap.add_argument("--beta", type=float, default=0.0, help="KL coefficient (a reference model when > 0)")
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--forced", action="store_true", help="exactly --max-new tokens a completion")
    ap.add_argument("--random-init", action="store_true", help="do not load the checkpoint's weights")
    ap.add_argument("--out", default=None, help="scratch directory for the trainer (default: a temporary one)")
    a = ap.parse_args()

    import tempfile

    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    import datasets
    import tokenizers
    import transformers
    import trl
    from safetensors.torch import load_file
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()

    hdr = read_header(a.ckpt)
    cfg = json.loads(hdr["__metadata__"]["config"])
    n_vocab = cfg["n_vocab"]
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=n_vocab,
            n_positions=cfg["n_ctx"],
            n_embd=cfg["n_embd"],
            n_layer=cfg["n_layer"],
            n_head=cfg["n_head"],
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=n_vocab - 3,
            eos_token_id=n_vocab - 1,
            tie_word_embeddings=True,
        )
    )
    if not a.random_init:
        state = {k: v for k, v in load_file(a.ckpt).items()}
        missing, unexpected = model.transformer.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.endswith(".attn.bias") and not m.endswith(".attn.masked_bias")]
        if missing or unexpected:
            sys.exit(f"grpo_trl.py: checkpoint tensors do not fit: missing {missing}, unexpected {unexpected}")
        model.tie_weights()

    # The checkpoint's vocabulary: its tokens, <|endoftext|> (named in the
    # tokenizer's JSON beside the rank file, else the last id before the
    # chat template's), then the template's <|im_start|> and <|im_end|>.
    dec = read_vocab(a.vocab)
    eot = n_vocab - 3
    vocab_json = os.path.splitext(a.vocab)[0] + ".json"
    if os.path.exists(vocab_json):
        with open(vocab_json) as f:
            eot = json.load(f).get("special_tokens", {}).get("<|endoftext|>", eot)
    im_end = n_vocab - 1

    base = 0x4E00
    chars = {chr(base + i): i for i in range(n_vocab)}
    tk = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=chars, unk_token=chr(base + eot)))
    tk.pre_tokenizer = tokenizers.pre_tokenizers.Split(tokenizers.Regex("."), behavior="isolated")
    tk.decoder = tokenizers.decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        eos_token=chr(base + im_end),
        pad_token=chr(base + eot),
        unk_token=chr(base + eot),
    )
    model.generation_config.eos_token_id = [im_end, eot]
    model.generation_config.pad_token_id = eot

    prompts, answers = [], []
    with open(a.prompts) as f:
        for line in f:
            r = json.loads(line)
            prompts.append("".join(chr(base + t) for t in r["tokens"]))
            answers.append(str(r["answer"]))
            if len(prompts) == a.num_prompts:
                break
    if len(prompts) < a.num_prompts:
        sys.exit(f"grpo_trl.py: {a.prompts}: {len(prompts)} prompts, {a.num_prompts} wanted")
    plen = {len(p) for p in prompts}
    ds = datasets.Dataset.from_dict({"prompt": prompts, "answer": answers})

    tokens_per_iter = []
    rewards_per_iter = []
    reward_at = []  # when each step's rewards are asked for: its rollouts are done

    def reward(prompts, completions, completion_ids, answer, **kw):
        out = []
        for ids, ref in zip(completion_ids, answer):
            text = b"".join(dec.get(i, b"") for i in ids if i < n_vocab - 2 and i != eot)
            got = final_answer(text.decode("utf-8", "replace"))
            out.append(1.0 if got is not None and got == ref else 0.0)
        reward_at.append(time.perf_counter())
        tokens_per_iter.append(sum(len(c) for c in completion_ids))
        rewards_per_iter.append(sum(out) / len(out))
        return out

    marks = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            marks.append(time.perf_counter())

    n_seq = a.num_prompts * a.num_generations
    if n_seq % a.micro_batch:
        sys.exit("grpo_trl.py: prompts x generations must be a multiple of the micro-batch")
    gen_kwargs = {"min_new_tokens": a.max_new} if a.forced else None
    tmp = a.out or tempfile.mkdtemp(prefix="grpo_trl.")
    args = GRPOConfig(
        output_dir=tmp,
        use_cpu=True,
        seed=1,
        per_device_train_batch_size=a.micro_batch,
        gradient_accumulation_steps=n_seq // a.micro_batch,
        num_generations=a.num_generations,
        max_completion_length=a.max_new,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        generation_kwargs=gen_kwargs,
        beta=a.beta,
        num_iterations=1,
        learning_rate=a.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_steps=a.steps + 1,
        use_vllm=False,
        report_to="none",
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        log_completions=False,
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        shuffle_dataset=False,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=args,
        train_dataset=ds,
        processing_class=tok,
        callbacks=[Clock()],
    )
    t0 = time.perf_counter()
    trainer.train()
    per = [marks[i] - marks[i - 1] for i in range(1, len(marks))]
    gen = [reward_at[i] - marks[i - 1] for i in range(1, len(marks))]
    for i, s in enumerate(per):
        print(
            f"trl step {i + 1}: {s:.3f} s (rollouts {gen[i]:.3f} s, update {s - gen[i]:.3f} s), "
            f"{tokens_per_iter[i + 1]} completion tokens, mean reward {rewards_per_iter[i + 1]:.3f}"
        )
    med = statistics.median(per)
    med_gen = statistics.median(gen)
    toks = statistics.median(tokens_per_iter[1:])
    print(
        f"trl: {med:.3f} s/iter (median of {len(per)}; rollouts {med_gen:.3f} s; warm-up {marks[0] - t0:.3f} s), "
        f"{toks:.0f} completion tokens/iter, "
        f"{a.num_prompts} prompts x {a.num_generations}, prompt length {sorted(plen)}, "
        f"{cfg['n_layer']}L {cfg['n_embd']}C {cfg['n_head']}H vocab {n_vocab} ctx {cfg['n_ctx']}, "
        f"{'forced ' if a.forced else ''}max_new {a.max_new}, beta {a.beta}, "
        f"torch {torch.__version__} trl {trl.__version__} transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
