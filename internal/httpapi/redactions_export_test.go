package httpapi

import "context"

// TakeRedactionResult exposes takeRedactionResult to the external tests.
func TakeRedactionResult(s *Server, ctx context.Context, household, jobID, purpose string) (string, int64, string, error) {
	return s.takeRedactionResult(ctx, household, jobID, purpose)
}
