"""Training the value-loss tree with scikit-learn (the optional `ml` extra) and writing it as readable data.
Only `shortcode churn train` imports this module; scoring reads the file in plain Python (jobs/churn_tree.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from jobs.churn_eval import Labelled
from jobs.churn_features import FEATURES, features

DEPTH = 5  # deep enough for the patterns, shallow enough that a path reads as a sentence
MIN_LEAF = 0.01  # a leaf holds at least this share of the training rows: no leaf for a handful of numbers


def fit(rows: Iterable[Labelled], depth: int = DEPTH, min_leaf: float = MIN_LEAF):
    """The fitted DecisionTreeClassifier and its feature rows (so a test can compare predictions)."""
    from sklearn.tree import DecisionTreeClassifier

    x, y = [], []
    for row in rows:
        x.append(features(row.months))
        y.append(int(row.lost))
    if len(set(y)) < 2:
        raise ValueError(f"{len(y)} labelled subscribers, all {'lost' if y and y[0] else 'kept'}: nothing to learn")
    model = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=max(1, int(len(y) * min_leaf)),
                                   random_state=0).fit(x, y)
    return model, x


def tree_data(model, month: str, rows: int) -> dict:
    """The tree as nodes a reader can follow: a split sends `feature <= le` to `yes`, else to `no`; a leaf's
    `score` is the share of its training subscribers who lost value."""
    t, nodes = model.tree_, []
    lost = list(model.classes_).index(1)
    for i in range(t.node_count):
        if t.children_left[i] == -1:
            counts = t.value[i][0]
            nodes.append({"id": i, "score": round(float(counts[lost] / counts.sum()), 4),
                          "n": int(t.n_node_samples[i])})
        else:
            nodes.append({"id": i, "feature": FEATURES[t.feature[i]], "le": float(t.threshold[i]),
                          "yes": int(t.children_left[i]), "no": int(t.children_right[i])})
    return {"model": "value-loss decision tree (scikit-learn DecisionTreeClassifier)", "scoring_month": month,
            "trained_on": rows, "features": list(FEATURES), "nodes": nodes}


def write(data: dict, path: Path) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
