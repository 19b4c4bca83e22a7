// Package geocell coarsens a location to a neighbourhood: a geohash of
// precision 6, a cell of about 1.2 km × 0.6 km. It is what the neighbours
// feed knows of where a clip was taken. The CLI and the browser turn
// coordinates into a cell on the owner's device; only the cell ever reaches
// the service, which checks with Valid that it got nothing finer.
//
// Do not use it to store or compare coordinates: a cell is deliberately
// the only location the service may hold.
package geocell

import (
	"fmt"
	"math"
)

// Precision is the number of geohash characters of a cell.
const Precision = 6

// MaxRadius bounds Near's rings: 5 rings are 121 cells, about 13 km × 6.6 km.
const MaxRadius = 5

// alphabet is the geohash base32 alphabet (no a, i, l, o).
const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"

// bits per cell: 6 characters of 5 bits, interleaved longitude first.
const bits = Precision * 5

// lonBits and latBits split the 30 bits: longitude takes the even ones.
const (
	lonBits = (bits + 1) / 2
	latBits = bits / 2
)

// Check reports whether lat and lon are coordinates Cell takes as they
// are: finite, latitude within ±90, longitude within ±180.
func Check(lat, lon float64) error {
	if math.IsNaN(lat) || math.IsNaN(lon) || math.IsInf(lat, 0) || math.IsInf(lon, 0) {
		return fmt.Errorf("geocell: coordinates must be finite numbers")
	}
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return fmt.Errorf("geocell: latitude must be within ±90 and longitude within ±180, got %g, %g", lat, lon)
	}
	return nil
}

// Cell returns the cell containing the point. Latitudes are clamped to
// [-90, 90] and longitudes wrapped into [-180, 180); NaN counts as 0.
// Check the coordinates first (Check) to refuse a typo instead.
func Cell(lat, lon float64) string {
	if math.IsNaN(lat) {
		lat = 0
	}
	if math.IsNaN(lon) || math.IsInf(lon, 0) {
		lon = 0
	}
	lat = min(max(lat, -90), 90)
	lon = math.Mod(lon+180, 360)
	if lon < 0 {
		lon += 360
	}
	return encode(index(lat, -90, 90, latBits), index(lon-180, -180, 180, lonBits))
}

// Valid reports whether s is a cell: exactly Precision characters of the
// geohash alphabet, lower case. A finer geohash, a coarser one or anything
// else (coordinates, an address) is not.
func Valid(s string) bool {
	if len(s) != Precision {
		return false
	}
	for i := 0; i < len(s); i++ {
		if indexByte(s[i]) < 0 {
			return false
		}
	}
	return true
}

// Bounds returns the cell's south-west and north-east corners.
func Bounds(cell string) (minLat, minLon, maxLat, maxLon float64, err error) {
	y, x, err := decode(cell)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	h, w := 180/float64(uint32(1)<<latBits), 360/float64(uint32(1)<<lonBits)
	minLat, minLon = -90+float64(y)*h, -180+float64(x)*w
	return minLat, minLon, minLat + h, minLon + w, nil
}

// Near returns the cell and its rings of neighbours up to radius (0: the
// cell alone), the cell first, then ring by ring. Longitudes wrap around
// the antimeridian; rings stop at the poles. radius is clamped to
// [0, MaxRadius]. It returns nil if cell is not Valid.
func Near(cell string, radius int) []string {
	y, x, err := decode(cell)
	if err != nil {
		return nil
	}
	radius = min(max(radius, 0), MaxRadius)
	out := []string{cell}
	seen := map[string]bool{cell: true}
	nx := int64(1) << lonBits
	for r := 1; r <= radius; r++ {
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				if max(abs(dx), abs(dy)) != r {
					continue // inner rings are done
				}
				yy := int64(y) + int64(dy)
				if yy < 0 || yy >= int64(1)<<latBits {
					continue
				}
				xx := ((int64(x)+int64(dx))%nx + nx) % nx
				c := encode(uint32(yy), uint32(xx))
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// index is the cell row (or column) of v in [lo, hi) with n bits.
func index(v, lo, hi float64, n int) uint32 {
	cells := float64(uint32(1) << n)
	i := math.Floor((v - lo) / (hi - lo) * cells)
	return uint32(min(max(i, 0), cells-1))
}

// encode interleaves a row y (latBits) and column x (lonBits) into a
// geohash, longitude bit first.
func encode(y, x uint32) string {
	var b [Precision]byte
	var v uint64
	for i := 0; i < bits; i++ {
		var bit uint32
		if i%2 == 0 {
			bit = x >> (lonBits - 1 - i/2) & 1
		} else {
			bit = y >> (latBits - 1 - i/2) & 1
		}
		v = v<<1 | uint64(bit)
	}
	for i := Precision - 1; i >= 0; i-- {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

func decode(cell string) (y, x uint32, err error) {
	if !Valid(cell) {
		return 0, 0, fmt.Errorf("geocell: %q is not a neighbourhood cell: want %d characters of the geohash alphabet %s", cell, Precision, alphabet)
	}
	var v uint64
	for i := 0; i < Precision; i++ {
		v = v<<5 | uint64(indexByte(cell[i]))
	}
	for i := 0; i < bits; i++ {
		bit := uint32(v>>(bits-1-i)) & 1
		if i%2 == 0 {
			x = x<<1 | bit
		} else {
			y = y<<1 | bit
		}
	}
	return y, x, nil
}

func indexByte(c byte) int {
	for i := 0; i < len(alphabet); i++ {
		if alphabet[i] == c {
			return i
		}
	}
	return -1
}
