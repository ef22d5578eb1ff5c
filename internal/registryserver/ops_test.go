package registryserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registry/storetest"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/meta"
)

// TestSlowClients checks that a client that never finishes its headers, or
// its body, is disconnected, and that the half-sent blob is not stored.
func TestSlowClients(t *testing.T) {
	opts := writeOpts()
	opts.ReadHeaderTimeout = 300 * time.Millisecond
	opts.ReadTimeout = 600 * time.Millisecond
	base := serve(t, openPebble(t), opts)
	addr := strings.TrimPrefix(base, "http://")
	data, h := storetest.Blob("slow", 1000)

	for name, req := range map[string]string{
		"headers": "GET " + registry.InfoPath + " HTTP/1.1\r\nHost: registry\r\n",
		"body": fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: registry\r\n%s\r\nContent-Length: %d\r\n\r\n%s",
			registry.BlobPath(h), bearer, len(data), data[:100]),
	} {
		t.Run(name, func(t *testing.T) {
			var d net.Dialer
			conn, err := d.DialContext(t.Context(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := conn.SetReadDeadline(start.Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode < 400 {
					t.Fatalf("a request cut short was answered %d", resp.StatusCode)
				}
			}
			if _, err := io.Copy(io.Discard, conn); err != nil {
				t.Fatalf("the registry kept the connection open: %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("disconnected after %v", d)
			}
		})
	}
	mustAbsent(t, base, h)
}

// TestInflight checks that bodies being received share a memory budget:
// a write that finds none left waits, then gets 503, and works once the
// budget is free again.
func TestInflight(t *testing.T) {
	opts := writeOpts()
	opts.MaxBlobSize = 1000
	opts.MaxInflightBytes = 1000 + 64<<10 // one POST of unknown length takes it all
	opts.StoreTimeout = 200 * time.Millisecond
	base := serve(t, openPebble(t), opts)
	held, heldHash := storetest.Blob("holds the budget", 500)
	form, ct := referenceForm(held)
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", base+registry.MetadataPath, chunked{pr})
		req.Header.Set("Content-Type", strings.TrimPrefix(ct, "Content-Type: "))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err == nil {
			err = resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		first <- err
	}()
	if _, err := pw.Write(form[:50]); err != nil {
		t.Fatal(err)
	}

	data, h := storetest.Blob("waits", 10)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, "PUT", base+registry.BlobPath(h), bodyOf(data), bearer)
		if r.code == http.StatusServiceUnavailable {
			t.Logf("refused while the budget is held: %s", r.errorMessage(t))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a write was answered %d while the budget was held", r.code)
		}
		// The first POST has not reached the registry yet: that write went
		// through. Try another.
		data, h = storetest.Blob(fmt.Sprint("waits ", time.Now().UnixNano()), 10)
	}
	mustAbsent(t, base, h)
	if _, err := pw.Write(form[50:]); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the POST holding the budget: %v", err)
	}
	mustHold(t, base, heldHash, held)
	hashReply(t, do(t, "PUT", base+registry.BlobPath(h), bodyOf(data), bearer))
}

// TestTwoServersOnePostgres checks that two registries over one database
// serve the same data, and that racing writes of one blob through both keep
// one row.
func TestTwoServersOnePostgres(t *testing.T) {
	url := testenv.PostgresDB(t)
	a := serve(t, openPostgres(t, url), writeOpts())
	b := serve(t, openPostgres(t, url), writeOpts())

	data, h := storetest.Blob("through a", 2048)
	hashReply(t, do(t, "PUT", a+registry.BlobPath(h), bodyOf(data), bearer))
	mustHold(t, b, h, data)
	data, h = storetest.Blob("through b", 1024)
	form, ct := referenceForm(data)
	hashReply(t, do(t, "POST", b+registry.MetadataPath, bodyOf(form), ct, bearer))
	mustHold(t, a, h, data)
	if r := do(t, "HEAD", a+registry.BlobPath(h), nil); r.code != 200 || r.header.Get("Content-Length") != "1024" {
		t.Fatalf("HEAD through a: %d %q", r.code, r.header.Get("Content-Length"))
	}

	const blobs = 20
	var wg sync.WaitGroup
	errs := make(chan error, 8*blobs)
	for w := range 8 {
		wg.Go(func() {
			for i := range blobs {
				data, h := storetest.Blob(fmt.Sprint("race ", i), 300)
				base := []string{a, b}[(w+i)%2]
				req, _ := http.NewRequestWithContext(context.Background(), "PUT", base+registry.BlobPath(h), bytes.NewReader(data))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := httpClient.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				if err := resp.Body.Close(); err != nil {
					errs <- err
				}
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("PUT %v through %s: %d", h, base, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var rows int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM blobs").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2+blobs {
		t.Fatalf("%d rows, want %d", rows, 2+blobs)
	}
	for i := range blobs {
		data, h := storetest.Blob(fmt.Sprint("race ", i), 300)
		mustHold(t, a, h, data)
		mustHold(t, b, h, data)
	}
}

// TestLogAndMetrics checks one log line per request, without secrets, and
// the request counters.
func TestLogAndMetrics(t *testing.T) {
	var logs testenv.Buffer
	reg := prometheus.NewRegistry()
	opts := writeOpts()
	opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
	opts.Metrics = reg
	base := serve(t, openPebble(t), opts)
	data, h := storetest.Blob("logged", 100)
	hashReply(t, do(t, "PUT", base+registry.BlobPath(h), bodyOf(data), bearer))
	do(t, "GET", base+registry.BlobPath(meta.Hash{}), nil)
	do(t, "GET", base+registry.BlobPath(h), nil)
	do(t, "PUT", base+registry.BlobPath(h), bodyOf(data), "Authorization: Bearer wrong-"+token)

	var lines []string
	for deadline := time.Now().Add(5 * time.Second); len(lines) < 4 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		lines = nil
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "msg=request ") {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%d request log lines, want 4:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{"method=PUT path=/api/v1/metadata/" + h.String() + " status=200", "status=404", "method=GET", "status=401"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("log line %d lacks %q: %s", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[0], "who=token") {
		t.Errorf("the write's log line does not say who wrote: %s", lines[0])
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the log holds the token:\n%s", logs.String())
	}

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	for key, want := range map[string]float64{
		"mycdn_registry_requests_total code=200 method=PUT":  1,
		"mycdn_registry_requests_total code=401 method=PUT":  1,
		"mycdn_registry_requests_total code=404 method=GET":  1,
		"mycdn_registry_requests_total code=200 method=GET":  1,
		"mycdn_registry_request_duration_seconds method=GET": 2,
		"mycdn_registry_stored_bytes_total":                  100,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}
