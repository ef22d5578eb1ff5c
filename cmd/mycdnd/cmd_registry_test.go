package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/registry/storetest"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/xeddsa"
)

// buildMycdnd builds the command into a temporary directory.
func buildMycdnd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mycdnd")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serverProcess is a running server: `mycdnd registry` or `mycdnd gateway`.
type serverProcess struct {
	cmd     *exec.Cmd
	url     string // of the API or the gateway
	metrics string // of /metrics and /healthz, if asked for
	log     *testenv.Buffer
	done    chan error
	stopped bool
}

var addrRE = regexp.MustCompile(`msg="serving (registry|gateway|metrics)" addr=([0-9.:]+)`)

// startRegistry runs the registry with args, on free ports, and waits until
// it serves. The test's cleanup stops it.
func startRegistry(t *testing.T, bin string, args ...string) *serverProcess {
	t.Helper()
	return startServer(t, bin, "registry", args...)
}

// startServer runs "mycdnd <name>" with args on a free port, and waits
// until it serves. The test's cleanup stops it.
func startServer(t *testing.T, bin, name string, args ...string) *serverProcess {
	t.Helper()
	args = append([]string{name, "--listen", "127.0.0.1:0"}, args...)
	cmd := exec.CommandContext(context.WithoutCancel(t.Context()), bin, args...) // stop ends it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, log: &testenv.Buffer{}, done: make(chan error, 1)}
	ready := make(chan struct{})
	wantMetrics := strings.Contains(strings.Join(args, " "), "--metrics-listen")
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.log, line)
			if m := addrRE.FindStringSubmatch(line); m != nil {
				if m[1] == name {
					p.url = "http://" + m[2]
				} else {
					p.metrics = "http://" + m[2]
				}
				if p.url != "" && (p.metrics != "" || !wantMetrics) {
					close(ready)
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case <-ready:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("mycdnd %s exited: %v\n%s", strings.Join(args, " "), err, p.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("mycdnd %s did not start:\n%s", strings.Join(args, " "), p.log)
	}
	return p
}

// stop sends SIGTERM and checks that the server exits cleanly.
func (p *serverProcess) stop(t *testing.T) {
	if p.stopped {
		return
	}
	p.stopped = true
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("signal the server: %v", err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("server exited with %v:\n%s", err, p.log)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("kill: %v, exit: %v", p.cmd.Process.Kill(), <-p.done)
		t.Errorf("server did not stop on SIGTERM:\n%s", p.log)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err := errors.Join(err, resp.Body.Close()); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestRegistryProcesses runs two registry processes over one PostgreSQL
// database and checks that they serve the same data, with the writers and
// limits of the configuration file, and the metrics endpoint.
func TestRegistryProcesses(t *testing.T) {
	bin := buildMycdnd(t)
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	url := pg.NewDatabase(t)
	key := xeddsa.GenerateKey()
	pub := key.PublicKey()
	cfg := writeFile(t, "registry.toml", `
tokens = ["tok-1"]
writers = ["`+pub.String()+`"]
max_blob_size = 100000
`)
	a := startRegistry(t, bin, "--postgres", url, "--config", cfg, "--metrics-listen", "127.0.0.1:0")
	b := startRegistry(t, bin, "--postgres", url, "--config", cfg)

	signed, err := registryclient.New(a.url, &registryclient.Options{Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	byToken, err := registryclient.New(b.url, &registryclient.Options{Token: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	data, h := storetest.Blob("through a", 5000)
	if err := signed.Put(ctx, h, data); err != nil {
		t.Fatal(err)
	}
	if got, err := byToken.Get(ctx, h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("b reads %d bytes, %v", len(got), err)
	}
	data, h = storetest.Blob("through b", 7000)
	if err := byToken.Put(ctx, h, data); err != nil {
		t.Fatal(err)
	}
	if got, err := signed.Get(ctx, h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("a reads %d bytes, %v", len(got), err)
	}
	info, err := signed.Info(ctx)
	if err != nil || info.MaxBlobSize != 100000 || info.Open {
		t.Fatalf("info: %+v, %v", info, err)
	}
	big, bigHash := storetest.Blob("big", 100001)
	if err := byToken.Put(ctx, bigHash, big); !errors.Is(err, registryclient.ErrTooLarge) {
		t.Fatalf("put over max_blob_size: %v", err)
	}

	if code, body := httpGet(t, a.metrics+"/healthz"); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := httpGet(t, a.metrics+"/metrics"); code != 200 || !strings.Contains(body, `mycdn_registry_requests_total{code="200",method="PUT"} 1`) {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
	a.stop(t)
	b.stop(t)
	for _, p := range []*serverProcess{a, b} {
		if n := strings.Count(p.log.String(), "msg=request "); n < 2 {
			t.Errorf("%d request log lines:\n%s", n, p.log)
		}
	}
}

// TestRegistryEmbedded runs an open registry on the embedded store, checks
// the warning, and that its data survives a restart.
func TestRegistryEmbedded(t *testing.T) {
	bin := buildMycdnd(t)
	dir := t.TempDir()
	p := startRegistry(t, bin, "--data", dir, "--open")
	if !strings.Contains(p.log.String(), "OPEN REGISTRY") {
		t.Errorf("no warning for --open:\n%s", p.log)
	}
	c, err := registryclient.New(p.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, h := storetest.Blob("embedded", 3000)
	if err := c.Put(t.Context(), h, data); err != nil {
		t.Fatal(err)
	}
	p.stop(t)

	p = startRegistry(t, bin, "--data", dir)
	c, err = registryclient.New(p.url, &registryclient.Options{Retry: retry.Policy{Retries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(t.Context(), h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a restart: %d bytes, %v", len(got), err)
	}
	var se *registryclient.StatusError
	if err := c.Put(t.Context(), h, data); !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("write to a registry with no writers: %v", err)
	}
	if !strings.Contains(p.log.String(), "every write is refused") {
		t.Errorf("no warning for a registry without writers:\n%s", p.log)
	}
}

// TestRegistryUsage checks that bad command lines and configurations exit
// with the usage code before serving.
func TestRegistryUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--data DIR"},
		{[]string{"--data", dir, "--postgres", "postgres://x"}, "not both"},
		{[]string{"--data", dir, "--config", writeFile(t, "r.toml", "bogus = 1")}, "unknown key"},
		{[]string{"--data", dir, "--config", writeFile(t, "r.toml", `writers = ["00"]`)}, "writers[0]"},
		{[]string{"--data", dir, "--config", writeFile(t, "r.toml", `max_blob_size = 9999999999`)}, "max blob size"},
		{[]string{"--data", dir, "--config", filepath.Join(dir, "missing.toml")}, "no such file"},
		{[]string{"--data", dir, "--log-level", "loud"}, "bad log level"},
		{[]string{"--data", dir, "extra"}, "unknown command or argument"},
	} {
		var stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		code := cli.Run(ctx, newRootCmd(), append([]string{"registry"}, tc.args...), &stderr)
		cancel()
		if code != cli.ExitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("registry %v: exit %d, %q; want %d with %q", tc.args, code, stderr.String(), cli.ExitUsage, tc.want)
		}
	}
}
