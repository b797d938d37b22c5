"""The benchmark's settings: the product's own, plus the bare baseline view.

`bench/run.py` serves the product with these settings, so every scenario (the baseline and the
product's endpoints) runs in the same processes, behind the same middleware, against the same
PostgreSQL and Redis. Nothing here changes how the product behaves.
"""

from artera.settings import *  # noqa: F403
from artera.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]
ROOT_URLCONF = "bench.urls"
