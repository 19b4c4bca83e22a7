// Package e2e holds Porchlight's end-to-end tests: the real binaries
// (porchlightd, porchlight-hub, porchlight-camsim, porchlight) started as
// processes on loopback, with faults injected from outside — SIGKILL, a
// dropped camera, a service that is down, a network that corrupts uploads.
// It has no non-test code beyond this comment.
package e2e
