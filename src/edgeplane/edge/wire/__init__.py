"""The edge's own HTTP and WebSocket layer, on asyncio streams with wsproto and h11 (python-hyper's sans-IO
protocol libraries).

The agent speaks three things over HTTP: the hub's WebSocket to the cloud (``websocket.py``), a few HTTPS
requests to join and rotate its certificate (``httpclient.py``), and the metaserver's loopback API
(``httpserver.py``). aiohttp would do all three, but importing it costs the agent about 16 MiB of resident
memory, more than a third of what it runs in; these modules and their two libraries cost about 1.5 MiB.
The cloud stays on aiohttp: the wire is standard HTTP/1.1 and RFC 6455, so the two interoperate.
"""
