"""Framework-neutral helpers shared by the workflow scripts of cifar-compare."""
