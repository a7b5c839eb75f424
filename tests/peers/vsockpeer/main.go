// Command vsockpeer is a foreign AF_VSOCK peer for the kernel tier, written
// on github.com/mdlayher/vsock so that our engines meet an implementation
// that shares no code with them.
//
//	vsockpeer listen PORT        echo one connection, then exit
//	vsockpeer connect CID PORT   send stdin, half-close, copy the reply to stdout
//
// "listen" prints "listening on PORT" on stderr once it listens (PORT 0 picks
// a free port). After the peer half-closes, it half-closes too, so every byte
// of the echo arrives before the end of the stream.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/mdlayher/vsock"
)

// cidAny is VMADDR_CID_ANY: listen on every local CID, loopback included.
const cidAny = 0xFFFFFFFF

func main() {
	var err error
	switch {
	case len(os.Args) == 3 && os.Args[1] == "listen":
		err = listen(os.Args[2])
	case len(os.Args) == 4 && os.Args[1] == "connect":
		err = connect(os.Args[2], os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: vsockpeer listen PORT | vsockpeer connect CID PORT")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vsockpeer:", err)
		os.Exit(1)
	}
}

func parseUint32(name, text string) (uint32, error) {
	value, err := strconv.ParseUint(text, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s must be a number below 2**32, not %q", name, text)
	}
	return uint32(value), nil
}

func listen(portText string) error {
	port, err := parseUint32("PORT", portText)
	if err != nil {
		return err
	}
	listener, err := vsock.ListenContextID(cidAny, port, nil)
	if err != nil {
		return err
	}
	defer listener.Close()
	address := listener.Addr().(*vsock.Addr)
	fmt.Fprintf(os.Stderr, "listening on %d\n", address.Port)
	accepted, err := listener.Accept()
	if err != nil {
		return err
	}
	conn := accepted.(*vsock.Conn)
	defer conn.Close()
	if _, err := io.Copy(conn, conn); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	return conn.CloseWrite()
}

func connect(cidText, portText string) error {
	cid, err := parseUint32("CID", cidText)
	if err != nil {
		return err
	}
	port, err := parseUint32("PORT", portText)
	if err != nil {
		return err
	}
	conn, err := vsock.Dial(cid, port, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, os.Stdin)
		if err == nil {
			err = conn.CloseWrite()
		}
		sent <- err
	}()
	if _, err := io.Copy(os.Stdout, conn); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	if err := <-sent; err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}
