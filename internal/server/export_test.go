package server

// ACMEHTTPAddr returns the address the ACME HTTP-01 listener serves, or ""
// (tests only).
func (m *Main) ACMEHTTPAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run == nil {
		return ""
	}
	return m.run.acmeAddr
}
