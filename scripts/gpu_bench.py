#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark (make gpu-check).

Trains the same model as the Go benchmark (Embedding -> LSTM -> last hidden
state -> Linear -> BCE-with-logits, AdamW) with cuDNN's LSTM under
torch.autocast fp16 and a GradScaler, on exactly the batches the Go side
wrote (batches.bin), and prints real (non-padding) tokens/s and the time of
one epoch over 3.6M reviews. With --go it also prints the Go/PyTorch ratio
against the floors: at least 1.0x PyTorch, an epoch in at most 60 s.
"""
import argparse
import json
import struct
import sys
import time

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

MAGIC = 0x42415443
EPOCH_REVIEWS = 3_600_000


def read_batches(path):
    """Reads the file TestGPUBench writes (see cuda/bench_data_test.go)."""
    with open(path, "rb") as f:
        raw = f.read()
    off = 0

    def ints(n):
        nonlocal off
        v = struct.unpack_from("<%di" % n, raw, off)
        off += 4 * n
        return v

    magic, count, rows, vocab, embed, hidden = ints(6)
    if magic != MAGIC:
        sys.exit("gpu_bench.py: %s is not a batches file (magic %#x)" % (path, magic))
    batches = []
    for _ in range(count):
        (width,) = ints(1)
        lengths = torch.tensor(ints(rows), dtype=torch.int64)
        tokens = torch.tensor(ints(rows * width), dtype=torch.int64).view(rows, width)
        labels = torch.tensor(ints(rows), dtype=torch.float32)
        batches.append((tokens, lengths, labels))
    if off != len(raw):
        sys.exit("gpu_bench.py: %s has %d trailing bytes" % (path, len(raw) - off))
    return batches, vocab, embed, hidden


class Net(nn.Module):
    def __init__(self, vocab, embed, hidden):
        super().__init__()
        self.emb = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, tokens, lengths):
        x = self.emb(tokens)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(h[-1]).squeeze(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", required=True, help="batches.bin written by the Go benchmark")
    ap.add_argument("--go", help="go.json written by the Go benchmark, for the side-by-side")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke run")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--json", help="write the PyTorch figures here")
    args = ap.parse_args()

    batches, vocab, embed, hidden = read_batches(args.batches)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(1)
    net = Net(vocab, embed, hidden).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    loss_fn = nn.BCEWithLogitsLoss(reduction="mean")
    amp_dtype = torch.float16 if cuda else torch.bfloat16
    try:
        scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    except (AttributeError, TypeError):
        scaler = torch.cuda.amp.GradScaler(enabled=cuda)
    if cuda:  # pinned host copies, uploaded every step as the Go side does
        batches = [(t.pin_memory(), l, y.pin_memory()) for t, l, y in batches]

    def step(i):
        tokens, lengths, labels = batches[i % len(batches)]
        tokens = tokens.to(dev, non_blocking=True)
        labels = labels.to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=amp_dtype):
            logits = net(tokens, lengths)
            loss = loss_fn(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        scaler.step(opt)
        scaler.update()
        return int(lengths.sum()), tokens.shape[0], loss

    for i in range(args.warmup):
        step(i)
    if cuda:
        torch.cuda.synchronize()
    tokens = reviews = 0
    t0 = time.perf_counter()
    for i in range(args.steps):
        n, r, loss = step(args.warmup + i)
        tokens += n
        reviews += r
    if cuda:
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    res = {
        "precision": "fp16" if cuda else "bf16-cpu",
        "steps": args.steps,
        "seconds": secs,
        "tokens_per_s": tokens / secs,
        "reviews_per_s": reviews / secs,
        "epoch_seconds_3_6m": EPOCH_REVIEWS / (reviews / secs),
        "final_loss": float(loss),
        "device": name,
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
    }
    print("pytorch-cudnn %s %s: %.0f tokens/s, %.0f reviews/s, epoch of 3.6M reviews %.1f s (torch %s)"
          % (res["precision"], name, res["tokens_per_s"], res["reviews_per_s"], res["epoch_seconds_3_6m"], torch.__version__))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    if args.go:
        with open(args.go) as f:
            go = json.load(f)
        ok = True
        for g in go:
            ratio = g["tokens_per_s"] / res["tokens_per_s"]
            print("go-cuda %-5s vs pytorch-cudnn fp16: %.2fx tokens/s, epoch %.1f s vs %.1f s"
                  % (g["precision"], ratio, g["epoch_seconds_3_6m"], res["epoch_seconds_3_6m"]))
            if g["precision"] == "fp16":
                ok = ratio >= 1.0 and g["epoch_seconds_3_6m"] <= 60
                print("floors (>= 1.0x PyTorch, epoch <= 60 s) for go-cuda fp16: %s" % ("met" if ok else "NOT met"))
        return 0 if ok else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
