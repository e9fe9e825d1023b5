"""The smpp34 1.5.0 server as an independent SMSC, run as a subprocess (messaging.md §3.7b).

As a script: ``python tests/support/smpp34_peer.py PORT [--auto-receipt STAT]
[--receipt-before-resp] [--refuse-prefix DIGITS]`` listens on 127.0.0.1:PORT, prints
``ready`` once listening, then appends one JSON line per event (``bind``, ``submit``,
``unbound``, ``deliver_resp``) to the file named by ``$SMPP34_PEER_EVENTS``. It accepts
every submit with message id ``M<pid>X<n>`` (unique across restarts), except destinations
starting with ``--refuse-prefix`` (ESME_RINVDSTADR). With
``--auto-receipt STAT`` each accepted submit is followed by a receipt (TLVs
``receipted_message_id`` + ``message_state`` and the text layout);
``--receipt-before-resp`` sends that receipt before the response.
JSON commands on stdin push a ``deliver_sm`` to the last bound ESME:
``{"cmd": "deliver", "id": 1, "source": ..., "dest": ..., "hex": ..., "esm_class": 0,
"data_coding": 0, "tlvs": [[tag, hex], ...]}``.

In tests: :class:`Smpp34Peer` starts, kills and restarts it on one port, and collects its
events; the fixture :func:`smpp34_peer` never leaves it running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

REFUSED_PREFIX = "2547000000"  #: numbers the peer refuses with ESME_RINVDSTADR (by default)
_EVENTS_VAR = "SMPP34_PEER_EVENTS"  #: the file the subprocess appends its JSON events to
_STATES = {"DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}


def _emit(event: dict[str, Any]) -> None:  # pragma: no cover - runs in the subprocess
    """Append one event to the events file (written *before* the PDU it reports goes out)."""
    with Path(os.environ[_EVENTS_VAR]).open("a", encoding="utf-8") as events:
        events.write(json.dumps(event) + "\n")


async def _serve(args: argparse.Namespace) -> None:  # pragma: no cover - runs in the subprocess
    import smpp34  # noqa: PLC0415 - only the subprocess needs the Rust extension

    server = smpp34.Server(host="127.0.0.1", port=args.port, system_id="FAKESMSC")
    await server.start()
    esmes: dict[Any, Any] = {}
    background: set[asyncio.Future[Any]] = set()

    def keep(future: asyncio.Future[Any]) -> None:
        background.add(future)
        future.add_done_callback(background.discard)

    keep(asyncio.ensure_future(_commands(esmes, keep)))
    print("ready", flush=True)
    count = 0
    while True:
        event = await server.next()
        if isinstance(event, smpp34.Esme):
            esmes[event.session_id] = event
            _emit({"event": "bind", "system_id": event.system_id})
        elif isinstance(event, smpp34.Unbound):
            esmes.pop(event.session_id, None)
            _emit({"event": "unbound"})
        elif isinstance(event, smpp34.SubmitSmEvent):
            count += 1
            message_id = f"M{os.getpid()}X{count}"  # unique across restarts, like a real SMSC
            _submit(smpp34, args, event, esmes.get(event.session_id), message_id, keep)


def _submit(  # pragma: no cover - runs in the subprocess
    smpp34: Any,
    args: argparse.Namespace,
    event: Any,
    esme: Any,
    message_id: str,
    keep: Callable[[asyncio.Future[Any]], None],
) -> None:
    record = {
        "event": "submit",
        "to": event.destination_addr,
        "source": event.source_addr,
        "esm_class": event.esm_class,
        "data_coding": event.data_coding,
        "hex": bytes(event.short_message).hex(),
    }
    if args.refuse_prefix and event.destination_addr.startswith(args.refuse_prefix):
        _emit({**record, "status": smpp34.ESME_RINVDSTADR, "message_id": ""})
        event.reject(smpp34.ESME_RINVDSTADR)
        return
    stat = args.auto_receipt or ("DELIVRD" if args.receipt_before_resp else None)
    receipt = None
    if stat and esme is not None:
        text = f"id:{message_id} sub:001 dlvrd:001 stat:{stat} err:000 text:".encode()
        tlvs = [
            smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
            smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([_STATES.get(stat, 7)])),
        ]
        receipt = (event.source_addr, text, event.destination_addr, tlvs)
    if receipt is not None and args.receipt_before_resp:
        keep(_push(esme, *receipt))
    _emit({**record, "status": 0, "message_id": message_id})
    event.accept(message_id=message_id)
    if receipt is not None and not args.receipt_before_resp:
        keep(_push(esme, *receipt))


def _push(  # pragma: no cover - runs in the subprocess
    esme: Any, dest: str, text: bytes, source: str, tlvs: list[Any]
) -> asyncio.Future[Any]:
    future = asyncio.ensure_future(
        esme.deliver_sm(dest, text, source_addr=source, esm_class=0x04, tlvs=tlvs)
    )
    return asyncio.ensure_future(_report(future, 0))


async def _report(future: Any, ident: int) -> None:  # pragma: no cover - subprocess
    try:
        resp = await future
    except Exception as exc:
        _emit({"event": "deliver_resp", "id": ident, "error": type(exc).__name__})
        return
    _emit({"event": "deliver_resp", "id": ident, "status": resp.command_status})


async def _commands(
    esmes: dict[Any, Any], keep: Callable[[asyncio.Future[Any]], None]
) -> None:  # pragma: no cover - runs in the subprocess
    import smpp34  # noqa: PLC0415 - only the subprocess needs the Rust extension

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        for _ in range(500):  # our bind_resp can beat the Esme event: wait up to 5 s
            if esmes:
                break
            await asyncio.sleep(0.01)
        esme = list(esmes.values())[-1] if esmes else None
        if esme is None:
            _emit({"event": "deliver_resp", "id": cmd["id"], "error": "not bound"})
            continue
        tlvs = [smpp34.Tlv(tag, bytes.fromhex(value)) for tag, value in cmd.get("tlvs", [])]
        future = asyncio.ensure_future(
            esme.deliver_sm(
                cmd["dest"],
                bytes.fromhex(cmd["hex"]),
                source_addr=cmd["source"],
                esm_class=cmd.get("esm_class", 0),
                data_coding=cmd.get("data_coding", 0),
                tlvs=tlvs,
            )
        )
        keep(asyncio.ensure_future(_report(future, cmd["id"])))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Smpp34Peer:
    """The peer subprocess: start / kill / restart on one port; its events, read from a file.

    The subprocess appends each event to ``events_file`` before it answers the PDU, so
    when a submit_sm_resp has reached us, :attr:`events` already lists that submit.
    """

    def __init__(self, port: int, events_file: Path, *options: str) -> None:
        self.port = port
        self.events_file = events_file
        self.options = options
        self._process: asyncio.subprocess.Process | None = None
        self._next_id = 0

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event so far, across restarts, in order."""
        if not self.events_file.exists():
            return []
        lines = self.events_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    async def start(self, within: float = 10.0) -> None:
        """Spawn the script and wait for its ``ready`` line."""
        env = {**os.environ, "SMPP34_WORKER_THREADS": "1", _EVENTS_VAR: str(self.events_file)}
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__)),
            str(self.port),
            *self.options,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        stdout = self._process.stdout
        assert stdout is not None
        async with asyncio.timeout(within):
            while (line := await stdout.readline()) != b"ready\n":
                if not line:
                    raise RuntimeError("the smpp34 peer exited before it was ready")

    async def kill(self) -> None:
        """SIGKILL the subprocess (an SMSC crash: no unbind) and reap it."""
        process, self._process = self._process, None
        if process is not None:
            if process.returncode is None:
                process.kill()
            if process.stdin is not None:
                process.stdin.close()
            await process.wait()

    def submits(self) -> list[dict[str, Any]]:
        """Every ``submit`` event so far."""
        return [e for e in self.events if e["event"] == "submit"]

    async def deliver(self, source: str, dest: str, data: bytes, **fields: Any) -> int:
        """Ask the peer to push a deliver_sm; returns the id its ``deliver_resp`` carries."""
        assert self._process is not None
        assert self._process.stdin is not None
        self._next_id += 1
        command = {"cmd": "deliver", "id": self._next_id, "source": source, "dest": dest}
        command |= {"hex": data.hex(), **fields}
        self._process.stdin.write(json.dumps(command).encode() + b"\n")
        await self._process.stdin.drain()
        return self._next_id

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        """Poll ``condition`` every 10 ms until true; TimeoutError after ``within`` s."""
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 - polls the events file and link state
                await asyncio.sleep(0.01)


@pytest.fixture
async def smpp34_peer(tmp_path: Path) -> AsyncIterator[Smpp34Peer]:
    """A running smpp34 peer on a free port (auto receipts DELIVRD), killed after the test."""
    peer = Smpp34Peer(
        free_port(),
        tmp_path / "smpp34-events.jsonl",
        "--auto-receipt",
        "DELIVRD",
        "--refuse-prefix",
        REFUSED_PREFIX,
    )
    await peer.start()
    try:
        yield peer
    finally:
        await peer.kill()


def main() -> None:  # pragma: no cover - the subprocess entry point
    """Parse the arguments and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--auto-receipt", default=None)
    parser.add_argument("--receipt-before-resp", action="store_true")
    parser.add_argument("--refuse-prefix", default="")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
