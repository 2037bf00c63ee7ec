"""Locust load test for spinfer (PyPI `locust`): the seed's test — users that POST a photo
to the classify API as fast as answers come back — pointed at spinfer's raw API
(`/classify`) and its page API (`/api/classify`, frontend → classify).

    .venv/bin/locust -f loadtest/locustfile.py --headless -u 8 -r 8 -t 30s \
        --host http://127.0.0.1:3000

Environment:
  SPINFER_PATHS  comma-separated paths, one task each, equal weight
                 (default "/classify,/api/classify")
  SPINFER_IMAGE  the photo to send (default static/samples/grace_hopper.jpg)

No wait time between requests: every user is a closed loop, as oha's `-c N` is, so the
two generators can be compared at the same concurrency (`loadtest/report.py locust`).
FastHttpUser (geventhttpclient) rather than HttpUser (requests): on a 2-core machine the
generator shares the CPU with the server, and it costs several times less per request.
A response counts as a success only when it is a 200 whose JSON has predictions; a 503
from the admission queue is a failure named "503".
"""
import os

from locust import FastHttpUser, constant

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.environ.get("SPINFER_IMAGE", os.path.join(ROOT, "static/samples/grace_hopper.jpg"))
PATHS = [p.strip() for p in os.environ.get("SPINFER_PATHS", "/classify,/api/classify").split(",") if p.strip()]
with open(IMAGE, "rb") as fh:
    BODY = fh.read()
HEADERS = {"content-type": "application/octet-stream"}


def _task(path):
    def run(user):
        user.post(path)
    run.__name__ = "post_" + path.strip("/").replace("/", "_")
    return run


class ClassifyUser(FastHttpUser):
    wait_time = constant(0)
    tasks = [_task(p) for p in PATHS]

    def post(self, path):
        with self.client.post(path, data=BODY, headers=HEADERS, name=path, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(str(r.status_code))
                return
            try:
                predictions = r.json()["predictions"]
            except (ValueError, KeyError, TypeError):
                r.failure("200 without predictions")
                return
            if not predictions:
                r.failure("empty predictions")

