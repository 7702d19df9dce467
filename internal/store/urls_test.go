package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestURLs(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := URLConfig{ID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FunctionName: "f", AuthType: "NONE", InvokeMode: "BUFFERED",
		Cors: &URLCors{AllowOrigins: []string{"*"}, MaxAge: 5}, CreationTime: now, LastModifiedTime: now}
	if _, err := s.CreateURL(ctx, u); !errors.Is(err, ErrNotFound) {
		t.Fatalf("URL of a missing function: %v, want ErrNotFound", err)
	}
	for _, name := range []string{"f", "g"} {
		if _, err := s.CreateFunction(ctx, testFunction(name)); err != nil {
			t.Fatal(err)
		}
	}
	created, err := s.CreateURL(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateURL(ctx, u); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if _, err := s.CreateURL(ctx, URLConfig{ID: "Not.Valid", FunctionName: "f"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("id Not.Valid: %v, want ErrInvalid", err)
	}
	got, err := s.GetURL(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	u.Revision = created.Revision
	if !reflect.DeepEqual(got, u) {
		t.Fatalf("got  %+v\nwant %+v", got, u)
	}
	got.AuthType = "AWS_IAM"
	if _, err := s.UpdateURL(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateURL(ctx, got); !errors.Is(err, ErrChanged) {
		t.Fatalf("update at a stale revision: %v, want ErrChanged", err)
	}
	live := URLConfig{ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", FunctionName: "f", Qualifier: "live", AuthType: "NONE"}
	other := URLConfig{ID: "cccccccccccccccccccccccccccccccc", FunctionName: "g", AuthType: "NONE"}
	for _, x := range []URLConfig{live, other} {
		if _, err := s.CreateURL(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListURLs(ctx, "f")
	if err != nil || len(list) != 2 || list[0].Qualifier != "" || list[0].AuthType != "AWS_IAM" || list[1].Qualifier != "live" {
		t.Fatalf("ListURLs(f) = %+v, %v", list, err)
	}
	if err := s.DeleteURL(ctx, live.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteURL(ctx, live.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetURL(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("URL of a deleted function: %v, want ErrNotFound", err)
	}
	if _, err := s.GetURL(ctx, other.ID); err != nil {
		t.Fatalf("another function's URL after the deletion: %v", err)
	}
}
