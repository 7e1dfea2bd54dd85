"""A MessagePack-RPC client written with PyPI's msgpack and raw sockets only, as a peer
of our example server (examples/server.rs).

    python3 tests/peers/client.py 127.0.0.1:PORT

Sends every request at once (pipelined), then a `ping` notification, and prints what comes
back, one line per message, in arrival order:

    response ID ok JSON        a result
    response ID error JSON     an error
    notification METHOD JSON   a notification and its params

tests/python.rs runs it and checks the lines. Exits 1 with a message on stderr if the
server closes early or stays silent for 10 seconds.
"""
import json
import socket
import sys

import msgpack

TIMEOUT_S = 10

# id -> (method, params). `sleep 300` comes first and is answered last.
REQUESTS = [
    (1, "sleep", [300]),
    (2, "sleep", [100]),
    (3, "add", [1, 2]),
    (4, "sub", [5, 8]),
    (5, "frobnicate", []),
    (6, "add", ["x", 1]),
    (7, "add", [2**62, 2**62]),
    (8, "sub", [-(2**63), 0]),
]


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
    out = b"".join(msgpack.packb([0, id_, method, params]) for id_, method, params in REQUESTS)
    out += msgpack.packb([2, "ping", ["from python", 7]])
    sock.sendall(out)

    unpacker = msgpack.Unpacker(raw=False)
    waiting = {id_ for id_, _, _ in REQUESTS}
    pong = False
    while waiting or not pong:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            sys.exit("no message from the server for %d s; still waiting for %s" % (TIMEOUT_S, sorted(waiting)))
        if not data:
            sys.exit("the server closed the connection; still waiting for %s" % sorted(waiting))
        unpacker.feed(data)
        for msg in unpacker:
            if msg[0] == 1 and len(msg) == 4:
                _, id_, error, result = msg
                waiting.discard(id_)
                if error is None:
                    print("response %d ok %s" % (id_, json.dumps(result)))
                else:
                    print("response %d error %s" % (id_, json.dumps(error)))
            elif msg[0] == 2 and len(msg) == 3:
                print("notification %s %s" % (msg[1], json.dumps(msg[2])))
                pong = pong or msg[1] == "pong"
            else:
                sys.exit("unexpected message: %r" % (msg,))
    sock.close()


if __name__ == "__main__":
    main()
