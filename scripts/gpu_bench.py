#!/usr/bin/env python3
"""PyTorch + cuDNN side of the GPU benchmark (make gpu-check, docs/gpu.md).

Trains the same model as the Go benchmark (Embedding -> LSTM -> last hidden
state -> Linear -> BCE-with-logits, AdamW, clipping) with cuDNN's LSTM under
torch.autocast (fp16 with a GradScaler, bf16; fp32 without autocast), on
exactly the batches the Go side wrote (batches.bin), after one warm-up step
on every batch shape, and writes real (non-padding) tokens/s, reviews/s and
the time of one epoch over 3.6M reviews per precision.

Where PyTorch cannot run (not installed, no CUDA build, no device) it says
"unavailable: REASON" on one line and in the JSON, and exits 0: a missing
peer is a fact of the machine, not a failure of the check. --probe-only
writes just the environment (torch, CUDA, cuDNN versions or the reason).
"""
import argparse
import json
import struct
import sys
import time

MAGIC = 0x42415443
EPOCH_REVIEWS = 3_600_000


def probe():
    """Returns (torch module or None, environment dict)."""
    env = {"available": False}
    try:
        import torch  # noqa: PLC0415 (guarded: the GPU machine may lack it)
    except Exception as e:  # ImportError, or a broken install's OSError
        env["reason"] = "unavailable: import torch failed: %s" % (str(e).splitlines() or [type(e).__name__])[0]
        return None, env
    env["torch"] = torch.__version__
    env["torch_cuda"] = getattr(torch.version, "cuda", None)
    try:
        ok = torch.cuda.is_available()
    except Exception as e:
        ok, env["reason"] = False, "unavailable: torch.cuda.is_available() raised %s" % e
    if not ok:
        env.setdefault("reason", "unavailable: torch %s has no usable CUDA device (CUDA build: %s)" % (torch.__version__, env["torch_cuda"]))
        return None, env
    env["available"] = True
    env["device"] = torch.cuda.get_device_name(0)
    env["cudnn"] = torch.backends.cudnn.version()
    return torch, env


def read_batches(path, torch):
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
        raise ValueError("%s is not a batches file (magic %#x)" % (path, magic))
    batches = []
    for _ in range(count):
        (width,) = ints(1)
        lengths = torch.tensor(ints(rows), dtype=torch.int64)
        tokens = torch.tensor(ints(rows * width), dtype=torch.int64).view(rows, width)
        labels = torch.tensor(ints(rows), dtype=torch.float32)
        batches.append((tokens, lengths, labels))
    if off != len(raw):
        raise ValueError("%s has %d trailing bytes" % (path, len(raw) - off))
    return batches, vocab, embed, hidden


def bench(torch, batches, vocab, embed, hidden, precision, steps):
    """Times steps optimizer steps at one precision; returns the figures."""
    import torch.nn as nn  # noqa: PLC0415
    from torch.nn.utils.rnn import pack_padded_sequence  # noqa: PLC0415

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, embed, padding_idx=0)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 1)

        def forward(self, tokens, lengths):
            x = self.emb(tokens)
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)
            return self.head(h[-1]).squeeze(1)

    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(1)
    net = Net().to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    loss_fn = nn.BCEWithLogitsLoss(reduction="mean")
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": None}[precision]
    scaling = precision == "fp16"
    try:
        scaler = torch.amp.GradScaler("cuda", enabled=scaling)
    except (AttributeError, TypeError):
        scaler = torch.cuda.amp.GradScaler(enabled=scaling)
    # Pinned host copies, uploaded every step as the Go side does.
    pinned = [(t.pin_memory(), l, y.pin_memory()) for t, l, y in batches]

    def step(i):
        tokens, lengths, labels = pinned[i % len(pinned)]
        tokens = tokens.to(dev, non_blocking=True)
        labels = labels.to(dev, non_blocking=True)
        with torch.autocast(device_type="cuda", dtype=dtype or torch.float16, enabled=dtype is not None):
            logits = net(tokens, lengths)
            loss = loss_fn(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        scaler.step(opt)
        scaler.update()
        return int(lengths.sum()), tokens.shape[0], loss

    # One step on every batch: cudnn.benchmark picks an algorithm and the
    # caching allocator grows for each shape here, not inside the timing.
    for i in range(len(pinned)):
        step(i)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    tokens = reviews = 0
    t0 = time.perf_counter()
    for i in range(steps):
        n, r, loss = step(i)
        tokens += n
        reviews += r
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    return {
        "precision": precision,
        "steps": steps,
        "seconds": secs,
        "tokens_per_s": tokens / secs,
        "reviews_per_s": reviews / secs,
        "epoch_seconds_3_6m": EPOCH_REVIEWS / (reviews / secs),
        "final_loss": float(loss),
        "peak_memory_mib": torch.cuda.max_memory_allocated() / 2**20,
    }


def write(path, obj):
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(obj, f, indent=2)
        import os  # noqa: PLC0415

        os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", help="batches.bin written by the Go benchmark")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--precisions", default="fp16,bf16,fp32")
    ap.add_argument("--json", help="write the figures (or the reason PyTorch is unavailable) here")
    ap.add_argument("--probe-only", action="store_true", help="only report the environment")
    args = ap.parse_args()

    torch, env = probe()
    if args.probe_only or torch is None:
        print(env.get("reason") or "pytorch %s, CUDA %s, cuDNN %s on %s" % (env["torch"], env["torch_cuda"], env["cudnn"], env["device"]))
        write(args.json, env)
        return 0
    if not args.batches:
        ap.error("--batches is required unless --probe-only")
    try:
        batches, vocab, embed, hidden = read_batches(args.batches, torch)
    except (OSError, ValueError, struct.error) as e:
        print("gpu_bench.py: %s" % e, file=sys.stderr)
        return 1
    env["results"] = []
    for p in args.precisions.split(","):
        p = p.strip()
        if p not in ("fp16", "bf16", "fp32"):
            print("gpu_bench.py: --precisions: unknown precision %r" % p, file=sys.stderr)
            return 2
        try:
            r = bench(torch, batches, vocab, embed, hidden, p, args.steps)
        except Exception as e:  # one precision failing (e.g. bf16 on an old GPU) leaves the others
            r = {"precision": p, "error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")}
            print("pytorch-cudnn %-4s failed: %s" % (p, r["error"]))
        else:
            print("pytorch-cudnn %-4s %s: %.0f tokens/s, %.0f reviews/s, epoch of 3.6M reviews %.1f s"
                  % (p, env["device"], r["tokens_per_s"], r["reviews_per_s"], r["epoch_seconds_3_6m"]))
        env["results"].append(r)
        write(args.json, env)
    write(args.json, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
