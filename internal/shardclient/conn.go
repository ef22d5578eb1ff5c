package shardclient

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/mycdn/mycdn/internal/shardproto"
)

var (
	cmdGet       = []byte("GET")
	cmdSet       = []byte("SET")
	cmdDel       = []byte("DEL")
	cmdExists    = []byte("EXISTS")
	cmdPing      = []byte("PING")
	cmdAuth      = []byte("AUTH")
	cmdSelect    = []byte("SELECT")
	cmdChallenge = []byte(shardproto.CmdChallenge)
	cmdToken     = []byte(shardproto.CmdToken)
	cmdDigest    = []byte(shardproto.CmdDigest)
)

const bufSize = 32 << 10

// errProtocol reports a reply that breaks RESP or is not what the command
// returns.
var errProtocol = errors.New("protocol error")

// conn is one connection. After any I/O or protocol error it is broken and
// must be closed; after an error reply it is still in step.
type conn struct {
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	hdr     []byte
	err     error // the first I/O or protocol error
	replied bool  // some reply was read since the last arm
	used    time.Time
}

func newConn(nc net.Conn) *conn {
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, bufSize), bw: bufio.NewWriterSize(nc, bufSize)}
}

func (cn *conn) close() { cn.nc.Close() }

func (cn *conn) healthy() bool { return cn.err == nil }

// arm bounds the next exchange by ctx's deadline or timeout, whichever comes
// first, and aborts it when ctx is cancelled. stop reports false if ctx was
// cancelled meanwhile.
func (cn *conn) arm(ctx context.Context, timeout time.Duration) (stop func() bool) {
	cn.replied = false
	d := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	if err := cn.nc.SetDeadline(d); err != nil {
		_ = cn.fail(err)
	}
	return context.AfterFunc(ctx, func() { _ = cn.nc.SetDeadline(time.Unix(1, 0)) })
}

func (cn *conn) fail(err error) error {
	if cn.err == nil {
		cn.err = err
	}
	return cn.err
}

// queue writes a command to the buffer.
func (cn *conn) queue(name []byte, args ...[]byte) {
	cn.hdr = shardproto.AppendArrayLen(cn.hdr[:0], 1+len(args))
	cn.hdr = shardproto.AppendBulk(cn.hdr, name)
	_, _ = cn.bw.Write(cn.hdr)
	for _, a := range args {
		cn.hdr = shardproto.AppendBulkLen(cn.hdr[:0], len(a))
		_, _ = cn.bw.Write(cn.hdr)
		_, _ = cn.bw.Write(a) // a large value goes straight to the socket
		_, _ = cn.bw.Write([]byte("\r\n"))
	}
}

// command writes a command and sends everything queued.
func (cn *conn) command(name []byte, args ...[]byte) {
	cn.queue(name, args...)
	if err := cn.bw.Flush(); err != nil {
		_ = cn.fail(err)
	}
}

// header reads a reply's first line and returns its type byte and the rest.
// An error reply becomes a *ServerError.
func (cn *conn) header() (byte, []byte, error) {
	if cn.err != nil {
		return 0, nil, cn.err
	}
	line, err := cn.br.ReadSlice('\n')
	if len(line) > 0 {
		cn.replied = true
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		return 0, nil, cn.fail(fmt.Errorf("%w: reply line longer than %d bytes", errProtocol, bufSize))
	}
	if err != nil {
		return 0, nil, cn.fail(unexpected(err))
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, nil, cn.fail(fmt.Errorf("%w: reply line not ended by CRLF", errProtocol))
	}
	kind, rest := line[0], line[1:len(line)-2]
	if kind == '-' {
		return kind, rest, &ServerError{Msg: string(rest)}
	}
	return kind, rest, nil
}

func (cn *conn) readOK() error { return cn.readStatus("OK") }

