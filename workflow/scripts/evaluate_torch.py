"""Evaluate one PyTorch checkpoint on the test set (cifar_compare.evaluation); Snakemake glue."""

from cifar_compare.evaluation import evaluate_job
from cifar_compare.pytorch.adapter import PyTorch

if __name__ == "__main__":
    evaluate_job(snakemake, PyTorch())
