"""PNG plots: per-type accuracy with controls (grouped bars, CI whiskers) and VoE surprise curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def accuracy_bars(series: dict[str, dict], path: Path, title: str) -> Path:
    """``series``: condition -> ``{"overall": {...}, "by_type": {t: {"accuracy", "ci"}}}``; one bar group per type."""
    types = sorted({t for s in series.values() for t in s.get("by_type", {})}) + ["overall"]
    names = list(series)
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(types))  # (n_types,)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(types) + 2), 4.0))
    for k, name in enumerate(names):
        entries = [
            series[name]["overall"] if t == "overall" else series[name].get("by_type", {}).get(t)
            for t in types
        ]
        acc = np.array([e["accuracy"] if e else np.nan for e in entries], dtype=float)  # (n_types,)
        lo = np.array([e["ci"][0] if e and "ci" in e else np.nan for e in entries], dtype=float)
        hi = np.array([e["ci"][1] if e and "ci" in e else np.nan for e in entries], dtype=float)
        yerr = np.nan_to_num(np.stack([acc - lo, hi - acc]), nan=0.0)  # (2, n_types)
        ax.bar(x + (k - (len(names) - 1) / 2) * width, acc, width, yerr=yerr, capsize=2, label=name)
    ax.set_xticks(x, types, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def surprise_curves(rows: list[dict], path: Path, title: str) -> Path:
    """Mean surprise curve per violation kind, possible vs impossible, with the mean event frame marked."""
    kinds = sorted({r["kind"] for r in rows})
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        sel = [r for r in rows if r["kind"] == kind]
        for key, colour in (("possible", "tab:blue"), ("impossible", "tab:red")):
            n = min(len(r[f"{key}_curve"]) for r in sel)
            curves = np.array([r[f"{key}_curve"][:n] for r in sel], dtype=float)  # (pairs, n)
            mean = curves.mean(axis=0)
            ax.plot(np.arange(n), mean, color=colour, label=key)
            if len(sel) > 1:
                sd = curves.std(axis=0)
                ax.fill_between(np.arange(n), mean - sd, mean + sd, color=colour, alpha=0.15)
        ax.axvline(
            float(np.mean([r.get("event_step", 0) for r in sel])), color="grey", ls="--", lw=1, label="event"
        )
        ax.set_title(f"{kind} (n={len(sel)})")
        ax.set_xlabel("predicted time step")
        ax.set_ylabel("surprise")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
