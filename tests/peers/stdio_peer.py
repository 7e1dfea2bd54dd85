"""A MessagePack-RPC peer on its own stdin and stdout, written with PyPI's msgpack only,
as a child process of our client (tests/process.rs).

    python3 tests/peers/stdio_peer.py [FIRST_BYTES_HEX] [--ask-then-close-stdout]

FIRST_BYTES_HEX, if given, is written to stdout before anything else (text a program
prints before its first message, or bytes that are not MessagePack). It writes
`stdio peer ready` to stderr once it serves.

Requests it answers:
- `add [a, b]` -> a + b;
- `exit [code]` -> no answer: it exits at once with that status;
- `kill_myself []` -> no answer: it kills itself with SIGKILL;
- `close_stdin []` -> true, then it closes its stdin, writes `stdin closed` to stderr
  and sleeps until it is killed;
- anything else: the error "no method NAME".

With --ask-then-close-stdout, it first sends the request `double [21]` (msgid 7), closes
its stdout (a half-closed pipe: it still reads its stdin), waits for the answer, writes
`got [1, 7, null, 42]` (the answer as JSON) to stderr and exits 0; if its stdin ends
first, it exits 3.

It exits 0 when its stdin ends.
"""
import json
import os
import signal
import sys
import time

import msgpack


def send(msg):
    sys.stdout.buffer.write(msgpack.packb(msg))
    sys.stdout.buffer.flush()


def messages():
    unpacker = msgpack.Unpacker(raw=False)
    while True:
        data = os.read(0, 65536)
        if not data:
            return
        unpacker.feed(data)
        for msg in unpacker:
            yield msg


def ask_then_close_stdout():
    send([0, 7, "double", [21]])
    sys.stdout.close()
    os.close(1)
    for msg in messages():
        if msg[0] == 1 and msg[1] == 7:
            sys.stderr.write("got " + json.dumps(msg) + "\n")
            sys.exit(0)
    sys.exit(3)


def serve():
    for msg in messages():
        if msg[0] != 0:
            continue
        _, msgid, method, params = msg
        if method == "add":
            send([1, msgid, None, params[0] + params[1]])
        elif method == "exit":
            sys.exit(params[0])
        elif method == "kill_myself":
            os.kill(os.getpid(), signal.SIGKILL)
        elif method == "close_stdin":
            send([1, msgid, None, True])
            os.close(0)
            sys.stderr.write("stdin closed\n")
            sys.stderr.flush()
            while True:
                time.sleep(60)
        else:
            send([1, msgid, "no method " + method, None])


def main():
    args = sys.argv[1:]
    if args and not args[0].startswith("--"):
        sys.stdout.buffer.write(bytes.fromhex(args.pop(0)))
        sys.stdout.buffer.flush()
    sys.stderr.write("stdio peer ready\n")
    sys.stderr.flush()
    if args == ["--ask-then-close-stdout"]:
        ask_then_close_stdout()
    else:
        serve()


main()
