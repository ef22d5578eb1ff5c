package registryserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registry/storetest"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
)

const token = "s3cret-token"

var (
	writerKey = xeddsa.GenerateKey()
	bearer    = "Authorization: Bearer " + token
)

func writeOpts() registryserver.Options {
	return registryserver.Options{Tokens: []string{token}, Writers: []xeddsa.PublicKey{writerKey.PublicKey()}}
}

// signed returns the Authorization header of a request signed with k.
func signed(k *xeddsa.PrivateKey, method, path string, body []byte, at time.Time) string {
	a := registry.Sign(k, method, path, seal.Sum(body), at)
	return "Authorization: " + a.String()
}

// referenceForm returns the multipart body the reference's uploader sends:
// one part named "data", without a filename or a Content-Type.
func referenceForm(data []byte) (body []byte, contentType string) {
	const boundary = "d2a9c5f1e3b74a08-reference"
	var b bytes.Buffer
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n", boundary)
	b.Write(data)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes(), "Content-Type: multipart/form-data; boundary=" + boundary
}

func mustAbsent(t *testing.T, base string, h meta.Hash) {
	t.Helper()
	if r := do(t, "GET", base+registry.BlobPath(h), nil); r.code != http.StatusNotFound {
		t.Fatalf("blob %v is stored (GET answers %d)", h, r.code)
	}
}

func mustHold(t *testing.T, base string, h meta.Hash, data []byte) {
	t.Helper()
	r := do(t, "GET", base+registry.BlobPath(h), nil)
	if r.code != http.StatusOK || !bytes.Equal(r.body, data) {
		t.Fatalf("GET %v = %d with %d bytes, want 200 with the %d stored", h, r.code, len(r.body), len(data))
	}
}

func hashReply(t *testing.T, r reply) meta.Hash {
	t.Helper()
	var hr registry.HashResponse
	if r.code != http.StatusOK || json.Unmarshal(r.body, &hr) != nil {
		t.Fatalf("write answered %d %q, want 200 with {\"hash\": ...}", r.code, r.body)
	}
	return hr.Hash
}

func TestAPI(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Run("GetPutHead", func(t *testing.T) { testGetPutHead(t, serve(t, st.open(t), writeOpts())) })
			t.Run("Post", func(t *testing.T) { testPost(t, serve(t, st.open(t), writeOpts())) })
			t.Run("BadWrites", func(t *testing.T) { testBadWrites(t, st.open(t)) })
			t.Run("Auth", func(t *testing.T) { testAuth(t, serve(t, st.open(t), writeOpts())) })
		})
	}
}

func testGetPutHead(t *testing.T, base string) {
	data, h := storetest.Blob("get put head", 2048)
	url := base + registry.BlobPath(h)
	mustAbsent(t, base, h)
	if r := do(t, "HEAD", url, nil); r.code != http.StatusNotFound {
		t.Fatalf("HEAD of an absent blob: %d", r.code)
	}
	for range 2 { // idempotent
		if got := hashReply(t, do(t, "PUT", url, bodyOf(data), bearer)); got != h {
			t.Fatalf("PUT answered hash %v, want %v", got, h)
		}
	}
	r := do(t, "GET", url, nil)
	if r.code != http.StatusOK || !bytes.Equal(r.body, data) {
		t.Fatalf("GET = %d, %d bytes", r.code, len(r.body))
	}
	for k, want := range map[string]string{
		"Content-Type":   "application/octet-stream",
		"Content-Length": "2048",
		"ETag":           `"` + h.String() + `"`,
		"Cache-Control":  "public, max-age=31536000, immutable",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("GET header %s = %q, want %q", k, got, want)
		}
	}
	r = do(t, "HEAD", url, nil)
	if r.code != http.StatusOK || r.header.Get("Content-Length") != "2048" || len(r.body) != 0 {
		t.Fatalf("HEAD = %d, Content-Length %q, %d body bytes", r.code, r.header.Get("Content-Length"), len(r.body))
	}
	// Uppercase hex names the same blob.
	if r := do(t, "GET", base+registry.MetadataPath+"/"+strings.ToUpper(h.String()), nil); r.code != http.StatusOK {
		t.Fatalf("GET with uppercase hex: %d", r.code)
	}

	for _, bad := range []string{"xyz", h.String()[:30], h.String() + "00", strings.Replace(h.String(), h.String()[:2], "zz", 1), h.String()[:31] + "%25"} {
		for _, method := range []string{"GET", "HEAD", "PUT"} {
			r := do(t, method, base+registry.MetadataPath+"/"+bad, bodyOf(data), bearer)
			if r.code != http.StatusBadRequest {
				t.Errorf("%s with hash %q: %d, want 400", method, bad, r.code)
			} else if method != "HEAD" {
				r.errorMessage(t)
			}
		}
	}
	r = do(t, "GET", url+"/more", nil)
	if r.code != http.StatusNotFound {
		t.Errorf("GET of a path below a blob: %d, want 404", r.code)
	}
	r.errorMessage(t)
	r = do(t, "DELETE", url, nil, bearer)
	if r.code != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD, PUT" {
		t.Errorf("DELETE: %d, Allow %q; want 405 with GET, HEAD, PUT", r.code, r.header.Get("Allow"))
	}
	r.errorMessage(t)
	mustHold(t, base, h, data)
}

