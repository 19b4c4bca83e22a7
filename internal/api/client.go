package api

// Client is GET /v1/client: the browser app this service serves. SHA256 is
// the hash over every file (name, NUL, bytes, NUL, in Files' order) that
// web/build.mjs writes to bundle.json and porchlightd to each household's
// audit log (class AuditClient) when it starts serving a new build.
type Client struct {
	SHA256 string   `json:"sha256"`
	Files  []string `json:"files"`
}
