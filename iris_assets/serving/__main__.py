"""`python -m iris_assets.serving`: the model server without the CLI's other commands."""

import argparse
import logging

from iris_assets import serving, settings

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings.apply()
    parser = argparse.ArgumentParser(
        prog="python -m iris_assets.serving", description=serving.__doc__
    )
    serving.add_arguments(parser)
    serving.run(parser.parse_args())
