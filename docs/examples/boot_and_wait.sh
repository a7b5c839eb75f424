#!/usr/bin/env bash
# Boot a systemd guest under QEMU, wait until its PID 1 says READY=1 over
# vsock, then talk to a service in it with hvsock cat.
#
#   boot_and_wait.sh IMAGE             (a disk image whose systemd is >= 254)
#
# CID, NOTIFY_PORT, SERVICE_PORT and BOOT_TIMEOUT may be set in the
# environment. Needs /dev/vhost-vsock (modprobe vhost_vsock) and KVM. The
# guest is stopped when the script ends.
set -euo pipefail

image=${1:?usage: boot_and_wait.sh IMAGE}
cid=${CID:-3}
notify_port=${NOTIFY_PORT:-8888}
service_port=${SERVICE_PORT:-5000}
boot_timeout=${BOOT_TIMEOUT:-300}

work=$(mktemp -d)
trap 'kill "${qemu:-}" "${notify:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# 1. Listen first: PID 1 sends each message once and does not retry, so a
#    READY=1 sent before anything listens is lost. The plain vsock:2:PORT
#    credential arrives as SOCK_SEQPACKET on virtio-vsock.
mkfifo "$work/stderr"
hvsock notify --listen "vsock:port=$notify_port:type=seqpacket" \
    --cid "$cid" --timeout "$boot_timeout" 2>"$work/stderr" &
notify=$!
exec 3<"$work/stderr"
read -r listening <&3 || { echo "hvsock notify did not start" >&2; exit 1; }
echo "$listening" >&2        # "listening on vsock://any:8888"
cat <&3 >&2 &                # its later words (a timeout) still reach us

# 2. Boot the guest with the credential that names that port on the host
#    (CID 2).
qemu-system-x86_64 -machine q35,accel=kvm -cpu host -m 2048 -display none \
    -serial "file:$work/console.log" \
    -drive "if=virtio,format=raw,file=$image" \
    -device "vhost-vsock-pci,guest-cid=$cid" \
    -smbios "type=11,value=io.systemd.credential:vmm.notify_socket=vsock:2:$notify_port" &
qemu=$!

# 3. hvsock notify prints each message (cid 3: STATUS=...) and exits 0 at
#    READY=1, or 1 when the timeout ends first.
if ! wait "$notify"; then
    echo "the guest did not finish booting; its console:" >&2
    tail -n 20 "$work/console.log" >&2
    exit 1
fi

# 4. Booted: talk to the guest's service. --wait covers a service that
#    starts listening a little after boot finished.
echo "hello from the host" | hvsock cat --wait 30 "vsock://$cid:$service_port"
