package opshttp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycdn/mycdn/internal/opshttp"
)

func TestServe(t *testing.T) {
	reg := opshttp.NewRegistry()
	hits := prometheus.NewCounter(prometheus.CounterOpts{Name: "mycdn_test_hits_total", Help: "Test hits."})
	reg.MustRegister(hits)
	hits.Add(3)
	var sick error
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- opshttp.Serve(ctx, ln, opshttp.Handler(reg, func(context.Context) error { return sick }), slog.New(slog.DiscardHandler))
	}()
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "mycdn_test_hits_total 3") ||
		!strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	sick = errors.New("disk full")
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "disk full") {
		t.Errorf("unhealthy /healthz = %d %q", code, body)
	}
	if code, _ := get("/other"); code != 404 {
		t.Errorf("/other = %d, want 404", code)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
