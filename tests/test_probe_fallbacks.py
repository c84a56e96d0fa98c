"""Unit tests of the GPU probes' fallback logic, and of energy-per-step arithmetic.

TEST DOUBLES: there is no GPU on the development machine, so the NVML and amdsmi
*libraries* are replaced here by small stand-ins that raise the real pynvml error
classes (old drivers without _v3/_v2 calls, unsupported fields) or return documented
amdsmi shapes. These tests check fwtop's fallback logic only; the real library paths
are exercised on a GPU by test_gpu_probes.py, and the 'library absent' path for real by
test_probes.py.
"""

import ctypes
import types

import pynvml
import pytest

from fwtop.probes import gpu
from fwtop.probes.amdsmi import energy_joules, process_entries
from fwtop.probes.base import Sample
from fwtop.probes.nvml import NAMESPACE_NOTE, NvmlProbe, _ProcV1, compute_processes
from fwtop.session.energy import interpolate, step_energy
from fwtop.session.timeline import Timeline
from fwtop.workloads.events import StepEvent

DEVS = [
    gpu.DeviceId(0, "GPU-aaaa1111-0000", "NVIDIA A100", "gpu:0"),
    gpu.DeviceId(1, "GPU-bbbb2222-0000", "NVIDIA A100", "gpu:1"),
    gpu.DeviceId(2, "GPU-aaab3333-0000", "NVIDIA A100", "gpu:2"),
    gpu.DeviceId(-1, "MIG-cccc4444-0000", "NVIDIA A100 MIG 0", "gpu:2/mig:0"),
]


# -- CUDA_VISIBLE_DEVICES ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected, note",
    [
        (None, ["gpu:0", "gpu:1", "gpu:2", "gpu:2/mig:0"], ""),
        ("2,0", ["gpu:2", "gpu:0"], ""),
        (" 1 , 2 ", ["gpu:1", "gpu:2"], ""),
        ("GPU-bbbb", ["gpu:1"], ""),
        ("MIG-cccc4444-0000", ["gpu:2/mig:0"], ""),
        ("1,7,0", ["gpu:1"], "'7' is unknown"),  # CUDA stops at the first bad entry
        ("0,0", ["gpu:0"], "'0' is repeated"),
        ("GPU-aaa", [], "'GPU-aaa' is unknown or ambiguous"),  # a prefix of two UUIDs
        ("-1", [], "'-1' is unknown"),
        ("", [], "empty"),
    ],
)
def test_visible_devices(value, expected, note):
    visible, why = gpu.parse_visible_devices(value, DEVS)
    assert [d.key for d in visible] == expected
    assert (note in why) if note else why == ""


def test_cuda_ordinal_maps_through_visible_devices():
    dev, note = gpu.map_ordinal("cuda:1", {"CUDA_VISIBLE_DEVICES": "2,0"}, DEVS[:3])
    assert dev.key == "gpu:0" and note == ""
    assert gpu.map_ordinal("cpu", {}, DEVS) == (None, "")
    dev, note = gpu.map_ordinal("cuda:3", {"CUDA_VISIBLE_DEVICES": "0,1"}, DEVS)
    assert dev is None and "not among the 2 visible" in note
    mixed = [DEVS[0], gpu.DeviceId(1, "GPU-x", "NVIDIA T4", "gpu:1")]
    dev, note = gpu.map_ordinal("cuda:0", {}, mixed)
    assert dev.key == "gpu:0" and "CUDA_DEVICE_ORDER" in note
    assert gpu.map_ordinal("cuda:0", {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, mixed)[1] == ""


# -- attribution -----------------------------------------------------------------------------


def test_attribution_sums_the_whole_tree_per_device():
    procs = {"gpu:0": [(10, 100), (11, 50), (99, 7)], "gpu:1": [(12, None)], "gpu:2": [(98, 1)]}
    got = gpu.attribute(procs, {"a": {10, 11, 12}, "b": {98}, "c": {5}})
    assert got == {"a": {"gpu:0": (150, 2), "gpu:1": (None, 1)}, "b": {"gpu:2": (1, 1)}}


def test_pids_from_another_namespace_are_detected():
    import os

    assert gpu.foreign_pids({"gpu:0": [(os.getpid(), 1), (2**31 - 5, 1)]}) == [2**31 - 5]


# -- NVML process calls: _v3 -> _v2 -> v1 ------------------------------------------------------


def _missing(*_):
    raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)


