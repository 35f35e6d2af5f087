"""Every benchmark of docs/performance.md, one after the other: the one command that reruns them.

    uv run python benchmarks/all.py [--pairs 5]

Each benchmark starts and stops its own services, so none shares the two cores with another.
Figures only: nothing here asserts.
"""

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ("end_to_end.py", "data_path.py", "growth.py", "serving.py", "compose_stack.py")
"""compose_stack.py last: it needs Docker, which a machine may lack."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="Rounds of each (default 5).")
    args = parser.parse_args()
    for name in BENCHMARKS:
        print(f"\n## {name} --pairs {args.pairs}\n", flush=True)
        subprocess.run([sys.executable, str(HERE / name), "--pairs", str(args.pairs)], check=True)


if __name__ == "__main__":
    main()
