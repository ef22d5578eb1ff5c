package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const fanout = 256 // blob directories 00..ff

// makeDirs creates DIR, DIR/blobs and its fan-out directories, and syncs
// the directories so that they survive a crash.
func (s *Store) makeDirs() error {
	blobs := s.fs.PathJoin(s.dir, "blobs")
	for i := range fanout {
		if err := s.fs.MkdirAll(s.fs.PathJoin(blobs, fmt.Sprintf("%02x", i)), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{blobs, s.dir, s.fs.PathDir(s.dir)} {
		if err := s.syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) blobDir(id uint64) string {
	return s.fs.PathJoin(s.dir, "blobs", fmt.Sprintf("%02x", id%fanout))
}

func (s *Store) blobPath(id uint64) string {
	return s.fs.PathJoin(s.blobDir(id), idString(id))
}

// writeBlob writes value to the new blob file id and syncs the file and its
// directory.
func (s *Store) writeBlob(id uint64, value []byte) (err error) {
	name := s.blobPath(id)
	f, err := s.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("create blob: %w", err)
	}
	defer func() {
		if err != nil {
			s.removeBlob(id)
		}
	}()
	if _, err := f.Write(value); err != nil {
		f.Close()
		return fmt.Errorf("write blob %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync blob %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close blob %s: %w", name, err)
	}
	return s.syncDir(s.blobDir(id))
}

// removeBlob removes a blob file no record owns any more. A failure only
// leaves an orphan, which the next Open removes.
func (s *Store) removeBlob(id uint64) {
	if err := s.fs.Remove(s.blobPath(id)); err != nil && !isNotExist(err) {
		s.log.Warn("remove blob", "id", idString(id), "err", err)
	}
}

func (s *Store) syncDir(name string) error {
	d, err := s.fs.OpenDir(name)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", name, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", name, err)
	}
	return nil
}

// removeOrphans removes the blob files that no 'f' entry owns, and sets the
// next blob id above every id in use.
func (s *Store) removeOrphans() error {
	var maxID uint64
	removed := 0
	for i := range fanout {
		dir := s.fs.PathJoin(s.dir, "blobs", fmt.Sprintf("%02x", i))
		names, err := s.fs.List(dir)
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		for _, name := range names {
			id, ok := parseID(name)
			if ok {
				maxID = max(maxID, id)
				_, closer, err := s.db.Get(fileKey(id))
				if err == nil {
					closer.Close()
					continue
				}
				if !errors.Is(err, pebble.ErrNotFound) {
					return fmt.Errorf("look up blob %s: %w", name, err)
				}
			}
			if err := s.fs.Remove(s.fs.PathJoin(dir, name)); err != nil {
				return fmt.Errorf("remove orphan %s: %w", name, err)
			}
			removed++
		}
	}
	// Ids of 'f' entries whose file is gone count too, so that no id is
	// ever used twice.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'f'}, UpperBound: []byte{'f' + 1}})
	if err != nil {
		return err
	}
	if it.Last() && len(it.Key()) == 9 {
		maxID = max(maxID, binary.BigEndian.Uint64(it.Key()[1:]))
	}
	if err := it.Close(); err != nil {
		return err
	}
	s.nextID.Store(maxID)
	if removed > 0 {
		s.log.Info("removed orphan blob files", "count", removed)
	}
	return nil
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist)
}

// pebbleLogger sends Pebble's messages to slog: its routine chatter at
// debug level.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble: " + msg)
	panic("pebble: " + msg)
}