func testPost(t *testing.T, base string) {
	// The reference's form: a part without a filename.
	data, h := storetest.Blob("post reference", 3000)
	body, ct := referenceForm(data)
	if got := hashReply(t, do(t, "POST", base+registry.MetadataPath, bodyOf(body), ct, bearer)); got != h {
		t.Fatalf("POST answered %v, want %v", got, h)
	}
	mustHold(t, base, h, data)

	// A file part among other fields, as curl -F sends, and signed.
	data, h = storetest.Blob("post file", 500)
	const boundary = "xYz"
	form := "--xYz\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n" +
		"--xYz\r\nContent-Disposition: form-data; name=\"data\"; filename=\"meta.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
		string(data) + "\r\n--xYz--\r\n"
	r := do(t, "POST", base+registry.MetadataPath, strings.NewReader(form),
		"Content-Type: multipart/form-data; boundary="+boundary, signed(&writerKey, "POST", registry.MetadataPath, []byte(form), time.Now()))
	if got := hashReply(t, r); got != h {
		t.Fatalf("POST answered %v, want %v", got, h)
	}
	mustHold(t, base, h, data)

	// An empty blob is a blob.
	body, ct = referenceForm(nil)
	if got := hashReply(t, do(t, "POST", base+registry.MetadataPath, chunked{bodyOf(body)}, ct, bearer)); got != seal.Sum(nil) {
		t.Fatalf("POST of an empty blob answered %v", got)
	}
}

