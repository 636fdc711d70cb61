package member

import (
	"net/http"
	"sync/atomic"
)

// countingTransport counts every request handed to the transport, answered
// or not, so a test can measure exactly what geofed costs a cluster.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(req)
}

// WrappedRoundTripper lets client-go's helpers that look for the underlying
// transport (utilnet.TLSClientConfig, CloseIdleConnectionsFor) see through
// the counter.
func (t *countingTransport) WrappedRoundTripper() http.RoundTripper { return t.next }
