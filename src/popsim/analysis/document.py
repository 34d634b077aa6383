"""A batch's report: one self-contained HTML document a demographer can read and cite.

Top to bottom: the question; key findings in words (:mod:`~.findings`); the design (every
scenario with its description, replicates, persons, years, burn-in, seeds, code version,
date); effects on births; costs by line and per birth averted; side effects; effects over
time as paired differences; a dose-response when the batch varies a lever; the effects
across calibrated parameter sets when it has an ensemble; methods; appendix tables and links
to each scenario's own page. Labels, units and number formats come from :mod:`~.measures`;
figures are embedded PNG, so the file needs nothing but a browser.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from popsim.analysis import comparison, ensemble, report
from popsim.analysis.findings import findings
from popsim.analysis.intervals import t975
from popsim.analysis.measures import MEASURES, label, number, write
from popsim.outputs import replicates
from popsim.outputs.results import atomic_write

#: The columns of the effects over time, and their titles.
OVER_TIME = {
    "births": "Births per year",
    "tfr": "TFR (births per woman)",
    "srb": "SRB (boys per 100 girls), 5-year periods",
    "compliance_true": "Compliance, true (share in plan)",
}

SRB_PERIOD = 5  #: years pooled for the SRB over time: single years are mostly noise

#: Effects shown at a glance, and the side effects shown beside the births averted.
EFFECTS = ("births", "tfr", "cbr", "births_out_of_plan")
SIDE_EFFECTS = (
    "abortions_remedial",
    "abortions_sex_selective",
    "abortions_unintended",
    "srb",
    "compliance_true",
    "compliance_reported",
)


# --- what the batch is -----------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A scenario run again with one lever at another value (``popsim batch --vary``)."""

    base: str
    field: str
    value: float


@dataclass
class Batch:
    """A batch folder read for its report: tables, manifests and the names' meanings."""

    out: Path
    reference: str
    tables: dict[str, dict[str, pd.DataFrame]]
    members: dict[str, dict[str, pd.DataFrame]]
    manifests: dict[str, dict]

    @property
    def scenarios(self) -> list[str]:
        """Every scenario but the reference."""
        return [n for n in self.tables if n != self.reference]

    def setting(self, name: str, field: str):
        """Scenario ``name``'s value of a dotted ``field`` (None if it has none)."""
        value = self.manifests[name].get("settings", {})
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def read(out: str | Path, reference: str) -> Batch:
    """The batch in ``out`` with ``reference`` first, its ensemble members apart."""
    out = Path(out)
    everything = comparison.order(replicates.read_batch(out, comparison.NEEDED), reference)
    plain, members = ensemble.split_batch(everything)
    manifests = {
        name: json.loads((out / name / replicates.MANIFEST).read_text()) for name in everything
    }
    return Batch(out, reference, plain, members, manifests)


