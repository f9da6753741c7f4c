"""The value-loss decision tree, scored in plain Python from its readable file (`menus/churn_tree.json`, written
by `shortcode churn train`): `serve` and the workers never import scikit-learn. Each score keeps its reasons,
the features on the tree's path with the subscriber's own values, rendered in the agent's language."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from bot.engine.text import Number, T, Verbatim
from jobs.churn_features import FEATURES

TREE_FILE = Path(__file__).resolve().parent.parent / "menus" / "churn_tree.json"
ZONES = ("blue", "green", "yellow", "red", "white")
SPEND_CHANGE = FEATURES.index("spend_change_pct")
Reason = tuple[str, float]  # (feature, the subscriber's value)


def N_(msgid: str) -> str:
    """Marks a message id for extraction (babel's default keyword); translated when rendered."""
    return msgid


@dataclass(frozen=True)
class Thresholds:
    """Score bounds of the zones ([churn] in config.toml): red at or above `red`, yellow at or above `yellow`,
    green at or above `green`; below it blue, or green when spend is falling. White is decided before."""

    red: float = 0.6
    yellow: float = 0.35
    green: float = 0.15


class Tree:
    """The tree as flat tuples (feature index, threshold, left, right, score): a loop, no recursion."""

    def __init__(self, data: dict) -> None:
        index = {name: i for i, name in enumerate(FEATURES)}
        unknown = {n["feature"] for n in data["nodes"] if "feature" in n} - set(index)
        if unknown or data["features"] != list(FEATURES):
            raise ValueError(f"the tree names features this code does not compute: {sorted(unknown)}")
        self.nodes = [(index[n["feature"]], n["le"], n["yes"], n["no"], 0.0) if "feature" in n
                      else (-1, 0.0, 0, 0, n["score"]) for n in data["nodes"]]

    @classmethod
    def load(cls, path: Path = TREE_FILE) -> Tree:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def score(self, row: Sequence[float]) -> tuple[float, list[Reason]]:
        """The leaf's share of value lost, and the path's features with this row's values (each once)."""
        nodes, node, reasons, seen = self.nodes, 0, [], set()
        feature, threshold, yes, no, score = nodes[0]
        while feature >= 0:
            if feature not in seen:
                seen.add(feature)
                reasons.append((FEATURES[feature], row[feature]))
            node = yes if row[feature] <= threshold else no
            feature, threshold, yes, no, score = nodes[node]
        return score, reasons

    def compiled(self) -> Callable[[Sequence[float]], tuple[float, str]]:
        """The tree as one Python function of nested ifs, built once: a row's score and its reasons as kept
        (`keep_reasons`) for ~1 µs, where walking the nodes and joining the reasons costs several."""
        namespace: dict = {}
        exec(compile("\n".join(["def scored(r):", *self._source(0, 1, ())]), "<churn tree>", "exec"), namespace)
        return namespace["scored"]

    def _source(self, node: int, depth: int, path: tuple[int, ...]) -> list[str]:
        """Lines of the subtree at `node`; `path` holds the features seen above it, each once, in order."""
        feature, threshold, yes, no, score = self.nodes[node]
        pad = "    " * depth
        if feature < 0:
            kept = ";".join(f"{FEATURES[f]}={{r[{f}]:g}}" for f in path)
            return [f"{pad}return {score!r}, f{kept!r}"]
        path = path if feature in path else (*path, feature)
        return [f"{pad}if r[{feature}] <= {threshold!r}:", *self._source(yes, depth + 1, path),
                f"{pad}else:", *self._source(no, depth + 1, path)]


def zone(score: float, row: Sequence[float], is_dormant: bool, limits: Thresholds) -> str:
    """The warning zone: white for the dormant, then by score; blue only for stable or rising spend."""
    if is_dormant:
        return "white"
    if score >= limits.red:
        return "red"
    if score >= limits.yellow:
        return "yellow"
    if score >= limits.green or row[SPEND_CHANGE] < 0:
        return "green"
    return "blue"


def reason_text(feature: str, value: float) -> T:
    """One reason in words an agent understands; the sign picks the phrase, the number is shown unsigned
    (`{pct}` as "42%": a bare % in a message id reads to gettext tools as a printf placeholder)."""
    size = abs(int(round(value)))
    if feature in SIGNED:
        down, up, flat = SIGNED[feature]
        msgid = down if value < 0 else up if value > 0 else flat
    else:
        msgid = LEVELS[feature]
    return T(msgid, pct=Verbatim(f"{size}%"), n=Number(size)) if "{pct}" in msgid else T(msgid, n=Number(size))


def keep_reasons(reasons: list[Reason]) -> str:
    """The reasons as kept in `churn_score.reasons`: "spend_change_pct=-42;offnet_pct=35" (cheaper to write a
    million times than JSON)."""
    return ";".join(f"{feature}={value:g}" for feature, value in reasons)


def kept_reasons(text: str) -> list[Reason]:
    return [(feature, float(value)) for feature, value in (pair.split("=") for pair in text.split(";") if pair)]


def explain(reasons: str | list[Reason], lang: str, catalogs) -> str:
    """A score's reasons (as kept, or the list) in the agent's language, one line:
    "spend down 42% over 3 months; calls to other networks 35%"."""
    pairs = kept_reasons(reasons) if isinstance(reasons, str) else reasons
    return SEPARATOR.get(lang, "; ").join(catalogs.render(lang, reason_text(f, v)) for f, v in pairs)


SEPARATOR = {"zh_Hans": "；"}
SIGNED = {
    "spend_change_pct": (N_("spend down {pct} over 3 months"), N_("spend up {pct} over 3 months"),
                         N_("spend steady over 3 months")),
    "spend_mom_pct": (N_("spend down {pct} on the month before"), N_("spend up {pct} on the month before"),
                      N_("spend steady on the month before")),
    "offnet_change_pts": (N_("calls to other networks down {n} points"),
                          N_("calls to other networks up {n} points"), N_("calls to other networks steady")),
    "active_change": (N_("{n} fewer active days than 3 months ago"), N_("{n} more active days than 3 months ago"),
                      N_("as many active days as 3 months ago")),
    "topup_change_pct": (N_("top-ups down {pct} over 3 months"), N_("top-ups up {pct} over 3 months"),
                         N_("top-ups steady over 3 months")),
    "data_change_pct": (N_("data down {pct} over 3 months"), N_("data up {pct} over 3 months"),
                        N_("data steady over 3 months")),
}
LEVELS = {
    "arpu_yuan": N_("spends ¥{n} a month"),
    "offnet_pct": N_("calls to other networks {pct}"),
    "active_days": N_("active {n} days last month"),
    "complaints": N_("{n} complaints in 3 months"),
    "arrears_days": N_("{n} days in arrears last month"),
    "tenure_months": N_("a customer for {n} months"),
}
