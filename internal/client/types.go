package client

// FunctionConfiguration is the FunctionConfiguration shape of the Lambda
// API: what CreateFunction, GetFunctionConfiguration, the updates,
// PublishVersion and ListFunctions return for a function version.
type FunctionConfiguration struct {
	FunctionName               string                  `json:"FunctionName,omitempty"`
	FunctionArn                string                  `json:"FunctionArn,omitempty"`
	Runtime                    string                  `json:"Runtime,omitempty"`
	Role                       string                  `json:"Role,omitempty"`
	Handler                    string                  `json:"Handler,omitempty"`
	CodeSize                   int64                   `json:"CodeSize,omitempty"`
	Description                string                  `json:"Description,omitempty"`
	Timeout                    int                     `json:"Timeout,omitempty"`
	MemorySize                 int                     `json:"MemorySize,omitempty"`
	LastModified               string                  `json:"LastModified,omitempty"`
	CodeSha256                 string                  `json:"CodeSha256,omitempty"`
	Version                    string                  `json:"Version,omitempty"`
	VpcConfig                  *VpcConfigResponse      `json:"VpcConfig,omitempty"`
	DeadLetterConfig           *DeadLetterConfig       `json:"DeadLetterConfig,omitempty"`
	Environment                *EnvironmentResponse    `json:"Environment,omitempty"`
	KMSKeyArn                  string                  `json:"KMSKeyArn,omitempty"`
	TracingConfig              *TracingConfigResponse  `json:"TracingConfig,omitempty"`
	MasterArn                  string                  `json:"MasterArn,omitempty"`
	RevisionId                 string                  `json:"RevisionId,omitempty"`
	Layers                     []Layer                 `json:"Layers,omitempty"`
	State                      string                  `json:"State,omitempty"`
	StateReason                string                  `json:"StateReason,omitempty"`
	StateReasonCode            string                  `json:"StateReasonCode,omitempty"`
	LastUpdateStatus           string                  `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string                  `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string                  `json:"LastUpdateStatusReasonCode,omitempty"`
	FileSystemConfigs          []FileSystemConfig      `json:"FileSystemConfigs,omitempty"`
	SigningProfileVersionArn   string                  `json:"SigningProfileVersionArn,omitempty"`
	SigningJobArn              string                  `json:"SigningJobArn,omitempty"`
	PackageType                string                  `json:"PackageType,omitempty"`
	ImageConfigResponse        *ImageConfigResponse    `json:"ImageConfigResponse,omitempty"`
	Architectures              []string                `json:"Architectures,omitempty"`
	EphemeralStorage           *EphemeralStorage       `json:"EphemeralStorage,omitempty"`
	SnapStart                  *SnapStartResponse      `json:"SnapStart,omitempty"`
	RuntimeVersionConfig       *RuntimeVersionConfig   `json:"RuntimeVersionConfig,omitempty"`
	LoggingConfig              *LoggingConfig          `json:"LoggingConfig,omitempty"`
	TenancyConfig              *TenancyConfig          `json:"TenancyConfig,omitempty"`
	CapacityProviderConfig     *CapacityProviderConfig `json:"CapacityProviderConfig,omitempty"`
	ConfigSha256               string                  `json:"ConfigSha256,omitempty"`
	DurableConfig              *DurableConfig          `json:"DurableConfig,omitempty"`
}

// EnvironmentResponse is a function's environment variables, or the error
// that keeps them from being read.
type EnvironmentResponse struct {
	Variables map[string]string `json:"Variables,omitempty"`
	Error     *ErrorDetail      `json:"Error,omitempty"`
}

// ErrorDetail is the ErrorCode and Message of the EnvironmentError,
// ImageConfigError and RuntimeVersionError shapes.
type ErrorDetail struct {
	ErrorCode string `json:"ErrorCode,omitempty"`
	Message   string `json:"Message,omitempty"`
}

// EphemeralStorage is the size of /tmp in MB.
type EphemeralStorage struct {
	Size int `json:"Size"`
}

// Layer is a layer of a function version.
type Layer struct {
	Arn                      string `json:"Arn,omitempty"`
	CodeSize                 int64  `json:"CodeSize,omitempty"`
	SigningProfileVersionArn string `json:"SigningProfileVersionArn,omitempty"`
	SigningJobArn            string `json:"SigningJobArn,omitempty"`
}

// VpcConfigResponse is a function's VPC settings.
type VpcConfigResponse struct {
	SubnetIds               []string `json:"SubnetIds,omitempty"`
	SecurityGroupIds        []string `json:"SecurityGroupIds,omitempty"`
	VpcId                   string   `json:"VpcId,omitempty"`
	Ipv6AllowedForDualStack *bool    `json:"Ipv6AllowedForDualStack,omitempty"`
}

// DeadLetterConfig is where failed asynchronous events go.
type DeadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

// TracingConfigResponse is a function's X-Ray tracing mode.
type TracingConfigResponse struct {
	Mode string `json:"Mode,omitempty"`
}

// FileSystemConfig is a file system mounted into a function.
type FileSystemConfig struct {
	Arn            string `json:"Arn"`
	LocalMountPath string `json:"LocalMountPath"`
}

// ImageConfig overrides a container image's entry point, command and
// working directory.
type ImageConfig struct {
	EntryPoint       []string `json:"EntryPoint,omitempty"`
	Command          []string `json:"Command,omitempty"`
	WorkingDirectory string   `json:"WorkingDirectory,omitempty"`
}

// ImageConfigResponse is a function's image settings, or their error.
type ImageConfigResponse struct {
	ImageConfig *ImageConfig `json:"ImageConfig,omitempty"`
	Error       *ErrorDetail `json:"Error,omitempty"`
}

// SnapStartResponse is a function's SnapStart setting.
type SnapStartResponse struct {
	ApplyOn            string `json:"ApplyOn,omitempty"`
	OptimizationStatus string `json:"OptimizationStatus,omitempty"`
}

// RuntimeVersionConfig is the runtime version a function runs on.
type RuntimeVersionConfig struct {
	RuntimeVersionArn string       `json:"RuntimeVersionArn,omitempty"`
	Error             *ErrorDetail `json:"Error,omitempty"`
}

// LoggingConfig is a function's log format, levels and log group.
type LoggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

// TenancyConfig is a function's tenant isolation mode.
type TenancyConfig struct {
	TenantIsolationMode string `json:"TenantIsolationMode,omitempty"`
}

// CapacityProviderConfig is the capacity provider a function runs on.
type CapacityProviderConfig struct {
	LambdaManagedInstancesCapacityProviderConfig *ManagedInstancesCapacityProviderConfig `json:"LambdaManagedInstancesCapacityProviderConfig,omitempty"`
}

// ManagedInstancesCapacityProviderConfig is the
// LambdaManagedInstancesCapacityProviderConfig shape.
type ManagedInstancesCapacityProviderConfig struct {
	CapacityProviderArn                   string   `json:"CapacityProviderArn,omitempty"`
	PerExecutionEnvironmentMaxConcurrency int      `json:"PerExecutionEnvironmentMaxConcurrency,omitempty"`
	ExecutionEnvironmentMemoryGiBPerVCpu  *float64 `json:"ExecutionEnvironmentMemoryGiBPerVCpu,omitempty"`
}

// DurableConfig is a function's durable execution settings.
type DurableConfig struct {
	KMSKeyArn             string `json:"KMSKeyArn,omitempty"`
	RetentionPeriodInDays int    `json:"RetentionPeriodInDays,omitempty"`
	ExecutionTimeout      int    `json:"ExecutionTimeout,omitempty"`
}
