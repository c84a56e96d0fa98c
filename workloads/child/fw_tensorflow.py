"""TensorFlow (Keras 3) implementations of the reference models (docs/models.md).

Loaded by the reference loop as ``<package>.fw_tensorflow``; ``build(cfg)``
returns a workload whose ``step()`` trains one step and returns the loss as a
Python float (the host read of the loss waits for the step's work on the
device, so the timing taken around ``step()`` is honest).

Models are Keras 3 layers (NHWC convs); the loop is a ``tf.GradientTape`` plus
``keras.optimizers.Adam``. Compile modes: "function" (the step in a
``tf.function``), "eager" (plain eager) and "xla" (``tf.function(jit_compile=True)``).
Mixed precision (bfloat16 / float16) uses the Keras policies "mixed_bfloat16" /
"mixed_float16": float32 variables and optimizer state, low-precision compute,
the loss in float32, no loss scaling.
"""

from __future__ import annotations

import os
import sys

import keras
import tensorflow as tf

from . import models
from .common import WorkloadError, cpu_name, parse_device

FW = "tensorflow"

_TF_DTYPES = {"float32": tf.float32, "bfloat16": tf.bfloat16, "float16": tf.float16}
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


# --------------------------------------------------------------------------- devices


def _gpu_kind() -> str:
    """What a 'GPU' device of this TensorFlow build is: cuda, rocm or mps."""
    if sys.platform == "darwin":
        return "mps"  # tensorflow-metal
    if tf.test.is_built_with_rocm():
        return "rocm"
    return "cuda"


def _no_gpu_reason(kind: str) -> str:
    if kind == "mps" and sys.platform != "darwin":
        return "MPS exists only on macOS, with tensorflow-metal"
    if kind != "mps" and sys.platform == "darwin":
        return "macOS has no %s: use device mps, with tensorflow-metal" % ("ROCm" if kind == "rocm" else "CUDA")
    if tf.test.is_built_with_rocm():
        return "it sees no GPU, although this is a ROCm build: check the driver and HIP_VISIBLE_DEVICES"
    if tf.test.is_built_with_cuda():
        return "it sees no GPU, although this is a CUDA build: check the driver and CUDA_VISIBLE_DEVICES"
    if sys.platform == "darwin":
        return "it sees no GPU: install tensorflow-metal"
    return "a CPU-only build"


def _build_note() -> str:
    if tf.test.is_built_with_rocm():
        return "a ROCm build"
    if tf.test.is_built_with_cuda():
        return "a CUDA build"
    return "a CPU-only build"


def _resolve_device(text: str):
    """-> (tf device string, device, device_kind, physical GPU or None). Raises WorkloadError."""
    kind, index = parse_device(text)
    version = tf.__version__
    if kind == "cpu":
        return "/CPU:0", "cpu", "cpu", None
    gpus = tf.config.list_physical_devices("GPU")
    gkind = _gpu_kind()
    if kind == "auto":
        if not gpus:
            return "/CPU:0", "cpu", "cpu", None
        kind, index = gkind, 0
    requested = kind if index is None else "%s:%d" % (kind, index)
    if not gpus:
        raise WorkloadError("%s is not available to tensorflow %s (%s)" % (requested, version, _no_gpu_reason(kind)))
    if kind != gkind:
        hint = "mps" if gkind == "mps" else "%s[:N]" % gkind
        raise WorkloadError(
            "%s is not available to tensorflow %s: its GPUs are %s devices (%s); use device %s"
            % (requested, version, gkind, _build_note(), hint)
        )
    if kind == "mps":
        index = 0
    elif index is None:
        index = 0
    if index >= len(gpus):
        raise WorkloadError(
            "%s is out of range: tensorflow %s sees %d GPU%s (%s:0..%s:%d)"
            % (requested, version, len(gpus), "" if len(gpus) == 1 else "s", kind, kind, len(gpus) - 1)
        )
    device = "mps" if kind == "mps" else "%s:%d" % (kind, index)
    return "/GPU:%d" % index, device, kind, gpus[index]


def _device_name(gpu) -> str:
    if gpu is None:
        return cpu_name()
    try:
        name = tf.config.experimental.get_device_details(gpu).get("device_name")
    except Exception:  # noqa: BLE001 - a missing detail is not an error
        name = None
    return name or gpu.name


# --------------------------------------------------------------------------- models


