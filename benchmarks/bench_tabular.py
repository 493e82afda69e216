"""TabularAE on a real mixed table: held-out reconstruction and anomaly ROC-AUC.

Run as ``python benchmarks/bench_tabular.py`` (``--seeds 0 1 2`` to choose
the splits; needs ``palmerpenguins``).

The Palmer penguins (333 complete rows): numeric ``bill_length_mm``,
``bill_depth_mm``, ``flipper_length_mm``, ``body_mass_g`` and ``year``;
categorical ``species``, ``island`` and ``sex``. Each seed holds out a
random fifth of the rows; :class:`~skae.TabularAE` with its defaults is
fitted on the rest, and its reconstructions of the held-out rows are
compared with

* the constant predictors: the most frequent training category of each
  categorical column, the training mean of each numeric one;
* PCA with the same number of components on the one-hot categories and the
  standardised numbers, decoded and read back (argmax per categorical
  block), the linear counterpart.

Numeric MSE is in training standard deviations; accuracy is averaged over
the three categorical columns. Anomalies are the held-out rows corrupted in
one of two ways, each scored against the same rows intact (ROC-AUC):

* ``species``: the species swapped for another one, inconsistent with the
  island, the sex and the measurements;
* ``shift``: one numeric column (at random) moved by 4 standard deviations
  (up or down at random).

:class:`~skae.AutoEncoderOutlierDetector` (defaults) over a default
``TabularAE``, against :class:`~sklearn.ensemble.IsolationForest` on the
one-hot and standardised data, both fitted on the training rows.

A second table checks that the defaults hold beyond 333 rows: 5,000
synthetic rows of six numeric and three categorical columns, all driven by
two latent factors (``synthetic_table``).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from skae import AutoEncoderOutlierDetector, TabularAE

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
CATEGORICAL = ["species", "island", "sex"]
SHIFT_SD = 4.0


def load_penguins() -> pd.DataFrame:
    """The complete rows of the Palmer penguins, categorical columns as ``category``."""
    import palmerpenguins

    data = palmerpenguins.load_penguins().dropna().reset_index(drop=True)
    return data.astype({c: "category" for c in CATEGORICAL})


def synthetic_table(n=5000, seed=0) -> tuple[pd.DataFrame, list, list]:
    """``n`` rows of six numeric and three categorical columns driven by two latent factors."""
    rng = np.random.RandomState(seed)
    z = rng.randn(n, 2)
    weights = rng.randn(2, 6)
    numeric = z @ weights + 0.3 * rng.randn(n, 6)
    frame = pd.DataFrame(numeric * [1, 10, 100, 0.1, 5, 1] + [0, 50, 1000, 0, 0, -3])
    frame.columns = [f"num{i}" for i in range(6)]
    frame["quadrant"] = np.where(z[:, 0] > 0, "east", "west")
    frame["band"] = pd.cut(z[:, 1], [-np.inf, -0.8, 0, 0.8, np.inf], labels=list("abcd"))
    frame["noisy"] = np.where(rng.rand(n) < 0.8, frame["quadrant"], "other")
    frame = frame.astype({c: "category" for c in ("quadrant", "band", "noisy")})
    return frame, list(frame.columns[:6]), ["quadrant", "band", "noisy"]


def _one_hot_scaled(train, frames, numeric, categorical):
    """Standardised numbers and one-hot categories (training statistics), as arrays."""
    mean, std = train[numeric].mean(), train[numeric].std(ddof=0).replace(0, 1)
    categories = [train[c].cat.categories for c in categorical]
    out = []
    for frame in frames:
        parts = [((frame[numeric] - mean) / std).to_numpy(float)]
        for c, cats in zip(categorical, categories):
            parts.append((frame[c].to_numpy()[:, None] == np.asarray(cats)[None]).astype(float))
        out.append(np.hstack(parts))
    return out, mean, std, categories


def corrupt(test, kind, rng, numeric, categorical, std):
    """The held-out rows with one value each made inconsistent (see the module docstring)."""
    bad = test.copy()
    if kind == "species":
        column = categorical[0]
        cats = list(test[column].cat.categories)
        values = [rng.choice([c for c in cats if c != v]) for v in test[column]]
        bad[column] = pd.Categorical(values, categories=cats)
    else:
        columns = rng.randint(len(numeric), size=len(test))
        signs = rng.choice([-1.0, 1.0], size=len(test))
        for i, (j, s) in enumerate(zip(columns, signs)):
            name = numeric[j]
            bad.loc[bad.index[i], name] = test[name].iloc[i] + s * SHIFT_SD * std[name]
    return bad


def evaluate(data, seed, numeric=NUMERIC, categorical=CATEGORICAL, fraction=0.2):
    """Every number of one seed's split, as a dict (see the module docstring)."""
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(data))
    n_test = int(round(fraction * len(data)))
    data = data.astype({c: float for c in numeric})  # a shift may leave an integer column
    test, train = data.iloc[order[:n_test]], data.iloc[order[n_test:]]
    result = {}
    begin = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = TabularAE(random_state=seed).fit(train)
    result["fit_s"] = time.perf_counter() - begin
    rec = ae.reconstruct(test)
    (A_train, A_test), mean, std, categories = _one_hot_scaled(
        train, [train, test], numeric, categorical
    )

    def numeric_mse(values):
        return float(np.mean(((values - test[numeric].to_numpy(float)) / std.to_numpy()) ** 2))

    result["num_mse"] = numeric_mse(rec[numeric].to_numpy(float))
    result["num_mse_mean"] = numeric_mse(np.broadcast_to(mean.to_numpy(), (n_test, len(numeric))))
    result["cat_accuracy"] = float(np.mean([np.mean(rec[c] == test[c]) for c in categorical]))
    result["cat_accuracy_mode"] = float(
        np.mean([np.mean(test[c] == train[c].mode()[0]) for c in categorical])
    )
    pca = PCA(ae.n_components_).fit(A_train)
    decoded = pca.inverse_transform(pca.transform(A_test))
    result["num_mse_pca"] = numeric_mse(
        decoded[:, : len(numeric)] * std.to_numpy() + mean.to_numpy()
    )
    start, hits = len(numeric), []
    for c, cats in zip(categorical, categories):
        block = decoded[:, start : start + len(cats)]
        hits.append(np.mean(np.asarray(cats)[block.argmax(axis=1)] == test[c].to_numpy()))
        start += len(cats)
    result["cat_accuracy_pca"] = float(np.mean(hits))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector = AutoEncoderOutlierDetector(TabularAE(), random_state=seed).fit(train)
    baselines = {name: make(seed).fit(A_train) for name, make in BASELINES.items()}
    for kind in ("species", "shift"):
        bad = corrupt(test, kind, np.random.RandomState(seed + 1), numeric, categorical, std)
        (A_bad,), *_ = _one_hot_scaled(train, [bad], numeric, categorical)
        labels = np.r_[np.zeros(n_test), np.ones(n_test)]
        scores = np.r_[detector.score_samples(test), detector.score_samples(bad)]
        result[f"auc_{kind}"] = roc_auc_score(labels, -scores)
        for name, model in baselines.items():
            outlying = np.r_[_outlying(model, A_test), _outlying(model, A_bad)]
            result[f"auc_{kind}_{name}"] = roc_auc_score(labels, outlying)
    return result


