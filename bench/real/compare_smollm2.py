#!/usr/bin/env python3
"""Compare clcdd's logits on a real GGUF with transformers loading the same file.

Run by hand (needs the model, torch, transformers and gguf; not part of CI):
    python bench/real/compare_smollm2.py build/cli/clcdd MODEL.gguf
transformers dequantises the GGUF to float32 (from_pretrained(dir, gguf_file=...)) and undoes the
q/k permutation itself, so both sides run the same float32 weights. For each prompt the ids come
from transformers' tokenizer (also built from the GGUF); `clcdd debug forward` dumps its logits and
the script prints the max absolute difference, the logit scale and whether the argmax agrees.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
]


def main(clcdd, gguf_path):
    d, f = os.path.split(os.path.abspath(gguf_path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
    worst = 0.0
    for p in PROMPTS:
        ids = tok(p)["input_ids"]
        with torch.no_grad():
            ref = model(torch.tensor([ids])).logits[0].numpy()
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "f.safetensors")
            subprocess.run([clcdd, "debug", "forward", gguf_path, "--ids",
                            ",".join(map(str, ids)), "--out", out], check=True)
            got = load_file(out)["logits"]
        diff = np.abs(got - ref).max()
        worst = max(worst, diff)
        agree = (got.argmax(-1) == ref.argmax(-1)).mean()
        print("%-40r %2d ids: max |diff| %.3g (logit scale %.1f), argmax agreement %.0f%%, "
              "next token %r" % (p[:40], len(ids), diff, np.abs(ref).max(), 100 * agree,
                                 tok.decode([int(got[-1].argmax())])))
    print("max |diff| over all prompts: %.3g" % worst)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
