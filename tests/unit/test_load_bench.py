"""bench/load.py's websocket driver reading one page's run (no server here: the messages are made)."""

import asyncio
import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.helpers import REPO


def _load_module():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("bench_load", REPO / "bench" / "load.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "bench"))


load = _load_module()


class _Socket:
    """What the server sends, in order."""

    def __init__(self, messages):
        self.messages = [m.SerializeToString() for m in messages]

    async def recv(self):
        return self.messages.pop(0)


def _msg(**fields) -> ForwardMsg:
    msg = ForwardMsg()
    if "started" in fields:
        msg.new_session.name = "run"
    if "title" in fields:
        msg.delta.new_element.heading.tag = "h1"
        msg.delta.new_element.heading.body = fields["title"]
    if "exception" in fields:
        msg.delta.new_element.exception.type = "KeyError"
        msg.delta.new_element.exception.message = fields["exception"]
    if "finished" in fields:
        msg.script_finished = fields["finished"]
    if "query" in fields:
        msg.page_info_changed.query_string = fields["query"]
    if "pages" in fields:
        for url, page_hash in fields["pages"].items():
            page = msg.navigation.app_pages.add()
            page.url_pathname, page.page_script_hash = url, page_hash
    return msg


def _read(messages, title="Overview"):
    session = load.WebsocketSession("http://127.0.0.1:1")
    session.ws = _Socket(messages)
    # a thread of its own: a browser test of the same worker may hold an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, session._read_run(title)).result()
    return session


def test_a_page_run_is_read_to_its_finished_message_with_the_pages_and_the_address_it_sets():
    session = _read([
        _msg(started=True), _msg(pages={"overview": "h1", "funnels": "h2"}), _msg(query="from=2024-01-01"),
        _msg(title="Overview"), _msg(finished=ForwardMsg.FINISHED_SUCCESSFULLY),
    ])
    assert session.hashes == {"overview": "h1", "funnels": "h2"} and session.query == "from=2024-01-01"
    # a run ended early for a rerun is read through: the next run is the one asked for
    _read([_msg(started=True), _msg(finished=ForwardMsg.FINISHED_EARLY_FOR_RERUN), _msg(started=True),
           _msg(title="Overview"), _msg(finished=ForwardMsg.FINISHED_SUCCESSFULLY)])


@pytest.mark.parametrize("messages", [
    [_msg(started=True), _msg(title="Overview"), _msg(exception="boom"), _msg(finished=ForwardMsg.FINISHED_SUCCESSFULLY)],
    [_msg(started=True), _msg(title="Funnels"), _msg(finished=ForwardMsg.FINISHED_SUCCESSFULLY)],
    [_msg(started=True), _msg(title="Overview"), _msg(finished=ForwardMsg.FINISHED_WITH_COMPILE_ERROR)],
])
def test_a_page_with_an_exception_without_its_title_or_whose_run_failed_fails(messages):
    with pytest.raises(load.PageFailed):
        _read(messages)
