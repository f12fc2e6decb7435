"""``python -m flywheel`` runs the command line."""

from flywheel.cli import main

main(prog_name="flywheel")
