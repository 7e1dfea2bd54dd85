#!/usr/bin/env python3
"""Writes the committed seed corpus of both fuzz targets (corpus/codec, corpus/connection).

Each file is one selector byte (limits and chunking, see the targets) then a byte stream:
valid messages of every kind, truncations, and the hostile inputs of the codec issue.
Run it from fuzz/ after changing it; the files are committed.
"""
import os
import struct


def uint(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return b"\xcc" + bytes([n])
    if n < 0x10000:
        return b"\xcd" + struct.pack(">H", n)
    if n < 0x100000000:
        return b"\xce" + struct.pack(">I", n)
    return b"\xcf" + struct.pack(">Q", n)


def string(s):
    b = s.encode()
    assert len(b) < 32
    return bytes([0xa0 | len(b)]) + b


def array(*items):
    assert len(items) < 16
    return bytes([0x90 | len(items)]) + b"".join(items)


NIL = b"\xc0"

request = array(uint(0), uint(1), string("add"), array(uint(1), uint(2)))
response_ok = array(uint(1), uint(1), NIL, uint(3))
response_err = array(uint(1), uint(2), string("bad"), NIL)
notification = array(uint(2), string("ping"), array(string("hi")))
call = array(uint(2), string("call"), array(uint(7)))
answer_to_call = array(uint(1), uint(0), NIL, uint(14))
floats = array(uint(0), uint(3), string("f"), array(b"\xca" + struct.pack(">f", 1.5), b"\xcb" + struct.pack(">d", -2.25)))
binary_ext = array(uint(0), uint(4), string("b"), array(b"\xc4\x03abc", b"\xd4\x01\x02", b"\xc7\x02\x05xy"))
maps = array(uint(0), uint(5), string("m"), array(b"\x82" + string("k") + uint(1) + uint(2) + array()))

seeds = {
    "request": request,
    "responses": response_ok + response_err,
    "notification": notification,
    "call_and_answer": call + answer_to_call,
    "all_kinds": request + notification + response_ok + floats + binary_ext + maps,
    "request_truncated": request[:-1],
    "request_header_only": request[:1],
    "two_requests_second_truncated": request + request[:5],
    # The hostile inputs of the codec issue.
    "nested_0x91_1mb": b"\x91" * (1024 * 1024),
    "array32_4gib_eof": b"\xdd\xff\xff\xff\xff",
    "map32_4gib_eof": b"\xdf\xff\xff\xff\xff",
    "str32_4gib_eof": b"\xdb\xff\xff\xff\xff",
    "bin32_4gib_eof": b"\xc6\xff\xff\xff\xff",
    "ext32_4gib_eof": b"\xc9\xff\xff\xff\xff\x01",
    "reserved_0xc1": b"\xc1",
    "request_then_0xc1": request + b"\xc1",
    "msgid_2_pow_32": array(uint(0), uint(2 ** 32), string("add"), array(uint(1), uint(2))) + request,
    "params_is_a_map": array(uint(0), uint(9), string("add"), b"\x81" + uint(1) + uint(2)),
    "method_not_a_string": array(uint(0), uint(10), uint(5), array()),
    "request_of_five_items": array(uint(0), uint(11), string("add"), array(), NIL),
    "not_an_array": uint(42) + string("hello") + request,
    "unknown_type": array(uint(7), uint(1), NIL, NIL) + request,
    "empty_array": array() + request,
    "params_array32_declared_huge": array(uint(0), uint(12), string("add")) + b"\xdd\x7f\xff\xff\xff",
    "deep_params_at_64": array(uint(0), uint(13), string("d"), b"\x91" * 62 + b"\x90"),
    "deep_params_at_65": array(uint(0), uint(14), string("d"), b"\x91" * 63 + b"\x90"),
    "invalid_utf8_method": array(uint(0), uint(15), b"\xa2\xff\xfe", array()),
    # Issue 17: handlers that answer later or panic (the connection target's service
    # answers methods starting with "l" after a poll, panics for "p", and for "pl" when
    # polled), the end of the stream while they run, answers of the wrong shape, and
    # the 13-byte head of a 16 MiB message.
    "answered_later_then_end": array(uint(0), uint(16), string("later"), array(uint(1)))
    + request,
    "panics_now_and_later": array(uint(0), uint(17), string("panic"), array())
    + array(uint(0), uint(18), string("plater"), array())
    + request,
    "call_answered_with_three_items": call + array(uint(1), uint(0), NIL),
    "call_answered_with_string_msgid": call + array(uint(1), string("0"), NIL, uint(1)),
    "bin32_16mib_head": b"\x94\x00\x13\xa3add\x91\xc6" + struct.pack(">I", 16 * 1024 * 1024 - 13),
}

for target in ("codec", "connection"):
    folder = os.path.join("corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, stream in seeds.items():
        # Selector 0x00: default limits, 1-byte chunks (1-byte writes for the
        # connection); 0x61: small limits, other chunk sizes. The 1 MB input only once.
        for selector in (0x00, 0x61):
            if len(stream) > 4096 and selector != 0:
                continue
            with open(os.path.join(folder, "%s_%02x" % (name, selector)), "wb") as f:
                f.write(bytes([selector]) + stream)
