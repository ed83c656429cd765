"""The seed study's report: a markdown table, the answers written from the numbers, and one self-contained HTML page
(every picture inlined) with each variant's final grid and curves."""
import base64
import html
import io
import json
from pathlib import Path

from .machine import cpu_name
from .study import Budget, Interval, Variant, interval

PROBLEMS = ("instability", "mode collapse", "sensitivity")


def _values(rows: list[dict], key: str, default=None) -> list[float]:
    return [float(default if r.get(key) is None else r[key]) for r in rows if key in r]


def metrics(rows: list[dict], budget: Budget, data: str) -> dict[str, Interval]:
    found = {"modes": interval(_values(rows, "modes")), "high_quality": interval(_values(rows, "high_quality")),
             "reverse_kl": interval(_values(rows, "reverse_kl"))}
    if data == "shapes":
        # a run whose D never pinned counts as pinning at its last iteration: the interval is then a lower bound
        found["pinned_at"] = interval(_values(rows, "pinned_at", default=budget.shapes_iterations))
        found["g_loss_spread"] = interval(_values(rows, "g_loss_spread"))
        found["fd_shapes"] = interval(_values(rows, "fd_shapes"))
    return found


def _effect(value: Interval, base: Interval) -> str:
    if value.n == 0 or base.n == 0:
        return "-"
    return "not distinguishable" if value.overlaps(base) else ("higher" if value.mean > base.mean else "lower")


def _table(data: str, chosen: list[Variant], results: dict, budget: Budget) -> list[str]:
    shapes = data == "shapes"
    head = "| variant | seeds | modes | vs its base | high quality | reverse KL |"
    rule = "|---|---|---|---|---|---|"
    if shapes:
        head += " fd_shapes | D pins at (never = run's end) | runs pinned | G loss spread, 2nd half | ends > 10% worse than best |"
        rule += "---|---|---|---|---|"
    lines = [head, rule]
    stats = {v.name: metrics(results.get((data, v.name), []), budget, data) for v in chosen}

    def effect_size(v: Variant) -> float:
        base = stats[v.base]["modes"]
        return 0.0 if v.name == v.base or stats[v.name]["modes"].n == 0 else stats[v.name]["modes"].mean - base.mean

    ordered = sorted((v for v in chosen if (data, v.name) in results), key=lambda v: (v.base != "seed", v.name != v.base, -abs(effect_size(v))))
    for v in ordered:
        rows, m = results[(data, v.name)], stats[v.name]
        versus = "(base)" if v.name == v.base else f"{effect_size(v):+.1f} ({_effect(m['modes'], stats[v.base]['modes'])})"
        line = (f"| {v.name} | {len(rows)} | {m['modes'].text()} | {versus} | {m['high_quality'].text(1, 100)}% | "
                f"{m['reverse_kl'].text(3)} |")
        if shapes:
            pinned = sum(r.get("pinned_at") is not None for r in rows)
            worse = sum(bool(r.get("ends_worse")) for r in rows)
            line += (f" {m['fd_shapes'].text(0)} | {m['pinned_at'].text(0)} | {pinned}/{len(rows)} | {m['g_loss_spread'].text(2)} | "
                     f"{worse}/{len(rows)} |")
        lines.append(line)
    return lines


