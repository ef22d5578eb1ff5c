package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/mimetype"
	"github.com/mycdn/mycdn/meta"
)

// maxRanges bounds the ranges of one request; more are answered with the
// whole file, as RFC 9110 allows.
const maxRanges = 32

// byteRange is [start, start+length) of a file.
type byteRange struct{ start, length int64 }

func (r byteRange) contentRange(size int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", r.start, r.start+r.length-1, size)
}

// file answers a request for a file: whole, one range or several.
func (s *Server) file(w *recorder, r *http.Request, file *meta.File) error {
	ctx := r.Context()
	size, err := s.opts.Fetcher.Size(ctx, file)
	if err != nil {
		return err
	}
	etag := `"` + file.ContentHash.String() + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Accept-Ranges", "bytes")
	ctype := mimetype.Default
	if file.Mime != nil && *file.Mime != "" {
		ctype = *file.Mime
	}
	h.Set("Content-Type", ctype)

	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	ranges, err := parseRanges(r.Header.Get("Range"), size)
	if err != nil {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return errorf(http.StatusRequestedRangeNotSatisfiable, "%v", err)
	}
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		ranges = nil // the client's copy is another version: send it all
	}
	switch len(ranges) {
	case 0:
		return s.body(w, r, file, http.StatusOK, byteRange{0, size})
	case 1:
		h.Set("Content-Range", ranges[0].contentRange(size))
		return s.body(w, r, file, http.StatusPartialContent, ranges[0])
	}
	return s.multipart(w, r, file, ctype, size, ranges)
}

// body sends one range of file with the given status. The first block is
// fetched before the status is sent, so that a failure can still be
// answered with an error.
func (s *Server) body(w *recorder, r *http.Request, file *meta.File, code int, br byteRange) error {
	w.Header().Set("Content-Length", strconv.FormatInt(br.length, 10))
	if r.Method == http.MethodHead || br.length == 0 {
		w.WriteHeader(code)
		return nil
	}
	rd, in, err := s.openRange(r, file, br)
	if err != nil {
		return err
	}
	defer rd.Close()
	w.WriteHeader(code)
	return s.copyRange(w, w, in, br.length)
}

// openRange opens a range of file and reads its first block.
func (s *Server) openRange(r *http.Request, file *meta.File, br byteRange) (*fetch.Reader, *bufio.Reader, error) {
	rd, err := s.opts.Fetcher.Open(r.Context(), file, br.start, br.length)
	if err != nil {
		return nil, nil, err
	}
	in := bufio.NewReader(rd)
	if _, err := in.Peek(1); err != nil {
		rd.Close()
		return nil, nil, err
	}
	return rd, in, nil
}

// copyRange copies exactly n bytes from in to dst, a writer on w's body,
// renewing w's write deadline before each write.
func (s *Server) copyRange(w http.ResponseWriter, dst io.Writer, in io.Reader, n int64) error {
	out := &deadlineWriter{w: dst, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}
	copied, err := io.Copy(out, in)
	if err == nil && copied != n {
		err = fmt.Errorf("file ended after %d of %d bytes", copied, n)
	}
	return err
}

type deadlineWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) // a writer without deadlines just has none
	return d.w.Write(p)
}

// multipart sends several ranges as multipart/byteranges.
func (s *Server) multipart(w *recorder, r *http.Request, file *meta.File, ctype string, size int64, ranges []byteRange) error {
	parts := make([]textproto.MIMEHeader, len(ranges))
	for i, br := range ranges {
		parts[i] = textproto.MIMEHeader{"Content-Type": {ctype}, "Content-Range": {br.contentRange(size)}}
	}
	// The length: the part headers rendered without their bodies, plus the
	// bodies.
	var count countWriter
	mw := multipart.NewWriter(&count)
	for i, br := range ranges {
		if _, err := mw.CreatePart(parts[i]); err != nil {
			return err
		}
		count += countWriter(br.length)
	}
	if err := mw.Close(); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
	h.Set("Content-Length", strconv.FormatInt(int64(count), 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusPartialContent)
		return nil
	}
	out := multipart.NewWriter(w)
	if err := out.SetBoundary(mw.Boundary()); err != nil {
		return err
	}
	for i, br := range ranges {
		rd, in, err := s.openRange(r, file, br)
		if err != nil {
			return err
		}
		if i == 0 {
			w.WriteHeader(http.StatusPartialContent)
		}
		pw, err := out.CreatePart(parts[i])
		if err == nil {
			err = s.copyRange(w, pw, in, br.length)
		}
		rd.Close()
		if err != nil {
			return err
		}
	}
	return out.Close()
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// etagMatch reports whether an If-None-Match header matches etag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

var errUnsatisfiable = errors.New("no range within the file")

// parseRanges parses a Range header for a file of size bytes. It returns nil
// without error when the header is absent, malformed or not in bytes (the
// whole file is sent then), and errUnsatisfiable when no range overlaps
// the file.
func parseRanges(header string, size int64) ([]byteRange, error) {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return nil, nil
	}
	var out []byteRange
	specs := strings.Split(spec, ",")
	if len(specs) > maxRanges {
		return nil, nil
	}
	for _, one := range specs {
		one = strings.TrimSpace(one)
		first, last, ok := strings.Cut(one, "-")
		if !ok {
			return nil, nil
		}
		var br byteRange
		if first == "" { // suffix: the last n bytes
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil || n < 0 {
				return nil, nil
			}
			if n == 0 {
				continue
			}
			n = min(n, size)
			br = byteRange{size - n, n}
		} else {
			start, err := strconv.ParseInt(first, 10, 64)
			if err != nil || start < 0 {
				return nil, nil
			}
			end := size - 1
			if last != "" {
				if end, err = strconv.ParseInt(last, 10, 64); err != nil || end < start {
					return nil, nil
				}
			}
			if start >= size {
				continue // unsatisfiable on its own
			}
			end = min(end, size-1)
			br = byteRange{start, end - start + 1}
		}
		if br.length > 0 {
			out = append(out, br)
		}
	}
	if len(out) == 0 {
		return nil, errUnsatisfiable
	}
	return out, nil
}
