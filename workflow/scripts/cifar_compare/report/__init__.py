"""The report: summary statistics, tables, conclusions, provenance, template context."""
