package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/mimetype"
	"github.com/mycdn/mycdn/meta"
)

// file answers a request for a file: whole, one range or several.
func (s *Server) file(w *recorder, r *http.Request, req *request, file *meta.File) error {
	size, err := s.opts.Fetcher.Size(r.Context(), file)
	if err != nil {
		return err
	}
	etag := `"` + file.ContentHash.String() + `"`
	h := w.Header()
	h.Set("ETag", etag)
	s.setCaching(h, req)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	ctype := mimetype.Default
	if file.Mime != nil && *file.Mime != "" {
		ctype = *file.Mime
	}
	h.Set("Content-Type", ctype)
	if d := mime.FormatMediaType("inline", map[string]string{"filename": file.Name}); file.Name != "" && d != "" {
		h.Set("Content-Disposition", d)
	}
	h.Set("Accept-Ranges", "bytes")

	var ranges []byteRange
	// An empty file has no satisfiable range: it is sent whole. If-Range
	// other than the current ETag (strong comparison) asks for all of it.
	if ir := r.Header.Get("If-Range"); size > 0 && (ir == "" || ir == etag) {
		if ranges, err = parseRanges(r.Header.Get("Range"), size); err != nil {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			return errorf(http.StatusRequestedRangeNotSatisfiable, "range not satisfiable: the file has %d bytes", size)
		}
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

// body sends one range of file with the given status.
func (s *Server) body(w *recorder, r *http.Request, file *meta.File, code int, br byteRange) error {
	w.Header().Set("Content-Length", strconv.FormatInt(br.length, 10))
	if r.Method == http.MethodHead || br.length == 0 {
		w.WriteHeader(code)
		return nil
	}
	in, done, err := s.openRange(r.Context(), file, br)
	if err != nil {
		return err
	}
	defer done()
	w.WriteHeader(code)
	return copyRange(w, in, br.length)
}

// openRange waits for the memory a reader of br needs, opens it and
// fetches its first block, so that a failure can still be answered with an
// error status. done closes the reader and frees its memory.
func (s *Server) openRange(ctx context.Context, file *meta.File, br byteRange) (in io.Reader, done func(), err error) {
	f := s.opts.Fetcher
	need := min(f.ReaderMemory(file, br.start, br.length), s.opts.BodyMemory)
	wait, cancel := context.WithTimeout(ctx, s.opts.BodyWait)
	err = s.mem.Acquire(wait, need)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("%w: waited %v for %d bytes", errBusy, s.opts.BodyWait, need)
	}
	s.opts.Metrics.bodyMemory(need)
	release := func() {
		s.mem.Release(need)
		s.opts.Metrics.bodyMemory(-need)
	}
	rd, err := f.Open(ctx, file, br.start, br.length)
	if err != nil {
		release()
		return nil, nil, err
	}
	done = func() {
		rd.Close()
		release()
	}
	buf := bufio.NewReader(rd)
	if _, err := buf.Peek(1); err != nil {
		done()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: no bytes at %d", fetch.ErrBadMetadata, br.start)
		}
		return nil, nil, err
	}
	return buf, done, nil
}

// copyRange copies exactly n bytes from in to dst.
func copyRange(dst io.Writer, in io.Reader, n int64) error {
	copied, err := io.Copy(dst, in)
	if err == nil && copied != n {
		err = fmt.Errorf("%w: the file ended after %d of %d bytes", fetch.ErrBadMetadata, copied, n)
	}
	return err
}

// multipart sends several ranges as multipart/byteranges.
func (s *Server) multipart(w *recorder, r *http.Request, file *meta.File, ctype string, size int64, ranges []byteRange) error {
	parts := make([]textproto.MIMEHeader, len(ranges))
	for i, br := range ranges {
		parts[i] = textproto.MIMEHeader{"Content-Type": {ctype}, "Content-Range": {br.contentRange(size)}}
	}
	// The length: the parts' headers rendered without their bodies, plus
	// the bodies.
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
		in, done, err := s.openRange(r.Context(), file, br)
		if err != nil {
			return err
		}
		if i == 0 {
			w.WriteHeader(http.StatusPartialContent)
		}
		pw, err := out.CreatePart(parts[i])
		if err == nil {
			err = copyRange(pw, in, br.length)
		}
		done()
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
