"""The reference models in pure JAX + optax (no flax): see docs/models.md.

Parameters are plain pytrees (dicts and lists) of float32 arrays. A training
step is ``value_and_grad`` of the loss, an ``optax.adam`` update and
``optax.apply_updates``; in the default ``jit`` compile mode the whole step is
one ``jax.jit`` with the parameters and optimizer state donated, in ``eager``
mode the same function runs op by op. Mixed precision (bfloat16/float16) casts
the parameters and inputs to the compute type inside the loss function and the
logits back to float32 for the loss, so gradients, parameters and Adam state
stay float32. ``step()`` blocks on the new parameters, optimizer state and loss
before returning (honest timing on asynchronous devices).

Runs inside the workload's interpreter as part of the child package: relative
imports only, Python 3.8 syntax.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import models
from .common import WorkloadError, cpu_name, parse_device

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


# --------------------------------------------------------------------------- devices


def _platform_text(dev) -> str:
    parts = [str(getattr(dev, "platform", ""))]
    try:
        parts.append(str(dev.client.platform))
        parts.append(str(dev.client.platform_version))
    except Exception:  # noqa: BLE001 - best effort
        pass
    return " ".join(parts).lower()


def _gpu_flavor(dev) -> str:
    """'rocm' for an AMD GPU of a ROCm build, else 'cuda'."""
    text = _platform_text(dev)
    return "rocm" if ("rocm" in text or "hip" in text) else "cuda"


def _gpu_devices(kind: str):
    """Local GPU devices of one flavour ('cuda' or 'rocm'), and why there are none."""
    try:
        # jax registers its GPU backends as 'cuda' / 'rocm' ('gpu' is an alias of either).
        return list(jax.local_devices(backend=kind)), None
    except RuntimeError as exc:
        first_error = str(exc)
    try:
        devs = [d for d in jax.local_devices(backend="gpu") if _gpu_flavor(d) == kind]
    except RuntimeError:
        devs = []
    if devs:
        return devs, None
    # "Backend 'cuda' failed to initialize: ..." is worth showing; "Unknown backend" is not.
    why = first_error.split(". Available backends")[0] if "failed to initialize" in first_error else None
    return [], why


def _metal_devices():
    for name in ("METAL", "metal"):
        try:
            return list(jax.local_devices(backend=name))
        except RuntimeError:
            continue
    try:
        return [d for d in jax.local_devices() if str(d.platform).lower() == "metal"]
    except RuntimeError:
        return []


def _seen() -> str:
    try:
        devs = jax.local_devices()
    except RuntimeError as exc:  # pragma: no cover - jax itself cannot start
        return "none (%s)" % exc
    names = []
    for d in devs:
        name = str(d.platform).lower()
        if name not in names:
            names.append(name)
    return ", ".join(names) or "none"


def _no_gpu_message(text: str, kind: str, why) -> str:
    msg = "%s is not available to jax %s: jax sees no %s GPU (devices: %s)" % (
        text,
        jax.__version__,
        "CUDA" if kind == "cuda" else "ROCm",
        _seen(),
    )
    platforms_env = os.environ.get("JAX_PLATFORMS")
    if why:
        msg += "; " + why
    elif platforms_env:
        msg += "; JAX_PLATFORMS=%s" % platforms_env
    return " ".join(msg.split())  # one line


def _resolve_device(text: str):
    """-> (jax device, device string, device kind). Raises WorkloadError."""
    kind, index = parse_device(text)
    if kind == "cpu":
        try:
            return jax.local_devices(backend="cpu")[0], "cpu", "cpu"
        except RuntimeError as exc:
            raise WorkloadError(
                "cpu is not available to jax %s: %s" % (jax.__version__, str(exc).splitlines()[0])
            ) from None
    if kind in ("cuda", "rocm"):
        devs, why = _gpu_devices(kind)
        if not devs:
            raise WorkloadError(_no_gpu_message(text, kind, why))
        i = 0 if index is None else index
        if i >= len(devs):
            raise WorkloadError(
                "%s:%d is out of range: jax sees %d %s GPU%s (%s:0%s)"
                % (
                    kind,
                    i,
                    len(devs),
                    "CUDA" if kind == "cuda" else "ROCm",
                    "" if len(devs) == 1 else "s",
                    kind,
                    "" if len(devs) == 1 else "..%d" % (len(devs) - 1),
                )
            )
        return devs[i], "%s:%d" % (kind, i), kind
    if kind == "mps":
        devs = _metal_devices()
        if not devs:
            raise WorkloadError("jax has no MPS backend here (install jax-metal); devices: %s" % _seen())
        return devs[0], "mps", "mps"
    # auto: a CUDA/ROCm GPU, else Apple's Metal, else the CPU.
    for gpu_kind in ("cuda", "rocm"):
        devs, _ = _gpu_devices(gpu_kind)
        if devs:
            return devs[0], "%s:0" % gpu_kind, gpu_kind
    devs = _metal_devices()
    if devs:
        return devs[0], "mps", "mps"
    return _resolve_device("cpu")


def _device_name(dev, device_kind: str) -> str:
    if device_kind == "cpu":
        return cpu_name()
    name = str(getattr(dev, "device_kind", "") or "")
    if name:
        return name
    return "Apple GPU" if device_kind == "mps" else "GPU"


def _preallocates(device_kind: str):
    """XLA's GPU client preallocates a fraction of GPU memory at start-up unless told not to."""
    if device_kind not in ("cuda", "rocm"):
        return None
    if os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "").strip().lower() in ("false", "0"):
        return None
    if os.environ.get("XLA_PYTHON_CLIENT_ALLOCATOR", "").strip().lower() == "platform":
        return None
    fraction = 0.75
    for var in ("XLA_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_MEM_FRACTION"):
        value = os.environ.get(var)
        if value:
            try:
                fraction = float(value)
                break
            except ValueError:
                pass
    return "preallocates %g%% of GPU memory (XLA_PYTHON_CLIENT_PREALLOCATE)" % round(fraction * 100, 1)


