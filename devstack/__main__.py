"""`python -m devstack run` (what `make run` calls) and `python -m devstack env`."""

import argparse

from devstack.supervisor import exit_now, print_env, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "env"],
                        help="run: the stack, the worker and the API; env: the variables of the running stack")
    args = parser.parse_args()
    exit_now(run() if args.command == "run" else print_env())


if __name__ == "__main__":
    main()