class _Seeds:
    """Distinct, deterministic seeds for every initializer, derived from the run's seed."""

    def __init__(self, seed: int):
        self._next = (int(seed) * 7919) % (2**31 - 4096)

    def __call__(self) -> int:
        self._next += 1
        return self._next


def _dense(units: int, fan_in: int, seeds: _Seeds, use_bias: bool = True):
    return keras.layers.Dense(
        units,
        use_bias=use_bias,
        kernel_initializer=keras.initializers.RandomNormal(stddev=fan_in**-0.5, seed=seeds()),
        bias_initializer="zeros",
    )


def _conv(filters: int, c_in: int, seeds: _Seeds, strides: int = 1):
    # Stride 1: padding "same" is exactly 1 pixel on every side for a 3x3 kernel.
    # Stride 2: the caller pads 1 pixel explicitly and the conv is "valid"
    # ("same" would pad asymmetrically).
    return keras.layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same" if strides == 1 else "valid",
        use_bias=True,
        kernel_initializer=keras.initializers.RandomNormal(stddev=(9 * c_in) ** -0.5, seed=seeds()),
        bias_initializer="zeros",
    )


def _gelu(x):
    return tf.nn.gelu(x, approximate=False)


class MLP(keras.Model):
    def __init__(self, s: dict, seeds: _Seeds):
        super().__init__()
        fans = [s["in_dim"]] + [s["width"]] * (s["depth"] - 1)
        self.hidden = [_dense(s["width"], fan, seeds) for fan in fans]
        self.out = _dense(s["classes"], s["width"], seeds)

    def call(self, x):
        for layer in self.hidden:
            x = _gelu(layer(x))
        return self.out(x)


class CNN(keras.Model):
    def __init__(self, s: dict, seeds: _Seeds):
        super().__init__()
        w = s["width"]
        self.stem = _conv(w, 3, seeds)
        self.downs = []
        self.blocks = []
        c = w
        for stage in range(s["stages"]):
            if stage > 0:
                self.downs.append(_conv(2 * c, c, seeds, strides=2))
                c *= 2
            self.blocks.append([(_conv(c, c, seeds), _conv(c, c, seeds)) for _ in range(s["depth"])])
        self.head = _dense(s["classes"], c, seeds)

    def call(self, x):
        x = tf.nn.relu(self.stem(x))
        for stage, blocks in enumerate(self.blocks):
            if stage > 0:
                x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
                x = tf.nn.relu(self.downs[stage - 1](x))
            for conv1, conv2 in blocks:
                y = conv2(tf.nn.relu(conv1(x)))
                x = tf.nn.relu(x + y)
        x = tf.reduce_mean(x, axis=[1, 2])
        return self.head(x)


class Block(keras.layers.Layer):
    """Pre-norm GPT block: x + proj(attn(LN1(x))), then x + W2(GELU(W1(LN2(x))))."""

    def __init__(self, s: dict, seeds: _Seeds):
        super().__init__()
        d = s["width"]
        self.heads = s["heads"]
        self.head_dim = d // s["heads"]
        self.ln1 = keras.layers.LayerNormalization(epsilon=models.LAYERNORM_EPS)
        self.qkv = _dense(3 * d, d, seeds)
        self.proj = _dense(d, d, seeds)
        self.ln2 = keras.layers.LayerNormalization(epsilon=models.LAYERNORM_EPS)
        self.fc1 = _dense(4 * d, d, seeds)
        self.fc2 = _dense(d, 4 * d, seeds)

    def call(self, x):
        B, T, d = x.shape
        H, hd = self.heads, self.head_dim
        # tf.split, not slicing: the gradient of a split is one concat, while each
        # slice's gradient would write a full-size zero tensor.
        q, k, v = [
            tf.transpose(tf.reshape(t, (B, T, H, hd)), (0, 2, 1, 3))  # (B, H, T, hd)
            for t in tf.split(self.qkv(self.ln1(x)), 3, axis=-1)
        ]
        scores = tf.matmul(q, k, transpose_b=True) * tf.cast(hd**-0.5, q.dtype)  # (B, H, T, T)
        causal = tf.linalg.band_part(tf.ones((T, T), tf.bool), -1, 0)
        # The softmax runs in float32 (as torch autocast does), the matmuls in the compute dtype.
        scores = tf.where(causal, tf.cast(scores, tf.float32), float("-inf"))
        probs = tf.cast(tf.nn.softmax(scores, axis=-1), v.dtype)
        att = tf.matmul(probs, v)  # (B, H, T, hd)
        att = tf.reshape(tf.transpose(att, (0, 2, 1, 3)), (B, T, d))
        x = x + self.proj(att)
        return x + self.fc2(_gelu(self.fc1(self.ln2(x))))