def _check_dtype(dev, device_str: str, dtype: str) -> None:
    """A tiny computation in the compute dtype, so an unsupported one fails here with a clear message."""
    if dtype == "float32":
        return
    dt = _DTYPES[dtype]
    try:
        a = jax.device_put(jnp.ones((8, 8), dt), dev)
        jax.block_until_ready(jax.jit(lambda m: jax.nn.gelu(m @ m, approximate=False))(a))
    except Exception as exc:  # noqa: BLE001 - whatever the backend says, it cannot run this dtype
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WorkloadError(
            "jax %s cannot compute in %s on %s: %s" % (jax.__version__, dtype, device_str, first)
        ) from None


# --------------------------------------------------------------------------- layers


class _Slot:
    """A placeholder for one tensor of a _Normals draw."""

    def __init__(self, index):
        self.index = index


class _Normals:
    """Normal tensors cut from ONE flat ``jax.random.normal`` draw.

    Every ``jax.random.normal`` call is a threefry instance XLA compiles separately (a multi-dimensional
    one is much slower to compile still): one draw per tensor made building the cnn take seconds on a
    CPU. Ask for tensors with ``normal(shape, std)`` (placeholders), then ``fill(key, tree)``.
    """

    def __init__(self):
        self._specs = []

    def normal(self, shape, std=1.0):
        self._specs.append((tuple(shape), std))
        return _Slot(len(self._specs) - 1)

    def fill(self, key, tree):
        sizes = [int(np.prod(shape)) for shape, _ in self._specs]
        flat = jax.random.normal(key, (sum(sizes),), jnp.float32)
        pieces, offset = [], 0
        for (shape, std), n in zip(self._specs, sizes):  # noqa: B905 - same length; strict= is Python 3.10+
            pieces.append(flat[offset : offset + n].reshape(shape) * std)
            offset += n
        return jax.tree_util.tree_map(lambda leaf: pieces[leaf.index] if isinstance(leaf, _Slot) else leaf, tree)