def _single_switch_sentence(problem: str, key: str, label: str, data: str, chosen: list[Variant], results: dict, budget: Budget,
                            higher_is_better: bool, digits: int = 1) -> str:
    """'<problem>: caused mostly by X (a -> b when switched); Y and Z not distinguishable.'"""
    base = metrics(results.get((data, "seed"), []), budget, data).get(key)
    if base is None or base.n == 0:
        return f"{problem}: no {data} runs of `seed` stored yet."
    moved, same = [], []
    for v in chosen:
        if v.base != "seed" or v.name == "seed" or (data, v.name) not in results:
            continue
        m = metrics(results[(data, v.name)], budget, data)[key]
        better = (m.mean - base.mean) * (1 if higher_is_better else -1)
        (same if m.overlaps(base) else moved).append((better, v, m))
    moved.sort(key=lambda item: -item[0])
    helping = [item for item in moved if item[0] > 0]
    if helping:
        better, v, m = helping[0]
        text = (f"{problem}: caused mostly by {_choice_words(v)} ({label} {base.text(digits)} -> {m.text(digits)} when switched, "
                f"{data})")
        others = [f"{_choice_words(w)} ({n.text(digits)})" for _, w, n in helping[1:]]
        if others:
            text += f"; switching {', '.join(others)} also helps"
    else:
        text = f"{problem}: no single switch moves {label} on {data} beyond its interval ({base.text(digits)} for `seed`)"
    hurting = [f"{_choice_words(w)} ({n.text(digits)})" for better, w, n in moved if better < 0]
    if hurting:
        text += f"; switching {', '.join(hurting)} makes it worse"
    if same:
        text += f"; {', '.join(_choice_words(w) for _, w, _ in same)}: not distinguishable"
    return text + "."


def _choice_words(v: Variant) -> str:
    from .study import CHOICES, EXTRA_SWITCHES

    return next((c.what for c in CHOICES + EXTRA_SWITCHES if c.key == v.choice), v.name)


def _put_back_sentence(data: str, chosen: list[Variant], results: dict, budget: Budget, key: str = "modes",
                       quantity: str = "{} modes") -> str:
    """The reverse direction: each seed choice put back into "all switched", named where it lowers `key` (modes, or
    the iteration D pins at) beyond the intervals. `quantity` words a value: "{} modes", "D pinning at {}"."""
    base = metrics(results.get((data, "all switched"), []), budget, data)[key]
    if base.n == 0:
        return ""
    costs = []
    for v in chosen:
        if v.base == "all switched" and v.name != v.base and (data, v.name) in results:
            m = metrics(results[(data, v.name)], budget, data)[key]
            if not m.overlaps(base) and m.mean < base.mean:
                costs.append((m.mean - base.mean, v, m))
    start = f"Put back one at a time into \"all switched\" ({quantity.format(base.text())} on {data})"
    if not costs:
        return f"{start}, no seed choice alone lowers it beyond the intervals: what the seed loses there, it loses through its choices together."
    costs.sort(key=lambda item: item[0])
    return f"{start}: " + ", ".join(f"{_choice_words(v)} -> {m.text()}" for _, v, m in costs) + " (each beyond the intervals)."


def answers(chosen: list[Variant], results: dict, budget: Budget, sensitivity: dict | None = None) -> dict[str, str]:
    """One sentence per problem, from the numbers. `sensitivity`: the shapes sensitivity runs (sensitivity.py) stored
    in the study's folder, which answer the third problem on the seed's image networks."""
    collapse_data = "shapes" if ("shapes", "seed") in results else "grid"
    found = {
        "mode collapse": _single_switch_sentence("mode collapse", "modes", "modes", collapse_data, chosen, results, budget, True)
                         + " " + _put_back_sentence(collapse_data, chosen, results, budget),
        "instability": _single_switch_sentence("instability", "pinned_at", "D pins at iteration (never = the run's end)", "shapes", chosen, results, budget, True, 0)
                       + " " + _put_back_sentence("shapes", chosen, results, budget, "pinned_at", "D pinning at {}")
                       if ("shapes", "seed") in results else "instability: needs the shapes runs (D's accuracy is logged there).",
    }
    from .sensitivity import answer

    found["sensitivity"] = answer(sensitivity or {})
    return found


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _curve(rows: list) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(4, 2.4))
    ax.plot(steps, [r[1] for r in rows], lw=0.8, label="G loss")
    ax.set_xlabel("iteration")
    twin = ax.twinx()
    twin.plot(steps, [min(r[2], r[3]) for r in rows], lw=0.6, color="tab:red", label="D's lower accuracy")
    twin.set_ylim(0, 1.05)
    fig.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    uri = _png(fig)
    plt.close(fig)
    return uri


