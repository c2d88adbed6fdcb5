"""What a training run writes for people: MLflow metrics, the evaluation report, the snapshot."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Mapping, Sequence

from contracts import LABELS, Label, LabelMetrics
from services.training.data import LabelledTexts

__all__ = ["aucs", "evaluation_report", "flat_metrics", "snapshot_csv"]


def flat_metrics(metrics: Mapping[Label, LabelMetrics], prefix: str = "") -> dict[str, float]:
    flat = {
        f"{prefix}{label.value}.{name}": value
        for label, m in metrics.items()
        for name, value in m.model_dump().items()
    }
    flat[f"{prefix}mean.roc_auc"] = sum(m.roc_auc for m in metrics.values()) / len(metrics)
    return flat


def snapshot_csv(data: LabelledTexts) -> bytes:
    """The exact training set as gzipped Jigsaw-format CSV (empty cells: not labelled)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["comment_text", *[label.value for label in LABELS]])
    for text, row in zip(data.texts, data.labels.tolist(), strict=True):
        writer.writerow([text, *["" if value != value else int(value) for value in row]])
    return gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0)


def aucs(metrics: Mapping[Label, LabelMetrics]) -> dict[Label, float]:
    return {label: m.roc_auc for label, m in metrics.items()}


def evaluation_report(
    chosen: str,
    candidate: Mapping[Label, LabelMetrics],
    champion: Mapping[Label, LabelMetrics] | None,
    verdict: Sequence[str],
) -> bytes:
    lines = [f"# Evaluation on held-out rows\n\nchosen configuration: `{chosen}`\n"]
    lines.append("| label | candidate ROC AUC | champion ROC AUC | PR AUC | F1 | ECE |")
    lines.append("|---|---|---|---|---|---|")
    for label in LABELS:
        m = candidate[label]
        old = f"{champion[label].roc_auc:.4f}" if champion else "-"
        lines.append(
            f"| {label.value} | {m.roc_auc:.4f} | {old} "
            f"| {m.pr_auc:.4f} | {m.f1:.4f} | {m.ece:.4f} |"
        )
    lines.append("\n## Gate\n")
    lines.extend(f"- {reason}" for reason in verdict)
    return ("\n".join(lines) + "\n").encode()
