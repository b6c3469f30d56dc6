"""Train one Keras model for one seed (cifar_compare.training); Snakemake glue."""

from cifar_compare.keras.adapter import Keras
from cifar_compare.training import train_job

if __name__ == "__main__":
    train_job(snakemake, Keras())
