package api

import (
	"net/http"

	"github.com/emberfn/ember/internal/invokewire"
)

// invokeStream serves InvokeWithResponseStream: Invoke's request, whose
// answer is an event stream of the response's chunks as the function
// writes them. An error before the stream starts is an AWS error; one
// after it is the stream's last event.
func (s *Server) invokeStream(w http.ResponseWriter, r *http.Request, body []byte) error {
	ref, err := s.ref(r)
	if err != nil {
		return err
	}
	call, err := invokewire.DecodeStreamRequest(r.Header, body, w.Header().Get(invokewire.RequestIDHeader))
	if err != nil {
		return err
	}
	ctx := r.Context()
	if call.Type == invokewire.DryRun {
		if _, err := s.opts.Invoke.Resolve(ctx, ref.Name, ref.Qualifier); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	resp, reports, target, err := s.opts.Invoke.Invoke(ctx, ref.Name, ref.Qualifier, call.Request)
	if err != nil {
		return err
	}
	if err := invokewire.WriteStream(w, resp, reports, call.Request.WantLog, target.Version.Version, s.opts.StreamBandwidth); err != nil {
		// The answer has begun: the caller is gone, and nothing more can
		// reach it.
		s.log.Debug("streamed answer cut short", "function", ref.Name, "request_id", call.Request.ID, "err", err)
	}
	return nil
}
