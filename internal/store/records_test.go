package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestOpenNeedsDataDirOrURL(t *testing.T) {
	if _, err := Open(t.Context(), Options{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open without DataDir or URL: %v, want ErrInvalid", err)
	}
}

func TestOpenTimings(t *testing.T) {
	dir := t.TempDir()
	base := runtime.NumGoroutine()
	start := time.Now()
	s, err := Open(t.Context(), Options{DataDir: dir, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	fresh := time.Since(start)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkGoroutines(t, base)
	start = time.Now()
	s, err = Open(t.Context(), Options{DataDir: dir, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	again := time.Since(start)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkGoroutines(t, base)
	t.Logf("Open: fresh dir %s, existing dir %s", fresh, again)
}

func TestFunctionCRUD(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})

	if _, err := s.GetFunction(ctx, "f"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get before create: %v, want ErrNotFound", err)
	}
	want := testFunction("f")
	created, err := s.CreateFunction(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if created.Revision == 0 {
		t.Error("created without a revision")
	}
	if _, err := s.CreateFunction(ctx, want); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, err := s.GetFunction(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	want.Latest.Version = LatestVersion
	want.Revision = created.Revision
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}

	// Compare-and-set.
	got.Latest.MemorySize = 256
	got.LastPublished = 3
	updated, err := s.UpdateFunction(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Revision <= got.Revision {
		t.Errorf("revision %d after update, was %d", updated.Revision, got.Revision)
	}
	stale := got
	stale.Latest.MemorySize = 512
	if _, err := s.UpdateFunction(ctx, stale); !errors.Is(err, ErrChanged) {
		t.Fatalf("update at a stale revision: %v, want ErrChanged", err)
	}
	stale.Revision = 0
	if _, err := s.UpdateFunction(ctx, stale); !errors.Is(err, ErrChanged) {
		t.Fatalf("update without a revision: %v, want ErrChanged", err)
	}
	got, err = s.GetFunction(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if got.Latest.MemorySize != 256 || got.LastPublished != 3 || got.Revision != updated.Revision {
		t.Fatalf("after update: %+v", got)
	}

	if err := s.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFunction(ctx, "f"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateFunction(ctx, got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteFunction(ctx, "f"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	// The name can be used again.
	if _, err := s.CreateFunction(ctx, testFunction("f")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}

	for _, name := range []string{"", "a.b", "a*", "a>", "$LATEST", "a b"} {
		if _, err := s.CreateFunction(ctx, testFunction(name)); !errors.Is(err, ErrInvalid) {
			t.Errorf("create %q: %v, want ErrInvalid", name, err)
		}
		if _, err := s.GetFunction(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("get %q: %v, want ErrNotFound", name, err)
		}
	}
}

func TestVersions(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})

	v1 := testFunction("f").Latest
	v1.Version = "1"
	if err := s.CreateVersion(ctx, v1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("version of a missing function: %v, want ErrNotFound", err)
	}
	if _, err := s.GetVersion(ctx, "f", "1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the version of a missing function stayed: %v", err)
	}
	if _, err := s.ListVersions(ctx, "f"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("list versions of a missing function: %v, want ErrNotFound", err)
	}
	f, err := s.CreateFunction(ctx, testFunction("f"))
	if err != nil {
		t.Fatal(err)
	}
	// Another function whose name has f as a prefix must not show up.
	if _, err := s.CreateFunction(ctx, testFunction("f2")); err != nil {
		t.Fatal(err)
	}
	other := testFunction("f2").Latest
	other.Version = "1"
	if err := s.CreateVersion(ctx, other); err != nil {
		t.Fatal(err)
	}

	// Created out of order, with 10 to catch a sort by text.
	for _, n := range []string{"2", "10", "1"} {
		v := f.Latest
		v.Version = n
		v.Description = "version " + n
		if err := s.CreateVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	v := f.Latest
	v.Version = "2"
	if err := s.CreateVersion(ctx, v); !errors.Is(err, ErrExists) {
		t.Fatalf("second create of version 2: %v, want ErrExists", err)
	}
	for _, bad := range []string{LatestVersion, "0", "01", "-1", "x", ""} {
		v.Version = bad
		if err := s.CreateVersion(ctx, v); !errors.Is(err, ErrInvalid) {
			t.Errorf("create version %q: %v, want ErrInvalid", bad, err)
		}
	}

	got, err := s.GetVersion(ctx, "f", "10")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "10" || got.Description != "version 10" || got.FunctionName != "f" {
		t.Fatalf("version 10: %+v", got)
	}
	latest, err := s.GetVersion(ctx, "f", LatestVersion)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(latest, f.Latest) {
		t.Fatalf("$LATEST: %+v, want %+v", latest, f.Latest)
	}
	if _, err := s.GetVersion(ctx, "f", "3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get version 3: %v, want ErrNotFound", err)
	}

	list, err := s.ListVersions(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if names := versionNames(list); !slices.Equal(names, []string{LatestVersion, "1", "2", "10"}) {
		t.Fatalf("versions %v", names)
	}

	if err := s.DeleteVersion(ctx, "f", "2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "f", "2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete of version 2: %v, want ErrNotFound", err)
	}
	if err := s.DeleteVersion(ctx, "f", LatestVersion); !errors.Is(err, ErrInvalid) {
		t.Fatalf("delete $LATEST: %v, want ErrInvalid", err)
	}
	list, err = s.ListVersions(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if names := versionNames(list); !slices.Equal(names, []string{LatestVersion, "1", "10"}) {
		t.Fatalf("versions after deleting 2: %v", names)
	}
}

func versionNames(vs []Version) []string {
	var names []string
	for _, v := range vs {
		names = append(names, v.Version)
	}
	return names
}

func TestAliases(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})

	a := Alias{FunctionName: "f", Name: "live", FunctionVersion: "1", Description: "d", Weights: map[string]float64{"2": 0.25}, RevisionID: "r"}
	if _, err := s.CreateAlias(ctx, a); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alias of a missing function: %v, want ErrNotFound", err)
	}
	if _, err := s.CreateFunction(ctx, testFunction("f")); err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateAlias(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(ctx, a); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if _, err := s.CreateAlias(ctx, Alias{FunctionName: "f", Name: "a.b"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("alias a.b: %v, want ErrInvalid", err)
	}
	got, err := s.GetAlias(ctx, "f", "live")
	if err != nil {
		t.Fatal(err)
	}
	a.Revision = created.Revision
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("got  %+v\nwant %+v", got, a)
	}

	got.FunctionVersion = "2"
	updated, err := s.UpdateAlias(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAlias(ctx, got); !errors.Is(err, ErrChanged) {
		t.Fatalf("update at a stale revision: %v, want ErrChanged", err)
	}
	again, err := s.GetAlias(ctx, "f", "live")
	if err != nil {
		t.Fatal(err)
	}
	if again.FunctionVersion != "2" || again.Revision != updated.Revision {
		t.Fatalf("after update: %+v", again)
	}

	for _, name := range []string{"beta", "alpha"} {
		if _, err := s.CreateAlias(ctx, Alias{FunctionName: "f", Name: name, FunctionVersion: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListAliases(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
		if a.Revision == 0 {
			t.Errorf("alias %s listed without a revision", a.Name)
		}
	}
	if !slices.Equal(names, []string{"alpha", "beta", "live"}) {
		t.Fatalf("aliases %v", names)
	}

	if err := s.DeleteAlias(ctx, "f", "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlias(ctx, "f", "beta"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetAlias(ctx, "f", "beta"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateAlias(ctx, Alias{FunctionName: "f", Name: "beta", Revision: updated.Revision}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.ListAliases(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("aliases of a missing function: %v, want ErrNotFound", err)
	}
}

func TestDeleteFunctionRemovesVersionsAndAliases(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})
	for _, name := range []string{"f", "f-other"} {
		f, err := s.CreateFunction(ctx, testFunction(name))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"1", "2"} {
			v := f.Latest
			v.Version = n
			if err := s.CreateVersion(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateAlias(ctx, Alias{FunctionName: name, Name: "live", FunctionVersion: "1"}); err != nil {
			t.Fatal(err)
		}
	}

	if err := s.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetVersion(ctx, "f", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("version 1 after DeleteFunction: %v", err)
	}
	if _, err := s.GetAlias(ctx, "f", "live"); !errors.Is(err, ErrNotFound) {
		t.Errorf("alias after DeleteFunction: %v", err)
	}
	// A new function of the same name starts empty.
	f, err := s.CreateFunction(ctx, testFunction("f"))
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := s.ListVersions(ctx, "f"); err != nil || len(vs) != 1 {
		t.Errorf("versions of the new f: %v, %v", versionNames(vs), err)
	}
	if as, err := s.ListAliases(ctx, "f"); err != nil || len(as) != 0 {
		t.Errorf("aliases of the new f: %v, %v", as, err)
	}
	v := f.Latest
	v.Version = "1"
	if err := s.CreateVersion(ctx, v); err != nil {
		t.Errorf("version 1 of the new f: %v", err)
	}

	// The other function, whose name starts with "f", keeps everything.
	if vs, err := s.ListVersions(ctx, "f-other"); err != nil || len(vs) != 3 {
		t.Errorf("versions of f-other: %v, %v", versionNames(vs), err)
	}
	if _, err := s.GetAlias(ctx, "f-other", "live"); err != nil {
		t.Errorf("alias of f-other: %v", err)
	}
}

func TestListFunctions(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})
	if fs, err := s.ListFunctions(ctx); err != nil || len(fs) != 0 {
		t.Fatalf("empty store: %v, %v", fs, err)
	}
	const n = 200
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("fn-%03d", i))
	}
	order := slices.Clone(want)
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, name := range order {
		if _, err := s.CreateFunction(ctx, testFunction(name)); err != nil {
			t.Fatal(err)
		}
	}
	// A deleted one is not listed.
	if _, err := s.CreateFunction(ctx, testFunction("gone")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFunction(ctx, "gone"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	fs, err := s.ListFunctions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ListFunctions of %d: %s", n, time.Since(start))
	var got []string
	for _, f := range fs {
		got = append(got, f.Latest.FunctionName)
		if f.Revision == 0 || f.Latest.Runtime != "provided.al2023" {
			t.Errorf("listed %+v", f)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d functions: %v", len(got), got)
	}
}

func TestFunctionNames(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{DataDir: t.TempDir()})
	if names, err := s.FunctionNames(ctx); err != nil || len(names) != 0 {
		t.Fatalf("no functions: %v, %v", names, err)
	}
	for _, n := range []string{"b", "a", "c"} {
		if _, err := s.CreateFunction(ctx, testFunction(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteFunction(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	names, err := s.FunctionNames(ctx)
	if err != nil || len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Errorf("FunctionNames = %v, %v; want [a b]", names, err)
	}
}
