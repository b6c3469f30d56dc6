"""Check config files before Snakemake reads them (an explicit user action):

    python workflow/scripts/check_config.py OVERLAY.yaml ...   (make check-config CONFIG=...)

Snakemake merges --configfile files into one config while parsing its command line,
before the workflow runs, and that merge copies every mapping, expanding YAML aliases
of mappings: a file of a few hundred bytes can take gigabytes there (docs/security.md:
Config files). This reads them as YAML nodes, as the workflow does, and expands nothing.
"""

import sys

from cifar_compare.config import ConfigError, load_study_config

if __name__ == "__main__":
    try:
        load_study_config(sys.argv[1:])
    except ConfigError as error:
        sys.exit(f"invalid configuration, {error}")
    print(f"valid: config/config.yaml with {', '.join(sys.argv[1:]) or 'nothing'} on top")
