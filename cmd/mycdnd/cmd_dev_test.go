package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/config"
	"github.com/mycdn/mycdn/internal/testenv"
)

var publishedRE = regexp.MustCompile(`Published \S+: (http://\S+)`)

// startDev runs "mycdnd dev --publish" in process and returns the URL it
// published and a function that stops it.
func startDev(t *testing.T, opts devOptions) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs testenv.Buffer
	done := make(chan error, 1)
	go func() { done <- runDev(ctx, opts, &out, &errs) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if m := publishedRE.FindStringSubmatch(out.String()); m != nil {
			return m[1], func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("dev: %v\n%s", err, errs.String())
				}
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("dev stopped: %v\n%s\n%s", err, out.String(), errs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("nothing published within a minute:\n%s\n%s", out.String(), errs.String())
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDev publishes a site, reads it through the gateway, stops the network
// and starts it again on the same data: everything is still served.
func TestDev(t *testing.T) {
	site := filepath.Join(t.TempDir(), "site")
	os.MkdirAll(filepath.Join(site, "css"), 0o755)
	os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>dev</h1>"), 0o644)
	os.WriteFile(filepath.Join(site, "css", "a.css"), []byte("h1{}"), 0o644)
	opts := devOptions{data: t.TempDir(), basePort: 20000 + rand.N(40000), shards: 5, k: 3, publish: site, logLevel: "error"}

	url, stop := startDev(t, opts)
	if code, body := get(t, url); code != 200 || body != "<h1>dev</h1>" {
		t.Fatalf("published URL: %d %q", code, body)
	}
	if code, body := get(t, url+"css/a.css"); code != 200 || body != "h1{}" {
		t.Fatalf("css: %d %q", code, body)
	}
	cfg, err := config.LoadClient(filepath.Join(opts.data, "config.toml"))
	if err != nil || cfg.CheckUpload() != nil || cfg.Gateway.URL == "" || len(cfg.Backends) != 5 || cfg.RequiredShards != 3 {
		t.Fatalf("config.toml: %+v, %v", cfg, err)
	}
	stop()

	// The same data and ports: the same content, at the same URL.
	again, stop := startDev(t, opts)
	defer stop()
	if again != url {
		t.Errorf("republished at %s, first at %s", again, url)
	}
	if code, body := get(t, url+"css/a.css"); code != 200 || body != "h1{}" {
		t.Fatalf("after a restart: %d %q", code, body)
	}
}

func TestDevUsage(t *testing.T) {
	for _, o := range []devOptions{
		{data: t.TempDir(), basePort: 30000, shards: 3, k: 3, logLevel: "error"},
		{data: t.TempDir(), basePort: 65530, shards: 5, k: 3, logLevel: "error"},
	} {
		err := runDev(context.Background(), o, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
