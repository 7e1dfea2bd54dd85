"""A MessagePack-RPC server written with PyPI's msgpack and raw sockets only, as a peer
of our client.

    python3 tests/peers/server.py

Listens on 127.0.0.1 on a port the system picks, prints `listening on 127.0.0.1:PORT`,
serves one connection, and exits 0 when the client closes it. Each message it receives
and each answer it sends is printed as a line, for tests/python.rs to check:

    got JSON      a message from the client
    sent JSON     a message to the client

Methods:
- request `echo [x]` -> x;
- request `fail []` -> the error "python says no";
- request `later [tag]` -> tag, but only once three `later` requests are waiting: then
  all three are answered in reverse order, in one write;
- request `call_me_back [method, params]` -> sends the client the request `method
  params`, and answers with the client's result (or {"error": its error});
- notification `notify_me [n]` -> n notifications `tick [i]`, i = 0..n-1;
- anything else: the error "no method NAME".

Exits 1 with a message on stderr if no client comes, or if the client is silent for
20 seconds.
"""
import json
import socket
import sys

import msgpack

TIMEOUT_S = 20
# Our own requests to the client use ids from here, far from the client's.
CALLBACK_ID = 1000


def show(msg):
    # bytes are not JSON: show them as a tagged list of numbers.
    def plain(v):
        if isinstance(v, msgpack.ExtType):
            return {"ext": [v.code, list(v.data)]}
        if isinstance(v, bytes):
            return {"bin": list(v)}
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return json.dumps(plain(msg))


class Peer:
    def __init__(self, sock):
        self.sock = sock
        self.unpacker = msgpack.Unpacker(raw=False)
        self.later = []
        # callback id -> id of the client's request that asked for it
        self.callbacks = {}
        self.next_callback = CALLBACK_ID

    def send(self, *msgs):
        for msg in msgs:
            print("sent " + show(msg), flush=True)
        self.sock.sendall(b"".join(msgpack.packb(m) for m in msgs))

    def serve(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                sys.exit("the client was silent for %d s" % TIMEOUT_S)
            if not data:
                return
            self.unpacker.feed(data)
            for msg in self.unpacker:
                print("got " + show(msg), flush=True)
                self.handle(msg)

    def handle(self, msg):
        if msg[0] == 0:
            _, id_, method, params = msg
            self.request(id_, method, params)
        elif msg[0] == 1:
            _, id_, error, result = msg
            asker = self.callbacks.pop(id_)
            answer = result if error is None else {"error": error}
            self.send([1, asker, None, answer])
        elif msg[0] == 2:
            _, method, params = msg
            if method == "notify_me":
                self.send(*[[2, "tick", [i]] for i in range(params[0])])

    def request(self, id_, method, params):
        if method == "echo":
            self.send([1, id_, None, params[0]])
        elif method == "fail":
            self.send([1, id_, "python says no", None])
        elif method == "later":
            self.later.append((id_, params[0]))
            if len(self.later) == 3:
                self.send(*[[1, i, None, tag] for i, tag in reversed(self.later)])
                self.later = []
        elif method == "call_me_back":
            callback = self.next_callback
            self.next_callback += 1
            self.callbacks[callback] = id_
            self.send([0, callback, params[0], params[1]])
        else:
            self.send([1, id_, "no method " + method, None])


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(TIMEOUT_S)
    print("listening on 127.0.0.1:%d" % listener.getsockname()[1], flush=True)
    try:
        sock, _ = listener.accept()
    except socket.timeout:
        sys.exit("no client came within %d s" % TIMEOUT_S)
    sock.settimeout(TIMEOUT_S)
    Peer(sock).serve()
    sock.close()


if __name__ == "__main__":
    main()
