"""`python -m kafkalab …` is the `kafkalab` command."""

from kafkalab.cli import main

if __name__ == "__main__":
    main(prog_name="kafkalab")
