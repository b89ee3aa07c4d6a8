"""GraphiQL served with its assets from this service, so it works offline and under a strict CSP."""

import re
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"

# Strawberry's page names these files on a public CDN.
_LOCAL_ASSETS = {
    "react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
}


def graphiql_html() -> str:
    html = get_graphql_ide_html(graphql_ide="graphiql")
    for cdn_path, local_name in _LOCAL_ASSETS.items():
        url = f"https://unpkg.com/{cdn_path}"
        if url not in html:
            raise RuntimeError(f"GraphiQL page no longer loads {url}: update _LOCAL_ASSETS")
        html = html.replace(url, f"{ASSETS_PATH}/{local_name}")
    # Same-origin files need no subresource integrity or CORS attributes.
    html = re.sub(r'\s+integrity="[^"]*"', "", html)
    return re.sub(r"\s+crossorigin(=\"[^\"]*\")?", "", html)
