package shardserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t testing.TB, in string, lim limits) ([][]string, error) {
	t.Helper()
	r := newReader(strings.NewReader(in), 64, newPool(64<<20))
	var cmds [][]string
	for {
		args, err := r.read(context.Background(), lim)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return cmds, err
		}
		var c []string
		for _, a := range args {
			c = append(c, string(a))
		}
		cmds = append(cmds, c)
	}
}

var writer = limits{small: 1024, value: 1 << 20, big: isValueArg}

func TestReader(t *testing.T) {
	big := strings.Repeat("v", 5000)
	for _, tc := range []struct {
		name string
		in   string
		lim  limits
		want string // commands joined by "|", arguments by " "
		err  string // substring of the error, "" for none
	}{
		{"multibulk", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n", writer, "GET k|PING", ""},
		{"inline", "PING\r\nset  k v\n\r\n", writer, "PING|set k v|", ""},
		{"empty bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", writer, "ECHO ", ""},
		{"value", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n" + big + "\r\n", writer, "SET k " + big, ""},
		{"value needs write", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n" + big + "\r\n", limits{small: 1024}, "", "without write access"},
		{"value too large", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1073741824\r\n", writer, "", "larger than the limit"},
		{"big key", "*2\r\n$3\r\nGET\r\n$5000\r\n" + big + "\r\n", writer, "", "only a value"},
		{"two values", "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n" + big + "\r\n$5000\r\n" + big + "\r\n", writer, "", "only a value"},
		{"budget", "*3\r\n$4\r\nECHO\r\n$600\r\n" + strings.Repeat("a", 600) + "\r\n$600\r\n" + strings.Repeat("a", 600) + "\r\n", writer, "", "only a value"},
		{"bad count", "*-5\r\n", writer, "", "multibulk length"},
		{"zero count", "*0\r\n", writer, "", "multibulk length"},
		{"huge count", "*99999999\r\n", writer, "", "multibulk length"},
		{"no dollar", "*1\r\n:3\r\n", writer, "", "expected '$'"},
		{"bad length", "*1\r\n$x\r\n", writer, "", "bulk length"},
		{"no crlf after bulk", "*1\r\n$4\r\nPINGxx", writer, "", "CRLF"},
		{"lf only header", "*1\n$4\r\nPING\r\n", writer, "", "CRLF"},
		{"truncated", "*2\r\n$3\r\nGET\r\n$10\r\nabc", writer, "", "unexpected EOF"},
		{"long inline", strings.Repeat("x", 100), writer, "", "too big inline"},
		{"long header", "*1\r\n$" + strings.Repeat("1", 100), writer, "", "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds, err := readAll(t, tc.in, tc.lim)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if tc.err != "" {
				return
			}
			var got []string
			for _, c := range cmds {
				got = append(got, strings.Join(c, " "))
			}
			if strings.Join(got, "|") != tc.want {
				t.Fatalf("got %q, want %q", strings.Join(got, "|"), tc.want)
			}
		})
	}
}

// FuzzReader checks that the reader never panics and never returns more
// than its limits allow, whatever the input.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n" + strings.Repeat("x", 2000) + "\r\n",
		"*3\r\n$5\r\nSETEX\r\n$1\r\nk\r\n$1\r\n9\r\n",
		"PING\r\n",
		"*1\r\n$-1\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1073741824\r\n",
		"",
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, write bool) {
		lim := limits{small: 512}
		if write {
			lim = limits{small: 512, value: 4096, big: isValueArg}
		}
		r := newReader(bytes.NewReader(in), 64, newPool(1<<20))
		for {
			args, err := r.read(context.Background(), lim)
			if err != nil {
				return
			}
			var small, value int64
			for i, a := range args {
				if int64(len(a)) > lim.small && i > 0 && lim.big != nil && lim.big(args[0], i) && value == 0 {
					value = int64(len(a))
					continue
				}
				small += int64(len(a))
			}
			if small > lim.small || value > lim.value {
				t.Fatalf("command of %d small bytes and a value of %d passed limits %+v", small, value, lim)
			}
		}
	})
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{"*", "", true},
		{"*", "abc", true},
		{"a*", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*b*", "abc", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a[bx]c", "axc", true},
		{"a[^bx]c", "abc", false},
		{"a[a-c]c", "abc", true},
		{"a[c-a]c", "abc", true},
		{`a\*c`, "a*c", true},
		{`a\*c`, "abc", false},
		{"key:*", "key:000000000001", true},
		{"*/*", "a/b", true},
		{"a[", "a", false},
		{"**a", "bba", true},
	} {
		if got := globMatch([]byte(tc.pattern), []byte(tc.key)); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pattern, tc.key, got)
		}
	}
}

// FuzzGlob checks that matching never panics and that a pattern matches
// itself when it has no special bytes.
func FuzzGlob(f *testing.F) {
	f.Add([]byte("a*b?[c-d]\\e"), []byte("axbzce"))
	f.Add([]byte("["), []byte("x"))
	f.Fuzz(func(t *testing.T, pattern, key []byte) {
		globMatch(pattern, key)
		if !bytes.ContainsAny(pattern, `*?[\`) && !globMatch(pattern, pattern) {
			t.Fatalf("%q does not match itself", pattern)
		}
	})
}
