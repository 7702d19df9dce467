package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Logs streams a function's log lines from ember's own endpoint, GET
// /ember/v1/functions/{name}/logs?since=RFC3339&follow=true, whose
// text/plain body has one line per log event, "TIMESTAMP\tSTREAM\tMESSAGE".
// It writes each line to w as it comes. since, when not zero, skips the
// events before it.
//
// Without follow, Logs returns when the server ends the body. With follow,
// it runs until ctx ends, and then returns nil; a server that ends the
// stream first is an error.
func (c *Client) Logs(ctx context.Context, name string, since time.Time, follow bool, w io.Writer) error {
	var query [][2]string
	if !since.IsZero() {
		query = append(query, [2]string{"since", since.UTC().Format(time.RFC3339)})
	}
	if follow {
		query = append(query, [2]string{"follow", "true"})
	}
	r := request{
		method: http.MethodGet,
		path:   functionPath("/ember/v1/functions", name, "/logs"),
		query:  query,
		header: http.Header{"Accept": {"text/plain"}},
	}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return fmt.Errorf("logs %s: %w", name, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if follow && ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("logs %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("logs %s: read response: %w", name, err)
		}
		return fmt.Errorf("logs %s: %w", name, apiError(resp, body))
	}

	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := w.Write(line); werr != nil {
				return fmt.Errorf("logs %s: %w", name, werr)
			}
		}
		switch {
		case err == nil:
			continue
		case follow && ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF) && !follow:
			return nil
		case errors.Is(err, io.EOF):
			return fmt.Errorf("logs %s: the server ended the stream", name)
		default:
			return fmt.Errorf("logs %s: %w", name, err)
		}
	}
}
