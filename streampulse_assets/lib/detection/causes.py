"""Why a category rose: contribution of its top streamers, dominance, market proof -> cause.

- contribution_ratio = increase of the current top-5 streamers (vs. their viewers in this
  category 60 minutes ago, 0 if absent then) / increase of the category over the same hour;
  >= 0.5 -> PERSON_ISSUE, else STRUCTURE_ISSUE.
- dominance_index = top streamer's viewers / category viewers. >= 0.85 without market proof
  (open lives up >= 3, or streamers 2-5 up >= 20 % and >= 500) -> CATEGORY_ADOPTION (one streamer
  brought the category; not sent to paid analysis).
  Streamer context refines this: a lead streamer who was already in this category's top 5 an hour
  ago did not move in (a raid or collab lifted them), so it is never an adoption; a lead who was
  in another category's top 5 an hour ago and alone brought at least half the rise is one, even
  below the dominance threshold (`reclassify_arrivals`, applied once the context is known).
- A PERSON_ISSUE SPIKE needs growth >= 2.0 and delta >= max(1500, 0.5 x baseline), else it stays
  a CANDIDATE.
- A LEARNED SPIKE that is one streamer going live (`demote_going_live`: the lead streamer was not
  live in the category an hour ago, which the hour-ago list shows when it held every open live,
  was in no other category's top 5 then, alone brought at least half the rise, and there is no
  market proof) becomes a CANDIDATE: the count of lives changed, viewers did not flock
  in. In a tiny category every new live doubles the count; the learned detector, which has no
  viewer floors, would otherwise call each rare one a spike.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.config import DetectionConfig

LEAD_SHARE = 0.5  # the lead streamer alone brought at least this share of the rise
GOING_LIVE = "going live"

PERSON = "PERSON_ISSUE"
STRUCTURE = "STRUCTURE_ISSUE"
ADOPTION = "CATEGORY_ADOPTION"


def parse_streamers(text) -> list[dict]:
    """Top streamers as dicts sorted by viewers (desc); bad or empty JSON gives []."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return []
    try:
        items = json.loads(text)
    except (TypeError, ValueError):
        return []
    good = [i for i in items if isinstance(i, dict) and "channel_id" in i]
    for i in good:
        i["viewers"] = int(i.get("viewers") or 0)
    return sorted(good, key=lambda i: -i["viewers"])


def _known(value) -> bool:
    return value is not None and not pd.isna(value)


def classify_row(row: dict, cfg: DetectionConfig) -> dict:
    now = parse_streamers(row.get("top_streamers"))[:5]
    before = parse_streamers(row.get("top_streamers_before"))[:5]
    before_viewers = {str(s["channel_id"]): s["viewers"] for s in before}
    current = float(row["current"])
    increase = current - float(row["viewers_60_ago"]) if _known(row.get("viewers_60_ago")) else 0
    contribution = dominance = None
    if now and increase > 0:
        gained = sum(s["viewers"] - before_viewers.get(str(s["channel_id"]), 0) for s in now)
        contribution = gained / increase
    if now and current > 0:
        dominance = now[0]["viewers"] / current
    proof = _lives_rose(row, cfg)
    if now:
        top_id = str(now[0]["channel_id"])
        others_now = sum(s["viewers"] for s in now[1:5])
        others_before = sum([s["viewers"] for s in before if str(s["channel_id"]) != top_id][:4])
        gain = others_now - others_before
        if gain >= cfg.proof_others_delta * float(row.get("unit", 1.0)) and (
            others_now >= (1 + cfg.proof_others_growth) * others_before
        ):
            proof = True
    lead_was_here = bool(now) and str(now[0]["channel_id"]) in before_viewers
    if dominance is not None and dominance >= cfg.dominance_min and not proof and not lead_was_here:
        cause = ADOPTION
    elif contribution is not None and contribution >= cfg.person_contribution_min:
        cause = PERSON
    else:
        cause = STRUCTURE
    return {
        "contribution_ratio": contribution,
        "dominance_index": dominance,
        "market_proof": proof,
        "cause": cause,
    }


def add_causes(rows: pd.DataFrame, cfg: DetectionConfig) -> pd.DataFrame:
    """Add contribution_ratio, dominance_index, market_proof and cause."""
    out = rows.copy()
    classes = [classify_row(r, cfg) for r in rows.to_dict("records")]
    for key in ("contribution_ratio", "dominance_index", "market_proof", "cause"):
        out[key] = [c[key] for c in classes]
    return out


def reclassify_arrivals(events: pd.DataFrame, cfg: DetectionConfig) -> pd.DataFrame:
    """V3 rows whose lead streamer arrived from another category and alone brought at least half
    of the rise become CATEGORY_ADOPTION, unless the rest of the market rose too (streamers 2-5 up
    by the market-proof margin; a few more open lives beside a streamer who moved in are not
    proof). Needs `top_streamers` with the before/after context (context.streamer_context)."""
    if events.empty:
        return events
    out = events.copy()
    causes = list(out["cause"])
    for i, row in enumerate(out.to_dict("records")):
        tops = parse_streamers(row.get("top_streamers"))
        delta = row.get("delta")
        if row["detector"] != "V3" or causes[i] == ADOPTION or not tops or not _known(delta):
            continue
        lead = tops[0]
        arrived = lead.get("category_before") and not _known(lead.get("viewers_before"))
        if not arrived or lead["viewers"] < LEAD_SHARE * float(delta):
            continue
        if not _others_rose(tops, row, cfg):
            causes[i] = ADOPTION
    out["cause"] = causes
    return out


