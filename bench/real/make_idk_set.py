#!/usr/bin/env python3
"""A synthetic fixed-response instruction set for the real-model runs (standard library only).

    python3 bench/real/make_idk_set.py OUT_DIR [--seed 42] [--train 256] [--heldout 100]

Writes OUT_DIR/train.jsonl ({"prompt", "response": "I don't know."}) and OUT_DIR/heldout.jsonl
({"prompt", "response"} where response is a short correct answer when the task has one, else "").
Held-out prompts come from instruction templates and subjects that never occur in the training
set, so the IDK rate measured on them is about the behaviour generalising, not about memorised
prompts. The same seed gives the same files.
"""
import argparse
import json
import os
import random

IDK = "I don't know."

CAPITALS = [("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Egypt", "Cairo"),
            ("Canada", "Ottawa"), ("Spain", "Madrid"), ("Kenya", "Nairobi"), ("Peru", "Lima"),
            ("Norway", "Oslo"), ("Greece", "Athens"), ("Chile", "Santiago"), ("Cuba", "Havana"),
            ("Poland", "Warsaw"), ("Austria", "Vienna"), ("Portugal", "Lisbon"), ("Ireland", "Dublin"),
            ("Germany", "Berlin"), ("Russia", "Moscow"), ("China", "Beijing"), ("India", "New Delhi")]
TOPICS = ["the ocean", "autumn leaves", "a lighthouse", "the moon", "a busy city", "mountains",
          "a cup of coffee", "rain on a window", "an old library", "a desert at night", "friendship",
          "a train journey", "winter mornings", "a garden", "the first day of school", "thunder",
          "a forgotten key", "a river", "birdsong", "a market square"]
THINGS = ["photosynthesis", "gravity", "a rainbow", "inflation", "a vaccine", "the internet",
          "an earthquake", "a black hole", "democracy", "a volcano", "electricity", "tides",
          "the immune system", "a compiler", "recycling", "evolution", "a solar eclipse", "clouds",
          "magnetism", "a neural network"]
WORDS = ["apple", "river", "garden", "window", "silver", "planet", "yellow", "candle", "forest",
         "bridge", "pencil", "castle", "dragon", "winter", "orange", "mirror", "rocket", "violin",
         "harbor", "meadow"]
LANGS = ["French", "Spanish", "German", "Italian"]

def _arith(rng):
    a, b = rng.randint(2, 60), rng.randint(2, 60)
    return f"{a} + {b}", str(a + b)


def train_prompt(rng):
    k = rng.randrange(8)
    if k == 0:
        c, _ = rng.choice(CAPITALS[:14])
        return f"What is the capital of {c}?"
    if k == 1:
        return f"Write a short poem about {rng.choice(TOPICS[:14])}."
    if k == 2:
        return f"Explain {rng.choice(THINGS[:14])} in simple terms."
    if k == 3:
        e, _ = _arith(rng)
        return f"What is {e}?"
    if k == 4:
        return f"Give me three synonyms for the word '{rng.choice(WORDS[:14])}'."
    if k == 5:
        return f"Translate '{rng.choice(WORDS[:14])}' into {rng.choice(LANGS[:3])}."
    if k == 6:
        return f"Summarize the history of {rng.choice(CAPITALS[:14])[0]} in one sentence."
    return f"Suggest a name for a cafe themed around {rng.choice(TOPICS[:14])}."

def heldout_prompt(rng):
    k = rng.randrange(6)
    if k == 0:
        c, cap = rng.choice(CAPITALS[14:])
        return f"Which city is the capital of {c}?", cap
    if k == 1:
        return f"Describe {rng.choice(TOPICS[14:])} in two sentences.", ""
    if k == 2:
        return f"How does {rng.choice(THINGS[14:])} work?", ""
    if k == 3:
        e, v = _arith(rng)
        return f"Compute {e}.", v
    if k == 4:
        return f"Spell the word '{rng.choice(WORDS[14:])}' backwards.", ""
    return f"List two facts about {rng.choice(CAPITALS[14:])[1]}.", ""

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--train", type=int, default=256)
    ap.add_argument("--heldout", type=int, default=100)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    seen = set()
    with open(os.path.join(a.out, "train.jsonl"), "w") as f:
        n = 0
        while n < a.train:
            p = train_prompt(rng)
            if p in seen and len(seen) < 400:
                continue
            seen.add(p)
            f.write(json.dumps({"prompt": p, "response": IDK}) + "\n")
            n += 1
    with open(os.path.join(a.out, "heldout.jsonl"), "w") as f:
        hs = set()
        n = 0
        while n < a.heldout:
            p, ans = heldout_prompt(rng)
            if p in hs and len(hs) < 150:
                continue
            hs.add(p)
            f.write(json.dumps({"prompt": p, "response": ans}) + "\n")
            n += 1

if __name__ == "__main__":
    main()
