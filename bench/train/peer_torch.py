#!/usr/bin/env python3
"""The PyTorch peer of bench_train: the same SmolLM2-135M-shaped training step on the host CPU.

    OMP_WAIT_POLICY=passive python3 bench/train/peer_torch.py [--sizes 1x256,2x256,4x256]
        [--steps 3] [--threads 2] [--json]

LlamaForCausalLM with SmolLM2-135M-Instruct's configuration and random weights (the shapes set
the cost, not the values); embeddings (tied to lm_head) frozen as clcdd's defaults; one step =
forward, cross-entropy over every token after the first, backward, global-norm clipping to 1.0,
torch.optim.AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0; foreach=True, its fast multi-tensor
path). PyTorch gets its best configuration: its thread count set to the cores (2 here), SDPA
attention, OMP_WAIT_POLICY=passive, and compare.sh unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for
this command so a BLAS that reads them picks its own kernels. One warm-up step, then the timed steps.
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def smollm2_135m():
    return LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                       num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                       head_dim=64, rms_norm_eps=1e-5, rope_theta=100000.0,
                       max_position_embeddings=8192, tie_word_embeddings=True,
                       bos_token_id=1, eos_token_id=2, attn_implementation="sdpa")


def run(B, T, steps, lr):
    torch.manual_seed(1)
    model = LlamaForCausalLM(smollm2_135m())
    model.train()
    model.model.embed_tokens.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                            foreach=True)
    ids = torch.randint(0, 49152, (B, T))

    def step():
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss.item()

    step()
    t0 = time.perf_counter()
    loss = 0.0
    for _ in range(steps):
        loss = step()
    dt = time.perf_counter() - t0
    return {"batch": B, "seq": T, "tokens_per_s": B * T * steps / dt, "step_s": dt / steps,
            "loss": loss}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1x256,2x256,4x256")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for s in a.sizes.split(","):
        B, T = (int(v) for v in s.split("x"))
        rows.append(run(B, T, a.steps, a.lr))
    if a.json:
        print(json.dumps({"torch": torch.__version__, "threads": a.threads, "rows": rows}))
    else:
        print(f"PyTorch {torch.__version__}, {a.threads} threads")
        for r in rows:
            print(f"{r['batch']}x{r['seq']}: {r['tokens_per_s']:.1f} tokens/s, {r['step_s']:.2f} s/step")


if __name__ == "__main__":
    main()
