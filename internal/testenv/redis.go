// Package testenv starts the real servers tests talk to, on free loopback
// ports, and stops them when the test ends: stock redis-server as a child
// process, and our own shard store in the test process or as a mycdnd child
// process. A missing program fails the test with what to install; nothing is
// ever skipped.
package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// LookPath returns the path of program, failing t with the Debian package
// to install when it is missing.
func LookPath(t testing.TB, program, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (scripts/test.sh does it)", program, debianPackage)
	}
	return p
}

// Redis is a stock redis-server child process.
type Redis struct {
	Addr string // host:port on 127.0.0.1
	cmd  *exec.Cmd
}

// StartRedis starts redis-server on a free loopback port without
// persistence, waits until it answers PING and stops it when t ends. args
// are more configuration, such as "--appendonly", "yes".
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin := LookPath(t, "redis-server", "redis-server")
	dir := t.TempDir()
	var lastErr error
	for range 5 { // the free port may be taken between probing and binding
		port, err := freePort(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		r.cmd = exec.CommandContext(context.Background(), bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes",
			"--logfile", filepath.Join(dir, "redis.log"))
		r.cmd.Args = append(r.cmd.Args, args...)
		if err := r.cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan struct{})
		var waitErr error
		go func() { waitErr = r.cmd.Wait(); close(exited) }()
		if lastErr = waitPing(r.Addr, exited, &waitErr, 10*time.Second); lastErr == nil {
			t.Cleanup(func() {
				_ = r.cmd.Process.Signal(syscall.SIGCONT)
				_ = r.cmd.Process.Kill()
				<-exited
			})
			return r
		}
		_ = r.cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	t.Fatalf("redis-server did not start: %v\n%s", lastErr, log)
	return nil
}

// Pause stops the server process (SIGSTOP): it keeps its connections but
// answers nothing, like a stuck server.
func (r *Redis) Pause() error { return r.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (r *Redis) Resume() error { return r.cmd.Process.Signal(syscall.SIGCONT) }

// waitPing waits until addr answers PING with PONG, or the process exits
// (closing exited after setting *waitErr).
func waitPing(addr string, exited <-chan struct{}, waitErr *error, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %w (last ping: %w)", *waitErr, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG from %s within %s: %w", addr, within, err)
		}
	}
}

func ping(addr string) error {
	d := net.Dialer{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return errors.New("answered " + strings.TrimSpace(line))
	}
	return nil
}
