"""Train one PyTorch model for one seed (cifar_compare.training); Snakemake glue."""

from cifar_compare.pytorch.adapter import PyTorch
from cifar_compare.training import train_job

if __name__ == "__main__":
    train_job(snakemake, PyTorch())
