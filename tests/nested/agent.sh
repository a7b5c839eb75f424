#!/bin/sh
# The inner guest's agent: for each connection to PORT, read one command line
# and run it with the rest of the connection as its standard input and output,
# then send "exit=STATUS". Only static or small programs run here (the Go peer
# from tests/peers, socat): Python is too slow to start in a guest emulated
# inside an emulated guest (docs/testing.rst).
#
#     tests/nested/agent.sh PORT READY-LINE
#
# -t: after the test half-closes, wait for the command's output to end
# instead of socat's default half a second.
set -eu
port=$1
echo "$2"
exec socat -t 900 "VSOCK-LISTEN:$port,fork,reuseaddr" \
    SYSTEM:'read -r line; eval "$line"; echo "exit=$?"'
