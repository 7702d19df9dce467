package sigv4

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCredentialsFile(t *testing.T) {
	const file = "\uFEFF# ember test keys\r\n" +
		"[default]\r\n" +
		"aws_access_key_id = AKIDDEFAULT\r\n" +
		"aws_secret_access_key = c2VjcmV0/+=\r\n" +
		"\n" +
		"; a comment\n" +
		"[profile dev]\n" +
		"  # indented comment\n" +
		"AWS_ACCESS_KEY_ID=ASIADEV\n" +
		"aws_secret_access_key=dev secret # not a comment\n" +
		"aws_session_token = Zm9v==\n" +
		"region = eu-west-1\n" +
		"s3 =\n" +
		"    aws_access_key_id = NESTED\n" +
		"\n" +
		"[role]\n" +
		"role_arn = arn:aws:iam::123456789012:role/r\n" +
		"source_profile = default\n" +
		"[default]\n" +
		"region = us-east-1\n"
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := LoadCredentialsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := KeyMap{
		"AKIDDEFAULT": {AccessKeyID: "AKIDDEFAULT", SecretAccessKey: "c2VjcmV0/+="},
		"ASIADEV":     {AccessKeyID: "ASIADEV", SecretAccessKey: "dev secret # not a comment", SessionToken: "Zm9v=="},
	}
	if len(keys) != len(want) {
		t.Fatalf("keys %+v, want %+v", keys, want)
	}
	for id, c := range want {
		if got, ok := keys.Lookup(id); !ok || got != c {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", id, got, ok, c)
		}
	}
	if _, ok := keys.Lookup("NESTED"); ok {
		t.Error("a nested setting was taken for a key")
	}
}

func TestLoadCredentialsFileErrors(t *testing.T) {
	for name, c := range map[string]struct{ file, want string }{
		"id without secret":  {"[a]\naws_access_key_id = X\n", "without aws_secret_access_key"},
		"secret without id":  {"[a]\naws_secret_access_key = X\n", "without aws_access_key_id"},
		"outside a profile":  {"aws_access_key_id = X\n", "line 1: setting outside a profile"},
		"not key = value":    {"[a]\njunk\n", "line 2: not a key = value line"},
		"unclosed section":   {"[a\n", "line 1: section header without ']'"},
		"one id two secrets": {"[a]\naws_access_key_id=X\naws_secret_access_key=1\n[b]\naws_access_key_id=X\naws_secret_access_key=2\n", "other credentials"},
	} {
		path := filepath.Join(t.TempDir(), "credentials")
		if err := os.WriteFile(path, []byte(c.file), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadCredentialsFile(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want %q and the path", name, err, c.want)
		}
	}
	if _, err := LoadCredentialsFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