def _proc(pid, used):
    return types.SimpleNamespace(pid=pid, usedGpuMemory=used)


def _fake_nvml(**calls):
    """The real pynvml module's constants and errors, with some calls replaced."""
    ns = types.SimpleNamespace(**{k: getattr(pynvml, k) for k in dir(pynvml) if k.isupper() or k.startswith("NVML")})
    ns.NVMLError = pynvml.NVMLError
    for k, v in calls.items():
        setattr(ns, k, v)
    return ns


def test_process_call_falls_back_to_v2_and_remembers():
    v2 = []
    nvml = _fake_nvml(
        nvmlDeviceGetComputeRunningProcesses_v3=_missing,
        nvmlDeviceGetComputeRunningProcesses_v2=lambda h: v2.append(h) or [_proc(7, 1024), _proc(8, None)],
    )
    state = {}
    assert compute_processes(nvml, "h", state) == [(7, 1024), (8, None)]
    assert state["call"] == "nvmlDeviceGetComputeRunningProcesses_v2"
    compute_processes(nvml, "h", state)
    assert v2 == ["h", "h"]


def test_process_call_falls_back_to_v1_through_ctypes():
    """An old driver with only nvmlDeviceGetComputeRunningProcesses (v1 struct): a real ctypes
    function with the C signature stands in for the driver's symbol."""
    rows = [(41, 3 * 2**20), (42, pynvml.NVML_VALUE_NOT_AVAILABLE_ulonglong.value)]
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(_ProcV1))

    def driver(handle, count, procs):
        if not procs:
            count[0] = len(rows)
            return pynvml.NVML_ERROR_INSUFFICIENT_SIZE
        for i, (pid, used) in enumerate(rows):
            procs[i].pid, procs[i].usedGpuMemory = pid, used
        count[0] = len(rows)
        return pynvml.NVML_SUCCESS

    fn = proto(driver)
    nvml = _fake_nvml(
        nvmlDeviceGetComputeRunningProcesses_v3=_missing,
        nvmlDeviceGetComputeRunningProcesses_v2=_missing,
        _nvmlGetFunctionPointer=lambda name: fn if name == "nvmlDeviceGetComputeRunningProcesses" else _missing(),
    )
    state = {}
    assert compute_processes(nvml, None, state) == [(41, 3 * 2**20), (42, None)]
    assert state["call"] == "v1"


def test_other_nvml_errors_are_not_swallowed_by_the_fallback():
    def lost(h):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    with pytest.raises(pynvml.NVMLError):
        compute_processes(_fake_nvml(nvmlDeviceGetComputeRunningProcesses_v3=lost), None, {})


def _probe_with(nvml, devices):
    p = NvmlProbe()
    p.nvml = nvml
    p.devices = list(devices)
    p._handles = {d.key: d.key for d in devices}
    return p


def test_unsupported_field_is_na_noted_once_and_not_asked_again():
    asked = []

    def energy(h):
        asked.append(h)
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    nvml = _fake_nvml(
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=1, total=2),
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=50, memory=20),
        nvmlDeviceGetPowerUsage=lambda h: 150_000,
        nvmlDeviceGetEnforcedPowerLimit=lambda h: 300_000,
        nvmlDeviceGetTotalEnergyConsumption=energy,
        nvmlDeviceGetTemperature=lambda h, s: 60,
        nvmlDeviceGetClockInfo=lambda h, c: 1400,
        nvmlDeviceGetComputeRunningProcesses_v3=lambda h: [],
    )
    p = _probe_with(nvml, DEVS[:1])
    first, second = p.sample(), p.sample()
    v = second[0].values
    assert v["energy_j"] is None and v["power_w"] == 150.0 and v["power_limit_w"] == 300.0 and v["util_gpu"] == 50
    assert asked == ["gpu:0"] and p.notes == ["gpu:0 energy counter n/a (Not Supported)"]
    assert first[0].values["mem_total"] == 2


