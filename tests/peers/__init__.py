"""
Foreign AF_VSOCK peers for the kernel tier: programs that share no code with
ours (a Go program on github.com/mdlayher/vsock, ncat, socat).
"""
