package shardserver

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/shardserver/store"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "127.9.9.9:1": true, "[::1]:1": true, "10.0.0.1:1": false, "[2001:db8::1]:1": false, "0.0.0.0:1": false} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopback(a); got != want {
			t.Errorf("isLoopback(%s) = %v", addr, got)
		}
	}
}

// TestDevModeRefusesOthers checks that without configuration a client that
// does not come from loopback (here an in-memory pipe) is refused with a
// message saying how to configure access.
func TestDevModeRefusesOthers(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := New(st, Options{Access: DevAccess()})
	if err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer client.Close()
	reason, msg := s.admit(server)
	if reason != "not_loopback" {
		t.Fatalf("admit: %q", reason)
	}
	go s.reject(server, reason, msg)
	line, _ := bufio.NewReader(client).ReadString('\n')
	if !strings.HasPrefix(line, "-DENIED ") || !strings.Contains(line, "--config shard.toml") {
		t.Errorf("refusal: %q", line)
	}
	if s.conns.Load() != 0 {
		t.Error("a refused connection is counted")
	}
}
