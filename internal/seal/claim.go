package seal

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// ClaimFingerprint is the short string the hub and the owner's client both
// show while a hub is claimed. It covers the claim code, the hub's keys and
// the household's root owner key, so a service that substituted either side's
// keys produces two different strings. Ten decimal digits in three groups
// (about 33 bits): enough against an online attacker who gets one try.
func ClaimFingerprint(code string, hubSign []byte, hubKEM string, rootSign []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte("porchlight-claim-v1"), []byte(code), hubSign, []byte(hubKEM), rootSign} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	sum := h.Sum(nil)
	v := binary.BigEndian.Uint64(sum[:8]) % 10_000_000_000
	s := fmt.Sprintf("%010d", v)
	return s[0:3] + " " + s[3:6] + " " + s[6:10]
}
