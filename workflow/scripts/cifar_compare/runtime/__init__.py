"""What a running job needs: logs, signals and resume, GPU slots, hardware, resources."""
