package invoke

import (
	"context"
	"errors"
	"time"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// Enqueue accepts an asynchronous invocation: once it returns, the event
// is stored durably and will run, even across a restart.
func (s *Service) Enqueue(ctx context.Context, name, qualifier string, req invocation.Request) error {
	if _, err := s.Resolve(ctx, name, qualifier); err != nil {
		return err
	}
	return s.opts.Store.Enqueue(ctx, store.Event{
		ID:            req.ID,
		FunctionName:  name,
		Qualifier:     qualifier,
		Payload:       req.Payload,
		ClientContext: req.ClientContext,
		Accepted:      time.Now(),
	})
}

// throttleRetry is the first wait after a throttled or failed-to-start
// event; it doubles up to maxThrottleRetry, as Lambda backs off.
const (
	throttleRetry    = time.Second
	maxThrottleRetry = 5 * time.Minute
)

// RunEvents runs queued events until ctx ends, with Lambda's retries: a
// function error is retried after each of RetryDelays, a throttle or an
// error of ember's own with a growing backoff until the event is older
// than MaxEventAge.
func (s *Service) RunEvents(ctx context.Context) error {
	return s.opts.Store.ConsumeEvents(ctx, s.opts.AsyncWorkers, s.runEvent)
}

func (s *Service) runEvent(ctx context.Context, ev store.Event) error {
	log := s.log.With("function", ev.FunctionName, "request_id", ev.ID, "attempt", ev.Attempt+1)
	if age := time.Since(ev.Accepted); age > s.opts.MaxEventAge {
		log.Warn("event dropped: older than the maximum event age", "age", age.Round(time.Second))
		s.dropped(ev.FunctionName)
		return errors.New("event too old")
	}
	req := invocation.Request{
		ID:            ev.ID,
		Payload:       ev.Payload,
		ClientContext: ev.ClientContext,
		TraceID:       invocation.NewTraceID(time.Now()),
	}
	resp, reports, _, err := s.invoke(ctx, ev.FunctionName, ev.Qualifier, req, true)
	if err != nil {
		if errors.Is(err, invocation.ErrNotFound) {
			log.Warn("event dropped: the function is gone", "err", err)
			s.dropped(ev.FunctionName)
			return err
		}
		wait := throttleRetry << min(ev.Attempt, 9)
		log.Info("event to be retried", "err", err, "after", min(wait, maxThrottleRetry))
		return &store.Retry{After: min(wait, maxThrottleRetry)}
	}
	if resp.Stream != nil {
		resp.Stream.Close()
	}
	<-reports
	if resp.FunctionError == "" {
		return nil
	}
	if ev.Attempt < len(s.opts.RetryDelays) {
		log.Info("function error: event to be retried", "error_type", resp.ErrorType, "after", s.opts.RetryDelays[ev.Attempt])
		return &store.Retry{After: s.opts.RetryDelays[ev.Attempt]}
	}
	log.Warn("function error: retries exhausted, event dropped", "error_type", resp.ErrorType)
	s.dropped(ev.FunctionName)
	return errors.New("retries exhausted")
}

func (s *Service) dropped(function string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.EventDropped(function)
	}
}
