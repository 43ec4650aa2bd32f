#!/usr/bin/env python3
"""A Confab bot in Python: answers "pong" to "ping" in every conversation it is in.

It talks to Confab with a plain Socket.IO client (python-socketio) and plain HTTP (requests), not
with Confab's TypeScript SDK: the protocol is Socket.IO events with JSON payloads (see API.md,
"Realtime (Socket.IO)").

    CONFAB_URL=http://localhost:3000 CONFAB_TOKEN=<bot token (cfb_…) or access token> python3 bot.py
    CONFAB_URL=http://localhost:3000 CONFAB_EMAIL=bot@example.com CONFAB_PASSWORD=... python3 bot.py

Needs: python3-socketio python3-websocket python3-requests (Debian), or
`pip install "python-socketio[client]" requests websocket-client`.
"""
import os
import signal
import sys
import uuid

import requests
import socketio

URL = os.environ.get("CONFAB_URL", "http://localhost:3000").rstrip("/")


def sign_in() -> str:
    """A token from the environment, or one from signing in with an e-mail address and password."""
    token = os.environ.get("CONFAB_TOKEN")
    if token:
        return token
    res = requests.post(
        f"{URL}/api/auth/login",
        json={"email": os.environ["CONFAB_EMAIL"], "password": os.environ["CONFAB_PASSWORD"]},
        timeout=10,
    )
    if res.status_code != 200:
        # Errors are { "error": { "code", "message", "details"? } }
        sys.exit(f"sign-in failed: {res.status_code} {res.json().get('error')}")
    return res.json()["accessToken"]


def main() -> None:
    token = sign_in()
    me = requests.get(f"{URL}/api/auth/me", headers={"authorization": f"Bearer {token}"}, timeout=10).json()
    sio = socketio.Client(reconnection=True)

    @sio.event
    def connect():
        print(f"connected as @{me['handle']}", flush=True)

    @sio.event
    def connect_error(data):
        print(f"could not connect: {data}", file=sys.stderr, flush=True)

    # Every message of every conversation the bot is in arrives here, its own included.
    @sio.on("chat:message_received")
    def on_message(message):
        if message["authorId"] == me["id"] or message["content"].strip().lower() != "ping":
            return

        def acked(result):
            # Every client event is acknowledged with { ok: true, data } or { ok: false, error }.
            if not result.get("ok"):
                print(f"send refused: {result.get('error')}", file=sys.stderr, flush=True)

        sio.emit(
            "chat:message_send",
            # clientId makes the send idempotent: sent again with the same id, it is stored once.
            {"conversationId": message["conversationId"], "content": "pong", "clientId": str(uuid.uuid4())},
            callback=acked,
        )

    signal.signal(signal.SIGTERM, lambda *_: sio.disconnect())
    sio.connect(URL, auth={"token": token}, socketio_path="/socket.io", transports=["websocket"])
    sio.wait()


if __name__ == "__main__":
    main()
