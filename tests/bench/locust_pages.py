"""Locust users for bench_pages: each opens the pages staff open most in turn (its session cookie per page's role),
with a pause between clicks (BENCH_PAGES_WAIT seconds, "1,2": far busier than a clerk reading a page)."""
import ast
import itertools
import os
import random

from locust import HttpUser, between, task

PLAN = ast.literal_eval(os.environ["BENCH_PAGES_PLAN"])  # [(page name, session cookie, [URL, …]), …]
WAIT = [float(x) for x in os.environ.get("BENCH_PAGES_WAIT", "1,2").split(",")]


class Staff(HttpUser):
    wait_time = between(*WAIT)

    def on_start(self):
        start = random.randrange(len(PLAN))  # the users spread over the pages, not all on the same one
        self.turns = itertools.islice(itertools.cycle(
            (name, cookie, url) for name, cookie, urls in PLAN for url in urls), start, None)

    @task
    def open_page(self):
        name, cookie, url = next(self.turns)
        with self.client.get(url, headers={"Cookie": cookie}, name=name, allow_redirects=False,
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
