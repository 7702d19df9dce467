package testfunc

// The test functions import aws-lambda-go from testdata, which go mod tidy
// does not scan; this import keeps it a direct requirement in go.mod.
import _ "github.com/aws/aws-lambda-go/lambda"
