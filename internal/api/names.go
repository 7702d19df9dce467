package api

import (
	"regexp"
	"strings"
	"sync"

	"github.com/emberfn/ember/internal/invocation"
)

// pattern compiles expr on first use. The ember binary starts often (every
// sandbox's init stage is a start of it), and compiling every pattern of
// the API at each start would cost it most of a millisecond.
func pattern(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// The API model's patterns, anchored.
var (
	functionNamePattern = pattern(`^[a-zA-Z0-9-_]{1,64}$`)
	qualifierPattern    = pattern(`^(\$LATEST|[a-zA-Z0-9-_]{1,128})$`)
	aliasPattern        = pattern(`^[a-zA-Z0-9-_]{1,128}$`)
	regionPattern       = pattern(`^[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d$`)
	accountPattern      = pattern(`^\d{12}$`)
)

// functionRef is a function name as a request gives it: a name, a
// name:qualifier, a partial ARN (account:function:name) or a full ARN.
type functionRef struct {
	Name      string
	Qualifier string
}

// parseFunctionRef reads the forms of FunctionName that Lambda accepts.
// field names the member in a validation error ("functionName").
func (s *Server) parseFunctionRef(raw, field string) (functionRef, error) {
	invalid := invocation.Errorf(invocation.ErrValidation,
		"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", raw, field)
	if raw == "" || len(raw) > 256 {
		return functionRef{}, invalid
	}
	parts := strings.Split(raw, ":")
	var ref functionRef
	switch {
	case len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
		// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
		if len(parts) > 8 || !strings.HasPrefix(parts[1], "aws") || !regionPattern().MatchString(parts[3]) || !accountPattern().MatchString(parts[4]) {
			return functionRef{}, invalid
		}
		if parts[3] != s.opts.Region || parts[4] != s.opts.AccountID {
			return functionRef{}, s.functionNotFound(raw)
		}
		ref.Name = parts[6]
		if len(parts) == 8 {
			ref.Qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		// ACCOUNT:function:NAME[:QUALIFIER]
		if len(parts) > 4 || !accountPattern().MatchString(parts[0]) {
			return functionRef{}, invalid
		}
		if parts[0] != s.opts.AccountID {
			return functionRef{}, s.functionNotFound(raw)
		}
		ref.Name = parts[2]
		if len(parts) == 4 {
			ref.Qualifier = parts[3]
		}
	case len(parts) <= 2:
		ref.Name = parts[0]
		if len(parts) == 2 {
			ref.Qualifier = parts[1]
		}
	default:
		return functionRef{}, invalid
	}
	if !functionNamePattern().MatchString(ref.Name) {
		return functionRef{}, invalid
	}
	if len(parts) > 1 && ref.Qualifier != "" && !qualifierPattern().MatchString(ref.Qualifier) || len(parts) > 1 && ref.Qualifier == "" && parts[len(parts)-1] == "" {
		return functionRef{}, invalid
	}
	return ref, nil
}

// withQualifier merges the ?Qualifier of a request into ref; the two must
// agree when both are given.
func (s *Server) withQualifier(ref functionRef, q string) (functionRef, error) {
	if q == "" {
		return ref, nil
	}
	if !qualifierPattern().MatchString(q) {
		return ref, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", q)
	}
	if ref.Qualifier != "" && ref.Qualifier != q {
		return ref, invocation.Errorf(invocation.ErrInvalid,
			"The derived qualifier from the function name does not match the specified qualifier.")
	}
	ref.Qualifier = q
	return ref, nil
}

func (s *Server) functionARN(name string) string { return s.ctl.FunctionARN(name) }

func (s *Server) functionNotFound(what string) error {
	if !strings.HasPrefix(what, "arn:") {
		what = s.functionARN(what)
	}
	return invocation.Errorf(invocation.ErrNotFound, "Function not found: %s", what)
}
