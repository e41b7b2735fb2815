"""The detached upload-triggered run: ``python -m moatmetrics.runs`` (`moatmetrics.upload_runs`).

It sits with the CLI, above the pipeline: it takes the run locks (`moatmetrics.run_lock`),
runs `moatmetrics run`, then settles uploads the warehouse already knew.
"""

from __future__ import annotations

import fcntl
import sys

from moatmetrics.cli import main as cli_main
from moatmetrics.run_lock import QUEUED_LOCK, pipeline_running_lock, take_lock
from moatmetrics.settings import ensure_home, get_settings
from moatmetrics.upload_runs import settle_known_uploads


def main() -> int:
    settings = get_settings()
    ensure_home(settings)
    queued = take_lock(settings.home / QUEUED_LOCK, blocking=False)
    if queued is None:
        print("a pipeline run is already queued; it will ingest this upload too", flush=True)
        return 0
    with pipeline_running_lock(settings):
        with queued:
            fcntl.flock(queued.fileno(), fcntl.LOCK_UN)
        code = cli_main(["run"])
        settled = settle_known_uploads(settings)
        if settled:
            print(f"{settled} upload(s) were already imported before", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