def _lives_rose(row: dict, cfg: DetectionConfig) -> bool:
    """Market proof from the open lives: up by at least `proof_open_lives` in the hour."""
    lives, lives_before = row.get("open_lives"), row.get("open_lives_before")
    return _known(lives) and _known(lives_before) and lives - lives_before >= cfg.proof_open_lives


def _others_rose(tops: list[dict], row: dict, cfg: DetectionConfig) -> bool:
    """Market proof from the context: streamers 2-5 up by the market-proof margin."""
    others_now = sum(s["viewers"] for s in tops[1:5])
    others_before = sum(int(s.get("viewers_before") or 0) for s in tops[1:5])
    unit = float(row.get("unit", 1.0) if _known(row.get("unit")) else 1.0)
    return (
        others_now - others_before >= cfg.proof_others_delta * unit
        and others_now >= (1 + cfg.proof_others_growth) * others_before
    )


def went_live(row: dict, cfg: DetectionConfig) -> dict | None:
    """The lead streamer of a rising row if the rise is that streamer going live, else None.

    Needs the streamer context (`top_streamers` with viewers/category before, and the hour-ago
    list `top_streamers_before`). The lead was not live in this category an hour ago only when
    the hour-ago list held every open live then (open_lives_before <= its length) and the lead is
    not in it; a lead found in another category's top 5 then moved in (an arrival, not this).
    The market proof of an adoption (open lives up by `proof_open_lives`, or streamers 2-5 up)
    says the category rose beside the new streamer: then it is not just one more live."""
    tops, delta = parse_streamers(row.get("top_streamers")), row.get("delta")
    lives_before = row.get("open_lives_before")
    if not tops or not _known(delta) or float(delta) <= 0 or not _known(lives_before):
        return None
    listed = parse_streamers(row.get("top_streamers_before"))
    lead = tops[0]
    new = not _known(lead.get("viewers_before")) and not lead.get("category_before")
    complete = int(lives_before) <= len(listed)
    if not (new and complete) or lead["viewers"] < LEAD_SHARE * float(delta):
        return None
    return None if _lives_rose(row, cfg) or _others_rose(tops, row, cfg) else lead


def demote_going_live(events: pd.DataFrame, cfg: DetectionConfig) -> pd.DataFrame:
    """LEARNED SPIKE rows whose rise is one streamer going live (`went_live`) become CANDIDATEs,
    the reason added to their candidate_reasons."""
    if events.empty:
        return events
    out = events.copy()
    if "candidate_reasons" not in out:
        out["candidate_reasons"] = None
    levels, reasons = list(out["level"]), list(out["candidate_reasons"])
    for i, row in enumerate(out.to_dict("records")):
        if row["detector"] != "LEARNED" or row["level"] != "SPIKE":
            continue
        lead = went_live(row, cfg)
        if lead is None:
            continue
        why = (
            f"{GOING_LIVE}: {lead.get('channel_name') or lead['channel_id']} was not live here an "
            f"hour ago and has {lead['viewers']} viewers; the category rose by "
            f"{float(row['delta']):.0f}"
        )
        levels[i] = "CANDIDATE"
        reasons[i] = json.dumps([*_reason_list(reasons[i]), why], ensure_ascii=False)
    out["level"], out["candidate_reasons"] = levels, reasons
    return out


def is_going_live(candidate_reasons) -> bool:
    """Whether an event's candidate_reasons (JSON list, or a list) say it is one streamer going
    live (`demote_going_live`)."""
    items = _reason_list(candidate_reasons)
    return bool(items) and str(items[-1]).startswith(GOING_LIVE + ":")


def _reason_list(text) -> list:
    """candidate_reasons as a list (a JSON list, a list, or nothing)."""
    if isinstance(text, list):
        return text
    try:
        items = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return [text]
    return items if isinstance(items, list) else [items]


_REASONS = ("person_gate", "spike", "rise", "top_delta", "top_ratio")  # in this order
_FLAGS = ("rise_ok", "top_delta", "top_ratio")  # the columns of the last three


def add_levels(rows: pd.DataFrame, cfg: DetectionConfig) -> pd.DataFrame:
    """Add level and candidate_reasons (rows meeting the SPIKE rules need their cause).

    Set-wise: each row's reasons are the bits of one code, and each code's JSON text is made
    once (a V3 day has thousands of rows and a handful of distinct reason lists)."""
    out = rows.copy()
    spike = rows["spike_ok"].to_numpy(dtype=bool)
    gated = np.zeros(len(rows), dtype=bool)
    if "cause" in rows:  # a PERSON_ISSUE SPIKE needs a stronger rise
        strong = (rows["growth_ratio"] >= cfg.person_growth) & (
            rows["delta"] >= rows["person_required_delta"]
        )
        gated = spike & (rows["cause"] == PERSON).to_numpy(dtype=bool) & ~strong.to_numpy(bool)
    spike = spike & ~gated
    flags = (gated, spike, *(rows[c].to_numpy(dtype=bool) for c in _FLAGS))
    code = sum(f.astype(np.int64) << i for i, f in enumerate(flags))
    text = {c: json.dumps([n for i, n in enumerate(_REASONS) if c >> i & 1]) for c in set(code)}
    out["level"] = ["SPIKE" if s else "CANDIDATE" for s in spike]
    out["candidate_reasons"] = [text[c] for c in code]
    return out


def classify(rows: pd.DataFrame, cfg: DetectionConfig) -> pd.DataFrame:
    """Causes, then levels."""
    return add_levels(add_causes(rows, cfg), cfg)
