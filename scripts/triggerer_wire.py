"""The triggerer's comms wire, both ends, for tests and benchmarks (not part of the wheel).

Airflow 3.3's triggerer is two processes: the trigger runner (an asyncio loop running every
trigger) and its supervisor, which holds the Execution API client (an in-process API server,
``TriggerRunnerSupervisor.make_client``) and answers the runner's requests one at a time. They
talk over a socket in length-prefixed msgpack frames. This module puts the real runner end
(``TriggerCommsDecoder``) on one side of a socket and a supervisor loop answering through the
real Execution API on the other, so triggers can be run as the triggerer runs them.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any


def execution_api_client() -> Any:
    """An Execution API client on an in-process API server, as the triggerer's supervisor has."""
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    return InProcessTestSupervisor._api_client()


def serve(sock: socket.socket, asked: list[Any] | None = None, client: Any = None) -> int:
    """Answer the runner's requests on ``sock`` until it closes, one at a time as the supervisor does.

    Only what the mesh's triggers ask (``GetTaskStates``) is answered; anything else fails loudly.
    Returns how many requests were answered; each request is appended to ``asked`` if given.
    ``client`` defaults to a new :func:`execution_api_client` (its first request builds the API app).
    """
    import msgspec
    from airflow.jobs.triggerer_job_runner import ToTriggerSupervisor
    from airflow.sdk.execution_time.comms import GetTaskStates, _RequestFrame, _ResponseFrame
    from airflow.sdk.execution_time.request_handlers import handle_get_task_states
    from pydantic import TypeAdapter

    client = client or execution_api_client()
    requests = TypeAdapter(ToTriggerSupervisor)
    frames = msgspec.msgpack.Decoder(_RequestFrame)
    stream = sock.makefile("rb")
    answered = 0
    while head := stream.read(4):
        frame = frames.decode(stream.read(int.from_bytes(head, "big")))
        msg = requests.validate_python(frame.body)
        if not isinstance(msg, GetTaskStates):
            raise TypeError(f"the test supervisor answers GetTaskStates only, got {type(msg).__name__}")
        if asked is not None:
            asked.append(msg)
        answer, _ = handle_get_task_states(client, msg)
        sock.sendall(_ResponseFrame(id=frame.id, body=answer.model_dump()).as_bytes())
        answered += 1
    return answered


async def runner_comms(sock: socket.socket) -> tuple[Any, asyncio.StreamWriter]:
    """The trigger runner's comms (``TriggerCommsDecoder``) on the running loop, as the triggerer builds them.

    Install the first value as ``task_runner.SUPERVISOR_COMMS``; close the writer when done.
    """
    from airflow.jobs.triggerer_job_runner import TriggerCommsDecoder

    reader, writer = await asyncio.open_connection(sock=sock)
    comms = TriggerCommsDecoder(async_writer=writer, async_reader=reader, socket=sock)
    await comms.start_reader()
    return comms, writer
