// Package function owns the configuration of one function version as the
// execution core sees it: name, version, memory, timeout, handler, runtime,
// code location and variables. It is a plain value package.
package function

import (
	"fmt"
	"strings"
	"time"
)

// Limits of Lambda's execution model that a configuration must respect.
const (
	MinMemoryMB      = 128
	MaxMemoryMB      = 10240
	DefaultMemoryMB  = 128
	MinTimeout       = time.Second
	MaxTimeout       = 900 * time.Second
	DefaultTimeout   = 3 * time.Second
	InitTimeout      = 10 * time.Second
	MinTmpMB         = 512
	MaxTmpMB         = 10240
	NetworkOutbound  = "outbound"
	NetworkNone      = "none"
	LatestVersion    = "$LATEST"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

// MaxUnzipped is Lambda's limit on a function's unzipped code, layers
// included: 250 MB.
const MaxUnzipped = 262144000

// Config is one function version's configuration.
type Config struct {
	Name      string
	Version   string // "$LATEST" or a published version number
	Region    string
	AccountID string

	Runtime  string // "provided.al2023", "python3.12", ...; empty means provided
	Handler  string
	MemoryMB int
	Timeout  time.Duration
	// EphemeralStorageMB is the size of /tmp.
	EphemeralStorageMB int
	// Network is NetworkOutbound (the default, as on Lambda) or
	// NetworkNone (loopback only).
	Network string

	// CodeDir is the directory that holds the function's code on the host
	// (what the function sees as /var/task).
	CodeDir string
	// Command is the runtime's entry point, with host paths. Empty means
	// CodeDir/bootstrap.
	Command []string
	// RuntimeDir is the host directory the function sees as /var/runtime
	// (a managed runtime's client); empty for a bootstrap of its own.
	RuntimeDir string
	// OptDir is the host directory the function sees as /opt: its layers,
	// merged. Empty gives an empty /opt.
	OptDir string
	// RuntimeEnv holds the runtime's own variables (NODE_PATH, say), with
	// paths as the function sees them; the function's variables override
	// them.
	RuntimeEnv map[string]string
	// Env holds the function's own variables.
	Env map[string]string

	// Image is the root file system and entry point of a container-image
	// function; nil for a .zip file archive, whose code is CodeDir.
	Image *Image
}

// Image is what a container-image function runs: its image's layers as
// the root, and the image's settings with the function's ImageConfig
// applied.
type Image struct {
	// Layers are the host directories of the image's unpacked layers,
	// topmost first.
	Layers []string
	// Command is ENTRYPOINT followed by CMD, as the runtime is started.
	Command []string
	// WorkingDir is the runtime's working directory; "" is /.
	WorkingDir string
	// Env holds the image's ENV, under the function's own variables.
	Env map[string]string
}

// WithDefaults returns c with Lambda's defaults filled in where c is silent.
func (c Config) WithDefaults() Config {
	if c.Version == "" {
		c.Version = LatestVersion
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.EphemeralStorageMB == 0 {
		c.EphemeralStorageMB = MinTmpMB
	}
	if c.Network == "" {
		c.Network = NetworkOutbound
	}
	return c
}

// Validate reports the first way in which c breaks Lambda's limits.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("function name is empty")
	}
	if c.MemoryMB < MinMemoryMB || c.MemoryMB > MaxMemoryMB {
		return fmt.Errorf("memory size %d MB is outside %d–%d MB", c.MemoryMB, MinMemoryMB, MaxMemoryMB)
	}
	if c.Timeout < MinTimeout || c.Timeout > MaxTimeout {
		return fmt.Errorf("timeout %s is outside %s–%s", c.Timeout, MinTimeout, MaxTimeout)
	}
	if c.Network != NetworkOutbound && c.Network != NetworkNone {
		return fmt.Errorf("network mode %q is neither %s nor %s", c.Network, NetworkOutbound, NetworkNone)
	}
	if c.EphemeralStorageMB < MinTmpMB || c.EphemeralStorageMB > MaxTmpMB {
		return fmt.Errorf("ephemeral storage %d MB is outside %d–%d MB", c.EphemeralStorageMB, MinTmpMB, MaxTmpMB)
	}
	return nil
}

// ARN is the function's unqualified ARN.
func (c Config) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.Region, c.AccountID, c.Name)
}

// QualifiedARN is the ARN as invoked with qualifier q (a version or an
// alias); an empty q gives the unqualified ARN, as Lambda does.
func (c Config) QualifiedARN(q string) string {
	if q == "" {
		return c.ARN()
	}
	return c.ARN() + ":" + q
}

// LogGroup is the function's CloudWatch log group name.
func (c Config) LogGroup() string { return "/aws/lambda/" + c.Name }

// IsProvided reports whether the function uses an OS-only runtime
// (provided, provided.al2, provided.al2023), for which Lambda sets no
// AWS_EXECUTION_ENV.
func (c Config) IsProvided() bool {
	return c.Runtime == "" || strings.HasPrefix(c.Runtime, "provided")
}
