package shardserver_test

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/shardproto"
)

// raw is a plain RESP connection, for checking replies byte for byte.
type raw struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, c: c, br: bufio.NewReader(c)}
}

// do sends a command and returns its reply in a compact text form:
// "+OK", "-ERR ...", ":3", "$bar", "$nil", "*[a b]".
func (r *raw) do(args ...string) string {
	r.t.Helper()
	var b []byte
	b = shardproto.AppendArrayLen(b, len(args))
	for _, a := range args {
		b = shardproto.AppendBulkString(b, a)
	}
	r.send(string(b))
	return r.reply()
}

func (r *raw) send(s string) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

func (r *raw) reply() string {
	r.t.Helper()
	s, err := r.tryReply()
	if err != nil {
		r.t.Fatalf("read reply: %v", err)
	}
	return s
}

func (r *raw) tryReply() (string, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := r.br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "$nil", nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r.br, b); err != nil {
			return "", err
		}
		return "$" + string(b[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		var items []string
		for range n {
			s, err := r.tryReply()
			if err != nil {
				return "", err
			}
			items = append(items, strings.TrimPrefix(s, "$"))
		}
		return "*[" + strings.Join(items, " ") + "]", nil
	}
	return line, nil
}

// closed reports whether the server closed the connection within d.
func (r *raw) closed(d time.Duration) bool {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	for {
		if _, err := r.br.ReadByte(); err != nil {
			ne, ok := err.(net.Error)
			return !ok || !ne.Timeout()
		}
	}
}

// login logs in with key the way the reference client does and returns
// the session token.
func (r *raw) login(key ed25519.PrivateKey) string {
	r.t.Helper()
	tok := r.token(key)
	if got := r.do("AUTH", tok); got != "+OK" {
		r.t.Fatalf("AUTH: %s", got)
	}
	return tok
}

func (r *raw) token(key ed25519.PrivateKey) string {
	r.t.Helper()
	ch := r.do("CHALLENGE")
	pub, sig, err := shardproto.SignChallenge(key, strings.TrimPrefix(ch, "$"))
	if err != nil {
		r.t.Fatalf("CHALLENGE gave %q: %v", ch, err)
	}
	tok := r.do("TOKEN", pub, sig)
	if !strings.HasPrefix(tok, "$mst1.") {
		r.t.Fatalf("TOKEN: %s", tok)
	}
	return strings.TrimPrefix(tok, "$")
}

func key(i byte) ed25519.PrivateKey {
	seed := make([]byte, 32)
	seed[0] = i
	return ed25519.NewKeyFromSeed(seed)
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func pubHex(k ed25519.PrivateKey) string { return fmt.Sprintf("%x", pub(k)) }
