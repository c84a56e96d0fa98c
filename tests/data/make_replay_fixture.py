"""Write the deterministic run directory the snapshot tests replay.

    python tests/data/make_replay_fixture.py

It has the files and record shapes a real run writes (config.json,
events.jsonl, samples.jsonl, logs/, summary.json), with made-up but fixed
numbers, so the dashboard's layout can be compared between commits. The live
parts (a real run recorded and replayed) are tested in test_replay.py.
"""

import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent / "replay-three"
T0 = 1_800_000_000.0
WORKLOADS = [
    ("w0", "torch", "2.13.0+cpu", 0.050, "finished", 0),
    ("w1", "jax", "0.10.2", 0.031, "finished", 0),
    ("w2", "tensorflow", "2.21.0", 0.072, "failed", 1),
]
SIZES = {"batch": 16, "seq_len": 64, "width": 128, "depth": 2, "heads": 4, "vocab": 256}
STEPS = 120


def main() -> None:
    (HERE / "logs").mkdir(parents=True, exist_ok=True)
    config = {
        "fwtop": "0.1.0",
        "name": "snapshot",
        "host": "fixture",
        "platform": "Linux",
        "argv": ["fwtop"],
        "sequential": False,
        "started": T0,
        "workloads": [
            {
                "id": wid,
                "label": f"{fw}-transformer",
                "framework": fw,
                "model": "transformer",
                "sizes": SIZES,
                "device": "cpu",
                "dtype": "float32",
                "compile": {"torch": "eager", "jax": "jit"}.get(fw, "function"),
                "steps": STEPS,
                "warmup": 2,
                "seed": 0,
                "lr": 0.001,
                "python": "/usr/bin/python3",
                "env": {},
                "name": "",
            }
            for wid, fw, *_ in WORKLOADS
        ],
    }
    (HERE / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    events, samples = [], []
    for k, (wid, fw, version, base, state, rc) in enumerate(WORKLOADS):
        t = T0 + 1.0 + k
        events.append(
            {
                "w": wid,
                "event": "hello",
                "t": t,
                "pid": 1000 + k,
                "framework": fw,
                "framework_version": version,
                "device": "cpu",
                "device_kind": "cpu",
                "device_name": "Fixture CPU",
                "model": "transformer",
                "dtype": "float32",
                "compile": config["workloads"][k]["compile"],
                "sizes": SIZES,
                "params": 470528,
                "params_expected": 470528,
                "flops_per_step": 2818572288,
                "samples_per_step": 16,
                "tokens_per_step": 1024,
                "steps": STEPS,
                "warmup": 2,
                "seed": 0,
                "preallocates": None,
            }
        )
        steps = STEPS if state == "finished" else 70
        for i in range(steps):
            duration = base * 20 if i == 0 else base * (1 + 0.15 * math.sin(i / 5.0 + k))
            t += duration
            if i == 0:
                events.append(
                    {"w": wid, "event": "compile", "t": t, "first_step_s": duration, "since_start_s": 3.0 + k}
                )
            events.append(
                {
                    "w": wid,
                    "event": "step",
                    "t": t,
                    "index": i,
                    "duration": duration,
                    "samples": 16,
                    "tokens": 1024,
                    "loss": 5.5 * math.exp(-i / 40.0),
                    "mem": None,
                    "warmup": i < 2,
                }
            )
            if i % 5 == 0:
                samples.append(
                    {
                        "probe": "host",
                        "target": wid,
                        "t": t,
                        "values": {
                            "cpu_percent": 150 + 40 * math.sin(i / 7.0 + k),
                            "rss": (300 + i + 20 * k) * 2**20,
                            "threads": 12,
                            "processes": 1,
                        },
                    }
                )
                samples.append(
                    {
                        "probe": "host",
                        "target": "host",
                        "t": t,
                        "values": {"cpu_percent": 97.0, "cpu_count": 2, "mem_used": 3 * 2**30, "mem_total": 24 * 2**30},
                    }
                )
        if state == "finished":
            events.append({"w": wid, "event": "bye", "t": t, "steps": steps, "reason": "done"})
            events.append({"w": wid, "event": "exit", "t": t + 0.1, "state": "finished", "reason": "", "exit_code": 0})
        else:
            events.append(
                {
                    "w": wid,
                    "event": "error",
                    "t": t,
                    "type": "ResourceExhaustedError",
                    "message": "OOM when allocating tensor with shape [16,4,64,64]",
                    "traceback": "",
                    "fatal": True,
                    "step": steps,
                }
            )
            events.append(
                {
                    "w": wid,
                    "event": "exit",
                    "t": t + 0.1,
                    "state": "failed",
                    "reason": "ResourceExhaustedError: OOM when allocating tensor with shape [16,4,64,64]",
                    "exit_code": rc,
                }
            )
        (HERE / "logs" / f"{wid}.log").write_text(f"{fw} fixture output line 1\n{fw} fixture output line 2\n")
    events.sort(key=lambda e: e["t"])
    samples.sort(key=lambda s: s["t"])
    (HERE / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (HERE / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))


if __name__ == "__main__":
    main()
