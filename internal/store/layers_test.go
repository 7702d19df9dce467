package store

import (
	"errors"
	"sync"
	"testing"
)

func TestLayerVersions(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{DataDir: t.TempDir()})
	for i := range 3 {
		lv, err := s.PublishLayerVersion(ctx, LayerVersion{LayerName: "libs", Description: "v", CodeSha256: "sha", CodeDigest: "d"})
		if err != nil {
			t.Fatal(err)
		}
		if lv.Version != i+1 {
			t.Errorf("publish %d gave version %d", i+1, lv.Version)
		}
	}
	if _, err := s.PublishLayerVersion(ctx, LayerVersion{LayerName: "other"}); err != nil {
		t.Fatal(err)
	}
	vs, err := s.ListLayerVersions(ctx, "libs")
	if err != nil || len(vs) != 3 || vs[0].Version != 3 || vs[2].Version != 1 {
		t.Fatalf("ListLayerVersions: %+v, %v; want 3, 2, 1", vs, err)
	}
	if err := s.DeleteLayerVersion(ctx, "libs", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLayerVersion(ctx, "libs", 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v; want ErrNotFound", err)
	}
	if _, err := s.GetLayerVersion(ctx, "libs", 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("get of a deleted version: %v", err)
	}
	// A deleted number is not given again.
	lv, err := s.PublishLayerVersion(ctx, LayerVersion{LayerName: "libs"})
	if err != nil || lv.Version != 4 {
		t.Errorf("publish after a delete: %+v, %v; want version 4", lv, err)
	}
	all, err := s.ListLayers(ctx)
	if err != nil || len(all) != 4 || all[0].LayerName != "libs" || all[0].Version != 4 || all[3].LayerName != "other" {
		t.Errorf("ListLayers: %+v, %v", all, err)
	}
	// Concurrent publishes get distinct numbers.
	var wg sync.WaitGroup
	seen := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			lv, err := s.PublishLayerVersion(ctx, LayerVersion{LayerName: "busy"})
			if err != nil {
				t.Error(err)
				return
			}
			seen <- lv.Version
		})
	}
	wg.Wait()
	close(seen)
	got := map[int]bool{}
	for v := range seen {
		got[v] = true
	}
	if len(got) != 8 {
		t.Errorf("8 concurrent publishes got versions %v", got)
	}
}
