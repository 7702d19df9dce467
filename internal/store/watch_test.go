package store

import (
	"context"
	"testing"
	"time"
)

// next returns the watch's next change, failing after a few seconds.
func next(t *testing.T, w *RecordWatch) Change {
	t.Helper()
	select {
	case c, ok := <-w.Changes():
		if !ok {
			t.Fatalf("the watch ended: %v", w.Err())
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change within 5s")
	}
	return Change{}
}

func TestWatchRecords(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{})
	f, err := s.CreateFunction(ctx, testFunction("old"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFunction(ctx, testFunction("gone")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFunction(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	written := s.Written()

	w, err := s.WatchRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if len(w.Initial) != 1 || w.Initial[0].Kind != KindFunction || w.Initial[0].FunctionName != "old" || w.Initial[0].Function.Revision != f.Revision {
		t.Errorf("initial records %+v; want function old alone", w.Initial)
	}
	if !w.Loaded.Covers(written) {
		t.Errorf("loaded %v does not cover the writes before the watch, %v", w.Loaded, written)
	}

	// Each write is a change, at the revision that Written reports.
	f.Latest.Description = "changed"
	if f, err = s.UpdateFunction(ctx, f); err != nil {
		t.Fatal(err)
	}
	c := next(t, w)
	if c.Kind != KindFunction || c.Deleted || c.Function.Latest.Description != "changed" || c.Revision != s.Written()[KindFunction] {
		t.Errorf("after UpdateFunction: %+v", c)
	}
	v := f.Latest
	v.Version = "1"
	if err := s.CreateVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	if c := next(t, w); c.Kind != KindVersion || c.FunctionName != "old" || c.Name != "1" || c.Version.Version != "1" {
		t.Errorf("after CreateVersion: %+v", c)
	}
	if _, err := s.CreateAlias(ctx, Alias{FunctionName: "old", Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	if c := next(t, w); c.Kind != KindAlias || c.Name != "live" || c.Alias.FunctionVersion != "1" {
		t.Errorf("after CreateAlias: %+v", c)
	}
	if err := s.DeleteAlias(ctx, "old", "live"); err != nil {
		t.Fatal(err)
	}
	if c := next(t, w); c.Kind != KindAlias || !c.Deleted || c.Name != "live" || c.Revision != s.Written()[KindAlias] {
		t.Errorf("after DeleteAlias: %+v", c)
	}
	if err := s.DeleteVersion(ctx, "old", "1"); err != nil {
		t.Fatal(err)
	}
	if c := next(t, w); c.Kind != KindVersion || !c.Deleted || c.Name != "1" || c.Revision != s.Written()[KindVersion] {
		t.Errorf("after DeleteVersion: %+v", c)
	}
	if err := s.DeleteFunction(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if c := next(t, w); c.Kind != KindFunction || !c.Deleted || c.FunctionName != "old" || c.Revision != s.Written()[KindFunction] {
		t.Errorf("after DeleteFunction: %+v", c)
	}

	w.Stop()
	if _, ok := <-w.Changes(); ok {
		t.Error("a change after Stop")
	}
	if err := w.Err(); err != nil {
		t.Errorf("Err after Stop: %v", err)
	}
}