def test_foreign_pid_namespace_falls_back_to_the_device_mapping_and_says_so():
    import os

    nvml = _fake_nvml(nvmlDeviceGetComputeRunningProcesses_v3=lambda h: [_proc(2**31 - 7, 5 * 2**30)])
    p = _probe_with(nvml, DEVS[:2])
    p.watch({"w0": os.getpid()}, {"w0": "cuda:0"})
    p._envs[os.getpid()] = {"CUDA_VISIBLE_DEVICES": "1"}
    out = p.workload_samples(0.0, {"gpu:0": [], "gpu:1": [(2**31 - 7, 5 * 2**30)]})
    assert out[0].values == {"gpu_mem": None, "devices": ["gpu:1"], "pids": 0, "mapped_by": "CUDA_VISIBLE_DEVICES"}
    assert NAMESPACE_NOTE in p.notes


# -- amdsmi shapes (documented API; not verified on hardware) ----------------------------------


def test_amdsmi_energy_and_process_shapes():
    assert energy_joules({"energy_accumulator": 2_000_000, "counter_resolution": 15.3}) == pytest.approx(30.6)
    assert energy_joules({"power": 1_000_000, "counter_resolution": 1.0}) == 1.0  # before ROCm 6.4
    assert energy_joules({"energy_accumulator": "N/A", "counter_resolution": 1.0}) is None
    smi6 = types.SimpleNamespace(
        amdsmi_get_gpu_process_list=lambda h: [{"pid": 5, "mem": 9, "memory_usage": {"vram_mem": 8}}]
    )
    assert process_entries(smi6, None) == [(5, 8)]
    smi57 = types.SimpleNamespace(
        amdsmi_get_gpu_process_list=lambda h: ["handle"],
        amdsmi_get_gpu_process_info=lambda h, p: {"pid": 6, "mem": 7, "memory_usage": "N/A"},
    )
    assert process_entries(smi57, None) == [(6, 7)]


# -- energy per step -------------------------------------------------------------------------


def test_interpolated_counter():
    pts = [(0.0, 0.0), (1.0, 100.0), (2.0, 300.0)]
    assert interpolate(pts, 0.5) == 50.0 and interpolate(pts, 1.5) == 200.0 and interpolate(pts, 1.0) == 100.0
    assert interpolate(pts, 2.5) is None and interpolate(pts, -1) is None
    assert step_energy(pts, 0.5, 1.5) == 150.0
    assert step_energy([(0.0, 50.0), (1.0, 10.0)], 0.0, 1.0) == 0.0  # a counter reset is not negative energy


def _step(i, end, duration, warmup=False):
    return StepEvent(i, end, duration, None, None, None, None, warmup)


def _counter(tl, t, joules, target="gpu:0"):
    tl.add_sample(Sample(t, "nvml", target, {"energy_j": joules}))


def test_energy_per_step_at_constant_power():
    """A 200 W device, a step every 0.1 s, the counter read every 0.5 s."""
    tl = Timeline()
    tl.add_sample(Sample(0.0, "nvml", "w0", {"gpu_mem": 1, "devices": ["gpu:0"]}))
    for k in range(5):  # counter readings at 0, 0.5, ... 2.0 s: 200 J/s
        _counter(tl, k * 0.5, 1000.0 + 200.0 * k * 0.5)
    tl.add_step("w0", _step(0, 0.1, 0.1, warmup=True))  # warm-up: not counted
    for i in range(1, 20):
        tl.add_step("w0", _step(i, 0.1 * (i + 1), 0.1))
    tl.add_step("w0", _step(20, 2.2, 0.1))  # after the last reading: pending
    e = tl.energy.workloads["w0"]
    assert e.steps == 19 and e.per_step_j == pytest.approx(20.0) and e.avg_power_w == pytest.approx(200.0)
    assert len(e.pending) == 1
    _counter(tl, 2.5, 1500.0)
    assert e.steps == 20 and len(e.pending) == 0


