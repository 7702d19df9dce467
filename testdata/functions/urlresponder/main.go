// Command urlresponder answers a function URL event with what the event's body asks for: {"respond": <JSON>} returns that JSON as it is, {"fail": "<message>"} fails with that message.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(e events.LambdaFunctionURLRequest) (json.RawMessage, error) {
		body := []byte(e.Body)
		if e.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(e.Body)
			if err != nil {
				return nil, err
			}
			body = b
		}
		var ask struct {
			Respond json.RawMessage `json:"respond"`
			Fail    string          `json:"fail"`
		}
		if err := json.Unmarshal(body, &ask); err != nil {
			return nil, err
		}
		if ask.Fail != "" {
			return nil, errors.New(ask.Fail)
		}
		return ask.Respond, nil
	})
}
