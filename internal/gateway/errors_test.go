package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

func TestBadRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.put("f.txt", "", []byte("content"))
	l, k := r.Lookup.String(), r.Key.String()
	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"lookup not hex", "GET", "/" + strings.Repeat("z", 32) + "/" + k + "/", 400},
		{"key not hex", "GET", "/" + l + "/" + strings.Repeat("z", 32) + "/", 400},
		{"key too short", "GET", "/" + l + "/" + k[:30] + "/", 400},
		{"missing key", "GET", "/" + l + "//", 400},
		{"bare form without key", "GET", "/" + l, 400},
		{"bare form, bad key", "GET", "/" + l + "?key=" + k[:31] + "g", 400},
		{"wrong key", "GET", "/" + l + "/" + strings.Repeat("1", 32) + "/", 400},
		{"unknown reference", "GET", "/" + strings.Repeat("1", 32) + "/" + k + "/", 404},
		{"POST", "POST", "/" + l + "/" + k + "/", 405},
		{"DELETE", "DELETE", "/" + l + "/" + k + "/", 405},
	} {
		resp := e.do(tc.method, e.url+tc.path)
		if resp.StatusCode != tc.status || strings.Contains(string(resp.body), "content") && tc.status != 405 {
			t.Errorf("%s: %d %q, want %d", tc.name, resp.StatusCode, resp.body, tc.status)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("405 without Allow")
		}
	}
}

// TestStoresDown reads with two of five stores down, then three.
func TestStoresDown(t *testing.T) {
	e := newEnv(t, envOptions{n: 5, k: 3}) // no caches: every read goes to the stores
	data := random(size4, 4)
	r := e.put("data.bin", "", data)
	e.nw.Stop(1)
	e.nw.Stop(3)
	for _, rng := range []string{"", "bytes=1000-2100000"} {
		resp := e.do("GET", e.pathURL(r, ""), "Range: "+rng)
		want := data
		if rng != "" {
			want = data[1000 : 2100000+1]
		}
		if resp.StatusCode/100 != 2 || resp.err != nil || !bytes.Equal(resp.body, want) {
			t.Fatalf("two of five down, Range %q: %d (%v), %d bytes, identical %v", rng, resp.StatusCode, resp.err, len(resp.body), bytes.Equal(resp.body, want))
		}
	}
	e.nw.Stop(4)
	for _, method := range []string{"GET", "HEAD"} {
		// HEAD needs no block of a file whose size the metadata tells.
		resp := e.do(method, e.pathURL(r, ""))
		if method == "HEAD" {
			if resp.StatusCode != 200 {
				t.Errorf("three down, HEAD: %d", resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != 502 && resp.StatusCode != 503 {
			t.Fatalf("three of five down: %d %q, want 502 or 503", resp.StatusCode, resp.body)
		}
		if !strings.Contains(string(resp.body), "unavailable") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("three of five down: %q, Cache-Control %q", resp.body, resp.Header.Get("Cache-Control"))
		}
	}
	e.nw.Restart(1)
	if resp := e.do("GET", e.pathURL(r, "")); resp.StatusCode != 200 || !bytes.Equal(resp.body, data) {
		t.Fatalf("after a restart: %d, %d bytes", resp.StatusCode, len(resp.body))
	}
}

// TestAbortMidBody makes a later block of a file unreadable: the response
// has begun when it fails, so the connection is aborted, and the client
// sees an error rather than a short body taken for a whole one.
func TestAbortMidBody(t *testing.T) {
	e := newEnv(t, envOptions{n: 3, k: 2})
	data := random(size4, 5)
	r := e.put("data.bin", "", data)
	file := metadata(t, e, r)
	// Block 2 loses two of its three shards.
	for _, i := range []int{0, 2} {
		c, err := shardclient.New(shardclient.Options{Addr: e.nw.Shards[i].Addr})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Del(context.Background(), file.Blocks[2].EncryptedHash[:]); !ok || err != nil {
			t.Fatalf("del: %v %v", ok, err)
		}
		c.Close()
	}
	url := e.pathURL(r, "")
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		if proto == "h2c" {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			e.client.Transport = &http.Transport{Protocols: &p}
		}
		resp := e.do("GET", url)
		if resp.StatusCode != 200 || resp.err == nil || len(resp.body) >= size4 {
			t.Fatalf("%s: %d, %d bytes, read error %v: want 200 cut by an error", proto, resp.StatusCode, len(resp.body), resp.err)
		}
		if !bytes.Equal(resp.body, data[:len(resp.body)]) {
			t.Errorf("%s: the bytes sent before the abort are wrong", proto)
		}
		// A range within the lost block fails before the status: 503.
		if resp := e.do("GET", url, "Range: bytes=2097152-2097200"); resp.StatusCode != 503 {
			t.Errorf("%s: range of the lost block: %d, want 503", proto, resp.StatusCode)
		}
		if resp := e.do("GET", url, "Range: bytes=0-99"); resp.StatusCode != 206 || !bytes.Equal(resp.body, data[:100]) {
			t.Errorf("%s: range of a good block: %d", proto, resp.StatusCode)
		}
	}
	if !strings.Contains(e.log.String(), "aborted=true") {
		t.Errorf("the log does not show the aborts:\n%s", e.log.String())
	}
}

// metadata returns the file r names.
func metadata(t testing.TB, e *env, r ref.Ref) *meta.File {
	t.Helper()
	m, err := e.fetcher.Metadata(context.Background(), r.Lookup, r.Key)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := m.(*meta.File)
	if !ok {
		t.Fatalf("%v is not a file", r)
	}
	return f
}

// TestSlowClient reads a file slowly through small socket buffers, with a
// write timeout far shorter than the download: the deadline is per piece,
// so the download completes.
func TestSlowClient(t *testing.T) {
	// A piece of the body is 256 KiB: the client reads 16 KiB every 10 ms,
	// 1.6 MB/s, three times faster than the 512 KiB/s a 500 ms timeout
	// per piece needs, and takes about 4 s over the whole file.
	const size = 6*chunk + 5
	e := newEnv(t, envOptions{gw: gateway.Options{WriteTimeout: 500 * time.Millisecond}, sendBuffer: 32 << 10})
	data := random(size, 6)
	r := e.put("big.bin", "", data)
	e.client.Transport = &http.Transport{DialContext: smallBufferDial}
	req, _ := http.NewRequest("GET", e.pathURL(r, ""), nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	var got bytes.Buffer
	buf := make([]byte, 16<<10)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got.Write(buf[:n])
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) && got.Len() == size {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes in %v: %v\n%s", got.Len(), time.Since(start), err, e.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(start); took < 2*time.Second || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read %d bytes in %v: want all %d, over more than 2s", got.Len(), took, size)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(size) {
		t.Errorf("Content-Length %s", cl)
	}
}

// smallBufferDial dials with a 16 KiB receive buffer.
func smallBufferDial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	return d.DialContext(ctx, network, addr)
}