// testBadWrites checks the answers to bad bodies, and that none stores
// anything.
func testBadWrites(t *testing.T, store registry.Store) {
	opts := writeOpts()
	opts.MaxBlobSize = 4096
	base := serve(t, store, opts)
	data, h := storetest.Blob("bad writes", 1000)
	big, bigHash := storetest.Blob("too big", 4097)
	limit, limitHash := storetest.Blob("at the limit", 4096)
	post := base + registry.MetadataPath
	form, ct := referenceForm(data)
	bigForm, _ := referenceForm(big)
	b := "--b\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n"
	ctb := "Content-Type: multipart/form-data; boundary=b"

	for _, tc := range []struct {
		name, method, url string
		body              []byte
		chunked           bool
		headers           []string
		code              int
	}{
		{"hash mismatch", "PUT", base + registry.BlobPath(bigHash), data, false, nil, 400},
		{"too large", "PUT", base + registry.BlobPath(bigHash), big, false, nil, 413},
		{"too large chunked", "PUT", base + registry.BlobPath(bigHash), big, true, nil, 413},
		{"post too large", "POST", post, bigForm, false, []string{ct}, 413},
		{"post too large chunked", "POST", post, bigForm, true, []string{ct}, 413},
		{"post body too large", "POST", post, append(bytes.Clone(form), make([]byte, 70<<10)...), false, []string{ct}, 413},
		{"not multipart", "POST", post, data, false, []string{"Content-Type: application/octet-stream"}, 400},
		{"no content type", "POST", post, form, false, nil, 400},
		{"no boundary", "POST", post, form, false, []string{"Content-Type: multipart/form-data"}, 400},
		{"wrong boundary", "POST", post, form, false, []string{"Content-Type: multipart/form-data; boundary=other"}, 400},
		{"truncated", "POST", post, form[:len(form)-10], false, []string{ct}, 400},
		{"no data field", "POST", post, []byte("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--\r\n"), false, []string{ctb}, 400},
		{"two data fields", "POST", post, []byte(b + "x\r\n" + b + "y\r\n--b--\r\n"), false, []string{ctb}, 400},
		{"bad part header", "POST", post, []byte("--b\r\nContent-Disposition form-data\r\n\r\nx\r\n--b--\r\n"), false, []string{ctb}, 400},
		{"empty", "POST", post, nil, false, []string{ctb}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bodyOf(tc.body)
			if tc.chunked {
				body = chunked{body}
			}
			r := do(t, tc.method, tc.url, body, append(tc.headers, bearer)...)
			if r.code != tc.code {
				t.Fatalf("%d %q, want %d", r.code, r.body, tc.code)
			}
			t.Logf("%d: %s", r.code, r.errorMessage(t))
		})
	}
	for _, h := range []meta.Hash{h, bigHash, seal.Sum([]byte("x"))} {
		mustAbsent(t, base, h)
	}
	// The limit itself is allowed.
	hashReply(t, do(t, "PUT", base+registry.BlobPath(limitHash), bodyOf(limit), bearer))
	form, ct = referenceForm(limit)
	hashReply(t, do(t, "POST", post, chunked{bodyOf(form)}, ct, bearer))
}

// testAuth checks every kind of refused write, by PUT and by POST, and that
// none stores anything; then the accepted ones.
func testAuth(t *testing.T, base string) {
	stranger := xeddsa.GenerateKey()
	now := time.Now()
	for i, tc := range []struct {
		name string
		// auth returns the Authorization header for a write of body by
		// method to path.
		auth func(method, path string, body []byte) string
		code int
	}{
		{"no header", func(string, string, []byte) string { return "" }, 401},
		{"bad token", func(string, string, []byte) string { return "Authorization: Bearer wrong" }, 401},
		{"token prefix", func(string, string, []byte) string { return "Authorization: Bearer " + token[:5] }, 401},
		{"basic", func(string, string, []byte) string { return "Authorization: Basic dXNlcjpwYXNz" }, 401},
		{"malformed", func(string, string, []byte) string { return "Authorization: XEdDSA pub=00, ts=1, sig=00" }, 401},
		{"stale", func(m, p string, b []byte) string { return signed(&writerKey, m, p, b, now.Add(-301*time.Second)) }, 401},
		{"future", func(m, p string, b []byte) string { return signed(&writerKey, m, p, b, now.Add(310*time.Second)) }, 401},
		{"other body", func(m, p string, b []byte) string { return signed(&writerKey, m, p, append(b, 0), now) }, 401},
		{"other path", func(m, p string, b []byte) string { return signed(&writerKey, m, p+"x", b, now) }, 401},
		{"other method", func(m, p string, b []byte) string { return signed(&writerKey, "PATCH", p, b, now) }, 401},
		{"signature of another key", func(m, p string, b []byte) string {
			good := strings.TrimPrefix(signed(&writerKey, m, p, b, now), "Authorization: ")
			other, _ := registry.ParseAuth(strings.TrimPrefix(signed(&stranger, m, p, b, now), "Authorization: "))
			a, _ := registry.ParseAuth(good)
			a.Sig = other.Sig
			return "Authorization: " + a.String()
		}, 401},
		{"unknown identity", func(m, p string, b []byte) string { return signed(&stranger, m, p, b, now) }, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, h := storetest.Blob(fmt.Sprint("auth ", i), 100)
			path := registry.BlobPath(h)
			headers := []string{}
			if a := tc.auth("PUT", path, data); a != "" {
				headers = append(headers, a)
			}
			r := do(t, "PUT", base+path, bodyOf(data), headers...)
			if r.code != tc.code {
				t.Fatalf("PUT: %d %q, want %d", r.code, r.body, tc.code)
			}
			if tc.code == 401 && !strings.Contains(r.header.Get("WWW-Authenticate"), "XEdDSA") {
				t.Errorf("401 without WWW-Authenticate: %q", r.header.Get("WWW-Authenticate"))
			}
			t.Logf("PUT: %s", r.errorMessage(t))

			form, ct := referenceForm(data)
			headers = []string{ct}
			if a := tc.auth("POST", registry.MetadataPath, form); a != "" {
				headers = append(headers, a)
			}
			r = do(t, "POST", base+registry.MetadataPath, bodyOf(form), headers...)
			if r.code != tc.code {
				t.Fatalf("POST: %d %q, want %d", r.code, r.body, tc.code)
			}
			r.errorMessage(t)
			mustAbsent(t, base, h)
		})
	}

	t.Run("accepted", func(t *testing.T) {
		for i, at := range []time.Time{now, now.Add(-290 * time.Second), now.Add(290 * time.Second)} {
			data, h := storetest.Blob(fmt.Sprint("signed ", i), 100)
			path := registry.BlobPath(h)
			hashReply(t, do(t, "PUT", base+path, bodyOf(data), signed(&writerKey, "PUT", path, data, at)))
			mustHold(t, base, h, data)
		}
		data, h := storetest.Blob("token", 100)
		hashReply(t, do(t, "PUT", base+registry.BlobPath(h), bodyOf(data), "Authorization: bearer "+token))
		mustHold(t, base, h, data)
	})
}

