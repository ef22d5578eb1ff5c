package shardserver

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver/store"
)

const bufSize = 16 << 10 // per-connection read and write buffers

// conn is one client connection, served by one goroutine.
type conn struct {
	s     *Server
	nc    net.Conn
	rd    *reader
	w     *bufio.Writer
	out   []byte // reply scratch
	id    uint64
	start time.Time

	db   uint16
	user *principal // nil until AUTH
	// challenge is the last CHALLENGE answer, usable once until challengeAt
	// + ChallengeTTL.
	challenge   *shardproto.Challenge
	challengeAt time.Time
	scans       scans

	commands int64
	erred    bool // the last command replied with an error
	quit     bool
	fail     error // the connection broke while writing a reply
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, id: s.ids.Add(1), start: time.Now()}
	c.rd = newReader(idleReader{nc, s.opts.IdleTimeout}, bufSize, s.pool)
	c.w = bufio.NewWriterSize(nc, bufSize)
	return c
}

// idleReader sets the read deadline before every read, so a connection
// closes after IdleTimeout without input.
type idleReader struct {
	nc   net.Conn
	idle time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	if err := r.nc.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
		return 0, err
	}
	return r.nc.Read(p)
}

func (c *conn) serve(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer stop()
	defer c.rd.release()
	err := c.loop(ctx)
	c.nc.Close()
	c.logClose(ctx, err)
}

func (c *conn) loop(ctx context.Context) error {
	for {
		args, err := c.rd.read(ctx, c.limits())
		if err != nil {
			var pe *protoError
			if errors.As(err, &pe) {
				_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
				c.errorf("ERR %s", pe.msg)
				_ = c.flush()
			}
			return err
		}
		if len(args) == 0 {
			continue
		}
		c.commands++
		if err := c.nc.SetWriteDeadline(time.Now().Add(c.s.opts.IdleTimeout)); err != nil {
			return err
		}
		c.dispatch(args)
		c.rd.release()
		if c.fail != nil {
			return c.fail
		}
		if c.quit || c.rd.br.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return err
			}
		}
		if c.quit {
			return nil
		}
	}
}

func (c *conn) logClose(ctx context.Context, err error) {
	reason := "client"
	var ne net.Error
	switch {
	case c.quit:
		reason = "quit"
	case ctx.Err() != nil:
		reason = "shutdown"
	case errors.As(err, &ne) && ne.Timeout():
		reason = "idle"
	case errors.Is(err, io.EOF):
	case err != nil:
		reason = err.Error()
	}
	user := "-"
	switch {
	case c.user != nil && c.user.user != nil:
		user = hex.EncodeToString(c.user.user)
	case c.user != nil:
		user = "admin-secret"
	}
	c.s.log.Info("connection", "id", c.id, "remote", c.nc.RemoteAddr().String(), "user", user,
		"commands", c.commands, "duration", time.Since(c.start).Round(time.Millisecond), "closed", reason)
}

// limits returns the bounds of the next command: small ones until the
// connection may write, then room for one value.
func (c *conn) limits() limits {
	if c.s.acl.allowed(c.user, c.db, shardproto.Write) {
		return limits{small: smallArgs, value: c.s.opts.MaxValue, big: isValueArg}
	}
	if c.user != nil {
		return limits{small: smallArgs}
	}
	return limits{small: c.s.opts.PreauthBytes}
}

// isValueArg reports whether argument i of command name is a value: SET
// key VALUE, SETEX key seconds VALUE.
func isValueArg(name []byte, i int) bool {
	return (i == 2 && equalFold(name, "SET")) || (i == 3 && equalFold(name, "SETEX"))
}

func (c *conn) flush() error {
	return c.w.Flush()
}

// Replies. Write errors are sticky in the bufio.Writer and surface at
// flush.

func (c *conn) write(b []byte) { _, _ = c.w.Write(b) }

func (c *conn) ok() { c.write([]byte("+OK\r\n")) }

func (c *conn) simple(s string) { c.out = shardproto.AppendSimple(c.out[:0], s); c.write(c.out) }

func (c *conn) errorf(format string, args ...any) {
	c.erred = true
	c.out = shardproto.AppendError(c.out[:0], fmt.Sprintf(format, args...))
	c.write(c.out)
}

func (c *conn) int(n int64) { c.out = shardproto.AppendInt(c.out[:0], n); c.write(c.out) }

func (c *conn) bulk(b []byte) { c.out = shardproto.AppendBulk(c.out[:0], b); c.write(c.out) }

func (c *conn) bulkString(s string) {
	c.out = shardproto.AppendBulkString(c.out[:0], s)
	c.write(c.out)
}

func (c *conn) null() { c.write([]byte("$-1\r\n")) }

func (c *conn) array(n int) { c.out = shardproto.AppendArrayLen(c.out[:0], n); c.write(c.out) }

// value writes v as a bulk string and closes it. A value in a file goes
// straight from the file to the socket.
func (c *conn) value(v *store.Value) {
	defer v.Close()
	c.out = shardproto.AppendBulkLen(c.out[:0], int(v.Size))
	c.write(c.out)
	var err error
	if v.Size > bufSize {
		if err = c.flush(); err == nil {
			var n int64
			n, err = v.WriteTo(c.nc)
			if err == nil && n != v.Size {
				err = io.ErrShortWrite
			}
		}
	} else {
		_, err = v.WriteTo(c.w)
	}
	if err != nil {
		c.fail = err
		return
	}
	c.write([]byte("\r\n"))
	c.s.met.bytes.WithLabelValues("out").Add(float64(v.Size))
}