func (cn *conn) readStatus(want string) error {
	kind, rest, err := cn.header()
	if err != nil {
		return err
	}
	if kind != '+' || string(rest) != want {
		return cn.fail(fmt.Errorf("%w: want +%s, got %q", errProtocol, want, printable(kind, rest)))
	}
	return nil
}

func (cn *conn) readInt() (int64, error) {
	kind, rest, err := cn.header()
	if err != nil {
		return 0, err
	}
	if kind != ':' {
		return 0, cn.fail(fmt.Errorf("%w: want an integer, got %q", errProtocol, printable(kind, rest)))
	}
	n, err := shardproto.ParseInt(rest)
	if err != nil {
		return 0, cn.fail(fmt.Errorf("%w: bad integer %q", errProtocol, rest))
	}
	return n, nil
}

// bulkLen reads a bulk string header: -1 for nil, else a length up to max.
func (cn *conn) bulkLen(max int) (int, error) {
	kind, rest, err := cn.header()
	if err != nil {
		return 0, err
	}
	if kind != '$' {
		return 0, cn.fail(fmt.Errorf("%w: want a bulk string, got %q", errProtocol, printable(kind, rest)))
	}
	n, err := shardproto.ParseLength(rest, 1<<62)
	if err != nil {
		return 0, cn.fail(fmt.Errorf("%w: bad bulk length %q", errProtocol, rest))
	}
	if n > int64(max) {
		return 0, cn.fail(fmt.Errorf("%w: reply of %d bytes, limit %d", ErrTooLarge, n, max))
	}
	return int(n), nil
}

// readBulk appends a bulk string reply to dst; nil gives ErrNotFound.
func (cn *conn) readBulk(dst []byte, max int) ([]byte, error) {
	n, err := cn.bulkLen(max)
	if err != nil {
		return dst, err
	}
	if n < 0 {
		return dst, ErrNotFound
	}
	if cap(dst)-len(dst) < n {
		nd := make([]byte, len(dst), len(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	// With an empty buffer, bufio reads large parts straight from the
	// socket into dst.
	if _, err := io.ReadFull(cn.br, dst[len(dst):len(dst)+n]); err != nil {
		return dst, cn.fail(unexpected(err))
	}
	var crlf [2]byte
	if _, err := io.ReadFull(cn.br, crlf[:]); err != nil {
		return dst, cn.fail(unexpected(err))
	}
	if crlf != [2]byte{'\r', '\n'} {
		return dst, cn.fail(fmt.Errorf("%w: bulk string not followed by CRLF", errProtocol))
	}
	return dst[:len(dst)+n], nil
}

// readString reads a non-nil bulk string of at most max bytes.
func (cn *conn) readString(max int) (string, error) {
	b, err := cn.readBulk(nil, max)
	if errors.Is(err, ErrNotFound) {
		return "", cn.fail(fmt.Errorf("%w: nil reply", errProtocol))
	}
	return string(b), err
}

// readDigest reads the reply to DIGEST. supported is false when the server
// does not know the command or answers with something other than a
// BLAKE3-256 in hex (Redis 8.4's DIGEST is a 64-bit XXH3).
func (cn *conn) readDigest(out *[shardproto.DigestSize]byte) (found, supported bool, err error) {
	var buf [256]byte
	b, err := cn.readBulk(buf[:0], len(buf))
	var se *ServerError
	switch {
	case errors.As(err, &se) && strings.HasPrefix(se.Msg, "ERR unknown command"):
		return false, false, nil
	case errors.Is(err, ErrNotFound):
		return false, true, nil
	case err != nil:
		return false, true, err
	case len(b) != 2*shardproto.DigestSize:
		return false, false, nil
	}
	if _, err := hex.Decode(out[:], b); err != nil {
		return false, false, nil
	}
	return true, true, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func printable(kind byte, rest []byte) string {
	if len(rest) > 64 {
		rest = rest[:64]
	}
	return string(kind) + string(rest)
}