def _outlying(model, A):
    """Anomaly scores, higher for more anomalous rows (sklearn's and PyOD's conventions)."""
    if hasattr(model, "decision_scores_"):  # PyOD: decision_function grows with outlyingness
        return model.decision_function(A)
    return -model.score_samples(A)


# Detectors on the one-hot categories and the standardised numbers, at their
# libraries' defaults: IsolationForest, and PyOD's where it is installed.
BASELINES = {"iforest": lambda seed: IsolationForest(random_state=seed)}
try:
    from pyod.models.auto_encoder import AutoEncoder as PyODAutoEncoder
    from pyod.models.ecod import ECOD
    from pyod.models.vae import VAE as PyODVAE
except ImportError:  # pragma: no cover - the bench extra installs PyOD
    pass
else:
    BASELINES.update(
        {
            "pyod_ae": lambda seed: PyODAutoEncoder(random_state=seed, device="cpu", verbose=0),
            "pyod_vae": lambda seed: PyODVAE(random_state=seed, device="cpu", verbose=0),
            "ecod": lambda seed: ECOD(),
        }
    )
BASELINE_NAMES = {
    "iforest": "IForest",
    "pyod_ae": "PyOD AE",
    "pyod_vae": "PyOD VAE",
    "ecod": "ECOD",
}