class PositionEmbedding(keras.layers.Layer):
    """Adds a learned (seq_len, d) position table to x. Every position is used in
    every step, so the table is added whole (no gather: a dense gradient, no index
    tensor)."""

    def __init__(self, seq_len: int, d: int, seed: int):
        super().__init__()
        self.table = self.add_weight(
            shape=(seq_len, d),
            name="position_embeddings",
            initializer=keras.initializers.RandomNormal(stddev=models.EMBED_STD, seed=seed),
        )
        self.built = True

    def call(self, x):
        return x + tf.cast(self.table, x.dtype)[None]


class Transformer(keras.Model):
    def __init__(self, s: dict, seeds: _Seeds):
        super().__init__()
        V, T, d = s["vocab"], s["seq_len"], s["width"]
        self.tok = keras.layers.Embedding(
            V, d, embeddings_initializer=keras.initializers.RandomNormal(stddev=models.EMBED_STD, seed=seeds())
        )
        self.pos = PositionEmbedding(T, d, seeds())
        self.blocks = [Block(s, seeds) for _ in range(s["depth"])]
        self.ln_f = keras.layers.LayerNormalization(epsilon=models.LAYERNORM_EPS)
        self.head = _dense(V, d, seeds, use_bias=False)

    def call(self, ids):
        x = self.pos(self.tok(ids))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


_MODELS = {"mlp": MLP, "cnn": CNN, "transformer": Transformer}


def _make_data(model: str, s: dict, gen):
    """Synthetic fixed batch (inputs, integer labels), generated on the current device.

    Labels and tokens are int64: TensorFlow keeps int32 tensors in host memory
    even on a GPU, which would copy them to the device every step.
    """
    if model == "mlp":
        x = gen.normal((s["batch"], s["in_dim"]))
        teacher = gen.normal((s["in_dim"], s["classes"]))
        y = tf.argmax(tf.matmul(x, teacher), axis=-1, output_type=tf.int64)
        return x, y
    if model == "cnn":
        x = gen.normal((s["batch"], s["image"], s["image"], 3))
        y = gen.uniform((s["batch"],), minval=0, maxval=s["classes"], dtype=tf.int64)
        return x, y
    B, T, V = s["batch"], s["seq_len"], s["vocab"]
    start = gen.uniform((B, 1), minval=0, maxval=V, dtype=tf.int64)
    stride = gen.uniform((B, 1), minval=1, maxval=9, dtype=tf.int64)
    tokens = tf.math.floormod(start + tf.range(T + 1, dtype=tf.int64)[None, :] * stride, V)
    return tokens[:, :-1], tokens[:, 1:]


def _dtype_error(dtype: str, model: str, device: str, exc: Exception) -> WorkloadError:
    msg = (getattr(exc, "message", None) or str(exc)).strip().splitlines()
    return WorkloadError(
        "dtype %s cannot run the %s model on %s with tensorflow %s: %s"
        % (dtype, model, device, tf.__version__, msg[0] if msg else type(exc).__name__)
    )


# --------------------------------------------------------------------------- workloads


class _Workload:
    version = tf.__version__

    def __init__(self, tf_device: str, device: str, kind: str, gpu):
        self._tf_device = tf_device
        self.device = device
        self.device_kind = kind
        self.device_name = _device_name(gpu)
        self._mem_name = None if gpu is None else "GPU:%s" % tf_device.rsplit(":", 1)[1]
        if gpu is None:
            self.preallocates = None
        elif os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH", "").strip().lower() == "true":
            self.preallocates = None
        else:
            self.preallocates = "maps nearly all GPU memory at start (TF_FORCE_GPU_ALLOW_GROWTH)"
        self.params = 0

    def memory(self):
        if self._mem_name is None:
            return None
        try:
            info = tf.config.experimental.get_memory_info(self._mem_name)
            return {"allocated": int(info["current"]), "reserved": None, "peak": int(info["peak"])}
        except Exception:  # noqa: BLE001 - memory() never raises
            return None


