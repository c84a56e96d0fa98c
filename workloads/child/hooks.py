"""Zero-code step detection: hooks installed when the script imports a framework.

An import watcher (a meta path finder) notices when the script imports torch,
keras, optax, jax or tensorflow, lets the import finish, then installs the
framework's hook. Nothing here imports a framework the script does not import.

- torch: ``torch.optim.optimizer.register_optimizer_step_post_hook``, called after
  every ``optimizer.step()`` of every torch.optim optimizer (Lightning and Hugging
  Face Trainer loops included); with several optimizers, one of them counts.
- keras: ``keras.Model.fit`` gets one more callback, whose ``on_train_batch_end``
  marks a step (any backend).
- optax: ``optax.apply_updates`` marks a step. Called eagerly, the step ends when
  the new parameters are ready (``block_until_ready``); traced inside ``jax.jit``,
  it adds a host callback (``jax.debug.callback``) that runs each time the compiled
  update runs, so the interval between two callbacks is the step time.

Stdlib only (the framework modules are imported only once the script has), Python 3.8.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import logging
import sys
import weakref

from .detect import StopScript

WATCHED = ("torch", "keras", "optax", "jax", "tensorflow")


class _LoaderProxy(importlib.abc.Loader):
    """Wraps a module's real loader: runs it, then tells the watcher the module is ready."""

    def __init__(self, loader, on_loaded) -> None:
        self._loader = loader
        self._on_loaded = on_loaded

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._on_loaded(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, get_source...
        return getattr(self._loader, name)


class ImportWatcher(importlib.abc.MetaPathFinder):
    def __init__(self, callbacks: dict) -> None:
        self.callbacks = callbacks  # top-level module name -> fn(module)
        self._finding: set = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.callbacks or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None:
                for finder in sys.meta_path:
                    if finder is self or not hasattr(finder, "find_spec"):
                        continue
                    spec = finder.find_spec(fullname, path, target)
                    if spec is not None:
                        break
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _LoaderProxy(spec.loader, self._loaded)
        return spec

    def _loaded(self, module) -> None:
        fn = self.callbacks.pop(module.__name__, None)
        if fn is not None:
            _safely(fn, module)
        if not self.callbacks and self in sys.meta_path:
            sys.meta_path.remove(self)


def _safely(fn, module) -> None:
    try:
        fn(module)
    except Exception as exc:  # noqa: BLE001 - a hook that cannot be installed never breaks the script
        sys.stderr.write("fwtop: could not hook %s: %s: %s\n" % (module.__name__, type(exc).__name__, exc))


def install(detector) -> None:
    """Watch for the frameworks; hook those already imported (e.g. by sitecustomize) at once."""
    callbacks = {
        "torch": functools.partial(_hook_torch, detector),
        "keras": functools.partial(_hook_keras, detector),
        "optax": functools.partial(_hook_optax, detector),
        "jax": functools.partial(_note_jax, detector),
        "tensorflow": functools.partial(_note_tensorflow, detector),
    }
    for name in list(callbacks):
        if name in sys.modules:
            _safely(callbacks.pop(name), sys.modules[name])
    if callbacks:
        sys.meta_path.insert(0, ImportWatcher(callbacks))


# -- torch ------------------------------------------------------------------------


def _hook_torch(detector, torch) -> None:
    def sync():
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        elif _mps_in_use(torch):
            torch.mps.synchronize()

    def memory():
        if torch.cuda.is_initialized():
            return {
                "allocated": int(torch.cuda.memory_allocated()),
                "reserved": int(torch.cuda.memory_reserved()),
                "peak": int(torch.cuda.max_memory_allocated()),
            }
        if _mps_in_use(torch):
            return {
                "allocated": int(torch.mps.current_allocated_memory()),
                "reserved": int(torch.mps.driver_allocated_memory()),
                "peak": None,
            }
        return None

    def device():
        if torch.cuda.is_initialized():
            return "cuda:%d" % torch.cuda.current_device()
        return "mps" if _mps_in_use(torch) else "cpu"

    detector.framework_loaded("torch", str(torch.__version__).split("+")[0], sync, memory, device)
    import torch.optim.optimizer as optim_mod  # the script imported torch: this is already loaded or cheap

    counted = [None]  # a weak reference to the optimizer whose steps are counted

    def post_hook(optimizer, args, kwargs):
        # With several optimizers (a GAN's generator and discriminator) every training step
        # calls several of them: count the steps of the first one that stepped, and of its
        # successor once it is gone (a new training phase).
        ref = counted[0]
        current = ref() if ref is not None else None
        if current is None:
            counted[0] = weakref.ref(optimizer)
        elif current is not optimizer:
            return
        if detector.device is None:
            detector.set_device(_torch_device(optimizer))
        detector.step_ended("torch.optim")

    optim_mod.register_optimizer_step_post_hook(post_hook)


def _mps_in_use(torch) -> bool:
    mps = getattr(torch, "mps", None)
    try:
        return bool(mps is not None and torch.backends.mps.is_available() and mps.current_allocated_memory() > 0)
    except Exception:  # noqa: BLE001
        return False


def _torch_device(optimizer):
    try:
        for group in optimizer.param_groups:
            for p in group["params"]:
                dev = p.device
                if dev.type == "cuda" and dev.index is not None:
                    return "cuda:%d" % dev.index
                return dev.type
    except Exception:  # noqa: BLE001
        pass
    return None


# -- keras ------------------------------------------------------------------------


def _hook_keras(detector, keras) -> None:
    version = getattr(keras, "__version__", "")
    backend = ""
    try:
        backend = keras.backend.backend()
    except Exception:  # noqa: BLE001
        pass

    def device():
        if backend == "tensorflow":
            import tensorflow as tf

            return "cuda:0" if tf.config.list_logical_devices("GPU") else "cpu"
        if backend == "jax":
            import jax

            return _jax_device(jax, None)
        if backend == "torch":
            import torch

            return "cuda:0" if torch.cuda.is_available() else "cpu"
        return None

    detector.framework_loaded("keras", version, device=device)
    if backend:
        detector.frameworks["keras"] = "%s (%s backend)" % (version, backend)

    class FwtopStepCallback(keras.callbacks.Callback):
        """Added by fwtop to every fit(): each training batch is a step."""

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            # Reading the loss back to the host waits for the batch's result: an honest end time.
            detector.step_ended("keras.fit", loss=loss)

    original_fit = keras.Model.fit

    @functools.wraps(original_fit)
    def fit(self, *args, **kwargs):
        # fit(x, y, batch_size, epochs, verbose, callbacks, ...): callbacks may come by position.
        positional = len(args) > 5
        cbs = list((args[5] if positional else kwargs.get("callbacks")) or [])
        if not any(isinstance(c, FwtopStepCallback) for c in cbs):
            cbs.append(FwtopStepCallback())
        if positional:
            args = args[:5] + (cbs,) + args[6:]
        else:
            kwargs["callbacks"] = cbs
        return original_fit(self, *args, **kwargs)

    keras.Model.fit = fit


# -- jax / optax --------------------------------------------------------------------


def _jax_memory(jax):
    def memory():
        try:
            stats = jax.devices()[0].memory_stats()
        except Exception:  # noqa: BLE001
            return None
        if not stats or "bytes_in_use" not in stats:
            return None  # the CPU client keeps no figures
        return {
            "allocated": int(stats["bytes_in_use"]),
            "reserved": int(stats["pool_bytes"]) if stats.get("pool_bytes") else None,
            "peak": int(stats["peak_bytes_in_use"]) if stats.get("peak_bytes_in_use") is not None else None,
        }

    return memory


def _note_jax(detector, jax) -> None:
    detector.framework_loaded(
        "jax", str(getattr(jax, "__version__", "")), memory=_jax_memory(jax), device=lambda: _jax_device(jax, None)
    )


def _note_tensorflow(detector, tf) -> None:
    def memory():
        try:
            if not tf.config.list_logical_devices("GPU"):
                return None
            info = tf.config.experimental.get_memory_info("GPU:0")
            return {"allocated": int(info["current"]), "reserved": None, "peak": int(info["peak"])}
        except Exception:  # noqa: BLE001
            return None

    def device():
        return "cuda:0" if tf.config.list_logical_devices("GPU") else "cpu"

    detector.framework_loaded("tensorflow", str(getattr(tf, "__version__", "")), memory=memory, device=device)


def _is_tracer(jax, tree) -> bool:
    tracer = getattr(getattr(jax, "core", None), "Tracer", None)
    if tracer is None:
        from jax._src import core  # noqa: PLC0415 - older/newer layouts

        tracer = core.Tracer
    return any(isinstance(leaf, tracer) for leaf in jax.tree_util.tree_leaves(tree))


def _hook_optax(detector, optax) -> None:
    import jax  # optax imports jax: already loaded

    detector.framework_loaded("optax", str(getattr(optax, "__version__", "")))
    original = optax.apply_updates

    def on_compiled_step():
        try:
            detector.step_ended("optax", sync=False)
        except StopScript:
            # The stop passes through XLA back to the script: not a callback failure to log.
            logging.getLogger("jax._src.debugging").disabled = True
            raise

    @functools.wraps(original)
    def apply_updates(params, updates):
        new_params = original(params, updates)
        if detector.device is None:
            detector.set_device(_jax_device(jax, new_params))
        if _is_tracer(jax, new_params):
            # Inside jit: a host callback each time the compiled update runs.
            jax.debug.callback(on_compiled_step)
        else:
            jax.block_until_ready(new_params)
            detector.step_ended("optax", sync=False)
        return new_params

    optax.apply_updates = apply_updates


def _jax_device(jax, tree):
    try:
        dev = jax.devices()[0]
        platform = dev.platform
        return "cpu" if platform == "cpu" else "%s:%d" % ("cuda" if platform == "gpu" else platform, dev.id)
    except Exception:  # noqa: BLE001
        return None
