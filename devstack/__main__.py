"""`python -m devstack run` (what `make run` calls), `python -m devstack env` and `python -m devstack psql`."""

import argparse

from devstack.supervisor import exit_now, print_env, psql, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "env", "psql"],
                        help="run: the stack, the worker and the API; env: the variables of the running stack; "
                             "psql: a psql session on its database (DATABASE_URL)")
    args = parser.parse_args()
    if args.command == "psql":
        psql()
    exit_now(run() if args.command == "run" else print_env())


if __name__ == "__main__":
    main()
