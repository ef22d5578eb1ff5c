package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/ref"
)

// uploader returns an uploader into nw with 1 MiB chunks and k of n.
func uploader(t *testing.T, nw *testenv.Network, k int) *upload.Uploader {
	t.Helper()
	up, _ := uploaderCloser(t, nw, k)
	return up
}

// uploaderCloser is uploader, with a func that closes its shard clients.
func uploaderCloser(t *testing.T, nw *testenv.Network, k int) (*upload.Uploader, func()) {
	t.Helper()
	reg, err := registryclient.New(nw.Registry.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stores []upload.ShardStore
	var clients []*shardclient.Client
	closeAll := func() {
		for _, c := range clients {
			c.Close()
		}
	}
	t.Cleanup(closeAll)
	for _, s := range nw.Shards {
		c, err := shardclient.New(shardclient.Options{Addr: s.Addr})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		stores = append(stores, c)
	}
	up, err := upload.New(upload.Options{ChunkSize: upload.MinChunkSize, K: k, Shards: nw.Locations(), Stores: stores, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return up, closeAll
}

func put(t *testing.T, up *upload.Uploader, name string, data []byte) ref.Ref {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj, err := up.Reader(ctx, bytes.NewReader(data), name, "")
	if err != nil {
		t.Fatal(err)
	}
	return obj.Ref
}

// TestGatewayCommand runs "mycdnd gateway" with TLS, a domain, a disk cache
// and metrics: HTTP/2 over TLS in both URL forms, a Secure cookie, the
// metrics of the requests, a clean stop on SIGTERM that closes every
// connection to the stores.
func TestGatewayCommand(t *testing.T) {
	bin := testenv.Build(t, "mycdnd")
	nw := testenv.StartNetwork(t, 3)
	up := uploader(t, nw, 2)
	data := bytes.Repeat([]byte("mycdn "), 500_000) // 3 MB: three blocks
	r := put(t, up, "data.txt", data)
	cert, key, pool := selfSigned(t, "127.0.0.1", "*.cdn.test")
	p := startServer(t, bin, "gateway", "--registry", nw.Registry.URL, "--domain", "cdn.test",
		"--tls-cert", cert, "--tls-key", key, "--metrics-listen", "127.0.0.1:0",
		"--cache-size", "8MiB", "--cache-dir", t.TempDir(), "--disk-cache-size", "16MiB")
	addr := strings.TrimPrefix(p.url, "http://")

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr) // <lookup>.cdn.test too
		},
	}}
	defer client.CloseIdleConnections()
	get := func(url string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	resp, body := get("https://" + addr + "/" + r.Lookup.String() + "/" + r.Key.String() + "/")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || !bytes.Equal(body, data) {
		t.Fatalf("path form over TLS: %d %s, %d bytes", resp.StatusCode, resp.Proto, len(body))
	}
	_, port, _ := net.SplitHostPort(addr)
	resp, body = get("https://" + r.Lookup.String() + ".cdn.test:" + port + "/?key=" + r.Key.String())
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("host form over TLS: %d, %d bytes", resp.StatusCode, len(body))
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
		t.Errorf("cookie over TLS: %q", c)
	}

	code, metrics := httpGet(t, p.metrics+"/metrics")
	for _, want := range []string{
		`mycdn_gateway_requests_total{code="200",method="GET"} 2`,
		`mycdn_gateway_cache_hits_total{cache="block"}`,
		`mycdn_gateway_cache_bytes{cache="disk"}`,
		`mycdn_gateway_shard_read_seconds_count{store="`,
		`mycdn_gateway_registry_read_seconds_count 1`,
		`mycdn_gateway_response_bytes_total 6e+06`,
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, body := httpGet(t, p.metrics+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

}

// TestGatewayClosesStores runs the gateway in this process, reads through
// it, and cancels it: it returns, and has closed every connection it opened
// to the stores.
func TestGatewayClosesStores(t *testing.T) {
	nw := testenv.StartNetwork(t, 3)
	up, closeUp := uploaderCloser(t, nw, 2)
	r := put(t, up, "f", bytes.Repeat([]byte("x"), 3<<20))
	closeUp()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runGateway(ctx, gatewayOptions{listen: "127.0.0.1:0", registry: nw.Registry.URL, logLevel: "info",
			cacheSize: 1 << 20, bodyMemory: 64 << 20}, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && m[1] == "gateway" {
				addr <- m[2]
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("gateway: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not start")
	}
	code, body := httpGet(t, base+"/"+r.Lookup.String()+"/"+r.Key.String()+"/")
	if code != 200 || len(body) != 3<<20 {
		t.Fatalf("GET: %d, %d bytes", code, len(body))
	}
	if storeConnections(t, nw, 0)+storeConnections(t, nw, 1)+storeConnections(t, nw, 2) < 2 {
		t.Fatal("the stores see fewer than k connections from the gateway")
	}
	// No garbage collection from here: it would close connections left
	// open when their clients are collected, and hide a missing Close.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gateway returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not return after its context was cancelled")
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := range nw.Shards {
		for storeConnections(t, nw, i) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("store %d still has %v connections after the gateway stopped", i, storeConnections(t, nw, i))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// storeConnections returns the open connections of store i.
func storeConnections(t *testing.T, nw *testenv.Network, i int) float64 {
	t.Helper()
	families, err := nw.Shards[i].Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "mycdn_shard_connections" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no mycdn_shard_connections metric")
	return 0
}

// selfSigned writes a self-signed certificate for hosts and its key, and
// returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, hosts ...string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mycdn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	parsed, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(parsed)
	return cert, key, pool
}

func TestGatewayUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--registry", "ftp://registry"},
		{"--registry", "http://127.0.0.1:1", "--tls-cert", "cert.pem"},
		{"--registry", "http://127.0.0.1:1", "--tls-cert", "nope.pem", "--tls-key", "nope.pem"},
		{"--registry", "http://127.0.0.1:1", "--cache-size", "12XB"},
		{"--registry", "http://127.0.0.1:1", "--domain", "a/b"},
		{"--registry", "http://127.0.0.1:1", "extra"},
	} {
		var stderr bytes.Buffer
		if code := cli.Run(t.Context(), newRootCmd(), append([]string{"gateway"}, args...), &stderr); code != cli.ExitUsage {
			t.Errorf("gateway %v: exit %d, want %d\n%s", args, code, cli.ExitUsage, stderr.String())
		}
	}
}

// TestGatewayLoad runs "mycdnd gateway" as a process under 64 concurrent
// clients for 30 s, on a mix of small, medium and large files, whole and in
// ranges: no error, every byte right, and the peak RSS within the cache and
// body memory bounds plus a fixed margin.
func TestGatewayLoad(t *testing.T) {
	const (
		clients    = 64
		duration   = 30 * time.Second
		cacheSize  = 32 << 20
		bodyMemory = 64 << 20
		// The garbage collector's slack (memoryMargin, up to the memory
		// limit the gateway sets), and beyond the heap the runtime, stacks
		// and memory not yet returned to the system.
		margin = memoryMargin + 48<<20
	)
	bin := testenv.Build(t, "mycdnd")
	nw := testenv.StartNetwork(t, 5)
	up, closeUp := uploaderCloser(t, nw, 3)
	type file struct {
		url  string
		data []byte
	}
	var files []file
	for i, size := range []int{100, 1 << 10, 5 << 10, 20 << 10, 64 << 10, 200 << 10, 700 << 10,
		1<<20 + 1, 3<<20 + 333, 6 << 20, 24<<20 + 5, 40 << 20} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		r := put(t, up, "file"+strconv.Itoa(i), data)
		files = append(files, file{"/" + r.Lookup.String() + "/" + r.Key.String() + "/", data})
	}
	closeUp()
	p := startServer(t, bin, "gateway", "--registry", nw.Registry.URL, "--metrics-listen", "127.0.0.1:0",
		"--cache-size", strconv.Itoa(cacheSize), "--body-memory", strconv.Itoa(bodyMemory),
		"--cache-dir", t.TempDir(), "--disk-cache-size", "64MiB")

	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	var (
		mu       sync.Mutex
		requests int
		bytesIn  int64
		errs     []string
	)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := mathrand.New(mathrand.NewPCG(uint64(c), 7))
			buf := make([]byte, 64<<10)
			for ctx.Err() == nil {
				f := files[rng.IntN(len(files))]
				start, end := 0, len(f.data)-1
				req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), "GET", p.url+f.url, nil)
				if rng.IntN(3) == 0 { // a range
					start = rng.IntN(len(f.data))
					end = start + rng.IntN(min(len(f.data)-start, 3<<20))
					req.Header.Set("Range", "bytes="+strconv.Itoa(start)+"-"+strconv.Itoa(end))
				}
				n, err := readCompare(client, req, f.data[start:end+1], buf)
				mu.Lock()
				requests++
				bytesIn += n
				if err != nil && len(errs) < 10 {
					errs = append(errs, err.Error())
				}
				mu.Unlock()
			}
		})
	}
	var peak int64
	for ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		if rss, err := testenv.PeakRSS(p.cmd.Process.Pid); err == nil {
			peak = rss
		}
	}
	wg.Wait()
	t.Logf("%d requests, %d MiB in %v; gateway peak RSS %d MiB", requests, bytesIn>>20, duration, peak>>20)
	if len(errs) > 0 {
		t.Fatalf("errors under load:\n%s", strings.Join(errs, "\n"))
	}
	if requests < clients {
		t.Fatalf("only %d requests in %v", requests, duration)
	}
	if bound := int64(cacheSize + bodyMemory + margin); peak == 0 || peak > bound {
		t.Fatalf("peak RSS %d MiB, want within %d MiB (cache %d + body memory %d + margin %d)",
			peak>>20, bound>>20, cacheSize>>20, bodyMemory>>20, margin>>20)
	}
}

// readCompare sends req and compares the body with want, reading it
// through buf.
func readCompare(client *http.Client, req *http.Request, want, buf []byte) (int64, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 206 {
		return 0, fmt.Errorf("%s: status %d", req.URL.Path, resp.StatusCode)
	}
	var got int64
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if int(got)+n > len(want) || !bytes.Equal(buf[:n], want[got:int(got)+n]) {
				return got, fmt.Errorf("%s: wrong bytes at %d", req.URL.Path, got)
			}
			got += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return got, fmt.Errorf("%s: after %d bytes: %w", req.URL.Path, got, err)
		}
	}
	if got != int64(len(want)) {
		return got, fmt.Errorf("%s: %d bytes, want %d", req.URL.Path, got, len(want))
	}
	return got, nil
}
