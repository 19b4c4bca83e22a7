package api

import "time"

// CameraDelete is POST /v1/cameras/{id}/delete (owner, recent sign-in).
// With From and To it deletes the camera's manifests in [From, To] and the
// objects they list (and unlisted objects in the range); an epoch left with
// no object loses every wrap of its key. ShredEpochs names epochs of the
// camera whose key wraps are all deleted (crypto-shredding: whatever of
// them is left, here or in a backup, no device of the roster can open any
// more once the owner devices rotated their keys). At least one of the two
// must be given.
type CameraDelete struct {
	From        time.Time `json:"from,omitzero"`
	To          time.Time `json:"to,omitzero"`
	ShredEpochs []string  `json:"shred_epochs,omitempty"`
}

// DeletionReceipt answers every deletion (a range, shredded epochs, a
// removed camera): what the service deleted, under a receipt id.
type DeletionReceipt struct {
	ID       string    `json:"id"`
	CameraID string    `json:"camera_id"`
	At       time.Time `json:"at"`
	// From and To are the deleted range (zero if none was asked).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Manifests and Segments count the objects deleted; Bytes their size.
	Manifests int   `json:"manifests"`
	Segments  int   `json:"segments"`
	Bytes     int64 `json:"bytes"`
	// ShreddedEpochs are the epochs whose key wraps were deleted, sorted;
	// WrapsDeleted counts those wraps.
	ShreddedEpochs []string `json:"shredded_epochs"`
	WrapsDeleted   int      `json:"wraps_deleted"`
	// CameraRemoved is set by DELETE /v1/cameras/{id}.
	CameraRemoved bool `json:"camera_removed,omitempty"`
}

// EpochRetire is POST /v1/cameras/{id}/retire-epochs (owner, recent
// sign-in): after `porchlight rekey` has stored and verified new copies,
// it deletes the listed objects of the listed epochs and crypto-shreds
// those epochs. Answers a DeletionReceipt.
type EpochRetire struct {
	Epochs  []string `json:"epochs"`
	Objects []string `json:"objects"`
}
