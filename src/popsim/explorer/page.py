"""The explorer page: Mesa's model controller, the schema's levers, live views, compare, save.

Built from Mesa's SolaraViz parts: its :func:`~mesa.visualization.solara_viz.ModelController`
(Reset, Play, Step) drives the model and Mesa's update counter redraws the views after each
step. The page lays itself out rather than using the ``SolaraViz`` page function, whose
sidebar takes only Mesa's own parameter inputs (no schema meanings) and whose draggable grid
cuts the figures. A lever takes effect at Reset, which builds the model again from the
settings; Step runs the chosen number of months.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import solara
import solara.lab
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter

from popsim.explorer import figures, views
from popsim.explorer.compare import compare
from popsim.explorer.levers import LEVERS, RULE, Lever
from popsim.explorer.model import ExplorerModel
from popsim.explorer.settings import Settings
from popsim.scenario.loading import ScenarioError

ENVIRONMENT = "POPSIM_EXPLORE"  #: how ``popsim explore`` hands its arguments to the server
DEFAULT_PERSONS = 5000  #: persons the explorer starts with: a year takes about a second
STEP_MONTHS = {"1 month": 1, "3 months": 3, "1 year": 12}
PLAY_INTERVAL_MS = 50
CAPTION = {"font-size": "0.78em", "color": "#666", "margin": "-6px 0 10px 0"}
LABEL = {"font-size": "0.95em", "margin": "6px 0 -6px 0"}
TABLE_STYLE = (
    "<style>.difference-table table{border-collapse:collapse;margin:6px 0 14px 0;"
    "font-size:0.9em}.difference-table td,.difference-table th{border:none;"
    "border-bottom:1px solid #ddd;padding:3px 10px;text-align:right}"
    ".difference-table td:first-child,.difference-table td:nth-child(2)"
    "{text-align:left}</style>"
)
WRAP = {"max-width": "330px", "overflow-wrap": "anywhere"}  #: long paths must not widen the sidebar


def _decimals(step: float) -> int:
    return max(0, len(f"{step:g}".partition(".")[2]))


@solara.component
def LeverControl(lever: Lever, value, on_value):
    """One lever as a slider, select or switch, its meaning and range beneath."""
    with solara.Div(classes=["lever", f"lever-{lever.slug}"]):
        if lever.kind == "switch":
            solara.Switch(label=lever.label, value=bool(value), on_value=on_value)
            solara.Text(lever.meaning, style=CAPTION)
            return
        if lever.kind == "choice":
            solara.Select(lever.label, values=list(lever.choices), value=value, on_value=on_value)
            solara.Text(lever.meaning, style=CAPTION)
            return
        solara.Text(f"{lever.label}: {value:g}", style=LABEL)
        if lever.kind == "int":
            solara.SliderInt(
                "",
                value=int(value),
                min=int(lever.low),
                max=int(lever.high),
                on_value=on_value,
            )
        else:
            digits = _decimals(lever.step)
            snapped = round(round(value / lever.step) * lever.step, digits)

            def moved(v: float) -> None:
                # the slider reports the value snapped to its step when drawn: not a change
                if round(v, digits) != snapped:
                    on_value(round(v, digits))

            solara.SliderFloat(
                "",
                value=float(value),
                min=lever.low,
                max=lever.high,
                step=lever.step,
                on_value=moved,
            )
        solara.Text(f"{lever.meaning}; {lever.low:g} to {lever.high:g}", style=CAPTION)


@solara.component
def Levers(settings: solara.Reactive[Settings]):
    """Every lever of :data:`~popsim.explorer.levers.LEVERS`, and the birth rule's year."""
    s = settings.value
    for lever in LEVERS:
        LeverControl(
            lever,
            s.values[lever.path],
            lambda v, p=lever.path: settings.set(settings.value.with_value(p, v)),
        )
        if lever.path == RULE:
            with solara.Div(classes=["lever", "lever-rule-from"]):
                solara.Text(f"Birth rule from: {s.rule_from}", style=LABEL)
                solara.SliderInt(
                    "",
                    value=s.rule_from,
                    min=s.first_year,
                    max=max(s.last_year, s.first_year + 1),
                    on_value=lambda v: settings.set(replace(settings.value, rule_from=v)),
                )
                solara.Text(
                    "the birth rule above holds from January of this year (the start year: "
                    "from the first month; later: a dated change in the timeline)",
                    style=CAPTION,
                )