def test_energy_waits_for_the_device_and_sums_several():
    tl = Timeline()
    tl.add_step("w0", _step(0, 1.0, 0.5))  # no device known yet: pending
    for t in (0.0, 2.0):
        _counter(tl, t, 100.0 * t, "gpu:0")
        _counter(tl, t, 50.0 * t, "gpu:1")
    assert tl.energy.workloads["w0"].steps == 0
    tl.add_sample(Sample(2.0, "nvml", "w0", {"gpu_mem": 1, "devices": ["gpu:0", "gpu:1"]}))
    e = tl.energy.workloads["w0"]
    assert e.steps == 1 and e.per_step_j == pytest.approx(75.0)  # 0.5 s at 100 W + 50 W
    tl.add_sample(Sample(2.0, "nvml", "w1", {"gpu_mem": 1, "devices": ["gpu:1"]}))
    assert tl.energy.shared("w0") == ["w1"]


def test_a_step_before_the_first_reading_is_not_counted():
    tl = Timeline()
    tl.add_sample(Sample(0.0, "nvml", "w0", {"gpu_mem": 1, "devices": ["gpu:0"]}))
    tl.add_step("w0", _step(0, 1.0, 0.6))
    _counter(tl, 0.5, 0.0)
    _counter(tl, 1.5, 10.0)
    assert tl.energy.workloads["w0"].steps == 0 and not tl.energy.workloads["w0"].pending


def test_devices_backend_describes_a_started_probe(monkeypatch):
    """`fwtop devices` on a GPU machine, with a stand-in probe that reports two GPUs."""
    from fwtop.probes import backends

    class TwoGpus(NvmlProbe):
        def start(self):
            self.devices, self.driver = DEVS[:2], "580.1"
            self.note("gpu:1 energy counter n/a (Not Supported)")

        def sample(self):
            v = {"name": "NVIDIA A100", "mem_total": 80 * 2**30, "util_gpu": 1}
            return [
                Sample(0, "nvml", "gpu:0", {**v, "energy_j": 5.0}),
                Sample(0, "nvml", "gpu:1", {**v, "energy_j": None}),
            ]

        def close(self):
            pass

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    b = backends._gpu_backend("cuda", TwoGpus())
    assert (
        b.available
        and b.detail == "nvml: 2 device(s), driver 580.1, CUDA_VISIBLE_DEVICES=1,0: cuda:0 = gpu:1, cuda:1 = gpu:0"
    )
    assert b.devices == [
        "gpu:0: NVIDIA A100, 80 GiB, energy counter yes",
        "gpu:1: NVIDIA A100, 80 GiB, energy counter n/a",
        "n/a: gpu:1 energy counter n/a (Not Supported)",
    ]


