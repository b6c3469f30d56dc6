"""Learning curves: the study trained at several training-set sizes."""
