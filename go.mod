module github.com/emberfn/ember

go 1.26.8

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/elastic/go-seccomp-bpf v1.6.0
	golang.org/x/sys v0.49.0
)

require golang.org/x/net v0.41.0 // indirect
