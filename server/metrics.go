package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// metrics counts requests and embeddings, for /metrics. The text format is
// written by hand: a few counters do not warrant a client library.
type metrics struct {
	mu        sync.Mutex
	requests  map[routeStatus]*summary
	embedding summary
}

type routeStatus struct {
	route  string
	status int
}

// summary is a count and a sum of seconds, as a Prometheus summary without
// quantiles.
type summary struct {
	count   int64
	seconds float64
}

func (s *summary) add(d time.Duration) {
	s.count++
	s.seconds += d.Seconds()
}

func newMetrics() *metrics { return &metrics{requests: map[routeStatus]*summary{}} }

// request counts one request; route is the pattern it matched, "" for none.
func (m *metrics) request(route string, status int, d time.Duration) {
	if route == "" || route == "/" {
		route = "other" // not a route: keep the label set small whatever clients send
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := routeStatus{route, status}
	if m.requests[k] == nil {
		m.requests[k] = &summary{}
	}
	m.requests[k].add(d)
}

func (m *metrics) embedded(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.embedding.add(d)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	infos, err := s.infos(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	var b strings.Builder
	m := s.metrics
	m.mu.Lock()
	keys := make([]routeStatus, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b routeStatus) int {
		return strings.Compare(fmt.Sprintf("%s %d", a.route, a.status), fmt.Sprintf("%s %d", b.route, b.status))
	})
	b.WriteString("# HELP deeprank_http_request_duration_seconds Requests answered and the seconds they took, by route and status.\n")
	b.WriteString("# TYPE deeprank_http_request_duration_seconds summary\n")
	for _, k := range keys {
		labels := fmt.Sprintf(`{route="%s",status="%d"}`, escapeLabel(k.route), k.status)
		fmt.Fprintf(&b, "deeprank_http_request_duration_seconds_sum%s %g\n", labels, m.requests[k].seconds)
		fmt.Fprintf(&b, "deeprank_http_request_duration_seconds_count%s %d\n", labels, m.requests[k].count)
	}
	b.WriteString("# HELP deeprank_embed_duration_seconds Uploaded images embedded and the seconds it took (decoding included).\n")
	b.WriteString("# TYPE deeprank_embed_duration_seconds summary\n")
	fmt.Fprintf(&b, "deeprank_embed_duration_seconds_sum %g\n", m.embedding.seconds)
	fmt.Fprintf(&b, "deeprank_embed_duration_seconds_count %d\n", m.embedding.count)
	m.mu.Unlock()
	b.WriteString("# HELP deeprank_collection_items Images stored, by collection.\n")
	b.WriteString("# TYPE deeprank_collection_items gauge\n")
	for _, i := range infos {
		fmt.Fprintf(&b, "deeprank_collection_items{collection=\"%s\"} %d\n", escapeLabel(i.Name), i.Count)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(b.String()))
}

// escapeLabel escapes a label value as the text format wants.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
