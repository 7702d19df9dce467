package environment

import (
	"sort"
	"strconv"
	"strings"

	"github.com/emberfn/ember/internal/function"
)

// Paths as a function sees them on Lambda.
const (
	TaskRoot   = "/var/task"
	RuntimeDir = "/var/runtime"
	OptDir     = "/opt"
)

// Defaults of the variables a function may override.
const (
	defaultPath          = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
	defaultLDLibraryPath = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
	defaultLang          = "en_US.UTF-8"
	defaultTZ            = ":UTC"
)

// variables builds the runtime's environment exactly as Lambda sets it: the
// passed-through base (empty unless the edge asks for it, as `ember rie`
// does) and a container image's ENV, then Lambda's defaults where they are
// silent, then the function's own variables, then
// the reserved variables, which nothing overrides.
func variables(fn function.Config, base map[string]string, runtimeAPI, logStream, taskRoot string) []string {
	vars := make(map[string]string, len(base)+len(fn.Env)+20)
	for k, v := range base {
		vars[k] = v
	}
	if fn.Image != nil {
		// A container image's ENV takes the place of Lambda's defaults.
		for k, v := range fn.Image.Env {
			vars[k] = v
		}
	}
	setDefault := func(k, v string) {
		if _, ok := vars[k]; !ok {
			vars[k] = v
		}
	}
	setDefault("PATH", defaultPath)
	setDefault("LD_LIBRARY_PATH", defaultLDLibraryPath)
	setDefault("LANG", defaultLang)
	for k, v := range fn.RuntimeEnv {
		if taskRoot != TaskRoot {
			// A plain process sees the host's directories.
			v = hostPaths(v, fn)
		}
		setDefault(k, v)
	}
	for k, v := range fn.Env {
		vars[k] = v
	}
	vars["_HANDLER"] = fn.Handler
	vars["AWS_LAMBDA_FUNCTION_NAME"] = fn.Name
	vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(fn.MemoryMB)
	vars["AWS_LAMBDA_FUNCTION_VERSION"] = fn.Version
	vars["AWS_LAMBDA_LOG_GROUP_NAME"] = fn.LogGroup()
	vars["AWS_LAMBDA_LOG_STREAM_NAME"] = logStream
	vars["AWS_LAMBDA_RUNTIME_API"] = runtimeAPI
	vars["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand"
	vars["AWS_REGION"] = fn.Region
	vars["AWS_DEFAULT_REGION"] = fn.Region
	vars["LAMBDA_TASK_ROOT"] = taskRoot
	vars["LAMBDA_RUNTIME_DIR"] = RuntimeDir
	if fn.IsProvided() {
		delete(vars, "AWS_EXECUTION_ENV")
	} else {
		vars["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + fn.Runtime
	}
	// TZ is reserved: a function cannot set it, but a passed-through base
	// (a container image's own TZ) is kept.
	if tz, ok := base["TZ"]; ok {
		vars["TZ"] = tz
	} else {
		vars["TZ"] = defaultTZ
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// hostPaths maps the function's paths in a colon-separated list (/var/task,
// /var/runtime, /opt) to the host directories behind them, for a runtime
// that runs as a plain process.
func hostPaths(list string, fn function.Config) string {
	parts := strings.Split(list, ":")
	for i, p := range parts {
		for _, m := range [][2]string{{TaskRoot, fn.CodeDir}, {RuntimeDir, fn.RuntimeDir}, {OptDir, fn.OptDir}} {
			if m[1] == "" {
				continue
			}
			if p == m[0] {
				parts[i] = m[1]
			} else if rest, ok := strings.CutPrefix(p, m[0]+"/"); ok {
				parts[i] = m[1] + "/" + rest
			}
		}
	}
	return strings.Join(parts, ":")
}
