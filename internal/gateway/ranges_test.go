package gateway

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestParseRanges(t *testing.T) {
	const size = 1000
	for _, tc := range []struct {
		header string
		want   []byteRange
		err    error
	}{
		{"", nil, nil},
		{"bytes=0-0", []byteRange{{0, 1}}, nil},
		{"BYTES=0-0", []byteRange{{0, 1}}, nil},
		{"bytes=999-", []byteRange{{999, 1}}, nil},
		{"bytes=-1", []byteRange{{999, 1}}, nil},
		{"bytes=-2000", []byteRange{{0, 1000}}, nil},
		{"bytes=10-20, 30-40", []byteRange{{10, 11}, {30, 11}}, nil},
		{"bytes=30-40,10-20", []byteRange{{30, 11}, {10, 11}}, nil},
		{"bytes=10-20,,\t30-40,", []byteRange{{10, 11}, {30, 11}}, nil},
		{"bytes=990-99999999999999999999999", []byteRange{{990, 10}}, nil},
		{"bytes=1000-", nil, errUnsatisfiable},
		{"bytes=99999999999999999999999-", nil, errUnsatisfiable},
		{"bytes=-0", nil, errUnsatisfiable},
		{"bytes=1000-1001,2000-", nil, errUnsatisfiable},
		{"bytes=5-6,1000-", []byteRange{{5, 2}}, nil},
		// The whole file: bad syntax, other units, too many or too much.
		{"bytes=", nil, nil},
		{"bytes=,", nil, nil},
		{"bytes=a-b", nil, nil},
		{"bytes=+1-2", nil, nil},
		{"bytes=1-+2", nil, nil},
		{"bytes=-+2", nil, nil},
		{"bytes=0x10-20", nil, nil},
		{"bytes=20-10", nil, nil},
		{"bytes=1", nil, nil},
		{"bytes 0-1", nil, nil},
		{"bytes = 0-1", nil, nil},
		{"items=0-1", nil, nil},
		{"bytes=0-,0-", nil, nil},
		{"bytes=" + strings.Repeat("0-0,", maxRanges+1), nil, nil},
	} {
		got, err := parseRanges(tc.header, size)
		if !reflect.DeepEqual(got, tc.want) || !errors.Is(err, tc.err) {
			t.Errorf("parseRanges(%q) = %v, %v; want %v, %v", tc.header, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseRanges(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-1", "bytes=1048575-1048576", "bytes=0-9,2097152-2097161",
		"bytes=-0", "bytes=5-", "bytes=99999999999999999999-", "bytes=,,", "BYTES=1-2, 3-4"} {
		f.Add(s, int64(3<<20+12345))
	}
	f.Add("bytes=0-", int64(0))
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		ranges, err := parseRanges(header, size)
		if err != nil && (ranges != nil || !errors.Is(err, errUnsatisfiable)) {
			t.Fatalf("%v with %d ranges", err, len(ranges))
		}
		if len(ranges) > maxRanges {
			t.Fatalf("%d ranges", len(ranges))
		}
		var total int64
		for _, r := range ranges {
			if r.start < 0 || r.length <= 0 || r.start > size-r.length {
				t.Fatalf("range %+v outside a file of %d bytes", r, size)
			}
			total += r.length
		}
		if total > size {
			t.Fatalf("ranges of %d bytes in all, for a file of %d", total, size)
		}
	})
}

func TestEtagMatch(t *testing.T) {
	const etag = `"0123abcd"`
	for header, want := range map[string]bool{
		etag:                      true,
		"W/" + etag:               true,
		`"x", ` + etag:            true,
		`"x",W/` + etag + `, "y"`: true,
		"*":                       true,
		"":                        false,
		`"x"`:                     false,
		`"0123abcd`:               false,
		`0123abcd`:                false,
		`W/`:                      false,
		`"a,b", "c"`:              false,
	} {
		if got := etagMatch(header, etag); got != want {
			t.Errorf("etagMatch(%q) = %v", header, got)
		}
	}
}

func FuzzEtagMatch(f *testing.F) {
	for _, s := range []string{`"abc"`, `W/"abc"`, `"x", "abc"`, "*", `"`, `W/`, `,,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		const etag = `"abc"`
		got := etagMatch(header, etag)
		if got && !strings.Contains(header, "*") && !strings.Contains(header, etag) {
			t.Fatalf("%q matches %s", header, etag)
		}
		if !strings.ContainsAny(header, `*"`) && got {
			t.Fatalf("%q matches", header)
		}
	})
}

// FuzzParse checks that the URL parser never panics, and that what it
// parses keeps the key out of the log path.
func FuzzParse(f *testing.F) {
	const l, k = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	for _, s := range [][2]string{
		{"127.0.0.1", "/" + l + "/" + k + "/a/b.txt"},
		{"127.0.0.1", "/" + l + "?key=" + k},
		{"127.0.0.1", "/" + l + "/" + k},
		{"127.0.0.1", "/name/site/x"},
		{l + ".cdn.test", "/x?key=" + k},
		{l + ".cdn.test:8080", "/"},
		{"site.cdn.test", "/"},
		{"127.0.0.1", "/%2F%2E%2E"},
	} {
		f.Add(s[0], s[1], "mycdn_key="+k)
	}
	s := &Server{opts: Options{Domain: "cdn.test"}}
	f.Fuzz(func(t *testing.T, host, target, cookie string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			return
		}
		r.Host = host
		r.Header.Set("Cookie", cookie)
		req, err := s.parse(httptest.NewRecorder(), r)
		if err != nil || req == nil {
			return
		}
		if !strings.HasPrefix(req.base, "/") || !strings.HasSuffix(req.base, "/") {
			t.Fatalf("base %q", req.base)
		}
		if req.form == pathForm && req.name == "" && !strings.HasPrefix(strings.ToLower(req.logPath), "/"+req.lookup.String()+"/<key>/") {
			t.Fatalf("path form logged as %q", req.logPath)
		}
		if req.form == bareForm && req.logPath != "/"+req.lookup.String() {
			t.Fatalf("bare form logged as %q", req.logPath)
		}
	})
}
