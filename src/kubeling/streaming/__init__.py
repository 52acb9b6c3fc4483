"""Wire protocols shared by the API server and the kubelet for exec, attach, cp and port-forward.

`channel` is the WebSocket channel protocol (`v5.channel.k8s.io` and its predecessors),
`spdy` is SPDY/3.1 framing (what `kubectl port-forward` tunnels inside a WebSocket), and
`portforward` pairs SPDY streams into forwarded connections. Pure framing, no sockets: the
servers in `apiserver/streaming.py` and `kubelet/server.py` do the I/O.
"""
