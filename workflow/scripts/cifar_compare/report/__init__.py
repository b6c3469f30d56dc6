"""The report: summary statistics, tables, conclusions, provenance, template context."""

# The report's figures, in the order the report shows them (the first is page 1's chart);
# the plots rule writes each as <name>.png and <name>.svg, the template captions them.
FIGURES = (
    "accuracy_intervals",
    "learning_curves",
    "confusion_matrices",
    "per_class_accuracy",
    "accuracy_vs_cost",
    "reliability",
)
