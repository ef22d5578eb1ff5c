package pebblestore

import (
	"bytes"
	"testing"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registry/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store {
		s, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestReopen checks that blobs and names survive closing and opening the store, and
// that a second process cannot open a store in use.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, h := storetest.Blob("reopen", 4096)
	if err := s.Put(t.Context(), h, b); err != nil {
		t.Fatal(err)
	}
	st := storetest.NameState("kept", "reopen", 1, 1)
	if err := s.SetName(t.Context(), 0, st); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("opened a store that is in use")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	got, err := s.Get(t.Context(), h)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("after reopening: %d bytes, %v", len(got), err)
	}
	if got, err := s.GetName(t.Context(), "kept"); err != nil || got.Value != st.Value || got.Nonce != 1 {
		t.Fatalf("name after reopening: %+v, %v", got, err)
	}
}