def _dense_init(draw, n_in, n_out, bias=True):
    p = {"w": draw.normal((n_in, n_out), n_in**-0.5)}
    if bias:
        p["b"] = jnp.zeros((n_out,), jnp.float32)
    return p


def _dense(p, x):
    y = x @ p["w"]
    return y + p["b"] if "b" in p else y


def _conv_init(draw, c_in, c_out):
    return {"w": draw.normal((3, 3, c_in, c_out), (9 * c_in) ** -0.5), "b": jnp.zeros((c_out,), jnp.float32)}


def _conv(p, x, stride=1):
    y = jax.lax.conv_general_dilated(
        x, p["w"], window_strides=(stride, stride), padding=((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return y + p["b"]


def _ln_init(d):
    return {"g": jnp.ones((d,), jnp.float32), "b": jnp.zeros((d,), jnp.float32)}


def _layer_norm(p, x):
    # Statistics in float32 (as torch autocast does), result back in the compute dtype.
    xf = x.astype(jnp.float32)
    mean = jnp.mean(xf, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(xf - mean), axis=-1, keepdims=True)
    y = (xf - mean) * jax.lax.rsqrt(var + models.LAYERNORM_EPS)
    return (y * p["g"].astype(jnp.float32) + p["b"].astype(jnp.float32)).astype(x.dtype)


def _gelu(x):
    return jax.nn.gelu(x, approximate=False)


def _xent(logits, labels):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels))


# --------------------------------------------------------------------------- models
# Each takes the resolved sizes and returns (init, forward):
#   init(k_init, k_data) -> (params, batch), traced once under jax.jit (one compilation, not one per shape);
#   forward(params, batch, compute_dtype) -> logits; batch["y"] holds the integer labels.


def _mlp(s):
    d, w, c, L, B = s["in_dim"], s["width"], s["classes"], s["depth"], s["batch"]

    def init(k_init, k_data):
        draw = _Normals()
        dims = [d] + [w] * L + [c]
        params = draw.fill(k_init, [_dense_init(draw, dims[i], dims[i + 1]) for i in range(L + 1)])
        data = _Normals()
        x, teacher = data.fill(k_data, (data.normal((B, d)), data.normal((d, c))))
        labels = jnp.argmax(x @ teacher, axis=-1).astype(jnp.int32)
        return params, {"x": x, "y": labels}

    def forward(p, batch, cdt):
        h = batch["x"].astype(cdt)
        for layer in p[:-1]:
            h = _gelu(_dense(layer, h))
        return _dense(p[-1], h)

    return init, forward


def _cnn(s):
    B, w, depth, stages, c, img = s["batch"], s["width"], s["depth"], s["stages"], s["classes"], s["image"]

    def init(k_init, k_data):
        draw = _Normals()
        params = {"stem": _conv_init(draw, 3, w), "stages": []}
        ch = w
        for stage in range(stages):
            st = {"blocks": []}
            if stage > 0:
                st["down"] = _conv_init(draw, ch, ch * 2)
                ch *= 2
            for _ in range(depth):
                st["blocks"].append({"c1": _conv_init(draw, ch, ch), "c2": _conv_init(draw, ch, ch)})
            params["stages"].append(st)
        params["head"] = _dense_init(draw, ch, c)
        params = draw.fill(k_init, params)
        kx, ky = jax.random.split(k_data)
        x = jax.random.normal(kx, (B * img * img * 3,), jnp.float32).reshape(B, img, img, 3)
        labels = jax.random.randint(ky, (B,), 0, c, jnp.int32)
        return params, {"x": x, "y": labels}

    def forward(p, batch, cdt):
        h = jax.nn.relu(_conv(p["stem"], batch["x"].astype(cdt)))
        for st in p["stages"]:
            if "down" in st:
                h = jax.nn.relu(_conv(st["down"], h, stride=2))
            for blk in st["blocks"]:
                y = jax.nn.relu(_conv(blk["c1"], h))
                y = _conv(blk["c2"], y)
                h = jax.nn.relu(h + y)
        h = jnp.mean(h, axis=(1, 2))
        return _dense(p["head"], h)

    return init, forward


def _transformer(s):
    B, T, d, L, H, V = s["batch"], s["seq_len"], s["width"], s["depth"], s["heads"], s["vocab"]
    dh = d // H
    scale = dh**-0.5

    def init(k_init, k_data):
        draw = _Normals()
        params = {
            "tok": draw.normal((V, d), models.EMBED_STD),
            "pos": draw.normal((T, d), models.EMBED_STD),
            "blocks": [],
            "ln_f": _ln_init(d),
        }
        for _ in range(L):
            params["blocks"].append(
                {
                    "ln1": _ln_init(d),
                    "qkv": _dense_init(draw, d, 3 * d),
                    "proj": _dense_init(draw, d, d),
                    "ln2": _ln_init(d),
                    "w1": _dense_init(draw, d, 4 * d),
                    "w2": _dense_init(draw, 4 * d, d),
                }
            )
        params["head"] = _dense_init(draw, d, V, bias=False)
        params = draw.fill(k_init, params)
        # tokens[t] = (start + t * stride) mod V, T + 1 long: inputs the first T, targets the last T.
        k_start, k_stride = jax.random.split(k_data)
        start = jax.random.randint(k_start, (B,), 0, V, jnp.int32)[:, None]
        stride = jax.random.randint(k_stride, (B,), 1, 9, jnp.int32)[:, None]
        seq = (start + jnp.arange(T + 1, dtype=jnp.int32)[None, :] * stride) % V
        return params, {"x": seq[:, :T], "y": seq[:, 1:]}

    def attention(p, x):
        qkv = _dense(p["qkv"], x).reshape(B, T, 3, H, dh)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        scores = jnp.einsum("bqhd,bkhd->bhqk", q * jnp.asarray(scale, q.dtype), k)
        # Masking and softmax in float32 (as torch autocast does), weights back in the compute dtype.
        causal = jnp.tril(jnp.ones((T, T), jnp.bool_))
        scores = jnp.where(causal, scores.astype(jnp.float32), -jnp.inf)
        weights = jax.nn.softmax(scores, axis=-1).astype(x.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(B, T, d)
        return _dense(p["proj"], out)

    def forward(p, batch, cdt):
        h = p["tok"][batch["x"]] + p["pos"][None, :, :]
        for blk in p["blocks"]:
            h = h + attention(blk, _layer_norm(blk["ln1"], h))
            h = h + _dense(blk["w2"], _gelu(_dense(blk["w1"], _layer_norm(blk["ln2"], h))))
        return _dense(p["head"], _layer_norm(p["ln_f"], h))

    return init, forward


_BUILDERS = {"mlp": _mlp, "cnn": _cnn, "transformer": _transformer}


# --------------------------------------------------------------------------- workloads


class _Base:
    def __init__(self, cfg, dev, device_str, device_kind):
        self.version = jax.__version__
        self.device = device_str
        self.device_kind = device_kind
        self.device_name = _device_name(dev, device_kind)
        self.preallocates = _preallocates(device_kind)
        self._dev = dev

    def memory(self):
        """XLA's allocator figures for the device (None on CPU, whose client keeps none).

        reserved is the allocator's pool (``pool_bytes``: what the BFC allocator took from the
        device), else ``bytes_reserved``, else ``bytes_limit`` when the client preallocates it.
        """
        try:
            stats = self._dev.memory_stats()
            if not stats or "bytes_in_use" not in stats:
                return None
            reserved = None
            for key in ("pool_bytes", "bytes_reserved"):
                if stats.get(key):
                    reserved = int(stats[key])
                    break
            if reserved is None and self.preallocates and stats.get("bytes_limit"):
                reserved = int(stats["bytes_limit"])
            peak = stats.get("peak_bytes_in_use")
            return {
                "allocated": int(stats["bytes_in_use"]),
                "reserved": reserved,
                "peak": int(peak) if peak is not None else None,
            }
        except Exception:  # noqa: BLE001 - memory() must never raise
            return None


class MatmulWorkload(_Base):
    """x <- x @ W, depth times, from the same fixed x every step; nothing is trained."""

    def __init__(self, cfg, dev, device_str, device_kind):
        super().__init__(cfg, dev, device_str, device_kind)
        s = cfg["sizes"]
        n, depth = s["width"], s["depth"]
        dt = _DTYPES[cfg["dtype"]]
        seed = cfg["seed"]

        def init(key):
            kx, kw = jax.random.split(key)
            x = jax.random.normal(kx, (n, n), jnp.float32).astype(dt)
            w = (jax.random.normal(kw, (n, n), jnp.float32) * n**-0.5).astype(dt)
            return x, w

        with jax.default_device(dev):
            # The key is an argument, not a constant: XLA would otherwise constant-fold the whole init.
            x, w = jax.jit(init)(jax.random.PRNGKey(seed))
        self._x, self._w = jax.device_put((x, w), dev)
        self.params = int(self._w.size)

        def chain(x, w):
            for _ in range(depth):
                x = x @ w
            return x

        self._fn = jax.jit(chain) if cfg["compile"] == "jit" else chain

    def step(self):
        with jax.default_device(self._dev):
            out = self._fn(self._x, self._w)
        jax.block_until_ready(out)
        return None


class TrainWorkload(_Base):
    def __init__(self, cfg, dev, device_str, device_kind):
        super().__init__(cfg, dev, device_str, device_kind)
        cdt = _DTYPES[cfg["dtype"]]
        seed = cfg["seed"]
        opt = optax.adam(cfg["lr"], b1=models.ADAM["beta1"], b2=models.ADAM["beta2"], eps=models.ADAM["eps"])
        init, forward = _BUILDERS[cfg["model"]](cfg["sizes"])

        def init_all(key):
            # Parameters, data and Adam state in one compiled function (not one compilation per shape).
            k_init, k_data = jax.random.split(key)
            params, batch = init(k_init, k_data)
            return params, batch, opt.init(params)

        with jax.default_device(dev):
            # The key is an argument, not a constant: XLA would otherwise constant-fold the whole init.
            params, batch, opt_state = jax.jit(init_all)(jax.random.PRNGKey(seed))
        # Committed to the device, so the step runs there whatever the default device is.
        self._params, self._batch, self._opt_state = jax.device_put((params, batch, opt_state), dev)
        self.params = int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(params)))

        def loss_fn(p, b):
            if cdt != jnp.float32:
                p = jax.tree_util.tree_map(lambda a: a.astype(cdt), p)
            return _xent(forward(p, b, cdt), b["y"])

        def train_step(p, opt_state, b):
            loss, grads = jax.value_and_grad(loss_fn)(p, b)
            updates, opt_state = opt.update(grads, opt_state, p)
            return optax.apply_updates(p, updates), opt_state, loss

        if cfg["compile"] == "jit":
            self._step = jax.jit(train_step, donate_argnums=(0, 1))
        else:
            self._step = train_step

    def step(self):
        with jax.default_device(self._dev):
            params, opt_state, loss = self._step(self._params, self._opt_state, self._batch)
        jax.block_until_ready((params, opt_state, loss))
        self._params, self._opt_state = params, opt_state
        return float(loss)


def build(cfg: dict):
    dev, device_str, device_kind = _resolve_device(cfg.get("device", "auto"))
    _check_dtype(dev, device_str, cfg["dtype"])
    cls = MatmulWorkload if cfg["model"] == "matmul" else TrainWorkload
    return cls(cfg, dev, device_str, device_kind)
