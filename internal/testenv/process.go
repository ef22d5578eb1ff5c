package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds the command ./cmd/<name> of this module (such as "mycdnd")
// into a temporary directory of t and returns the binary's path.
func Build(t testing.TB, name string) string {
	t.Helper()
	goBin := LookPath(t, "go", "golang-go")
	out, err := exec.CommandContext(context.Background(), goBin, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		t.Fatalf("find the module root: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.CommandContext(context.Background(), goBin, "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// Process is a mycdnd server ("mycdnd shard", "registry" or "gateway")
// running as a child process.
type Process struct {
	// Addr is the address of its main port: the Redis protocol port of a
	// shard store, the HTTP port of a registry or gateway.
	Addr string
	// MetricsAddr serves /metrics and /healthz, when asked for.
	MetricsAddr string
	// Dir is the data directory of a shard store.
	Dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    bytes.Buffer
}

var addrRE = regexp.MustCompile(`msg="serving (shard store|registry|gateway|metrics)" addr=(\S+)`)

// StartShardProcess runs bin (from [Build]) as "mycdnd shard" on free
// loopback ports, with its store in dir and the given extra arguments (such
// as --config), waits until it listens and kills it when t ends.
func StartShardProcess(t testing.TB, bin, dir string, args ...string) *Process {
	t.Helper()
	p := StartServer(t, bin, "shard", append([]string{"--data", dir, "--listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0"}, args...)...)
	p.Dir = dir
	return p
}

// StartServer runs bin (from [Build]) as "mycdnd <server> args...", waits
// until it logs that it serves (and serves metrics, when args have
// --metrics-listen), and kills it when t ends. args must include the
// addresses to listen on; "127.0.0.1:0" picks free ports.
func StartServer(t testing.TB, bin, server string, args ...string) *Process {
	t.Helper()
	p := &Process{exited: make(chan struct{})}
	wantMetrics := slices.Contains(args, "--metrics-listen")
	p.cmd = exec.CommandContext(context.Background(), bin, append([]string{server}, args...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start mycdnd %s: %v", server, err)
	}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		ready := false
		for sc.Scan() {
			p.mu.Lock()
			p.log.Write(sc.Bytes())
			p.log.WriteByte('\n')
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				if m[1] == "metrics" {
					p.MetricsAddr = m[2]
				} else {
					p.Addr = m[2]
				}
				if !ready && p.Addr != "" && (p.MetricsAddr != "" || !wantMetrics) {
					ready = true
					close(found)
				}
			}
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-found:
	case <-p.exited:
		t.Fatalf("mycdnd %s exited: %s\n%s", server, p.cmd.ProcessState, p.Log())
	case <-time.After(30 * time.Second):
		p.Kill()
		t.Fatalf("mycdnd %s did not start serving within 30s\n%s", server, p.Log())
	}
	t.Cleanup(p.Kill)
	return p
}

// Log returns what the process logged so far.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Kill kills the process with SIGKILL, as a crash would, and waits for it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop asks the process to stop with SIGTERM and waits for it, failing t if
// it does not exit cleanly within 10 seconds.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if !p.cmd.ProcessState.Success() {
			t.Errorf("mycdnd exited with %s\n%s", p.cmd.ProcessState, p.Log())
		}
	case <-time.After(10 * time.Second):
		p.Kill()
		t.Errorf("mycdnd did not stop within 10s of SIGTERM")
	}
}

// PeakRSS returns the process's peak resident set size (VmHWM) in bytes.
func (p *Process) PeakRSS() (int64, error) {
	return PeakRSS(p.PID())
}

// PeakRSS returns the peak resident set size (VmHWM) of a running process,
// in bytes. (The maximum RSS that wait4 reports for a child counts the
// parent's memory it shared before exec, so it overstates a child started
// by a big test process.)
func PeakRSS(pid int) (int64, error) {
	return procStatus(pid, "VmHWM")
}

// procStatus reads a "kB" field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
