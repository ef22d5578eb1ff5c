package shardserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mycdn/mycdn/internal/shardproto"
)

// smallArgs bounds the bytes of a command's arguments apart from its one
// large value, once a connection may write.
const smallArgs = 64 << 10

// limits bound one command. The reader never holds more than small bytes of
// a command, plus one value of at most value bytes where big allows it.
type limits struct {
	small int64 // all bytes of the command (headers included) but the value
	value int64 // largest value; 0: no value may exceed small
	// big reports whether argument i of the command called name may be the
	// large value.
	big func(name []byte, i int) bool
}

// protoError is a request the server answers with an error and then closes
// the connection, since it cannot tell where the next command starts or the
// client went over a limit.
type protoError struct{ msg string }

func (e *protoError) Error() string { return e.msg }

func protoErrorf(format string, args ...any) error {
	return &protoError{fmt.Sprintf(format, args...)}
}

// reader reads RESP2 commands (arrays of bulk strings, or inline lines) from
// a buffered connection, bounded by limits. Arguments alias the reader's
// buffers and are valid until the next read.
type reader struct {
	br    *bufio.Reader
	args  [][]byte
	arena []byte  // small arguments
	value *buffer // the large value of the last command, if any
	pool  *pool
}

func newReader(r io.Reader, size int, p *pool) *reader {
	return &reader{br: bufio.NewReaderSize(r, size), pool: p}
}

// release returns the last command's value buffer to the pool.
func (r *reader) release() {
	if r.value != nil {
		r.pool.put(r.value)
		r.value = nil
	}
}

// read reads the next command; ctx bounds waiting for memory for a value.
// An empty inline line gives no arguments.
func (r *reader) read(ctx context.Context, lim limits) ([][]byte, error) {
	r.release()
	r.args = r.args[:0]
	r.arena = r.arena[:0]
	b, err := r.br.Peek(1)
	if err != nil {
		return nil, err
	}
	if b[0] != '*' {
		return r.readInline(lim)
	}
	budget := lim.small
	line, err := r.line(&budget)
	if err != nil {
		return nil, err
	}
	n, err := shardproto.ParseLength(line[1:], budget/4)
	if err != nil || n < 1 {
		return nil, protoErrorf("Protocol error: invalid multibulk length")
	}
	for i := range int(n) {
		if err := r.readArg(ctx, i, &budget, lim); err != nil {
			return nil, err
		}
	}
	return r.args, nil
}

// readArg reads one bulk string argument.
func (r *reader) readArg(ctx context.Context, i int, budget *int64, lim limits) error {
	line, err := r.line(budget)
	if err != nil {
		return err
	}
	if line[0] != '$' {
		return protoErrorf("Protocol error: expected '$', got '%c'", line[0])
	}
	n, err := shardproto.ParseLength(line[1:], 1<<62)
	if err != nil || n < 0 {
		return protoErrorf("Protocol error: invalid bulk length")
	}
	if n+2 <= *budget {
		*budget -= n + 2
		start := len(r.arena)
		r.arena = append(r.arena, make([]byte, n+2)...)
		if _, err := io.ReadFull(r.br, r.arena[start:]); err != nil {
			return unexpected(err)
		}
		return r.addArg(r.arena[start:])
	}
	if lim.value == 0 {
		return protoErrorf("command too large: a connection without write access (log in first) may send at most %d bytes per command", lim.small)
	}
	if i == 0 || r.value != nil || lim.big == nil || !lim.big(r.args[0], i) {
		return protoErrorf("argument of %d bytes too large: only a value may exceed %d bytes", n, smallArgs)
	}
	if n > lim.value {
		return protoErrorf("value of %d bytes is larger than the limit of %d bytes", n, lim.value)
	}
	if r.value, err = r.pool.get(ctx, int(n)+2); err != nil {
		return err
	}
	if _, err := io.ReadFull(r.br, r.value.b); err != nil {
		return unexpected(err)
	}
	return r.addArg(r.value.b)
}

// addArg checks the CRLF after an argument and appends the argument.
func (r *reader) addArg(b []byte) error {
	n := len(b) - 2
	if b[n] != '\r' || b[n+1] != '\n' {
		return protoErrorf("Protocol error: bulk string not followed by CRLF")
	}
	r.args = append(r.args, b[:n:n])
	return nil
}

// line reads a header line and returns it without CRLF, charging it to
// budget.
func (r *reader) line(budget *int64) ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	*budget -= int64(len(line))
	if errors.Is(err, bufio.ErrBufferFull) || *budget < 0 {
		return nil, protoErrorf("Protocol error: header line too long")
	}
	if err != nil {
		return nil, unexpected(err)
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, protoErrorf("Protocol error: header line not ended by CRLF")
	}
	return line[:len(line)-2], nil
}

// readInline reads a command written as one line of space-separated words,
// as telnet users type them.
func (r *reader) readInline(lim limits) ([][]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || int64(len(line)) > lim.small {
		return nil, protoErrorf("Protocol error: too big inline request")
	}
	if err != nil {
		return nil, unexpected(err)
	}
	r.arena = append(r.arena, line...)
	for _, f := range bytes.Fields(r.arena) {
		r.args = append(r.args, f[:len(f):len(f)])
	}
	return r.args, nil
}

// unexpected turns an EOF inside a command into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
