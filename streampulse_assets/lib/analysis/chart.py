"""The spike chart: viewers of the last hours against both baselines, and who added the rise.

Rendered from the queue row's evidence alone (`series`, captured at enqueue time, see
lib/detection/series.py; `top_streamers`), so the analysis, the UI and the alerts never read
DuckDB. Top panel: viewers, the rolling (60-minute median) and the seasonal baseline, the spike
minute marked with its rise. Bottom panel: each top streamer's contribution to the rise (gain /
category delta, the figure the explanation cites), labelled with their share of current viewers.
matplotlib's object API with the Agg canvas (no pyplot state: safe in worker threads); Korean
names use the NanumGothic font shipped by koreanize-matplotlib, DejaVu Sans for the rest.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import num2date
from matplotlib.figure import Figure

from streampulse_assets.lib.analysis.evidence import figures as event_figures
from streampulse_assets.lib.analysis.evidence import fmt
from streampulse_assets.lib.analysis.models import QueueEvent

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 5.6, 90
_MAX_BARS = 5


@cache
def _fonts() -> list[str]:
    """Font families to try in order (glyph by glyph): a Hangul font first when available."""
    spec = find_spec("koreanize_matplotlib")
    families = []
    if spec and spec.origin:
        path = Path(spec.origin).parent / "fonts" / "NanumGothic.ttf"
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            families.append(font_manager.FontProperties(fname=str(path)).get_name())
    return [*families, "DejaVu Sans"]


def _event(evidence: dict[str, Any]) -> QueueEvent:
    ts = datetime(1970, 1, 1)
    name = evidence.get("category_name")
    return QueueEvent(0, "V3", "", "", name, ts, "SPIKE", None, evidence, ts)


def _series_panel(ax, evidence: dict[str, Any]) -> None:
    series = evidence.get("series") or {}
    ts = [datetime.fromisoformat(t) for t in series.get("ts") or []]
    if not ts:
        ax.text(0.5, 0.5, "no viewer series was captured for this event", ha="center",
                va="center", transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return
    nan = float("nan")

    def values(key: str) -> list[float]:
        got = series.get(key) or []
        return [nan if v is None else float(v) for v in got] + [nan] * (len(ts) - len(got))

    ax.plot(ts, values("viewers"), color="#1f4e9c", lw=1.6, label="viewers")
    ax.plot(ts, values("rolling"), color="#e08a00", lw=1.2, ls="--", label="60-min median")
    ax.plot(ts, values("seasonal"), color="#5a9e3a", lw=1.2, ls=":", label="seasonal baseline")
    spike = datetime.fromisoformat(series.get("event_ts") or series["ts"][-1])
    ax.axvline(spike, color="#c0392b", lw=1.0, alpha=0.7)
    at = ts.index(spike) if spike in ts else len(ts) - 1
    peak = values("viewers")[at]
    ax.plot([ts[at]], [peak], "o", color="#c0392b", ms=6)
    delta = evidence.get("delta")
    label = f"spike {spike:%H:%M} UTC" + (f"\n{float(delta):+,.0f}" if delta is not None else "")
    ax.annotate(label, (ts[at], peak), xytext=(-8, -4), textcoords="offset points",
                ha="right", va="top", fontsize=9, color="#c0392b")  # fmt: skip
    ax.set_ylabel("viewers")
    ax.grid(alpha=0.25)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:,.0f}")
    ax.xaxis.set_major_formatter(lambda v, _pos: _hhmm(v))


def _hhmm(value: float) -> str:
    return f"{num2date(value):%H:%M}"


def _bars_panel(ax, evidence: dict[str, Any]) -> None:
    figures = event_figures(_event(evidence))
    rows = sorted(figures["streamers"], key=lambda s: -s["gain"])[:_MAX_BARS]
    if not rows or not figures["category_delta"]:
        ax.text(0.5, 0.5, "no top-streamer data: who drove the rise is unknown", ha="center",
                va="center", transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return
    rows.reverse()  # largest on top
    shares = [100 * (s["rise_share"] or 0.0) for s in rows]
    colors = ["#1f4e9c" if v >= 0 else "#999999" for v in shares]
    ax.barh(range(len(rows)), shares, color=colors, height=0.6)
    ax.set_yticks(range(len(rows)), [s["channel_name"][:24] for s in rows], fontsize=9)
    for i, s in enumerate(rows):
        viewers = s["viewer_share"]
        text = f" {s['gain']:+,.0f} ({shares[i]:.0f}% of the rise)"
        text += f" · {viewers:.0%} of viewers" if viewers else ""
        ax.text(max(shares[i], 0), i, text, va="center", fontsize=8)
    ax.axvline(0, color="#444444", lw=0.8)
    ax.set_xlim(min(0.0, *shares) - 5, max(100.0, *shares) * 1.75)  # room for the labels
    ax.set_xlabel("contribution to the rise (% of the category's +delta)")
    ax.grid(axis="x", alpha=0.25)


def render_spike_chart(evidence: dict[str, Any], result: dict[str, Any] | None = None) -> bytes:
    """The PNG bytes of one event's chart (works with a partial evidence: panels say what is
    missing instead of failing)."""
    with rc_context({"font.family": _fonts(), "axes.unicode_minus": False}):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 1.6], hspace=0.42)
        top, bottom = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
        _series_panel(top, evidence)
        _bars_panel(bottom, evidence)
        name = evidence.get("category_name") or "?"
        verdict = (result or {}).get("verdict")
        title = f"{name}: {fmt(float(evidence.get('current') or 0))} viewers"
        fig.suptitle(title + (f" · {verdict}" if verdict else ""), fontsize=12)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def chart_for(evidence: dict[str, Any] | None, result: dict[str, Any] | None) -> bytes | None:
    """The chart of an event whose evidence carries a series, else None (nothing to show)."""
    if not evidence or not (evidence.get("series") or {}).get("ts"):
        return None
    return render_spike_chart(evidence, result)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_MD_SPECIAL = "\\`*_[]<>#|!"


def md_escape(text: str) -> str:
    """Plain text shown verbatim in Markdown: specials escaped, line breaks kept."""
    out = "".join("\\" + c if c in _MD_SPECIAL else c for c in text)
    return "  \n".join(out.splitlines())


def markdown_entry(text: str, png: bytes | None, *, chart_path: str | None = None) -> str:
    """One explanation for the UI: the alert text verbatim, then the chart inline (data URI)."""
    parts = [md_escape(text)]
    if png:
        parts.append(f"![spike chart]({data_uri(png)})")
    if chart_path:
        parts.append(f"chart file: `{chart_path}`")
    return "\n\n".join(parts)