def _inline(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() if path.is_file() else ""


def budget_line(budget: Budget, datasets: list[str]) -> str:
    """The budget of the datasets this study ran, and no other."""
    parts = []
    toy = [d for d in datasets if d != "shapes"]
    if toy:
        parts.append(f"toy2d ({' and '.join(toy)}) {budget.toy_iterations:,} iterations x {budget.toy_seeds} seeds")
    if "shapes" in datasets:
        parts.append(f"shapes (32 px, width 16) {budget.shapes_iterations:,} iterations x {budget.shapes_seeds} seeds, "
                     f"{budget.samples} samples scored")
    return ", ".join(parts) or "no runs stored yet"


SENSITIVITY_ABOUT = "Each recipe trained at the same points of lr, beta1 and batch; the points, their picture and the rule:"


def write_study(out: Path, budget: Budget, chosen: list[Variant], results: dict) -> Path:
    from .sensitivity import shares_table, stored_sensitivity

    sensitivity = stored_sensitivity(out)
    said = answers(chosen, results, budget, sensitivity)
    datasets = [d for d in budget.datasets if any(key[0] == d for key in results)]
    header = (f"Budget: {budget_line(budget, datasets)}; one CPU thread per run; {cpu_name()}. "
              "Mean ± 95% confidence interval (Student's t) over seeds; a difference is named only where the intervals do not overlap.")
    md = ["# The seed study", "", header, "", *[f"- **{p}**: {said[p].split(': ', 1)[1]}" for p in PROBLEMS], ""]
    for data in datasets:
        md += [f"## {data}", "", *_table(data, chosen, results, budget), ""]
    sensitivity_rows = shares_table(sensitivity) if sensitivity else []
    if sensitivity_rows:
        md += ["## sensitivity (shapes)", "", f"{SENSITIVITY_ABOUT} [sensitivity.md](sensitivity.md).", "", *sensitivity_rows, ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.md").write_text("\n".join(md))
    (out / "answers.json").write_text(json.dumps(said, indent=1))

    cards = []
    for v in chosen:
        rows = results.get(("shapes", v.name), [])
        first = min(rows, key=lambda r: r.get("grid", "")) if rows else None
        if not first:
            continue
        pinned = ", ".join("never" if r.get("pinned_at") is None else f"{r['pinned_at']:,}" for r in rows)
        grid = _inline(out / first["grid"]) if first.get("grid") else ""
        cards.append(f'<figure class="variant"><figcaption>{html.escape(v.name)}<br><small>D pins at: {pinned}</small></figcaption>'
                     + (f'<img class="grid" alt="final samples of {html.escape(v.name)}" src="{grid}">' if grid else "")
                     + f'<img class="curve" alt="curves of {html.escape(v.name)}" src="{_curve(first["curve"])}"></figure>')
    body = "".join(f"<h2>{html.escape(d)}</h2>{_md_table(_table(d, chosen, results, budget))}" for d in datasets)
    if sensitivity_rows:
        body += (f'<h2>sensitivity (shapes)</h2><p>{SENSITIVITY_ABOUT} <a href="sensitivity.html">sensitivity.html</a>.</p>'
                 + _md_table(sensitivity_rows))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ganforge: the seed study</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}td:first-child{{text-align:left}}
.variants{{display:flex;flex-wrap:wrap;gap:12px}}figure{{margin:0;width:330px}}img.grid{{width:320px;image-rendering:pixelated}}
img.curve{{width:320px}}li{{margin:.4em 0}}</style></head><body>
<h1>The seed study</h1><p>{html.escape(header)}</p>
<ul id="answers">{"".join(f"<li><b>{p}</b>: {html.escape(said[p].split(': ', 1)[1])}</li>" for p in PROBLEMS)}</ul>
{body}<h2>Each variant on shapes: its first seed's final grid and curves</h2><div class="variants">{"".join(cards)}</div>
</body></html>"""
    path = out / "study.html"
    path.write_text(page)
    return path


def _md_table(lines: list[str]) -> str:
    def cells(line: str) -> list[str]:
        return [html.escape(c.strip()) for c in line.strip().strip("|").split("|")]

    head, *rows = [cells(line) for line in lines if not set(line) <= set("|-")]
    return ("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows) + "</tbody></table>")
