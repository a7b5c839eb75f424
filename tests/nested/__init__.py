"""
The nested tier: tests across a real virtio-vsock transport, between the
guest ``tests/vm/run --nested`` boots (the outer guest, CID 2 as its inner
guest sees it) and an inner guest it boots with a vhost-vsock device of CID 3.
"""

#: The port the inner guest's agent (``agent.sh``) listens on, on every CID.
AGENT_PORT = 7000
#: What the agent prints on its standard output once it listens.
READY = "agent ready"
