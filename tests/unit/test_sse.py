"""hfinfer._sse.SSEDecoder: bytes in, split anywhere; the `data` of complete events out."""

from __future__ import annotations

import pytest

from hfinfer._sse import DONE, SSEDecoder

TGI_STREAM = (
    b'data:{"token":{"id":1,"text":"Hel"}}\n\n'
    b'data:{"token":{"id":2,"text":"lo \xc3\xa9t\xc3\xa9"}}\n\n'
    b"data: [DONE]\n\n"
)
TGI_EVENTS = ['{"token":{"id":1,"text":"Hel"}}', '{"token":{"id":2,"text":"lo été"}}', DONE]


def decode_all(chunks: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    events: list[str] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def test_whole_body_in_one_chunk() -> None:
    assert decode_all([TGI_STREAM]) == TGI_EVENTS


def test_events_come_out_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n") == []
    assert decoder.feed(b"\n") == ["one"]
    assert decoder.feed(b"data: two\n\ndata: thr") == ["two"]
    assert decoder.feed(b"ee\n\n") == ["three"]
    assert decoder.flush() == []


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_split_into_fixed_size_chunks(size: int) -> None:
    chunks = [TGI_STREAM[i : i + size] for i in range(0, len(TGI_STREAM), size)]
    assert decode_all(chunks) == TGI_EVENTS


def test_split_at_every_pair_of_positions() -> None:
    body = b"data: a\r\n\r\n: comment\r\ndata: \xe2\x82\xac1\r\ndata: 2\r\n\r\ndata: [DONE]\r\n\r\n"
    expected = ["a", "€1\n2", DONE]
    for i in range(len(body) + 1):
        for j in range(i, len(body) + 1):
            chunks = [c for c in (body[:i], body[i:j], body[j:]) if c]  # empty: see below
            assert decode_all(chunks) == expected, (i, j)


def test_split_inside_utf8_character() -> None:
    body = "data: 日本語\n\n".encode()
    cut = body.index(b"\xe6") + 1  # in the middle of the first character
    assert decode_all([body[:cut], body[cut:]]) == ["日本語"]


def test_crlf_line_endings() -> None:
    assert decode_all([b"data: x\r\n\r\ndata: y\r\n\r\n"]) == ["x", "y"]


def test_crlf_split_between_cr_and_lf() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    # The \n completing "\r\n" must not count as a blank line.
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data: y\r") == []
    assert decoder.feed(b"\n\r\n") == ["x\ny"]


def test_cr_only_line_endings() -> None:
    assert decode_all([b"data: x\r\rdata: y\r\r"]) == ["x", "y"]
    assert decode_all([b"data: x\r", b"\r", b"data: y\r", b"\r"]) == ["x", "y"]


def test_mixed_line_endings() -> None:
    assert decode_all([b"data: a\n\r\ndata: b\r\rdata: c\r\n\n"]) == ["a", "b", "c"]


def test_comments_and_other_fields_are_ignored() -> None:
    body = (
        b": keep-alive\n\n"
        b"event: message\nid: 7\nretry: 1000\ndata: payload\n\n"
        b":another comment\nfoo: bar\n\n"
    )
    assert decode_all([body]) == ["payload"]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode_all([b'data: {\ndata:  "a": 1\ndata: }\n\n']) == ['{\n "a": 1\n}']


def test_only_one_leading_space_is_stripped() -> None:
    assert decode_all([b"data:x\n\ndata: y\n\ndata:  z\n\n"]) == ["x", "y", " z"]


def test_empty_data_line() -> None:
    assert decode_all([b"data:\ndata: b\n\n"]) == ["\nb"]


def test_no_trailing_blank_line_flush_emits_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: first\n\ndata: last") == ["first"]
    assert decoder.flush() == ["last"]


def test_no_trailing_blank_line_after_newline() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: last\n") == []
    assert decoder.flush() == ["last"]


def test_flush_on_empty_decoder() -> None:
    assert SSEDecoder().flush() == []
    assert decode_all([b""]) == []
    assert decode_all([b": only a comment\n\n"]) == []


def test_blank_lines_without_data_emit_nothing() -> None:
    assert decode_all([b"\n\n\r\n\n"]) == []


def test_openai_style_stream() -> None:
    body = (
        b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"!"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    assert decode_all([body[:10], body[10:60], body[60:]]) == [
        '{"choices":[{"delta":{"content":"Hi"}}]}',
        '{"choices":[{"delta":{"content":"!"}}]}',
        "[DONE]",
    ]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode_all([b"data: a\xffb\n\n"]) == ["a\ufffdb"]


def test_empty_chunk_between_cr_and_lf() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: x\r") + decoder.feed(b"") + decoder.feed(b"\n")
    events += decoder.feed(b"data: y\r\n\r\n")
    assert events == ["x\ny"]
