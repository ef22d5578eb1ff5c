package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/meta"
)

// TestSmoke uploads a small site and reads it through the gateway.
func TestSmoke(t *testing.T) {
	nw := testenv.StartNetwork(t, 3)
	reg, err := registryclient.New(nw.Registry.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stores []upload.ShardStore
	for _, s := range nw.Shards {
		c, err := shardclient.New(shardclient.Options{Addr: s.Addr})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, c)
	}
	up, err := upload.New(upload.Options{K: 2, Shards: nw.Locations(), Stores: stores, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "site")
	os.MkdirAll(filepath.Join(root, "css"), 0o755)
	os.WriteFile(filepath.Join(root, "index.html"), []byte("<link rel=stylesheet href=css/site.css><h1>hi</h1>"), 0o644)
	os.WriteFile(filepath.Join(root, "css", "site.css"), []byte("h1{color:red}"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	site, err := up.Path(ctx, root, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := fetch.New(fetch.Options{Registry: reg, Dial: func(loc meta.ShardLocation) (fetch.ShardReader, error) {
		return shardclient.New(shardclient.Options{Addr: loc.Host.String(), DB: int(loc.DB), Retry: retry.Policy{Retries: -1}})
	}})
	gw, err := gateway.New(gateway.Options{Fetcher: f, Domain: "cdn.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	get := func(url string) (*http.Response, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	base := srv.URL + "/" + site.Ref.Lookup.String() + "/" + site.Ref.Key.String() + "/"
	if resp, body := get(base); resp.StatusCode != 200 || !strings.Contains(body, "<h1>hi</h1>") {
		t.Fatalf("index: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(base + "css/site.css"); resp.StatusCode != 200 || body != "h1{color:red}" ||
		resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("css: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := get(srv.URL + "/" + site.Ref.Lookup.String() + "/" + strings.Repeat("0", 32) + "/"); resp.StatusCode != 400 {
		t.Fatalf("wrong key: %d", resp.StatusCode)
	}
}
