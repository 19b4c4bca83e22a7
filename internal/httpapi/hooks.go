package httpapi

// TestHooks simulate faults in the service's own plumbing, such as a cache
// that mixes up which object belongs to which household (the failure that
// showed one household's camera video to another). They are for tests
// only: porchlightd never sets them, and a zero TestHooks changes nothing.
// Each hook must be safe for concurrent use.
type TestHooks struct {
	// ObjectID, if set, remaps the id that GET /v1/objects/{id} looks up,
	// as a cache of mixed-up ids would. Authorization still reads the
	// remapped object's row from the store, so a remap into another
	// household is refused like any foreign object.
	ObjectID func(id string) string
	// ObjectBlob, if set, remaps the blob that GET /v1/objects/{id} reads
	// after authorization passed, so another object's ciphertext is served
	// under an id the caller may see. Clients must catch this with the
	// manifest hash and the sealed header.
	ObjectBlob func(id string) string
}

// objectID applies the ObjectID hook.
func (h *TestHooks) objectID(id string) string {
	if h.ObjectID == nil {
		return id
	}
	return h.ObjectID(id)
}

// objectBlob applies the ObjectBlob hook.
func (h *TestHooks) objectBlob(id string) string {
	if h.ObjectBlob == nil {
		return id
	}
	return h.ObjectBlob(id)
}
