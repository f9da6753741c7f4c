"""Reading a /metrics answer in tests: samples by name and labels, summed over the labels not asked for."""
from __future__ import annotations

from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families


async def scrape(base: str, **headers: str) -> str:
    async with ClientSession() as http:
        async with http.get(base + "/metrics", headers=headers) as r:
            assert r.status == 200, await r.text()
            assert r.content_type == "text/plain"
            return await r.text()


def total(text: str, sample: str, **labels: str) -> float:
    """The sum of every sample named `sample` whose labels include `labels`."""
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))
