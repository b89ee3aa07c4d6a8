"""A graphql-ws client (the library Apollo and GraphiQL use), on Node with `ws`, receives
events with its token in connection_init. Skipped where Node or its registry is missing."""

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.databases import DatabaseUnderTest
from tests.factories import Member
from tests.live_server import http_client, live_server
from tests.subscription_helpers import FAST, create_task

SCRIPT = """
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');
const [url, token, count] = process.argv.slice(2);
let seen = 0;
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});
client.subscribe(
  { query: 'subscription { taskEvents { action task { title } } }' },
  {
    next: (value) => {
      console.log(JSON.stringify(value));
      if (++seen >= Number(count)) { client.dispose(); process.exit(0); }
    },
    error: (error) => { console.error(JSON.stringify(error)); process.exit(1); },
    complete: () => process.exit(2),
  },
);
"""


@pytest.fixture(scope="session")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed")
    directory = tmp_path_factory.mktemp("graphql-ws-client")
    installed = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "graphql-ws@5", "ws@8", "graphql@16"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if installed.returncode != 0:
        pytest.skip(f"npm could not install graphql-ws: {installed.stderr.strip()[-200:]}")
    script = directory / "subscribe.js"
    script.write_text(SCRIPT)
    return script


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_graphql_ws_client_receives_events(
    node_client: Path, database: DatabaseUnderTest, member: Member
) -> None:
    async with live_server(database.settings(**FAST)) as server:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(node_client),
            server.ws_url,
            member.token,
            "2",
            cwd=node_client.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
            assert first == {"connected": True}
            await asyncio.sleep(0.5)  # the subscribe message follows the acknowledgement
            async with http_client(server, member.token) as gql:
                await create_task(gql, "seen by node")
                await create_task(gql, "and again")
            lines = [
                json.loads(await asyncio.wait_for(proc.stdout.readline(), 20)) for _ in range(2)
            ]
            assert await asyncio.wait_for(proc.wait(), 20) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert [line["data"]["taskEvents"]["task"]["title"] for line in lines] == [
        "seen by node",
        "and again",
    ]
