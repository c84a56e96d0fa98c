"""Step time of every reference model in every framework, one workload at a time.

    python benchmarks/reference_models.py [--device cpu] [--steps 30] [--models mlp,cnn]

Runs `fwtop compare torch jax tensorflow --model M --sequential --json` for each
model (the real CLI, real children, default sizes) and prints a Markdown table of
median step time, throughput and time to first step, ready for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile


def run(model: str, device: str, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as runs:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fwtop",
                "compare",
                "torch",
                "jax",
                "tensorflow",
                "--model",
                model,
                "--device",
                device,
                "--steps",
                str(steps),
                "--warmup",
                "3",
                "--sequential",
                "--json",
                "--runs-dir",
                runs,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    if not proc.stdout.strip():
        raise SystemExit(f"fwtop failed for {model}: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def ms(x):
    return f"{x * 1e3:.1f}" if x is not None else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--models", default="matmul,mlp,cnn,transformer")
    args = ap.parse_args()
    print(
        f"Machine: {platform.machine()}, {platform.system()}; device {args.device}; "
        f"{args.steps} steps, 3 warm-up, workloads run one after another.\n"
    )
    print(
        "| model | framework | median ms | p95 ms | samples/s | TFLOP/s | first step s | launch to first step s | vs torch |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        summary = run(model, args.device, args.steps)
        for w in summary["workloads"]:
            st = w["step_time_s"]
            if w["state"] == "failed":
                print(f"| {model} | {w['framework']} | failed: {w['reason']} | | | | | | |")
                continue
            sps = f"{w['samples_per_s']:.0f}" if w["samples_per_s"] else "n/a"
            tfl = f"{w['tflops']:.3f}" if w["tflops"] else "n/a"
            ratio = f"{w['ratio_to_first']:.2f}x" if w["ratio_to_first"] else "n/a"
            print(
                f"| {model} | {w['framework']} {w['framework_version']} | {ms(st['median'])} | {ms(st['p95'])} | "
                f"{sps} | {tfl} | {w['first_step_s']:.2f} | {w['time_to_first_step_s']:.1f} | {ratio} |"
            )


if __name__ == "__main__":
    main()
