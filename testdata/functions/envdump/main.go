// Command envdump returns the process environment as a JSON object, plus "_cwd" set to the working directory.
package main

import (
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func() (map[string]string, error) {
		env := make(map[string]string)
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		env["_cwd"] = cwd
		return env, nil
	})
}
