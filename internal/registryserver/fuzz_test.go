package registryserver_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/xeddsa"
)

// FuzzAPI sends arbitrary requests to an open registry with a small limit.
// The server must never fail (5xx) or panic, a write it accepts must have
// stored a blob of at most the limit under the blob's own hash, and a change
// to a name it accepts must be the name's state.
func FuzzAPI(f *testing.F) {
	data := []byte("sealed metadata")
	form, ct := referenceForm(data)
	f.Add("POST", registry.MetadataPath, ct[len("Content-Type: "):], form)
	f.Add("POST", registry.MetadataPath, "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"data\"; filename=\"x\"\r\n\r\nabc\r\n--b--\r\n"))
	f.Add("POST", registry.MetadataPath, "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nabc\r\n--b\r\n"))
	f.Add("POST", registry.MetadataPath, "multipart/mixed; boundary=\"b\"", []byte("--b--"))
	f.Add("PUT", registry.BlobPath(seal.Sum(data)), "", data)
	f.Add("PUT", registry.MetadataPath+"/00", "", data)
	f.Add("GET", registry.BlobPath(seal.Sum(data)), "", []byte(nil))
	f.Add("HEAD", registry.InfoPath, "", []byte(nil))
	change := marshal(f, writeChange(f, &alice, "site", ref1, acl(nil, &alice), 1))
	f.Add("POST", registry.NamePath("site"), "application/json", change)
	f.Add("POST", registry.NamePath("site"), "application/json", marshal(f, aclChange(f, &alice, "site", acl([]*xeddsa.PrivateKey{&bob}, &alice), 2)))
	f.Add("POST", registry.NamePath("site"), "application/json", marshal(f, deleteChange(f, &alice, "site", 2)))
	f.Add("GET", registry.NamePath("site"), "", []byte(nil))

	const limit = 256
	s, err := registryserver.New(openPebble(f), registryserver.Options{Open: true, MaxBlobSize: limit})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, contentType string, body []byte) {
		req, err := http.NewRequestWithContext(t.Context(), method, "http://registry"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", method, path, w.Code, w.Body)
		}
		if w.Code == http.StatusOK && method == "POST" && strings.HasPrefix(path, registry.NamesPath+"/") {
			g := httptest.NewRecorder()
			s.ServeHTTP(g, httptest.NewRequestWithContext(t.Context(), "GET", path, nil))
			if g.Code != http.StatusOK || g.Body.String() != w.Body.String() {
				t.Fatalf("change answered %s, and GET answers %d %s", w.Body, g.Code, g.Body)
			}
			return
		}
		if w.Code == http.StatusOK && (method == "PUT" || method == "POST") {
			var hr registry.HashResponse
			if err := json.Unmarshal(w.Body.Bytes(), &hr); err != nil {
				t.Fatalf("write answered 200 %q", w.Body)
			}
			g := httptest.NewRecorder()
			s.ServeHTTP(g, httptest.NewRequestWithContext(t.Context(), "GET", registry.BlobPath(hr.Hash), nil))
			if g.Code != http.StatusOK || seal.Sum(g.Body.Bytes()) != hr.Hash || g.Body.Len() > limit {
				t.Fatalf("write answered %v, and GET answers %d with %d bytes", hr.Hash, g.Code, g.Body.Len())
			}
		}
	})
}
