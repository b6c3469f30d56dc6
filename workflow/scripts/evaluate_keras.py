"""Evaluate one Keras checkpoint on the test set (cifar_compare.evaluation); Snakemake glue."""

from cifar_compare.evaluation import evaluate_job
from cifar_compare.keras.adapter import Keras

if __name__ == "__main__":
    evaluate_job(snakemake, Keras())
