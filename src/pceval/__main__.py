"""``python -m pceval`` runs the command-line interface."""

from pceval.cli import main

if __name__ == "__main__":
    main()