@solara.component
def RunSize(settings: solara.Reactive[Settings], on_load):
    """Persons, years and seed of the run, and the starting scenario file."""
    s = settings.value
    path = solara.use_reactive(str(s.start) if s.start else "")
    error = solara.use_reactive("")
    with solara.Div(classes=["lever", "lever-persons"]):
        solara.SliderInt(
            f"Persons: {s.n_persons:,}",
            value=s.n_persons,
            min=500,
            max=50_000,
            step=500,
            on_value=lambda v: settings.set(replace(settings.value, n_persons=v)),
        )
    with solara.Div(classes=["lever", "lever-years"]):
        solara.SliderInt(
            f"Years: {s.years}",
            value=s.years,
            min=1,
            max=50,
            on_value=lambda v: settings.set(replace(settings.value, years=v)),
        )
    with solara.Div(classes=["lever", "lever-seed"]):
        solara.InputInt(
            "Seed",
            value=s.seed,
            on_value=lambda v: settings.set(replace(settings.value, seed=max(0, int(v or 0)))),
        )

    def load():
        try:
            on_load(Settings.of(path.value or None, seed=s.seed, n_persons=s.n_persons))
            error.set("")
        except ScenarioError as exc:
            error.set(str(exc))

    solara.InputText("Starting scenario (YAML; empty: built-in defaults)", value=path)
    solara.Button("Load scenario", on_click=load, outlined=True)
    if error.value:
        with solara.Div(style=WRAP):
            solara.Error(error.value)


@solara.component
def SavePanel(settings: Settings):
    """Save the settings as a scenario file that extends the starting one."""
    name = solara.use_reactive(f"{settings.base.name}_explored")
    path = solara.use_reactive("explored.yaml")
    message = solara.use_reactive(("", ""))

    def save():
        try:
            out = settings.save(Path(path.value), name.value.strip() or None).resolve()
            message.set(("ok", f"Saved {out}. Run it: popsim run {out} --seed {settings.seed}"))
        except (ScenarioError, OSError) as exc:
            message.set(("error", str(exc)))

    solara.InputText("Scenario name", value=name)
    solara.InputText("File", value=path)
    solara.Button("Save as scenario", on_click=save, color="primary", classes=["save"])
    kind, text = message.value
    with solara.Div(classes=["save-message"], style=WRAP):
        if kind == "ok":
            solara.Success(text)
        elif kind == "error":
            solara.Error(text)


@solara.component
def Figure(fig, name: str):
    """A figure as an image, in an element named for tests (``fig-<name>``)."""
    with solara.Div(classes=["figure", f"fig-{name}"]):
        solara.FigureMatplotlib(fig, format="png")


@solara.component
def Live(model: ExplorerModel):
    """The township now: headline numbers, the figures, the village map."""
    update_counter.get()
    kpi = solara.use_reactive("compliance")
    result = model.result()
    years = views.complete_years(model, result)
    headline = views.headline(model, result)
    with solara.Div(classes=["kpis"], style={"font-size": "0.95em", "margin": "4px 0 8px 0"}):
        solara.Text("  ·  ".join(f"{k}: {v}" for k, v in headline.items()))
    with solara.Columns([1, 1]):
        Figure(figures.births(views.births_by_month(result), model.settings.first_year), "births")
        Figure(figures.rates(years), "rates")
    with solara.Columns([1, 1]):
        Figure(figures.compliance(years), "compliance")
        Figure(figures.spending(years), "spending")
    with solara.Columns([1, 1]):
        with solara.Column():
            solara.Select(
                "Colour villages by",
                values=list(views.VILLAGE_KPIS),
                value=kpi,
            )
            Figure(figures.township(model.space, views.villages(model, result), kpi.value), "map")
        Figure(figures.pyramid(views.pyramid_now(model)), "pyramid")


