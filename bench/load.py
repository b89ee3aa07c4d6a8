"""A load generator, run as its own process: N concurrent clients for a fixed time.

Prints one JSON object: requests, errors, latencies in milliseconds. Every request
goes to the loopback address given; the loop is bounded in time and stops by itself.
"""

import argparse
import asyncio
import json
import sys
import time

import httpx


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    payload = json.loads(sys.stdin.read())
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    body = json.dumps(payload).encode()
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        deadline = time.perf_counter() + args.seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(args.url, content=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200 or b'"errors"' in response.content:
                    errors += 1
                latencies.append(elapsed)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - started
    print(json.dumps({"latencies_ms": latencies, "errors": errors, "wall_seconds": wall}))


if __name__ == "__main__":
    asyncio.run(main())