def test_mig_instances_are_their_own_targets_and_parents_list_no_processes():
    import os

    mig_handles = {("h0", 0): "m0", ("h0", 2): "m2"}

    def mig_handle(h, j):
        if (h, j) not in mig_handles:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return mig_handles[(h, j)]

    def procs(h):
        if h == "h0":
            raise AssertionError("a MIG parent's processes are listed per instance")
        return [_proc(os.getpid(), 3 * 2**30)] if h == "m2" else []

    nvml = _fake_nvml(
        nvmlDeviceGetHandleByIndex=lambda i: f"h{i}",
        nvmlDeviceGetUUID=lambda h: {"h0": "GPU-p", "m0": "MIG-a", "m2": "MIG-b"}[h],
        nvmlDeviceGetName=lambda h: b"NVIDIA A100",  # old bindings return bytes
        nvmlDeviceGetMigMode=lambda h: [pynvml.NVML_DEVICE_MIG_ENABLE, pynvml.NVML_DEVICE_MIG_ENABLE],
        nvmlDeviceGetMaxMigDeviceCount=lambda h: 3,
        nvmlDeviceGetMigDeviceHandleByIndex=mig_handle,
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=1, total=10 * 2**30),
        nvmlDeviceGetComputeRunningProcesses_v3=procs,
    )
    p = NvmlProbe()
    p.nvml = nvml
    p._add_device(0)
    assert [d.key for d in p.devices] == ["gpu:0", "gpu:0/mig:0", "gpu:0/mig:2"]
    assert p.devices[0].name == "NVIDIA A100" and p.devices[2].uuid == "MIG-b"
    p.watch({"w0": os.getpid()}, {"w0": "cuda:0"})
    samples = {s.target: s.values for s in p.sample()}
    assert "util_gpu" not in samples["gpu:0/mig:2"]  # memory only, per instance
    assert samples["w0"] == {"gpu_mem": 3 * 2**30, "devices": ["gpu:0/mig:2"], "pids": 1, "mapped_by": "processes"}
    assert any("MIG mode" in n for n in p.notes)


def test_amdsmi_probe_samples_the_documented_shapes():
    """amdsmi itself is absent here: a stand-in with the documented ROCm 6 return shapes runs
    the probe's whole sampling path (field names, units, 'N/A' values)."""
    import os

    enum = types.SimpleNamespace
    smi = types.SimpleNamespace(
        AmdSmiMemoryType=enum(VRAM="vram"),
        AmdSmiTemperatureType=enum(EDGE="edge"),
        AmdSmiTemperatureMetric=enum(CURRENT="current"),
        AmdSmiClkType=enum(GFX="gfx", MEM="mem"),
        amdsmi_init=lambda: None,
        amdsmi_shut_down=lambda: None,
        amdsmi_get_processor_handles=lambda: ["d0"],
        amdsmi_get_gpu_asic_info=lambda h: {"market_name": "AMD Instinct MI300X"},
        amdsmi_get_gpu_device_uuid=lambda h: "aaaa-bbbb",
        amdsmi_get_gpu_activity=lambda h: {"gfx_activity": 97, "umc_activity": "N/A", "mm_activity": 0},
        amdsmi_get_power_info=lambda h: {"socket_power": 650, "power_limit": 750},
        amdsmi_get_energy_count=lambda h: {"energy_accumulator": 10**9, "counter_resolution": 15.3, "timestamp": 1},
        amdsmi_get_temp_metric=lambda h, t, m: 71,
        amdsmi_get_clock_info=lambda h, c: {"clk": 2100 if c == "gfx" else 1300},
        amdsmi_get_gpu_memory_usage=lambda h, t: 40 * 2**30,
        amdsmi_get_gpu_memory_total=lambda h, t: 192 * 2**30,
        amdsmi_get_gpu_process_list=lambda h: [
            {"pid": os.getpid(), "mem": 41 * 2**30, "memory_usage": {"vram_mem": 39 * 2**30}}
        ],
    )
    import sys

    sys.modules["amdsmi"] = smi
    try:
        from fwtop.probes.amdsmi import AmdSmiProbe

        p = AmdSmiProbe()
        p.start()
        p.watch({"w0": os.getpid()}, {"w0": "rocm:0"})
        samples = {s.target: s.values for s in p.sample()}
        p.close()
    finally:
        del sys.modules["amdsmi"]
    assert samples["gpu:0"] == {
        "name": "AMD Instinct MI300X",
        "uuid": "aaaa-bbbb",
        "util_gpu": 97,
        "util_mem": None,
        "mem_used": 40 * 2**30,
        "mem_total": 192 * 2**30,
        "power_w": 650,
        "power_limit_w": 750,
        "energy_j": pytest.approx(15300.0),
        "temp_c": 71,
        "sm_clock_mhz": 2100,
        "mem_clock_mhz": 1300,
    }
    assert samples["w0"]["gpu_mem"] == 39 * 2**30 and samples["w0"]["devices"] == ["gpu:0"]