def _size(shape) -> int:
    n = 1
    for dim in shape:
        n *= int(dim)
    return n


def _wrap(fn, mode: str):
    if mode == "eager":
        return fn
    return tf.function(fn, jit_compile=(mode == "xla"))


class MatmulWorkload(_Workload):
    def __init__(self, cfg: dict, tf_device: str, device: str, kind: str, gpu):
        super().__init__(tf_device, device, kind, gpu)
        s = cfg["sizes"]
        n, depth = s["width"], s["depth"]
        dtype = _TF_DTYPES[cfg["dtype"]]
        with tf.device(tf_device):
            gen = tf.random.Generator.from_seed(cfg["seed"])
            # Variables, not constants: the chain can never be folded away by a compiler.
            self.x = tf.Variable(tf.cast(gen.normal((n, n)), dtype), trainable=False, name="x")
            self.w = tf.Variable(tf.cast(gen.normal((n, n), stddev=n**-0.5), dtype), trainable=False, name="W")

        def chain():
            x = self.x.read_value()
            w = self.w.read_value()
            for _ in range(depth):
                x = tf.matmul(x, w)
            # The full product is an output (it is computed in full); one element of it
            # is read on the host to wait for the step.
            return x, x[0, 0]

        self._fn = _wrap(chain, cfg["compile"])
        self.params = _size(self.w.shape)
        with tf.device(tf_device):
            try:
                tf.matmul(self.x[:1], self.w).numpy()
            except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
                raise _dtype_error(cfg["dtype"], "matmul", device, exc) from None

    def step(self):
        with tf.device(self._tf_device):
            _, probe = self._fn()
        probe.numpy()  # waits for the chain
        return None


class TrainWorkload(_Workload):
    def __init__(self, cfg: dict, tf_device: str, device: str, kind: str, gpu):
        super().__init__(tf_device, device, kind, gpu)
        model_name, s = cfg["model"], cfg["sizes"]
        keras.mixed_precision.set_global_policy(_POLICIES[cfg["dtype"]])
        if cfg["dtype"] == "float16" and kind == "cpu" and cfg["compile"] == "function":
            # Grappler's remapper fuses MatMul/Conv2D + BiasAdd (+ activation) into oneDNN
            # kernels whose float16 versions are pathologically slow on CPU (about 1 s for
            # a 64x512x512 matmul, 100x the unfused ops): keep the ops unfused there.
            tf.config.optimizer.set_experimental_options({"remapping": False})
        keras.utils.set_random_seed(cfg["seed"])
        with tf.device(tf_device):
            gen = tf.random.Generator.from_seed(cfg["seed"])
            self.x, self.y = _make_data(model_name, s, gen)
            model = _MODELS[model_name](s, _Seeds(cfg["seed"]))
            try:
                model(self.x)  # creates the variables (float32 under every policy)
            except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
                raise _dtype_error(cfg["dtype"], model_name, device, exc) from None
            variables = model.trainable_variables
            optimizer = keras.optimizers.Adam(
                learning_rate=cfg["lr"],
                beta_1=models.ADAM["beta1"],
                beta_2=models.ADAM["beta2"],
                epsilon=models.ADAM["eps"],
            )
            optimizer.build(variables)  # the Adam moments, before any tracing
        self.model, self.optimizer = model, optimizer
        self.params = sum(_size(v.shape) for v in variables)

        def train_step(x, y):
            with tf.GradientTape() as tape:
                logits = tf.cast(model(x, training=True), tf.float32)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            grads = tape.gradient(loss, variables)
            # Embedding gradients come as IndexedSlices: densify them so Adam is the dense
            # (torch / optax) Adam for every parameter.
            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
            optimizer.apply_gradients(zip(grads, variables))
            return loss

        self._fn = _wrap(train_step, cfg["compile"])

    def step(self):
        with tf.device(self._tf_device):
            loss = self._fn(self.x, self.y)
        return float(loss.numpy())  # the host read waits for the step


def build(cfg: dict):
    tf_device, device, kind, gpu = _resolve_device(cfg.get("device", "auto"))
    if cfg["model"] == "matmul":
        return MatmulWorkload(cfg, tf_device, device, kind, gpu)
    if cfg["model"] not in _MODELS:
        raise WorkloadError("unknown model %r: expected one of %s" % (cfg["model"], ", ".join(models.MODELS)))
    return TrainWorkload(cfg, tf_device, device, kind, gpu)
