package detect

// Class is what an alert is about: a COCO label mapped to one of three
// classes. Labels that map to none are dropped.
type Class string

// Classes.
const (
	Person  Class = "person"
	Animal  Class = "animal"
	Vehicle Class = "vehicle"
)

// classOf maps COCO labels to classes.
var classOf = map[string]Class{
	"person": Person,
	"bird":   Animal, "cat": Animal, "dog": Animal, "horse": Animal, "sheep": Animal,
	"cow": Animal, "elephant": Animal, "bear": Animal, "zebra": Animal, "giraffe": Animal,
	"bicycle": Vehicle, "car": Vehicle, "motorcycle": Vehicle, "bus": Vehicle,
	"train": Vehicle, "truck": Vehicle, "boat": Vehicle, "airplane": Vehicle,
}

// ClassOf returns the class of a COCO label and whether it has one.
func ClassOf(label string) (Class, bool) {
	c, ok := classOf[label]
	return c, ok
}

// Box is a rectangle normalised to 0..1 of the frame, X right, Y down.
type Box struct{ X0, Y0, X1, Y1 float32 }

// Area is the box's area as a fraction of the frame.
func (b Box) Area() float32 {
	return max(b.X1-b.X0, 0) * max(b.Y1-b.Y0, 0)
}

// IoU is the intersection over union of two boxes (0 when both are empty).
func IoU(a, b Box) float32 {
	ix := min(a.X1, b.X1) - max(a.X0, b.X0)
	iy := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	return inter / (a.Area() + b.Area() - inter)
}

// Detection is one object found in a frame.
type Detection struct {
	Class Class
	Label string // COCO label, e.g. "dog"
	Score float32
	Box   Box
}
