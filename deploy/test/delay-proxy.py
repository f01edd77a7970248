#!/usr/bin/env python3
"""Adds a one-way delay to TCP connections, for deploy/test/netns-cluster.sh.

The test kernel has no sch_netem (tc netem says "Specified qdisc kind is unknown"), so the delay is
added here instead: in each network namespace an iptables rule redirects outgoing connections to
the cluster's ports to this proxy, which learns the real destination (SO_ORIGINAL_DST), connects
to it with a socket mark the rule skips, and forwards every chunk, in both directions, DELAY ms
after it arrived (order kept; bandwidth not limited). Every connection starts in some namespace,
so each message on every link is delayed once per direction, as netem on every link would do.
DELAY is read from DELAY_FILE (milliseconds; missing or 0: none), so it can change while
connections live.

Usage: delay-proxy.py PORT DELAY_FILE MARK
"""
import asyncio
import os
import socket
import struct
import sys

SO_ORIGINAL_DST = 80          # linux/netfilter_ipv4.h
CHUNK = 1 << 16
DELAY_POLL_SECONDS = 0.2


class Delay:
    """The current delay in seconds, re-read from the file when it changes."""

    def __init__(self, path):
        self.path, self.seconds, self.mtime = path, 0.0, None

    async def watch(self):
        while True:
            try:
                mtime = os.stat(self.path).st_mtime_ns
                if mtime != self.mtime:
                    with open(self.path) as f:
                        self.seconds = float(f.read().strip() or 0) / 1000
                    self.mtime = mtime
            except (OSError, ValueError):
                self.seconds = 0.0
            await asyncio.sleep(DELAY_POLL_SECONDS)


async def pipe(reader, writer, delay):
    """Copies reader to writer, each chunk sent delay.seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((loop.time() + delay.seconds, data))
    except OSError:
        pass
    queue.put_nowait((loop.time() + delay.seconds, None))
    try:
        await sender
    except OSError:
        pass


async def serve(port, delay, mark):
    async def handle(reader, writer):
        sock = writer.get_extra_info("socket")
        raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        dport, a, b, c, d = struct.unpack("!2xH4B8x", raw)
        out = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        out.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        out.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(out, (f"{a}.{b}.{c}.{d}", dport))
            r2, w2 = await asyncio.open_connection(sock=out)
        except OSError:
            out.close()
            writer.close()
            return
        await asyncio.gather(pipe(reader, w2, delay), pipe(r2, writer, delay))
        for w in (writer, w2):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await asyncio.gather(server.serve_forever(), delay.watch())


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(serve(int(sys.argv[1]), Delay(sys.argv[2]), int(sys.argv[3], 0)))


if __name__ == "__main__":
    main()
