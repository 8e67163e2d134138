package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
)

// FerretDB 1.x runs an update as a read, then a write (with either handler), in
// separate steps, so two concurrent conditional updates of one document can
// both succeed and concurrent $inc lose increments. MongoDB makes each
// single-document write atomic, and the services rely on that. The proxy in
// front of FerretDB restores it by running write commands one at a time.
var writeCommands = map[string]bool{
	"insert":        true,
	"update":        true,
	"delete":        true,
	"findAndModify": true,
	"findandmodify": true,
}

const (
	opMsg          = 2013
	flagChecksum   = 1 << 0
	flagMoreToCome = 1 << 1
	maxFrame       = 48 << 20
)

type writeSerializer struct {
	backend string // unix socket path of FerretDB's listener
	mu      sync.Mutex
	log     *slog.Logger
}

func (s *writeSerializer) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Error("accept", "err", err)
			continue
		}
		go s.handle(c)
	}
}

func (s *writeSerializer) handle(client net.Conn) {
	defer client.Close()
	backend, err := net.Dial("unix", s.backend)
	if err != nil {
		s.log.Error("dial backend", "err", err)
		return
	}
	defer backend.Close()

	for {
		req, err := readFrame(client)
		if err != nil {
			return
		}
		locked := writeCommands[commandName(req)]
		if locked {
			s.mu.Lock()
		}
		err = s.roundTrip(client, backend, req)
		if locked {
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// roundTrip forwards one request and every reply frame it gets.
func (s *writeSerializer) roundTrip(client, backend net.Conn, req []byte) error {
	if _, err := backend.Write(req); err != nil {
		return err
	}
	if msgFlags(req)&flagMoreToCome != 0 {
		return nil
	}
	for {
		resp, err := readFrame(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(resp); err != nil {
			return err
		}
		if msgFlags(resp)&flagMoreToCome == 0 {
			return nil
		}
	}
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(size[:])
	if n < 16 || n > maxFrame {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	buf := make([]byte, n)
	copy(buf, size[:])
	if _, err := io.ReadFull(r, buf[4:]); err != nil {
		return nil, err
	}
	return buf, nil
}

func opCode(frame []byte) uint32 { return binary.LittleEndian.Uint32(frame[12:16]) }

// msgFlags is the OP_MSG flag word; other opcodes carry none.
func msgFlags(frame []byte) uint32 {
	if opCode(frame) != opMsg || len(frame) < 20 {
		return 0
	}
	return binary.LittleEndian.Uint32(frame[16:20])
}

// commandName is the first key of an OP_MSG body section, or "" when the
// frame is something else (legacy opcodes only carry the handshake here).
func commandName(frame []byte) string {
	if opCode(frame) != opMsg || len(frame) < 21 {
		return ""
	}
	end := len(frame)
	if msgFlags(frame)&flagChecksum != 0 {
		end -= 4
	}
	for i := 20; i < end; {
		kind := frame[i]
		i++
		if i+4 > end {
			return ""
		}
		size := int(binary.LittleEndian.Uint32(frame[i : i+4]))
		if size < 5 || i+size > end {
			return ""
		}
		if kind == 0 {
			// BSON document: int32 size, then element type byte and a C string name.
			name := frame[i+5 : i+size]
			for j, b := range name {
				if b == 0 {
					return string(name[:j])
				}
			}
			return ""
		}
		i += size
	}
	return ""
}