def _flat(settings: Mapping, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out |= _flat(value, path + ".")
        else:
            out[path] = value
    return out


def _changed(batch: Batch, name: str, base: str) -> list[str]:
    """The settings (dotted paths) in which scenario ``name`` differs from ``base``."""
    a = _flat(batch.manifests[name].get("settings", {}))
    b = _flat(batch.manifests[base].get("settings", {}))
    return sorted(k for k in a.keys() & b.keys() if a[k] != b[k])  # not the schema's changes


def variants(batch: Batch) -> dict[str, Variant]:
    """The batch's ``--vary`` runs: named ``BASE_LEAF_VALUE``, differing from BASE in one field."""
    out = {}
    for name in batch.scenarios:
        for base in batch.tables:
            if base == name or not name.startswith(f"{base}_"):
                continue
            changed = _changed(batch, name, base)
            if len(changed) != 1:
                continue
            field = changed[0]
            value = batch.setting(name, field)
            leaf = field.rsplit(".", 1)[-1]
            if name.startswith(f"{base}_{leaf}_") and isinstance(value, (int, float)):
                out[name] = Variant(base, field, float(value))
    return out


def labels(batch: Batch) -> dict[str, str]:
    """Each scenario in words: its description up to a colon or full stop, else its name."""
    out = {}
    found = variants(batch)
    for name in batch.tables:
        text = (batch.manifests[name].get("description") or "").strip()
        short = text.split(": ", 1)[0].split(". ", 1)[0].rstrip(".") if text else name
        if name in found:
            v = found[name]
            short = f"{out.get(v.base, v.base)}, {v.field.rsplit('.', 1)[-1]} = {v.value:g}"
        out[name] = short
    return out


def families(batch: Batch) -> dict[str, str]:
    """Each scenario's family: the part of the regime it changes (``policy.X``, timeline...)."""
    out = {}
    for name in batch.scenarios:
        parts = {
            p.split(".")[1] if p.startswith("policy.") else p.split(".")[0]
            for p in _changed(batch, name, batch.reference)
        }
        out[name] = ", ".join(sorted(parts)) or "none"
    return out


# --- numbers ---------------------------------------------------------------------------------


def _paired_by_year(ref: pd.DataFrame, scen: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean paired difference by year and its 95 % t-interval (seeds shared by both)."""
    both = scen.merge(ref, on=["seed", "year"], suffixes=("", "_ref"))
    both["difference"] = both[column] - both[f"{column}_ref"]
    g = both.groupby("year")["difference"]
    mean, sd, n = g.mean(), g.std(), g.count()
    half = sd / np.sqrt(n) * np.array([t975(k - 1) if k > 1 else np.nan for k in n])
    return pd.DataFrame({"mean": mean, "low": mean - half, "high": mean + half}).reset_index()


def _yearly(tables: Mapping[str, pd.DataFrame], start: int) -> pd.DataFrame:
    annual = tables["annual"][["seed", "year", "births", "tfr", "births_male", "births_female"]]
    kpis = tables["kpis"]
    if "compliance_true" in kpis.columns:
        annual = annual.merge(kpis[["seed", "year", "compliance_true"]], on=["seed", "year"])
    else:
        annual = annual.assign(compliance_true=np.nan)
    period = start + (annual["year"] - start) // SRB_PERIOD * SRB_PERIOD
    pooled = (
        annual.assign(period=period)
        .groupby(["seed", "period"])[["births_male", "births_female"]]
        .transform("sum")
    )
    mid = period + (SRB_PERIOD - 1) / 2
    annual = annual.assign(srb=100 * pooled["births_male"] / pooled["births_female"], mid=mid)
    return annual


def differences_over_time(batch: Batch) -> dict[str, dict[str, pd.DataFrame]]:
    """``{indicator: {scenario: year, mean, low, high}}``: paired differences over time.

    Births, TFR and true compliance by year; the SRB pooled over :data:`SRB_PERIOD`-year
    periods (drawn at each period's middle year).
    """
    start = int(batch.tables[batch.reference]["annual"]["year"].min())
    frames = {name: _yearly(t, start) for name, t in batch.tables.items()}
    ref = frames[batch.reference]
    out: dict[str, dict[str, pd.DataFrame]] = {name: {} for name in OVER_TIME}
    for name in batch.scenarios:
        scen = frames[name]
        for indicator in ("births", "tfr", "compliance_true"):
            out[indicator][name] = _paired_by_year(ref, scen, indicator)
        periods = [f.drop_duplicates(["seed", "mid"]) for f in (ref, scen)]
        srb = _paired_by_year(
            *(p.drop(columns="year").rename(columns={"mid": "year"}) for p in periods), "srb"
        )
        out["srb"][name] = srb
    return out


def dose_response(
    batch: Batch, tables: Mapping[str, pd.DataFrame], indicators: Sequence[str]
) -> dict[tuple[str, str], pd.DataFrame]:
    """``{(base, field): table}`` of each varied lever: the effect at each value, by value.

    Each table has ``value``, ``scenario`` and, per indicator, the paired difference from the
    reference with its interval, the very numbers of the comparison tables. The base scenario
    stands at its own value (the reference's effect on itself is 0).
    """
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for name, v in variants(batch).items():
        groups.setdefault((v.base, v.field), []).append((v.value, name))
    out = {}
    for (base, field), points in groups.items():
        own = batch.setting(base, field)
        if isinstance(own, (int, float)):
            points.append((float(own), base))
        rows = []
        for value, name in sorted(points):
            row = {"value": value, "scenario": name}
            for indicator in indicators:
                if name == batch.reference:
                    row |= {indicator: 0.0, f"{indicator}_low": 0.0, f"{indicator}_high": 0.0}
                    continue
                t = tables[indicator].loc[name]
                row |= {
                    indicator: t["difference"],
                    f"{indicator}_low": t["paired_low"],
                    f"{indicator}_high": t["paired_high"],
                }
            rows.append(row)
        out[(base, field)] = pd.DataFrame(rows)
    return out


# --- HTML ------------------------------------------------------------------------------------


class Html(str):
    """Text that is already HTML (not escaped again)."""


def _e(text: object) -> str:
    return text if isinstance(text, Html) else html.escape(str(text))


def _cell(value: float, low: float, high: float, name: str) -> Html:
    """A difference with its interval beneath, in the measure's format."""
    if pd.isna(value):
        return Html('<span class="na">not defined</span>')
    interval = f"{write(name, low)} to {write(name, high)}" if pd.notna(low) else "no interval"
    return Html(f"{_e(write(name, value, signed=True))}<br><span class='ci'>{_e(interval)}</span>")


def table(header: Sequence[str], rows: Iterable[Sequence[object]], cls: str = "") -> Html:
    """A plain HTML table; the first column is a row header; no header row if none given."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    head = f"<thead><tr>{head}</tr></thead>" if header else ""
    body = "".join(
        "<tr>" + f"<th>{_e(r[0])}</th>" + "".join(f"<td>{_e(c)}</td>" for c in r[1:]) + "</tr>"
        for r in rows
    )
    return Html(f'<table class="{cls}">{head}<tbody>{body}</tbody></table>')


def figure(fig, alt: str, caption: str) -> Html:
    """A figure embedded as PNG, with its caption."""
    data = base64.b64encode(report.png(fig)).decode()
    return Html(
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _differences(tables, names: Sequence[str], measures: Sequence[str], shown: Mapping) -> Html:
    header = ["Scenario", *(label(m, unit=True) for m in measures)]
    rows = []
    for name in names:
        cells = []
        for m in measures:
            t = tables[m].loc[name]
            cells.append(_cell(t["difference"], t["paired_low"], t["paired_high"], m))
        rows.append([shown[name], *cells])
    return table(header, rows, "effects")


def _cost_table(tables, names: Sequence[str], shown: Mapping) -> Html:
    per = tables["cost_per_birth_averted"]
    header = [
        "Scenario",
        "Gross cost, change",
        "Fee revenue, change",
        "Net of fees, change",
        "Births averted",
        "Gross cost per birth averted",
    ]
    rows = []
    for name in names:
        row = [shown[name]]
        for m in ("spend_total", "fee_revenue", "spend_net_of_fees", "births_averted"):
            t = tables[m].loc[name]
            row.append(_cell(t["difference"], t["paired_low"], t["paired_high"], m))
        p = per.loc[name]
        if pd.isna(p["cost_per_birth_averted"]):
            row.append(Html(f'<span class="na">{_e(p["note"])}</span>'))
        else:
            cell = _cell(
                p["cost_per_birth_averted"],
                p["paired_low"],
                p["paired_high"],
                "cost_per_birth_averted",
            )
            note = f"<br><span class='ci'>{_e(p['note'])}</span>" if p["note"] else ""
            row.append(Html(cell + note))
        rows.append(row)
    return table(header, rows, "effects")


def _cost_lines(batch: Batch, names: Sequence[str], shown: Mapping) -> Html:
    lines = comparison.cost_lines(batch.tables, batch.reference)
    header = ["Budget line (thousand yuan over the run)", shown[batch.reference] + " (reference)"]
    header += [f"{shown[n]}: change" for n in names]
    columns = [batch.reference, *(f"{n} - {batch.reference}" for n in names)]
    rows = []
    for line, values in lines[columns].iterrows():
        text = str(line).replace("_", " ").replace("iud", "IUD").replace("tv", "TV")
        rows.append([text[0].upper() + text[1:], *(number(v / 1e3, 0) for v in values)])
    return table(header, rows, "lines")


def _design(batch: Batch, shown: Mapping, family: Mapping) -> Html:
    ref = batch.manifests[batch.reference]
    settings = ref.get("settings", {}).get("township", {})
    seeds = ref["seeds"]
    start, years = settings.get("start_year"), ref["years"]
    burn_in, policy = settings.get("burn_in_years"), settings.get("burn_in_policy")
    burn_text = (
        f"{burn_in} years before {start}, under the reference's policy in every scenario, so "
        "the scenarios share their history and differ only from the start (or a dated change)"
        if policy == "baseline"
        else f"{burn_in} years before {start}, each scenario under its own policy"
    )
    cpu = sum(sum(c for c in m.get("cpu_seconds", []) if c) for m in batch.manifests.values())
    versions = ", ".join(f"{k} {v}" for k, v in sorted(ref.get("versions", {}).items()))
    facts = [
        ["Scenarios", f"{len(batch.tables)} (the reference and {len(batch.scenarios)} others)"],
        [
            "Replicates",
            f"{len(seeds)} per scenario, seeds {seeds[0]} to {seeds[-1]}, the same "
            "seeds in every scenario (paired)",
        ],
        ["Township", f"{ref['n_persons']:,} persons at the start of the burn-in"],
        ["Years compared", f"{years}: {start} to {start + years - 1}" if start else str(years)],
        ["Burn-in", burn_text],
        ["Code version", ref.get("code_version", "not recorded")],
        ["Packages", versions or "not recorded"],
        ["Computing time", f"{cpu / 60:,.1f} CPU-minutes for all runs"],
        ["Report written", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")],
    ]
    rows = [
        [shown[n], n, family.get(n, "reference"), batch.manifests[n].get("description") or ""]
        for n in batch.tables
    ]
    return Html(
        table([], facts, "facts")
        + "<h3>Scenarios</h3>"
        + table(["Scenario", "Name (folder)", "Levers changed", "Description"], rows, "scenarios")
    )


def _ensemble_section(batch: Batch, shown: Mapping) -> Html:
    if not batch.members:
        return Html(
            "<p>This batch has no parameter ensemble, so its intervals cover the Monte Carlo "
            "noise at one set of calibrated parameters only. <code>popsim batch --ensemble "
            "CALIBRATION_DIR --sets K</code> adds one.</p>"
        )
    t = ensemble.table(batch.members, batch.reference)
    rows = []
    for _, r in t.iterrows():
        name = next(k for k, v in MEASURES.items() if label(k, unit=True) == r["effect"])
        rows.append(
            [
                f"{shown.get(r['scenario'], r['scenario'])}: {r['effect']}",
                int(r["sets"]),
                write(name, r["difference"], signed=True),
                f"{write(name, r['mc_low'])} to {write(name, r['mc_high'])}",
                f"{write(name, r['sets_low'])} to {write(name, r['sets_high'])}",
                "yes" if r["sign_depends"] else "no",
            ]
        )
    header = [
        "Effect",
        "Parameter sets",
        "Mean over sets",
        "Monte Carlo 95 % interval",
        "Smallest to largest set",
        "Direction depends on the set",
    ]
    return Html(
        "<p>Each scenario was also run under parameter sets drawn from the calibration's "
        "near-best trials. The Monte Carlo interval covers the noise of the runs; the range "
        "across sets shows how far the effect moves with parameters the targets do not pin "
        "(method: docs/calibration.md).</p>" + table(header, rows, "effects")
    )


def _dose_section(batch: Batch, tables, shown: Mapping) -> Html:
    indicators = ("births_averted", "tfr", "spend_total")
    parts = []
    for (base, field), t in dose_response(batch, tables, indicators).items():
        header = ["Value of " + field, "Scenario", *(label(i, unit=True) for i in indicators)]
        rows = [
            [
                number(r["value"], 3).rstrip("0").rstrip("."),
                shown[r["scenario"]],
                *(_cell(r[i], r[f"{i}_low"], r[f"{i}_high"], i) for i in indicators),
            ]
            for _, r in t.iterrows()
        ]
        fig = report.dose_response_figure(t, field, indicators)
        parts.append(
            f"<h3>{_e(shown[base])}: {_e(field)}</h3>"
            + figure(
                fig,
                f"dose-response of {field}",
                "Paired differences from the reference, "
                "95 % intervals, at each value of the lever.",
            )
            + table(header, rows, "effects")
        )
    return Html("".join(parts))


def _appendix(batch: Batch, summary: pd.DataFrame, tables, shown: Mapping) -> Html:
    parts = []
    for m in (*comparison.INDICATORS, "births_averted"):
        t = tables[m]
        rows = []
        for name, r in t.iterrows():
            ratio = r["width_ratio"]
            rows.append(
                [
                    shown[name],
                    int(r["seeds"]),
                    write(m, r["reference"]),
                    write(m, r["scenario"]),
                    write(m, r["difference"], signed=True),
                    f"{write(m, r['paired_low'])} to {write(m, r['paired_high'])}",
                    f"{write(m, r['welch_low'])} to {write(m, r['welch_high'])}",
                    "no variation in pairs"
                    if ratio == np.inf
                    else ("not defined" if pd.isna(ratio) else f"{ratio:,.1f} times"),
                ]
            )
        header = [
            "Scenario",
            "Seeds",
            "Reference mean",
            "Scenario mean",
            "Difference",
            "95 % interval, paired",
            "95 % interval, unpaired (Welch)",
            "Pairing narrows the interval",
        ]
        parts.append(
            f"<h3>{_e(label(m, unit=True))}</h3><p>{_e(MEASURES[m].meaning)}.</p>"
            + table(header, rows, "appendix")
        )
    links = []
    for name in batch.tables:
        for page in ("scenario.html", "scenario.ipynb"):
            if (batch.out / name / page).is_file():
                links.append(
                    f'<li><a href="{_e(name)}/{page}">{_e(shown[name])}</a> '
                    f"({_e(name)}/{page})</li>"
                )
                break
    pages = f"<h3>Each scenario's own page</h3><ul>{''.join(links)}</ul>" if links else ""
    return Html(pages + "".join(parts) + _replicates(summary))


def _replicates(summary: pd.DataFrame) -> Html:
    """Every replicate's run-level values, the numbers every table above is computed from."""
    measures = list(comparison.INDICATORS)
    header = ["Scenario (folder)", "Seed", *(label(m, unit=True) for m in measures)]
    rows = [
        [r["scenario"], int(r["seed"]), *(write(m, r[m]) for m in measures)]
        for _, r in summary.iterrows()
    ]
    return Html(
        "<h3>Every replicate</h3><p>Each replicate's values over the run, from which every "
        "table above is computed.</p>" + table(header, rows, "appendix")
    )


METHODS = """
<p><b>Pairing.</b> Replicate <i>i</i> of every scenario runs with seed <i>i</i>, and every
random draw is keyed by seed, process, person and month, so two scenarios share all the
randomness their levers do not touch (common random numbers). Each difference is the mean over
seeds of <i>scenario seed i minus reference seed i</i>, and its 95 % interval is a t-interval
over those per-seed differences. The appendix also gives Welch's interval, which treats the two
sets of replicates as independent, and how many times pairing narrows it.</p>
<p><b>Cost per birth averted.</b> The extra gross cost (every budget line: incentives, cadre
pay, check-up visits, surgeries, service rooms) over the births averted, both means over the
paired seeds, with Fieller's interval for a ratio. Fees collected on out-of-plan births are
revenue, shown apart and never deducted: otherwise a scenario would look cheaper for letting
births happen and fining them. The ratio is not defined when no births are averted, and its
interval is unbounded when the births averted may be zero.</p>
<p><b>What the intervals do not cover.</b> They cover the Monte Carlo noise of the runs at one
set of behavioural parameters, those of the calibrated baseline. Parameters the calibration
targets do not pin (the model uncertainty section, when the batch has an ensemble) and
assumptions no data pins are not in them: several unit costs are assumptions
(docs/regime.md §9), and the size of the check-ups' effect on births rests on participation,
detection and remedial parameters fitted to 2009-2011 levels and to the induced abortions of
China's married women (how many pregnancies were unintended, how many of those were ended, and
a share of abortions ending a wanted pregnancy widened for rural Anhui by judgement), not to an
observed change in coverage (docs/regime.md §19, docs/validation.md). Third births, and the sex
selection before them, rest on how much more often couples seeking a son refuse sterilisation,
which the targets leave loose (odds 1-18). The baseline meets its 28 targets with the
first-marriage schedule moved half a year earlier than the census's cross-section, a shift
pinned only by the never-married shares and the ages at marriage and first birth
(docs/calibration.md).</p>
<p><b>Indicators.</b> Totals are over the compared years; the TFR sums age-specific rates whose
births and woman-years are totalled over those years; the SRB pools all births of the run
(over time, {period}-year periods, since single years of a township are mostly noise).</p>
"""

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:72rem;margin:2rem auto;
padding:0 1.5rem;color:#222;line-height:1.5}
h1{font-size:1.8rem;margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
.lead{font-size:1.1rem;color:#333}.meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e4e4e4;vertical-align:top}
thead th{background:#f3f3f3;text-align:left;font-weight:600}
td{text-align:right;white-space:nowrap}tbody th{text-align:left;font-weight:normal}
table.scenarios td,table.facts td{text-align:left;white-space:normal}
table.lines thead th{max-width:8rem;white-space:normal}
.ci{color:#666;font-size:.8rem}.na{color:#999;font-style:italic}
li.finding{margin-bottom:.7rem}li.uncertain{color:#555}
li.uncertain::before{content:'uncertain: ';font-weight:600;color:#a15c00}
figure{margin:1rem 0}figure img{max-width:100%}figcaption{color:#555;font-size:.9rem}
nav a{margin-right:1rem}
"""


def build(batch: Batch) -> str:
    """The report's HTML for ``batch``."""
    summary = comparison.summarise(batch.tables)
    tables = comparison.comparison_tables(summary, batch.reference)
    shown, family = labels(batch), families(batch)
    names = batch.scenarios
    ref = batch.manifests[batch.reference]
    years = ref["years"]
    found = findings(tables, shown, years)
    ranked = [f.scenario for f in found]
    colours = {n: f"C{sorted(set(family.values())).index(family[n]) % 10}" for n in names}
    items = "".join(
        f'<li class="finding{" uncertain" if f.uncertain else ""}" '
        f'data-scenario="{_e(f.scenario)}">{_e(f.text)}</li>'
        for f in found
    )
    sections = [
        (
            "findings",
            "Key findings",
            Html(
                "<p>Each scenario against the reference, "
                f"<i>{_e(shown[batch.reference])}</i>, over {years} years, largest effect on "
                "births first. Intervals are 95 % intervals over "
                f"{len(ref['seeds'])} paired replicates; an effect on births whose interval "
                "includes zero is marked uncertain.</p>" + f"<ul>{items}</ul>"
            ),
        ),
        ("design", "Design", _design(batch, shown, family)),
        (
            "effects",
            "Effects on births",
            Html(
                "<p>Mean paired difference from the reference over the run, with its 95 % interval "
                "beneath.</p>"
                + _differences(tables, ranked, EFFECTS, shown)
                + figure(
                    report.effects_figure(tables, {n: shown[n] for n in ranked}),
                    "effects with intervals",
                    "Births averted, TFR, SRB and gross cost: "
                    "difference from the reference, 95 % paired interval.",
                )
            ),
        ),
        (
            "costs",
            "Costs",
            Html(
                "<p>The regime's gross cost is every budget line; the social maintenance fees "
                "collected are revenue, shown apart and in the net, never deducted from the cost "
                "per birth averted. Money in million yuan over the run; the cost per birth "
                "averted in yuan.</p>"
                + _cost_table(tables, ranked, shown)
                + "<h3>By budget line</h3><p>The reference's cost over the run, and each "
                "scenario's paired change from it, in thousand yuan. Unit costs and sources: "
                "docs/regime.md §9; several are assumptions.</p>"
                + _cost_lines(batch, ranked, shown)
            ),
        ),
        (
            "side-effects",
            "Side effects",
            Html(
                "<p>Beside the births averted: abortions (remedial, after a check-up finds an "
                "out-of-plan pregnancy; sex-selective; the couples' own, of unintended "
                "pregnancies), the sex ratio at birth, and compliance with the birth rule as "
                "it truly is and as the township reports it.</p>"
                + _differences(tables, ranked, ("births_averted", *SIDE_EFFECTS), shown)
            ),
        ),
        (
            "over-time",
            "Effects over time",
            figure(
                report.differences_over_time_figure(
                    differences_over_time(batch),
                    {n: shown[n] for n in ranked},
                    colours,
                    OVER_TIME,
                    family,
                ),
                "paired differences over time",
                f"Scenario minus reference by year, mean over the paired seeds and 95 % band; "
                f"SRB pooled over {SRB_PERIOD}-year periods. Colours mark the part of the regime a "
                "scenario changes (Design).",
            ),
        ),
    ]
    dose = _dose_section(batch, tables, shown)
    if dose:
        sections.append(("dose-response", "Dose-response", dose))
    sections += [
        ("uncertainty", "Model uncertainty", _ensemble_section(batch, shown)),
        ("methods", "Methods", Html(METHODS.replace("{period}", str(SRB_PERIOD)))),
        ("appendix", "Appendix: one table per indicator", _appendix(batch, summary, tables, shown)),
    ]
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{_e(title)}</h2>{content}</section>'
        for key, title, content in sections
    )
    title = f"Family-planning levers, births and cost: {len(names)} scenarios and a reference"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        "<p class='lead'>How do the family-planning regime's levers (incentives, check-ups, "
        "fees, birth rules, reporting) change the number of births in the township, and at "
        "what cost? Each scenario below changes levers of the reference regime and is run with "
        "the same seeds, so its difference from the reference is measured pair by pair.</p>"
        f"<p class='meta'>popsim {_e(ref.get('code_version', ''))} · "
        f"{len(ref['seeds'])} replicates × {ref['n_persons']:,} persons × {years} years</p>"
        f"<nav>{nav}</nav>{body}</body></html>"
    )


def write_report(out: str | Path, reference: str, path: str | Path | None = None) -> Path:
    """Read the batch in ``out`` and write its report (atomically) to ``path``."""
    batch = read(out, reference)
    text = build(batch)
    path = Path(path) if path is not None else Path(out) / "report.html"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
