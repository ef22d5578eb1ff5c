package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"testing"

	"github.com/mycdn/mycdn/internal/seal"
)

// span is bytes start to end of a file, inclusive.
type span struct{ start, end int }

// size4 is a file of four blocks, the last one short.
const size4 = 3*chunk + 12345

func TestFileHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	data := random(size4, 1)
	r := e.put("data.bin", "application/x-test", data)
	css := e.put("site.css", "", []byte("h1{color:red}"))
	etag := `"` + seal.Sum(data).String() + `"`
	url := e.pathURL(r, "")

	resp := e.do("GET", url)
	want := map[string]string{
		"Content-Type":           "application/x-test",
		"Content-Length":         strconv.Itoa(size4),
		"ETag":                   etag,
		"Cache-Control":          "public, max-age=31536000, immutable",
		"Referrer-Policy":        "no-referrer",
		"Accept-Ranges":          "bytes",
		"X-Content-Type-Options": "nosniff",
		"Content-Disposition":    `inline; filename=data.bin`,
	}
	if resp.StatusCode != 200 || !bytes.Equal(resp.body, data) || resp.err != nil {
		t.Fatalf("GET: %d, %d bytes, %v", resp.StatusCode, len(resp.body), resp.err)
	}
	checkHeaders(t, "GET", resp, want)
	if resp := e.do("GET", e.pathURL(css, "")); resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("css: Content-Type %q", resp.Header.Get("Content-Type"))
	}

	before := e.gets()
	head := e.do("HEAD", url)
	if head.StatusCode != 200 || len(head.body) != 0 {
		t.Fatalf("HEAD: %d with %d bytes", head.StatusCode, len(head.body))
	}
	checkHeaders(t, "HEAD", head, want)
	if got := e.gets() - before; got != 0 {
		t.Errorf("HEAD read %d shards, want none", got)
	}

	for _, tc := range []struct {
		ifNoneMatch string
		want        int
	}{
		{etag, 304},
		{"W/" + etag, 304},
		{`"other", ` + etag, 304},
		{"*", 304},
		{`"other"`, 200},
		{etag[:10], 200},
	} {
		resp := e.do("GET", url, "If-None-Match: "+tc.ifNoneMatch)
		if resp.StatusCode != tc.want {
			t.Errorf("If-None-Match %s: %d, want %d", tc.ifNoneMatch, resp.StatusCode, tc.want)
		}
		if tc.want == 304 && (len(resp.body) != 0 || resp.Header.Get("ETag") != etag ||
			resp.Header.Get("Cache-Control") != want["Cache-Control"]) {
			t.Errorf("304: %d bytes, ETag %q, Cache-Control %q", len(resp.body), resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
		}
	}

	// If-Range: the range when the ETag is current, else the whole file.
	if resp := e.do("GET", url, "Range: bytes=0-9", "If-Range: "+etag); resp.StatusCode != 206 || !bytes.Equal(resp.body, data[:10]) {
		t.Errorf("If-Range current: %d, %d bytes", resp.StatusCode, len(resp.body))
	}
	if resp := e.do("GET", url, "Range: bytes=0-9", `If-Range: "old"`); resp.StatusCode != 200 || !bytes.Equal(resp.body, data) {
		t.Errorf("If-Range old: %d, %d bytes", resp.StatusCode, len(resp.body))
	}
	if resp := e.do("GET", url, "Range: bytes=0-9", "If-Range: W/"+etag); resp.StatusCode != 200 {
		t.Errorf("If-Range weak: %d, want 200 (strong comparison)", resp.StatusCode)
	}

	empty := e.put("empty", "", nil)
	for _, rng := range []string{"", "bytes=0-"} {
		resp := e.do("GET", e.pathURL(empty, ""), "Range: "+rng)
		if resp.StatusCode != 200 || len(resp.body) != 0 || resp.Header.Get("Content-Length") != "0" {
			t.Errorf("empty file, Range %q: %d, %d bytes, Content-Length %q", rng, resp.StatusCode, len(resp.body), resp.Header.Get("Content-Length"))
		}
	}
}

