"""`python -m app`: serve the playground on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT.

Defaults 127.0.0.1:7860. An explicit port is used as given: if it is busy the start fails
with a clear message instead of silently moving to another port.
"""

from __future__ import annotations

import os
import socket
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported


def main() -> None:
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    try:
        port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    except ValueError:
        sys.exit(
            f"GRADIO_SERVER_PORT must be a port number, got {os.environ['GRADIO_SERVER_PORT']!r}"
        )
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        sys.exit(f"cannot serve on {host}:{port}: {error.strerror or error}")

    import uvicorn

    from app.server import create_app

    print(f"Playground: http://{host}:{port}/", flush=True)
    # Open event streams would hold a graceful shutdown forever: give them 3 s.
    uvicorn.run(
        create_app(), host=host, port=port, log_level="warning", timeout_graceful_shutdown=3
    )


if __name__ == "__main__":
    main()
