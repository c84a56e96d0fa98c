"""Which frameworks an interpreter has, run by path: ``python discover.py [--devices]``.

Prints one JSON object. Without --devices nothing is imported (versions come
from package metadata); with --devices each framework is imported here, in
the target interpreter, to list the devices it sees. Stdlib only, Python 3.8+.
"""

import importlib.util
import json
import platform
import sys

PACKAGES = {
    "torch": ["torch"],
    "jax": ["jax", "jaxlib"],
    "tensorflow": ["tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-rocm", "tf-nightly"],
}
MODULES = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow"}


def _version(dists):
    try:
        from importlib import metadata
    except ImportError:
        return None
    for dist in dists:
        try:
            return metadata.version(dist)
        except Exception:  # noqa: BLE001 - PackageNotFoundError and broken metadata
            continue
    return None


def _devices(fw):
    if fw == "torch":
        import torch

        out = ["cpu"]
        if torch.cuda.is_available():
            kind = "rocm" if getattr(torch.version, "hip", None) else "cuda"
            out += ["%s:%d %s" % (kind, i, torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            out.append("mps")
        return out
    if fw == "jax":
        import jax

        return ["%s:%d %s" % (d.platform, d.id, d.device_kind) for d in jax.devices()]
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices()]


def main():
    deep = "--devices" in sys.argv[1:]
    result = {"python": sys.executable, "python_version": platform.python_version(), "frameworks": {}}
    for fw, module in MODULES.items():
        info = {"installed": importlib.util.find_spec(module) is not None, "version": None}
        if info["installed"]:
            info["version"] = _version(PACKAGES[fw])
            if deep:
                try:
                    info["devices"] = _devices(fw)
                except Exception as exc:  # noqa: BLE001 - reported, not raised
                    info["error"] = "%s: %s" % (type(exc).__name__, exc)
        result["frameworks"][fw] = info
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
