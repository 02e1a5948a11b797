"""Command-line composition root: wires the stages together and owns nothing else."""
