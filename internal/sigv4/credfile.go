package sigv4

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// LoadCredentialsFile reads the keys of every profile of an AWS shared
// credentials file (~/.aws/credentials): sections "[name]" (or
// "[profile name]") with aws_access_key_id, aws_secret_access_key and
// optionally aws_session_token. Lines starting with '#' or ';' are comments;
// indented lines belong to a nested setting and are skipped. A profile
// without keys (one that assumes a role, say) is left out; one with an id
// but no secret, or the reverse, is an error. A profile named twice is one
// profile, as for the AWS CLI.
func LoadCredentialsFile(path string) (KeyMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load credentials: %w", err)
	}
	keys, err := parseCredentials(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("load credentials %s: %w", path, err)
	}
	return keys, nil
}

// parseCredentials reads a shared credentials file.
func parseCredentials(r io.Reader) (KeyMap, error) {
	type profile struct {
		name  string
		line  int
		creds Credentials
	}
	var profiles []*profile
	byName := map[string]*profile{}
	var cur *profile
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimRight(line, " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case trimmed == "", trimmed[0] == '#', trimmed[0] == ';':
			continue
		case len(trimmed) != len(line):
			continue // a nested setting ("s3 =\n  max_concurrent_requests = 10")
		case line[0] == '[':
			name, ok := strings.CutSuffix(line[1:], "]")
			if !ok {
				return nil, fmt.Errorf("line %d: section header without ']'", n)
			}
			name = strings.TrimSpace(name)
			if p, ok := strings.CutPrefix(name, "profile "); ok {
				name = strings.TrimSpace(p)
			}
			if cur = byName[name]; cur == nil {
				cur = &profile{name: name, line: n}
				byName[name] = cur
				profiles = append(profiles, cur)
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: not a key = value line", n)
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: setting outside a profile", n)
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "aws_access_key_id":
			cur.creds.AccessKeyID = v
		case "aws_secret_access_key":
			cur.creds.SecretAccessKey = v
		case "aws_session_token", "aws_security_token":
			cur.creds.SessionToken = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}

	keys := KeyMap{}
	for _, p := range profiles {
		c := p.creds
		switch {
		case c.AccessKeyID == "" && c.SecretAccessKey == "":
			continue
		case c.AccessKeyID == "":
			return nil, fmt.Errorf("profile %q (line %d): aws_secret_access_key without aws_access_key_id", p.name, p.line)
		case c.SecretAccessKey == "":
			return nil, fmt.Errorf("profile %q (line %d): aws_access_key_id without aws_secret_access_key", p.name, p.line)
		}
		if prev, ok := keys[c.AccessKeyID]; ok && prev != c {
			return nil, fmt.Errorf("profile %q (line %d): access key %s has other credentials in an earlier profile", p.name, p.line, c.AccessKeyID)
		}
		keys[c.AccessKeyID] = c
	}
	return keys, nil
}
