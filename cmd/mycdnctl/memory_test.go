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

// TestUploadMemoryBounded runs mycdnctl as a process and checks that its
// peak memory stays within chunk size x parallelism, and does not grow with
// the size of the file.
func TestUploadMemoryBounded(t *testing.T) {
	bin := testenv.Build(t, "mycdnctl")
	nw := testenv.StartNetwork(t, 5)
	cfg := writeConfig(t, nw, 3, "", nil)
	dir := t.TempDir()
	peak := func(size int64) int64 {
		t.Helper()
		path := filepath.Join(dir, "file")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		h := blake3.New()
		h.Write([]byte{byte(size)})
		if _, err := io.CopyN(f, h.Digest(), size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "upload", "--config", cfg, "--parallel", "4", path)
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
					t.Fatalf("upload of %d bytes: %v\n%s", size, err, out.Bytes())
				}
				return rss
			case <-time.After(20 * time.Millisecond):
				if n, err := testenv.PeakRSS(cmd.Process.Pid); err == nil {
					rss = max(rss, n) // VmHWM only grows; the last read is the peak
				}
			}
		}
	}
	small, big := peak(24<<20), peak(120<<20)
	t.Logf("peak RSS: %d MiB for 24 MiB, %d MiB for 120 MiB", small>>20, big>>20)
	// 4 chunks of 5 MiB in flight, each with its 5/3 x 5 MiB of shards, is
	// 53 MiB; the rest is the runtime and connections.
	const bound = 100 << 20
	if small == 0 || big > bound || small > bound {
		t.Errorf("peak RSS %d and %d MiB, want them within %d MiB", small>>20, big>>20, bound>>20)
	}
	if big > small+16<<20 {
		t.Errorf("peak RSS grew from %d to %d MiB with the file size", small>>20, big>>20)
	}
}

// TestUploadInterrupt sends SIGINT to an upload in progress: it stops at
// once, says so, exits 1 and prints no reference.
func TestUploadInterrupt(t *testing.T) {
	bin := testenv.Build(t, "mycdnctl")
	nw := testenv.StartNetwork(t, 3)
	cfg := writeConfig(t, nw, 2, "", nil)
	path := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, blake3.New().Digest(), 512<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
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
	err = cmd.Wait()
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
