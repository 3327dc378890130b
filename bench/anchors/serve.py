"""Serve one anchor exactly as `jalur api` serves Jalur: infra.runtime.tls.serve_https
(same TLS context, same uvicorn settings, one worker).

    ANCHOR_DATABASE_URL=... python bench/anchors/serve.py scan_anchor PORT CERT KEY
"""

import sys
from pathlib import Path

from infra.runtime.tls import serve_https


def main() -> None:
    module, port, cert, key = sys.argv[1:5]
    serve_https(
        f"{module}:create_app", "127.0.0.1", int(port), Path(cert), Path(key), trusted_proxies=[]
    )


if __name__ == "__main__":
    main()
