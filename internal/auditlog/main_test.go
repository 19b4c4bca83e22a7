package auditlog_test

import (
	"flag"
	"log/slog"
	"os"
	"testing"

	"k8s.io/klog/v2"
)

// TestMain quiets tessera's klog output (a few lines per log opened) unless
// the tests run with -v.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		klog.SetSlogLogger(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}
