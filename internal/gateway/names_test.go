package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/ref"
)

// TestNames serves a site through a name, in the path and the host form,
// then republishes the name and sees the new site once the name's TTL
// passes.
func TestNames(t *testing.T) {
	const ttl = 300 * time.Millisecond
	e := newEnv(t, envOptions{names: true, gw: gateway.Options{Domain: "cdn.test", NameTTL: ttl}})
	v1 := e.putDir(writeTree(t, "site", map[string]string{"index.html": "<h1>one</h1>", "a.txt": "a1"}))
	v2 := e.putDir(writeTree(t, "site", map[string]string{"index.html": "<h1>two</h1>", "a.txt": "a2"}))
	key := xeddsa.GenerateKey()
	publish := func(r ref.Ref) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := e.reg.SetName(ctx, &key, "my-site", r); err != nil {
			t.Fatal(err)
		}
	}
	publish(v1)
	hostGet := func(path string) *response {
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.Host = "my-site.cdn.test"
		return e.send(req)
	}
	for name, resp := range map[string]*response{
		"path form": e.do("GET", e.url+"/name/my-site/a.txt"),
		"host form": hostGet("/a.txt"),
	} {
		if resp.StatusCode != 200 || string(resp.body) != "a1" {
			t.Fatalf("%s: %d %q", name, resp.StatusCode, resp.body)
		}
		if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=0") {
			t.Errorf("%s: Cache-Control %q: a name's content is not immutable", name, cc)
		}
		if !strings.Contains(e.log.String(), "my-site") || strings.Contains(e.log.String(), v1.Key.String()) {
			t.Errorf("%s: the log should name the name and never the key it resolves to", name)
		}
	}
	if resp := e.do("GET", e.url+"/name/my-site"); resp.StatusCode != 302 || resp.Header.Get("Location") != "/name/my-site/" {
		t.Errorf("/name/my-site: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := e.do("GET", e.url+"/name/my-site/"); resp.StatusCode != 200 || !strings.Contains(string(resp.body), "one") {
		t.Errorf("index through the name: %d %q", resp.StatusCode, resp.body)
	}

	publish(v2)
	deadline := time.Now().Add(10 * ttl)
	for {
		resp := e.do("GET", e.url+"/name/my-site/a.txt")
		if string(resp.body) == "a2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the republished name still serves %q", resp.body)
		}
		time.Sleep(ttl / 4)
	}
	if resp := hostGet("/"); resp.StatusCode != 200 || !strings.Contains(string(resp.body), "two") {
		t.Errorf("host form after republishing: %d %q", resp.StatusCode, resp.body)
	}
	if resp := e.do("GET", e.url+"/name/nobody-here/a.txt"); resp.StatusCode != 404 {
		t.Errorf("unknown name: %d", resp.StatusCode)
	}
}
