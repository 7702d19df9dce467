// Command hello-image is an example function shipped as a container
// image: it greets the event's "name" and says which image it runs in,
// from the variable its image sets.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Name string `json:"name"`
}

type greeting struct {
	Message string `json:"message"`
	Image   string `json:"image"`
}

func main() {
	lambda.Start(func(ctx context.Context, e event) (greeting, error) {
		if e.Name == "" {
			e.Name = "world"
		}
		return greeting{Message: "Hello, " + e.Name + "!", Image: os.Getenv("IMAGE_NAME")}, nil
	})
}
