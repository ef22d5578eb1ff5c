package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/testenv"
)

// runPeakRSS runs bin with args and returns its peak resident set size,
// failing t if it fails.
func runPeakRSS(t *testing.T, bin string, args ...string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var rss int64
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out.Bytes())
			}
			return rss
		case <-time.After(20 * time.Millisecond):
			if n, err := testenv.PeakRSS(cmd.Process.Pid); err == nil {
				rss = max(rss, n) // VmHWM only grows; the last read is the peak
			}
		}
	}
}

// writeRandom writes size pseudo-random bytes to path.
func writeRandom(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := blake3.New()
	h.Write([]byte(path))
	if _, err := io.CopyN(f, h.Digest(), size); err != nil {
		t.Fatal(err)
	}
}

// TestMemoryBounded runs mycdnctl upload and get as processes and checks
// that their peak memory stays within chunk size x parallelism, and does not
// grow with the size of the file.
func TestMemoryBounded(t *testing.T) {
	bin := testenv.Build(t, "mycdnctl")
	nw := testenv.StartNetwork(t, 5)
	cfg := writeConfig(t, nw, 3, "", nil)
	dir := t.TempDir()
	peaks := map[string][2]int64{}
	for i, size := range []int64{24 << 20, 120 << 20} {
		path := filepath.Join(dir, "file")
		writeRandom(t, path, size)
		up := runPeakRSS(t, bin, "upload", "--config", cfg, "--parallel", "4", "--json", path)
		lines := uploadJSON(t, cfg, path) // the same upload, to learn its reference
		get := runPeakRSS(t, bin, "get", "--config", cfg, "--force", "-o", filepath.Join(dir, "copy"), lines[0].Ref)
		p := peaks["upload"]
		p[i] = up
		peaks["upload"] = p
		p = peaks["get"]
		p[i] = get
		peaks["get"] = p
	}
	// Upload: 4 chunks of 5 MiB in flight, each with its 5/3 x 5 MiB of
	// shards, is 53 MiB. Get: 4 blocks prefetched, each with its shards.
	// The rest is the runtime and connections.
	const bound = 100 << 20
	for cmd, p := range peaks {
		t.Logf("%s peak RSS: %d MiB for 24 MiB, %d MiB for 120 MiB", cmd, p[0]>>20, p[1]>>20)
		if p[0] == 0 || p[0] > bound || p[1] > bound {
			t.Errorf("%s: peak RSS %d and %d MiB, want them within %d MiB", cmd, p[0]>>20, p[1]>>20, bound>>20)
		}
		if p[1] > p[0]+16<<20 {
			t.Errorf("%s: peak RSS grew from %d to %d MiB with the file size", cmd, p[0]>>20, p[1]>>20)
		}
	}
}

// TestUploadInterrupt sends SIGINT to an upload in progress: it stops at
// once, says so, exits 1 and prints no reference.
func TestUploadInterrupt(t *testing.T) {
	bin := testenv.Build(t, "mycdnctl")
	nw := testenv.StartNetwork(t, 3)
	cfg := writeConfig(t, nw, 2, "", nil)
	path := filepath.Join(t.TempDir(), "big")
	writeRandom(t, path, 512<<20)
	cmd := exec.CommandContext(context.Background(), bin, "upload", "--config", cfg, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 || err == nil {
		t.Fatalf("exit %d after SIGINT, want 1 (stderr %q)", code, stderr.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stopped %v after SIGINT", took)
	}
	if stdout.Len() != 0 || !bytes.Contains(stderr.Bytes(), []byte("interrupted")) {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
