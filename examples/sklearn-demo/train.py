"""Trains a decision tree on scikit-learn's breast-cancer data and logs it to Trackway.

`trackway run` starts this with TRACKWAY_RUN_ID set, so `trackway.start_run()` attaches to
the run it created. Run directly (`python train.py --max-depth 5`), it starts a run of its
own in TRACKWAY_TRACKING_URI's server.

Logged: the parameters, accuracy, precision, recall and F1 on a held-out quarter of the
data, a confusion-matrix and a ROC-curve PNG (under `plots/`), and the model (under
`model/`, with an input example and its signature), ready to register and serve.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")  # before pyplot loads: no display, figures only go to files

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    RocCurveDisplay,
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
)
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

import trackway
from trackway import models

# Fixed so that two runs with the same parameters give the same split and the same tree.
SEED = 42
TEST_SIZE = 0.25


def main() -> None:
    args = _arguments()
    # Shipped with scikit-learn: nothing is downloaded. 569 tumours, 30 numeric features,
    # target 0 (malignant) or 1 (benign).
    data = load_breast_cancer(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=TEST_SIZE, random_state=SEED, stratify=data.target
    )
    tree = DecisionTreeClassifier(
        max_depth=args.max_depth, max_leaf_nodes=args.max_leaf_nodes, random_state=SEED
    )

    with trackway.start_run() as run:
        trackway.log_params(
            {
                "max_depth": args.max_depth,
                "max_leaf_nodes": args.max_leaf_nodes,
                "dataset": "sklearn.datasets.load_breast_cancer",
                "test_size": TEST_SIZE,
                "random_state": SEED,
            }
        )
        tree.fit(x_train, y_train)
        predicted = tree.predict(x_test)
        scores = {
            "accuracy": accuracy_score(y_test, predicted),
            "precision": precision_score(y_test, predicted),
            "recall": recall_score(y_test, predicted),
            "f1": f1_score(y_test, predicted),
        }
        trackway.log_metrics({name: float(value) for name, value in scores.items()})

        confusion = ConfusionMatrixDisplay.from_predictions(
            y_test, predicted, display_labels=list(data.target_names)
        )
        confusion.ax_.set_title("Confusion matrix (test set)")
        trackway.log_figure(confusion.figure_, "plots/confusion_matrix.png")
        roc = RocCurveDisplay.from_estimator(tree, x_test, y_test)
        roc.ax_.plot([0, 1], [0, 1], linestyle="--", color="grey")  # a coin toss
        roc.ax_.set_title("ROC curve (test set)")
        trackway.log_figure(roc.figure_, "plots/roc_curve.png")
        plt.close("all")

        # The signature says what the scoring server accepts: these 30 named float
        # columns, answered by one integer class per row.
        models.log_model(
            tree,
            name="model",
            input_example=x_test.head(5),
            signature=models.infer_signature(x_test, predicted),
        )
        summary = ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
        print(f"run {run.run_id}: {summary}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-depth", type=int, required=True)
    parser.add_argument("--max-leaf-nodes", type=int, default=32)
    return parser.parse_args()


if __name__ == "__main__":
    main()