func checkHeaders(t *testing.T, what string, resp *response, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

// TestRanges checks ranges, and with the stores' counters that a range
// fetches only the blocks it touches.
func TestRanges(t *testing.T) {
	const n, k = 5, 4 // so that the reads of b and b+1 blocks never overlap: [kb, nb]
	e := newEnv(t, envOptions{n: n, k: k})
	data := random(size4, 2)
	r := e.put("data.bin", "", data)
	url := e.pathURL(r, "")
	for _, tc := range []struct {
		name   string
		header string
		status int
		parts  []span
		blocks int
	}{
		{"first byte", "bytes=0-0", 206, []span{{0, 0}}, 1},
		{"last byte", fmt.Sprintf("bytes=%d-%d", size4-1, size4-1), 206, []span{{size4 - 1, size4 - 1}}, 1},
		{"last byte by suffix", "bytes=-1", 206, []span{{size4 - 1, size4 - 1}}, 1},
		{"across a block boundary", fmt.Sprintf("bytes=%d-%d", chunk-1, chunk), 206, []span{{chunk - 1, chunk}}, 2},
		{"suffix", "bytes=-5000", 206, []span{{size4 - 5000, size4 - 1}}, 1},
		{"suffix longer than the file", fmt.Sprintf("bytes=-%d", 10*size4), 206, []span{{0, size4 - 1}}, 4},
		{"three blocks", fmt.Sprintf("bytes=1000-%d", 2*chunk+5), 206, []span{{1000, 2*chunk + 5}}, 3},
		{"open end", fmt.Sprintf("bytes=%d-", 3*chunk-10), 206, []span{{3*chunk - 10, size4 - 1}}, 2},
		{"end past the file", fmt.Sprintf("bytes=%d-%d", size4-3, 10*size4), 206, []span{{size4 - 3, size4 - 1}}, 1},
		{"multipart", fmt.Sprintf("bytes=0-9, %d-%d", 2*chunk, 2*chunk+9), 206, []span{{0, 9}, {2 * chunk, 2*chunk + 9}}, 2},
		{"multipart, one unsatisfiable", fmt.Sprintf("bytes=5-6,%d-", 2*size4), 206, []span{{5, 6}}, 1},
		{"unsatisfiable", fmt.Sprintf("bytes=%d-", size4), 416, nil, 0},
		{"unsatisfiable suffix", "bytes=-0", 416, nil, 0},
		{"malformed: whole file", "bytes=abc", 200, []span{{0, size4 - 1}}, 4},
		{"other unit: whole file", "lines=1-2", 200, []span{{0, size4 - 1}}, 4},
		{"overlapping past the size: whole file", "bytes=0-,0-", 200, []span{{0, size4 - 1}}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.gets()
			resp := e.do("GET", url, "Range: "+tc.header)
			got := e.gets() - before
			if resp.StatusCode != tc.status || resp.err != nil {
				t.Fatalf("status %d (%v), want %d: %s", resp.StatusCode, resp.err, tc.status, resp.body)
			}
			if got < k*tc.blocks || got > n*tc.blocks {
				t.Errorf("stores served %d GETs, want %d to %d for %d blocks", got, k*tc.blocks, n*tc.blocks, tc.blocks)
			}
			switch {
			case tc.status == 416:
				if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes */%d", size4) {
					t.Errorf("416 Content-Range %q", cr)
				}
			case len(tc.parts) == 1:
				p := tc.parts[0]
				if !bytes.Equal(resp.body, data[p.start:p.end+1]) {
					t.Errorf("body of %d bytes differs from bytes %d-%d", len(resp.body), p.start, p.end)
				}
				if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(p.end-p.start+1) {
					t.Errorf("Content-Length %s", cl)
				}
				if cr := resp.Header.Get("Content-Range"); tc.status == 206 && cr != fmt.Sprintf("bytes %d-%d/%d", p.start, p.end, size4) {
					t.Errorf("Content-Range %q", cr)
				}
			default:
				checkMultipart(t, resp, data, tc.parts)
			}
		})
	}
	t.Run("HEAD multipart", func(t *testing.T) {
		get := e.do("GET", url, "Range: bytes=0-0,-1")
		head := e.do("HEAD", url, "Range: bytes=0-0,-1")
		if head.StatusCode != 206 || head.Header.Get("Content-Length") != strconv.Itoa(len(get.body)) {
			t.Errorf("HEAD: %d, Content-Length %s; GET sent %d bytes", head.StatusCode, head.Header.Get("Content-Length"), len(get.body))
		}
	})
}

func checkMultipart(t *testing.T, resp *response, data []byte, parts []span) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(resp.body)) {
		t.Errorf("Content-Length %s, body %d bytes", cl, len(resp.body))
	}
	mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
	for i, p := range parts {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if cr := part.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", p.start, p.end, len(data)) {
			t.Errorf("part %d: Content-Range %q", i, cr)
		}
		got, _ := io.ReadAll(part)
		if !bytes.Equal(got, data[p.start:p.end+1]) {
			t.Errorf("part %d: wrong bytes", i)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("after the parts: %v, want EOF", err)
	}
}

func TestH2C(t *testing.T) {
	e := newEnv(t, envOptions{})
	data := random(2*chunk+7, 3)
	r := e.put("f", "", data)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	e.client.Transport = &http.Transport{Protocols: &p}
	resp := e.do("GET", e.pathURL(r, ""), "Range: bytes=10-")
	if resp.Proto != "HTTP/2.0" || resp.StatusCode != 206 || !bytes.Equal(resp.body, data[10:]) {
		t.Fatalf("h2c: %s %d, %d bytes", resp.Proto, resp.StatusCode, len(resp.body))
	}
}
