package camsim

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"
)

// startControl serves the test-control HTTP endpoint on m.Control.
func (m *Main) startControl() error {
	ln, err := net.Listen("tcp", m.Control)
	if err != nil {
		return fmt.Errorf("camsim: control listener: %w", err)
	}
	m.ctlAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /drop", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil || d <= 0 || d > time.Hour {
			http.Error(w, "want ?for=DURATION, e.g. ?for=10s (at most 1h)", http.StatusBadRequest)
			return
		}
		m.Drop(d)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"dropped_for": d.String()})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"ok":      true,
			"url":     m.URL(),
			"readers": m.Readers(),
			"dropped": m.dropped(),
		})
	})
	m.control = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go m.control.Serve(ln)
	return nil
}
