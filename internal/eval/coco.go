package eval

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/porchlight/porchlight/internal/detect"
)

// COCO is the part of a COCO object-detection file that `porchlight
// dataset export` writes and the evaluation reads: images (with
// Porchlight's consent_id), boxes in pixels and the categories person,
// animal and vehicle.
type COCO struct {
	Images      []COCOImage      `json:"images"`
	Annotations []COCOAnnotation `json:"annotations"`
	Categories  []COCOCategory   `json:"categories"`
}

// COCOImage is one image of a COCO file.
type COCOImage struct {
	ID        int    `json:"id"`
	FileName  string `json:"file_name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	ConsentID string `json:"consent_id,omitempty"`
}

// COCOAnnotation is one box: BBox is x, y, width, height in pixels.
type COCOAnnotation struct {
	ID         int        `json:"id"`
	ImageID    int        `json:"image_id"`
	CategoryID int        `json:"category_id"`
	BBox       [4]float64 `json:"bbox"`
	IsCrowd    int        `json:"iscrowd"`
	ConsentID  string     `json:"consent_id,omitempty"`
}

// COCOCategory names a category id.
type COCOCategory struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// LoadCOCO reads DIR/annotations.json and turns it into Labels over the
// files in DIR/images/ (the layout `porchlight dataset export` writes).
// Categories other than person, animal and vehicle are an error; file
// names may not leave DIR/images.
func LoadCOCO(dir string) (*Labels, error) {
	path := filepath.Join(dir, "annotations.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c COCO
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cats := map[int]detect.Class{}
	for _, cat := range c.Categories {
		cl := detect.Class(strings.ToLower(cat.Name))
		switch cl {
		case detect.Person, detect.Animal, detect.Vehicle:
			cats[cat.ID] = cl
		default:
			return nil, fmt.Errorf("%s: category %q is not one of person, animal, vehicle", path, cat.Name)
		}
	}
	l := &Labels{Version: 1}
	index := map[int]int{}
	for _, im := range c.Images {
		if im.FileName == "" || filepath.Base(im.FileName) != im.FileName || im.Width <= 0 || im.Height <= 0 {
			return nil, fmt.Errorf("%s: image %d: want a plain file name under images/ and its size", path, im.ID)
		}
		if _, dup := index[im.ID]; dup {
			return nil, fmt.Errorf("%s: image id %d twice", path, im.ID)
		}
		index[im.ID] = len(l.Images)
		l.Images = append(l.Images, Image{Path: filepath.Join(dir, "images", im.FileName), Package: "coco:" + im.ConsentID,
			Width: im.Width, Height: im.Height, Objects: []Object{}})
	}
	for _, a := range c.Annotations {
		i, ok := index[a.ImageID]
		if !ok {
			return nil, fmt.Errorf("%s: annotation %d names unknown image %d", path, a.ID, a.ImageID)
		}
		cl, ok := cats[a.CategoryID]
		if !ok {
			return nil, fmt.Errorf("%s: annotation %d has unknown category %d", path, a.ID, a.CategoryID)
		}
		im := &l.Images[i]
		w, h := float64(im.Width), float64(im.Height)
		box := jsonBox{X0: float32(a.BBox[0] / w), Y0: float32(a.BBox[1] / h), X1: float32((a.BBox[0] + a.BBox[2]) / w), Y1: float32((a.BBox[1] + a.BBox[3]) / h)}
		if a.BBox[2] <= 0 || a.BBox[3] <= 0 || box.X0 < 0 || box.Y0 < 0 || box.X1 > 1.001 || box.Y1 > 1.001 {
			return nil, fmt.Errorf("%s: annotation %d: box %v is not inside its %dx%d image", path, a.ID, a.BBox, im.Width, im.Height)
		}
		im.Objects = append(im.Objects, Object{Class: cl, Label: string(cl), Box: box, Crowd: a.IsCrowd != 0})
	}
	return l, nil
}
