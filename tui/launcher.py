"""The launcher: add a workload to a running comparison, offering only what this machine has."""

from __future__ import annotations

import sys

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from fwtop.probes.backends import find_backends
from fwtop.workloads.child import common, models
from fwtop.workloads.discovery import discover
from fwtop.workloads.errors import UserError
from fwtop.workloads.spec import WorkloadSpec

SIZE_FIELDS = ("batch", "width", "depth", "seq_len")


def device_choices() -> list[str]:
    """auto, cpu and every device a backend found here (cuda:N, rocm:N, mps)."""
    out = ["auto", "cpu"]
    for b in find_backends():
        if b.available and b.name != "cpu":
            out += [b.name] if b.name == "mps" else [f"{b.name}:{i}" for i in range(len(b.devices))]
    return out


class Launcher(ModalScreen[WorkloadSpec | None]):
    """Dismisses with a validated WorkloadSpec, or None when cancelled."""

    BINDINGS = [("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    Launcher { align: center middle; }
    Launcher > Vertical { width: 80; height: auto; border: round $accent; background: $surface; padding: 1 2; }
    Launcher Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 3; height: auto; }
    Launcher Label { padding: 1 0 0 0; }
    Launcher #launch-error { color: $error; height: auto; }
    Launcher #launch-status { color: $text-muted; height: 1; }
    Launcher Horizontal { height: 3; align-horizontal: right; }
    """

    def __init__(self, interpreters: list[str]) -> None:
        super().__init__()
        seen: list[str] = []
        for py in [sys.executable, *interpreters]:
            if py and py not in seen:
                seen.append(py)
        self.interpreters = seen
        self._frameworks: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Add a workload[/b]")
            yield Static("looking for frameworks and devices...", id="launch-status")
            with Grid():
                yield Label("interpreter")
                yield Select(
                    [(p, p) for p in self.interpreters], value=self.interpreters[0], allow_blank=False, id="python"
                )
                yield Label("framework")
                yield Select([], id="framework", prompt="(none found yet)")
                yield Label("model")
                yield Select([(m, m) for m in models.MODELS], value="transformer", allow_blank=False, id="model")
                yield Label("device")
                yield Select([("auto", "auto"), ("cpu", "cpu")], value="auto", allow_blank=False, id="device")
                yield Label("dtype")
                yield Select([(d, d) for d in common.DTYPES], value="float32", allow_blank=False, id="dtype")
                yield Label("compile")
                yield Select([], id="compile", prompt="(framework first)")
                for field in SIZE_FIELDS:
                    yield Label(field.replace("_", " "))
                    yield Input(id=f"size-{field}", type="integer")
                yield Label("steps")
                yield Input(placeholder="0: until stopped", id="steps", type="integer")
            yield Static("", id="launch-error")
            with Horizontal():
                yield Button("Add", variant="primary", id="add")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._update_placeholders("transformer")
        self.load_devices()
        self.load_frameworks(self.interpreters[0])

    @work(thread=True, exclusive=True, group="launcher-frameworks", exit_on_error=False)
    def load_frameworks(self, python: str) -> None:
        try:
            info = discover(python)
            found = [fw for fw, d in info["frameworks"].items() if d["installed"]]
            versions = {fw: info["frameworks"][fw]["version"] for fw in found}
            error = ""
        except UserError as exc:
            found, versions, error = [], {}, str(exc)
        self.app.call_from_thread(self._set_frameworks, python, found, versions, error)

    @work(thread=True, exclusive=True, group="launcher-devices", exit_on_error=False)
    def load_devices(self) -> None:
        devices = device_choices()
        self.app.call_from_thread(self._set_devices, devices)

    def _set_devices(self, devices: list[str]) -> None:
        self.query_one("#device", Select).set_options([(d, d) for d in devices])
        self.query_one("#device", Select).value = "auto"

    def _set_frameworks(self, python: str, found: list[str], versions: dict, error: str) -> None:
        self._frameworks[python] = found
        select = self.query_one("#framework", Select)
        select.set_options([(f"{fw} {versions.get(fw) or ''}".strip(), fw) for fw in found])
        status = self.query_one("#launch-status", Static)
        if error:
            status.update(error)
        elif not found:
            status.update(f"no framework is installed in {python}: pip install 'fwtop[all]'")
        else:
            status.update(f"{len(found)} framework(s) in {python}")
            select.value = found[0]

    def _update_placeholders(self, model: str) -> None:
        defaults = models.DEFAULT_SIZES.get(model, {})
        for field in SIZE_FIELDS:
            box = self.query_one(f"#size-{field}", Input)
            box.placeholder = f"default {defaults[field]}" if field in defaults else "n/a for this model"
            box.disabled = field not in defaults

    @on(Select.Changed, "#python")
    def _python_changed(self, event: Select.Changed) -> None:
        self.query_one("#framework", Select).set_options([])
        self.query_one("#launch-status", Static).update("looking for frameworks...")
        self.load_frameworks(str(event.value))

    @on(Select.Changed, "#framework")
    def _framework_changed(self, event: Select.Changed) -> None:
        compile_select = self.query_one("#compile", Select)
        if event.value is Select.NULL:
            compile_select.set_options([])
            return
        modes = common.COMPILE_MODES[str(event.value)]
        compile_select.set_options([(m, m) for m in modes])
        compile_select.value = modes[0]

    @on(Select.Changed, "#model")
    def _model_changed(self, event: Select.Changed) -> None:
        self._update_placeholders(str(event.value))

    def build_spec(self) -> WorkloadSpec:
        """The form as a validated spec; raises UserError."""
        framework = self.query_one("#framework", Select).value
        if framework is Select.NULL:
            raise UserError("choose a framework (none is installed in this interpreter?)")
        model = str(self.query_one("#model", Select).value)
        sizes = {}
        for field in SIZE_FIELDS:
            box = self.query_one(f"#size-{field}", Input)
            if box.value.strip() and not box.disabled:
                sizes[field] = int(box.value)
        steps_text = self.query_one("#steps", Input).value.strip()
        compile_mode = self.query_one("#compile", Select).value
        return WorkloadSpec.create(
            str(framework),
            model=model,
            sizes=sizes,
            device=str(self.query_one("#device", Select).value),
            dtype=str(self.query_one("#dtype", Select).value),
            compile=None if compile_mode is Select.NULL else str(compile_mode),
            steps=int(steps_text) if steps_text else 0,
            python=str(self.query_one("#python", Select).value),
        )

    @on(Button.Pressed, "#add")
    def _add(self) -> None:
        try:
            spec = self.build_spec()
        except (UserError, ValueError) as exc:
            self.query_one("#launch-error", Static).update(str(exc))
            return
        self.dismiss(spec)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
