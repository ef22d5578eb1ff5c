package mimetype_test

import (
	"testing"

	"github.com/mycdn/mycdn/internal/mimetype"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		name string
		head string
		want string
	}{
		{"index.html", "", "text/html; charset=utf-8"},
		{"INDEX.HTM", "", "text/html; charset=utf-8"},
		{"site.css", "body{}", "text/css; charset=utf-8"},
		{"app.mjs", "", "text/javascript; charset=utf-8"},
		{"photo.JPG", "not really a jpeg", "image/jpeg"},
		{"font.woff2", "", "font/woff2"},
		{"archive.tar.gz", "", "application/gzip"},
		{"noext", "\x89PNG\r\n\x1a\n0000", "image/png"},
		{"noext", "<!DOCTYPE html><html>", "text/html; charset=utf-8"},
		{"noext", "plain words", "text/plain; charset=utf-8"},
		{"unknown.qqq", "\x00\x01\x02\x03", "application/octet-stream"},
		{"empty", "", "application/octet-stream"},
		{".hidden", "", "application/octet-stream"},
	}
	for _, tc := range cases {
		if got := mimetype.Detect(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("Detect(%q, %q) = %q, want %q", tc.name, tc.head, got, tc.want)
		}
	}
}