def _report(name, results):
    print(f"\n{name}")
    print(
        f"{'seed':>4}  {'cat acc':>7}  {'mode':>5}  {'PCA':>5}  {'num MSE':>7}  {'mean':>5}  "
        f"{'PCA':>5}  {'AUC species':>11}  {'IForest':>7}  {'AUC shift':>9}  {'IForest':>7}  "
        f"{'fit s':>5}"
    )
    for seed, r in results:
        print(
            f"{seed:>4}  {r['cat_accuracy']:>7.3f}  {r['cat_accuracy_mode']:>5.3f}  "
            f"{r['cat_accuracy_pca']:>5.3f}  {r['num_mse']:>7.3f}  {r['num_mse_mean']:>5.3f}  "
            f"{r['num_mse_pca']:>5.3f}  {r['auc_species']:>11.3f}  "
            f"{r['auc_species_iforest']:>7.3f}  {r['auc_shift']:>9.3f}  "
            f"{r['auc_shift_iforest']:>7.3f}  {r['fit_s']:>5.1f}"
        )
    m = {k: np.mean([r[k] for _, r in results]) for k in results[0][1]}
    print(
        f"{'mean':>4}  {m['cat_accuracy']:>7.3f}  {m['cat_accuracy_mode']:>5.3f}  "
        f"{m['cat_accuracy_pca']:>5.3f}  {m['num_mse']:>7.3f}  {m['num_mse_mean']:>5.3f}  "
        f"{m['num_mse_pca']:>5.3f}  {m['auc_species']:>11.3f}  {m['auc_species_iforest']:>7.3f}  "
        f"{m['auc_shift']:>9.3f}  {m['auc_shift_iforest']:>7.3f}  {m['fit_s']:>5.1f}"
    )
    header = "".join(f"{BASELINE_NAMES[b]:>10}" for b in BASELINES)
    print(f"anomaly ROC-AUC, mean over seeds:  {'skae':>8}{header}")
    for kind in ("species", "shift"):
        row = "".join(f"{m[f'auc_{kind}_{b}']:>10.3f}" for b in BASELINES)
        print(f"  {kind:<32}{m[f'auc_{kind}']:>8.3f}{row}")
    print(
        f"ratios: numeric MSE {m['num_mse'] / m['num_mse_mean']:.2f}x the mean's, "
        f"{m['num_mse'] / m['num_mse_pca']:.2f}x PCA's; categorical errors "
        f"{(1 - m['cat_accuracy']) / (1 - m['cat_accuracy_mode']):.2f}x the mode's, "
        f"{(1 - m['cat_accuracy']) / max(1e-9, 1 - m['cat_accuracy_pca']):.2f}x PCA's"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small models: one thread is as fast and shares the machine
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread; held-out fifth of the rows per seed"
    )
    begin = time.perf_counter()
    penguins = load_penguins()
    _report(f"penguins ({len(penguins)} rows)", [(s, evaluate(penguins, s)) for s in args.seeds])
    table, numeric, categorical = synthetic_table()
    _report(
        f"synthetic ({len(table)} rows)",
        [(s, evaluate(table, s, numeric, categorical)) for s in args.seeds[:2]],
    )
    print(f"whole run: {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
