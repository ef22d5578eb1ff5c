package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/ref"
)

// writeTree writes files (slash-separated path -> content) under a new
// directory named name and returns its path.
func writeTree(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var treeFiles = map[string]string{
	"index.html":                 "<h1>home</h1>",
	"style.css":                  "h1{color:red}",
	"docs/a.txt":                 "file a",
	"docs/we<ird> name&.txt":     "weird",
	"docs/colon:name.txt":        "colon",
	"docs/deeper/nested.txt":     "nested",
	"docs/deeper/more/again.txt": "again",
}

func TestPathForms(t *testing.T) {
	e := newEnv(t, envOptions{})
	site := e.putDir(writeTree(t, "site", treeFiles))
	file := e.put("alone.txt", "", []byte("just a file"))
	lookup, key := site.Lookup.String(), site.Key.String()

	for _, tc := range []struct {
		name, path   string
		status       int
		body         string // a substring of the body
		location     string
		contentTypeP string // a prefix of Content-Type
	}{
		{"root: index.html", "/" + lookup + "/" + key + "/", 200, "<h1>home</h1>", "", "text/html"},
		{"a file", "/" + lookup + "/" + key + "/style.css", 200, "h1{color:red}", "", "text/css"},
		{"nested file", "/" + lookup + "/" + key + "/docs/deeper/more/again.txt", 200, "again", "", "text/plain"},
		{"root without its slash", "/" + lookup + "/" + key, 302, "", "/" + lookup + "/" + key + "/", ""},
		{"directory without its slash", "/" + lookup + "/" + key + "/docs?x=1", 302, "", "/" + lookup + "/" + key + "/docs/?x=1", ""},
		{"bare form of a directory: to the path form, key out of the query", "/" + lookup + "?key=" + key + "&x=1", 302, "",
			"/" + lookup + "/" + key + "/?x=1", ""},
		{"bare form of a file", "/" + file.Lookup.String() + "?key=" + file.Key.String(), 200, "just a file", "", "text/plain"},
		{"path form of a file", "/" + file.Lookup.String() + "/" + file.Key.String() + "/", 200, "just a file", "", "text/plain"},
		{"missing entry", "/" + lookup + "/" + key + "/nope.txt", 404, "not found", "", ""},
		{"path under a file", "/" + lookup + "/" + key + "/style.css/x", 404, "not found", "", ""},
		{"home", "/", 200, "mycdn gateway", "", "text/plain"},
		{"not a reference", "/favicon.ico", 404, "use /<lookup>/<key>/<path>", "", ""},
		{"a name, with no resolver", "/name/my-site/index.html", 404, "unknown name", "", ""},
		{"a bad name", "/name/My_Site/index.html", 400, "bad name", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do("GET", e.url+tc.path)
			if resp.StatusCode != tc.status || !strings.Contains(string(resp.body), tc.body) {
				t.Fatalf("%d %q, want %d with %q", resp.StatusCode, resp.body, tc.status, tc.body)
			}
			if loc := resp.Header.Get("Location"); loc != tc.location {
				t.Errorf("Location %q, want %q", loc, tc.location)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentTypeP) {
				t.Errorf("Content-Type %q, want %s...", ct, tc.contentTypeP)
			}
			if resp.StatusCode >= 400 && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("error with Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
}

func TestListing(t *testing.T) {
	e := newEnv(t, envOptions{})
	site := e.putDir(writeTree(t, "site", treeFiles))
	docs := e.pathURL(site, "docs/")

	html := e.do("GET", docs, "Accept: text/html,*/*")
	page := string(html.body)
	if html.StatusCode != 200 || !strings.HasPrefix(html.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("HTML listing: %d %s", html.StatusCode, html.Header.Get("Content-Type"))
	}
	for _, want := range []string{"we&lt;ird&gt; name&amp;.txt", `href="./deeper/"`, `href="./colon:name.txt"`, `href="../"`, "6 B"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML listing lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<ird>") {
		t.Error("HTML listing has a name unescaped")
	}

	js := e.do("GET", docs, "Accept: application/json")
	var l struct {
		Name    string
		Entries []struct {
			Name, Kind, Ref, Href string
			Size                  int64
		}
	}
	if err := json.Unmarshal(js.body, &l); err != nil || !strings.HasPrefix(js.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("JSON listing %q (%s): %v", js.body, js.Header.Get("Content-Type"), err)
	}
	if l.Name != "docs" || len(l.Entries) != 4 {
		t.Fatalf("JSON listing: %+v", l)
	}
	base, _ := url.Parse(docs)
	for _, en := range l.Entries {
		// Every link works, and every reference opens the entry alone.
		href, err := base.Parse(en.Href)
		if err != nil {
			t.Fatal(err)
		}
		resp := e.do("GET", href.String())
		r, err := ref.Parse(en.Ref)
		if err != nil {
			t.Fatalf("entry %q: ref %q: %v", en.Name, en.Ref, err)
		}
		alone := e.do("GET", e.pathURL(r, ""))
		switch en.Kind {
		case "file":
			want := treeFiles["docs/"+en.Name]
			if resp.StatusCode != 200 || string(resp.body) != want || string(alone.body) != want || en.Size != int64(len(want)) {
				t.Errorf("entry %q: link %s gave %d %q, ref gave %q, size %d", en.Name, en.Href, resp.StatusCode, resp.body, alone.body, en.Size)
			}
		case "directory":
			if en.Name != "deeper" || resp.StatusCode != 200 || !strings.Contains(string(resp.body), "nested.txt") {
				t.Errorf("directory %q: %d %q", en.Name, resp.StatusCode, resp.body)
			}
		default:
			t.Errorf("entry %q of kind %q", en.Name, en.Kind)
		}
	}
	if h := e.do("HEAD", docs); h.StatusCode != 200 || len(h.body) != 0 {
		t.Errorf("HEAD listing: %d, %d bytes", h.StatusCode, len(h.body))
	}
}

func TestHostForm(t *testing.T) {
	e := newEnv(t, envOptions{gw: gateway.Options{Domain: "CDN.test."}})
	site := e.putDir(writeTree(t, "site", treeFiles))
	host := site.Lookup.String() + ".cdn.test"
	get := func(path, cookie string) *response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.Host = host + ":80"
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		return e.send(req)
	}

	first := get("/?key="+site.Key.String(), "")
	if first.StatusCode != 200 || string(first.body) != treeFiles["index.html"] {
		t.Fatalf("host form with ?key=: %d %q", first.StatusCode, first.body)
	}
	var cookie *http.Cookie
	for _, c := range first.Cookies() {
		if c.Name == "mycdn_key" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != site.Key.String() || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode ||
		cookie.Path != "/" || cookie.Domain != "" {
		t.Fatalf("key cookie: %+v", cookie)
	}
	if cc := first.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("with the key in the URL: Cache-Control %q", cc)
	}

	// Relative links then work with the cookie alone, and are private.
	css := get("/style.css", cookie.String())
	if css.StatusCode != 200 || string(css.body) != treeFiles["style.css"] {
		t.Fatalf("with the cookie: %d %q", css.StatusCode, css.body)
	}
	if cc, vary := css.Header.Get("Cache-Control"), css.Header.Values("Vary"); cc != "private, max-age=31536000, immutable" || !contains(vary, "Cookie") {
		t.Errorf("with the cookie: Cache-Control %q, Vary %q", cc, vary)
	}
	if resp := get("/docs", cookie.String()); resp.StatusCode != 302 || resp.Header.Get("Location") != "/docs/" {
		t.Errorf("directory without its slash: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get("/docs/deeper/nested.txt", cookie.String()); resp.StatusCode != 200 || string(resp.body) != "nested" {
		t.Errorf("nested: %d %q", resp.StatusCode, resp.body)
	}

	for _, tc := range []struct{ name, path, cookie string }{
		{"no key", "/style.css", ""},
		{"bad key", "/style.css?key=123", ""},
		{"bad cookie", "/style.css", "mycdn_key=xyz"},
		{"another site's key", "/style.css", "mycdn_key=" + strings.Repeat("ab", 16)},
	} {
		if resp := get(tc.path, tc.cookie); resp.StatusCode != 400 || strings.Contains(string(resp.body), "color") {
			t.Errorf("%s: %d %q, want 400", tc.name, resp.StatusCode, resp.body)
		}
	}

	// Other hosts: a name (this gateway resolves none), a bad label, and the
	// domain itself, which serves the path forms.
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"my-site.cdn.test", 404},
		{"bad_label.cdn.test", 400},
		{"cdn.test", 200},
		{"a.b.cdn.test", 200},
	} {
		req, _ := http.NewRequest("GET", e.pathURL(site, "style.css"), nil)
		req.Host = tc.host
		if resp := e.send(req); resp.StatusCode != tc.status {
			t.Errorf("host %s: %d, want %d", tc.host, resp.StatusCode, tc.status)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestNoKeyNoContent fills the caches, then asks for the content every way
// without its key: no answer holds it, and the log never holds a key.
func TestNoKeyNoContent(t *testing.T) {
	caches := gateway.NewCaches(64<<20, nil)
	e := newEnv(t, envOptions{caches: caches, gw: gateway.Options{Domain: "cdn.test"}})
	secret := []byte("the secret content " + strings.Repeat("x", 1000))
	r := e.put("secret.txt", "", secret)
	other := e.put("other.txt", "", []byte("other"))
	if resp := e.do("GET", e.pathURL(r, "")); !bytes.Equal(resp.body, secret) {
		t.Fatal("could not read the content with its key")
	}
	if s := caches.Stats(); s.BlockBytes == 0 || s.MetadataBytes == 0 {
		t.Fatalf("caches not filled: %+v", s)
	}
	l := r.Lookup.String()
	for _, tc := range []struct {
		name, url, host string
	}{
		{"lookup alone", e.url + "/" + l, ""},
		{"lookup and slash", e.url + "/" + l + "/", ""},
		{"empty key", e.url + "/" + l + "?key=", ""},
		{"zero key", e.url + "/" + l + "/" + strings.Repeat("0", 32) + "/", ""},
		{"another reference's key", e.url + "/" + l + "/" + other.Key.String() + "/", ""},
		{"short key", e.url + "/" + l + "/" + r.Key.String()[:31] + "/", ""},
		{"host form without key", e.url + "/", l + ".cdn.test"},
		{"host form, another key", e.url + "/?key=" + other.Key.String(), l + ".cdn.test"},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		resp := e.send(req)
		if resp.StatusCode != 400 || bytes.Contains(resp.body, []byte("secret content")) {
			t.Errorf("%s: %d %q, want 400", tc.name, resp.StatusCode, resp.body)
		}
	}
	log := e.log.String()
	for _, k := range []string{r.Key.String(), other.Key.String()} {
		if strings.Contains(strings.ToLower(log), k) {
			t.Fatalf("the log holds a key:\n%s", log)
		}
	}
	if !strings.Contains(log, "/"+l+"/<key>/") {
		t.Errorf("the log lacks the path form with its key left out:\n%s", log)
	}
}