@solara.component
def ComparePanel(settings: Settings):
    """One click: paired replicates of the settings against their starting scenario."""
    count = solara.use_reactive(3)

    def run():
        def progress(done: int, total: int) -> None:
            task.progress = 100 * done / total

        return compare(settings, count.value, progress=progress)

    task = solara.lab.use_task(run, dependencies=None)
    solara.Text(
        f"Runs {count.value} seeds (from {settings.seed}) of the settings and of "
        f"{settings.base.name}, {settings.n_persons:,} persons over {settings.years} years "
        "each, and pairs them seed by seed: the intervals are those of the batch report.",
        style=CAPTION | {"margin": "0 0 8px 0"},
    )
    with solara.Row():
        with solara.Div(classes=["lever", "lever-seeds"], style={"min-width": "260px"}):
            solara.SliderInt(f"Seeds: {count.value}", value=count, min=2, max=10)
        solara.Button(
            f"Compare with {settings.base.name}",
            on_click=task,
            color="primary",
            disabled=task.pending,
            classes=["compare"],
        )
    if task.pending:
        solara.ProgressLinear(task.progress or True)
        solara.Text(f"running: {task.progress or 0:.0f} %")
    elif task.error:
        solara.Error(f"Comparison failed: {task.exception}")
    elif task.finished and task.value is not None:
        c = task.value
        with solara.Div(classes=["difference-table"]):
            solara.Text(
                f"Paired differences, {c.reference} vs explored, seeds {c.seeds[0]} to "
                f"{c.seeds[-1]}; births of every seed below",
                style={"font-weight": "bold"},
            )
            solara.HTML(tag="div", unsafe_innerHTML=TABLE_STYLE + c.table.to_html(index=False))
            solara.HTML(
                tag="div",
                unsafe_innerHTML=TABLE_STYLE + c.births_by_seed.reset_index().to_html(index=False),
            )


@solara.component
def Explorer(
    start: str | Path | None = None,
    *,
    seed: int = 0,
    n_persons: int | None = None,
    years: int | None = None,
):
    """The explorer of a scenario file (None: the built-in defaults), as a solara page.

    In JupyterLab, the last expression of a cell; ``popsim explore`` serves it.
    """
    first = solara.use_memo(
        lambda: Settings.of(start, seed=seed, n_persons=n_persons or DEFAULT_PERSONS, years=years),
        [],
    )
    settings = solara.use_reactive(first)
    model = solara.use_reactive(solara.use_memo(lambda: ExplorerModel(first), []))
    model_parameters = solara.use_reactive({"settings": first})
    months = solara.use_reactive(12)
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    threads = solara.use_reactive(False)

    # Mesa's Reset builds the model from model_parameters: keep them the controls' settings
    solara.use_effect(lambda: model_parameters.set({"settings": settings.value}), [settings.value])

    def load(new: Settings) -> None:
        settings.set(new)
        model.set(ExplorerModel(new))

    s = settings.value
    with solara.AppBar():
        solara.AppBarTitle(f"popsim explorer: {s.base.name}")
    with solara.Sidebar():
        with solara.Card("Run"):
            solara.Select(
                "Step by",
                values=list(STEP_MONTHS),
                value=next(k for k, v in STEP_MONTHS.items() if v == months.value),
                on_value=lambda k: months.set(STEP_MONTHS[k]),
            )
            ModelController(
                model,
                model_parameters=model_parameters,
                play_interval=play_interval,
                render_interval=months,
                use_threads=threads,
            )
            pending = s.differences(model.value.settings)
            if pending:
                with solara.Div(style=WRAP):
                    solara.Warning(
                        f"Settings changed ({', '.join(pending)}): press RESET to run them.",
                        dense=True,
                    )
        with solara.Card("Levers"):
            Levers(settings)
        with solara.Card("Size, seed and starting scenario"):
            RunSize(settings, load)
        with solara.Card("Save as scenario"):
            SavePanel(s)
    with solara.lab.Tabs():
        with solara.lab.Tab("Live"):
            Live(model.value)
        with solara.lab.Tab("Compare"):
            ComparePanel(s)


@solara.component
def Page():
    """The page ``popsim explore`` serves: its arguments come in :data:`ENVIRONMENT`."""
    args = json.loads(os.environ.get(ENVIRONMENT, "{}"))
    Explorer(
        args.get("start"),
        seed=args.get("seed", 0),
        n_persons=args.get("n_persons"),
        years=args.get("years"),
    )