func TestOpen(t *testing.T) {
	base := serve(t, openPebble(t), registryserver.Options{Open: true})
	data, h := storetest.Blob("open", 100)
	hashReply(t, do(t, "PUT", base+registry.BlobPath(h), bodyOf(data)))
	form, ct := referenceForm(data)
	hashReply(t, do(t, "POST", base+registry.MetadataPath, bodyOf(form), ct))
	mustHold(t, base, h, data)
	var info registry.Info
	if r := do(t, "GET", base+registry.InfoPath, nil); json.Unmarshal(r.body, &info) != nil || !info.Open {
		t.Fatalf("info of an open registry: %q", r.body)
	}
}

func TestNoWriters(t *testing.T) {
	base := serve(t, openPebble(t), registryserver.Options{})
	data, h := storetest.Blob("nobody", 100)
	if r := do(t, "PUT", base+registry.BlobPath(h), bodyOf(data), bearer); r.code != 401 {
		t.Fatalf("PUT to a registry without writers: %d", r.code)
	}
	mustAbsent(t, base, h)
}

func TestInfo(t *testing.T) {
	opts := writeOpts()
	opts.MaxBlobSize = 12345
	base := serve(t, openPebble(t), opts)
	r := do(t, "GET", base+registry.InfoPath, nil)
	var info registry.Info
	if r.code != 200 || r.header.Get("Content-Type") != "application/json" || json.Unmarshal(r.body, &info) != nil {
		t.Fatalf("info: %d %q", r.code, r.body)
	}
	want := registry.Info{MaxBlobSize: 12345, AuthSchemes: []string{"Bearer", "XEdDSA"}, MaxClockSkewSeconds: 300}
	if fmt.Sprint(info) != fmt.Sprint(want) {
		t.Fatalf("info %+v, want %+v", info, want)
	}
	if r := do(t, "HEAD", base+registry.InfoPath, nil); r.code != 200 {
		t.Fatalf("HEAD info: %d", r.code)
	}
	r = do(t, "POST", base+registry.InfoPath, nil)
	if r.code != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST info: %d, Allow %q", r.code, r.header.Get("Allow"))
	}
	r.errorMessage(t)
	r = do(t, "GET", base+"/api/v2/whatever", nil)
	if r.code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", r.code)
	}
	r.errorMessage(t)
}

func TestOptions(t *testing.T) {
	for _, o := range []registryserver.Options{
		{MaxBlobSize: -1},
		{MaxBlobSize: 2 << 30},
		{MaxBlobSize: 1 << 20, MaxInflightBytes: 1 << 20},
		{ReadTimeout: -time.Second},
		{Tokens: []string{""}},
		{Tokens: []string{"two words"}},
	} {
		if _, err := registryserver.New(openPebble(t), o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
}
