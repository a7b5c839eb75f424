#!/bin/sh
# The inner guest's agent: for each connection to PORT, read one command line
# and run it with the rest of the connection as its standard input and output,
# then send "exit=STATUS". Only static or small programs run here (the Go peer
# from tests/peers, socat): Python is too slow to start in a guest emulated
# inside an emulated guest (docs/testing.rst).
#
#     tests/nested/agent.sh PORT READY-LINE
#
# It prints READY-LINE once socat listens, which socat's log says at -d -d.
# -t: after the test half-closes, wait for the command's output to end
# instead of socat's default half a second.
set -eu
port=$1
ready=$2
socat -d -d -t 900 "VSOCK-LISTEN:$port,fork,reuseaddr" \
    SYSTEM:'read -r line; eval "$line"; echo "exit=$?"' 2>&1 >/dev/null | {
    while read -r message; do
        case $message in
        *"listening on"*)
            echo "$ready"
            break
            ;;
        esac
    done
    cat >/dev/null # socat's log, until it ends
}
